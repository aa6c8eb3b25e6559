package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/events"
)

// BenchmarkEventDelivery: 1,000 owners, each watching all its documents
// from 10 websocket streams (10,000 subscribers) on one api process, while
// 10 writers commit 1,000 events per second spread evenly over one
// document of each owner. b.N is the seconds of load. The figures are the
// commit → receive latency over every delivery (p50, p99) and the event
// rate reached. design=clock|sequenced as in BenchmarkEventFanout, in the
// same run.
//
//	go test -run '^$' -bench EventDelivery -benchtime 10x ./internal/e2e
func BenchmarkEventDelivery(b *testing.B) {
	for _, design := range []string{"clock", "sequenced"} {
		b.Run("design="+design, func(b *testing.B) { benchDelivery(b, design) })
	}
}

func benchDelivery(b *testing.B, design string) {
	const (
		owners   = 1_000
		perOwner = 10
		writers  = 10
		rate     = 1_000 // events per second
	)
	ctx := context.Background()
	addr, db, _ := benchAPI(b, design)

	// One document per owner (the log needs no document row); commit times
	// by document and seq.
	docs := make([]uuid.UUID, owners)
	index := make(map[uuid.UUID]int, owners)
	perDoc := b.N*rate/owners + 1
	committed := make([][]atomic.Int64, owners)
	for i := range docs {
		docs[i] = uuid.Must(uuid.NewV7())
		index[docs[i]] = i
		committed[i] = make([]atomic.Int64, perDoc+1)
	}

	type stamp struct {
		doc, seq int
		at       int64
	}
	conns := dialStreams(b, owners*perOwner, "ws://"+addr+"/v1/events", func(i int) string {
		tok, err := auth.Sign([]byte(testSecret), fmt.Sprintf("owner-%d", i/perOwner), time.Hour)
		if err != nil {
			b.Error(err) // called on the dialling goroutines
		}
		return tok
	})
	arrivals := make([][]stamp, len(conns))
	var received atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		go func() {
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				var m struct {
					DocumentID uuid.UUID `json:"document_id"`
					Seq        int       `json:"seq"`
				}
				_ = json.Unmarshal(msg, &m)
				arrivals[i] = append(arrivals[i], stamp{index[m.DocumentID], m.Seq, now})
				received.Add(1)
			}
		}()
	}

	// Writers: each owns every writers-th document and commits to them in
	// turn, at rate/writers events per second.
	b.ResetTimer()
	start := time.Now()
	var sent atomic.Int64
	total := b.N * rate
	for w := range writers {
		wg.Go(func() {
			tick := time.NewTicker(time.Second * writers / rate)
			defer tick.Stop()
			seqs := make([]int, owners)
			for k := 0; ; k++ {
				d := w + writers*(k%(owners/writers))
				if int(sent.Add(1)) > total {
					return
				}
				<-tick.C
				seqs[d]++
				if err := appendEvent(ctx, db, design, docs[d], fmt.Sprintf("owner-%d", d), seqs[d], events.ParseProgressData{Stage: "extracting", PagesDone: seqs[d]}); err != nil {
					b.Error(err)
					return
				}
				committed[d][seqs[d]].Store(time.Now().UnixNano())
			}
		})
	}
	wg.Wait()
	writing := time.Since(start)
	want := int64(total * perOwner)
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries within 30 s of the last commit", received.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()

	var lat []time.Duration
	for _, as := range arrivals {
		for _, a := range as {
			if t0 := committed[a.doc][a.seq].Load(); t0 != 0 {
				lat = append(lat, time.Duration(a.at-t0))
			}
		}
	}
	reportLatencies(b, lat)
	b.ReportMetric(float64(total)/writing.Seconds(), "events/s")
}
