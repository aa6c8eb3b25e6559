package events_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/foliohq/folio/events"
)

// BenchmarkHubDeliver: the hub's cost for one event with one subscriber of
// its document, beside `others` subscriptions of other owners and other
// documents of the same owner. Subscriptions are indexed by owner and
// document, so the cost should not grow with others.
//
//	go test -run '^$' -bench HubDeliver ./events
func BenchmarkHubDeliver(b *testing.B) {
	for _, others := range []int{0, 10_000, 100_000} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			hub := events.NewHub(nil, slog.New(slog.DiscardHandler))
			doc := uuid.New()
			for i := range others {
				if i%2 == 0 {
					hub.Subscribe(fmt.Sprintf("owner-%d", i), uuid.Nil)
				} else {
					hub.Subscribe("alice", uuid.New())
				}
			}
			sub := hub.Subscribe("alice", doc)
			evs := make([]events.Event, b.N)
			for i := range evs {
				evs[i] = events.Event{Pos: int64(i) + 1, Owner: "alice", DocumentID: doc, Type: events.ParseProgress}
			}
			b.ResetTimer()
			for i := range b.N {
				hub.Deliver(evs[i : i+1])
				if i%64 == 63 {
					sub.Take()
				}
			}
		})
	}
}
