package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/legacyevents"
	"github.com/foliohq/folio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type bundle struct {
	db  *testenv.DB
	hub *events.Hub

	mu   sync.Mutex
	docs map[uuid.UUID]*docLog // what each test document has appended
}

// docLog numbers one test document's events, as documents does from the
// document row.
type docLog struct {
	owner string
	seq   int
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := testenv.Postgres(t)
	hub := events.NewHub(db.Pool, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("hub not ready")
	}
	return &bundle{db: db, hub: hub, docs: map[uuid.UUID]*docLog{}}
}

// document is a new document id of owner (the log needs no document row).
func (b *bundle) document(t *testing.T, owner string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	b.mu.Lock()
	b.docs[id] = &docLog{owner: owner}
	b.mu.Unlock()
	return id
}

// next is the owner and the next seq of document id.
func (b *bundle) next(id uuid.UUID) (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.docs[id]
	d.seq++
	return d.owner, d.seq
}

// appendTx appends a progress event of document id in tx.
func (b *bundle) appendTx(t *testing.T, tx pgx.Tx, id uuid.UUID) *events.Event {
	t.Helper()
	owner, seq := b.next(id)
	e, err := events.Append(context.Background(), tx, id, owner, seq, events.ParseProgressData{Stage: "extracting", PagesDone: seq})
	require.NoError(t, err)
	return e
}

// appendState commits a state event (document.queued) of document id.
func (b *bundle) appendState(t *testing.T, id uuid.UUID) events.Event {
	t.Helper()
	owner, seq := b.next(id)
	var e *events.Event
	require.NoError(t, pgx.BeginFunc(context.Background(), b.db.Pool, func(tx pgx.Tx) error {
		var err error
		e, err = events.Append(context.Background(), tx, id, owner, seq, events.DocumentQueuedData{Reparse: true})
		return err
	}))
	return *e
}

func (b *bundle) appendCommitted(t *testing.T, id uuid.UUID) events.Event {
	t.Helper()
	var e *events.Event
	require.NoError(t, pgx.BeginFunc(context.Background(), b.db.Pool, func(tx pgx.Tx) error {
		e = b.appendTx(t, tx, id)
		return nil
	}))
	return *e
}

// receive is the next event of s, waiting for it.
func receive(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	e, live := next(t, s)
	require.True(t, live, "subscription cut off")
	return e
}

// pending holds what a Take returned beyond the event a test asked for.
var (
	pendingMu sync.Mutex
	pending   = map[*events.Subscription][]*events.Event{}
	cut       = map[*events.Subscription]bool{}
)

// next is the next event of s; live is false once s was cut off and
// everything queued before was read.
func next(t *testing.T, s *events.Subscription) (events.Event, bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		pendingMu.Lock()
		if q := pending[s]; len(q) > 0 {
			pending[s] = q[1:]
			pendingMu.Unlock()
			return *q[0], true
		}
		if cut[s] {
			pendingMu.Unlock()
			return events.Event{}, false
		}
		pendingMu.Unlock()
		select {
		case <-s.Ready():
			evs, live := s.Take()
			pendingMu.Lock()
			pending[s] = append(pending[s], evs...)
			cut[s] = !live
			pendingMu.Unlock()
		case <-deadline:
			t.Fatal("no event within 10 s")
		}
	}
}

// TestEventsReachOnlyTheirOwner: an owner's subscription gets its own
// events, in order, and never another owner's. (That seq is gap-free per
// document is documents' to keep: TestEventSeqIsGapFreeUnderConcurrency.)
func TestEventsReachOnlyTheirOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, other := b.document(t, "alice"), b.document(t, "bob")
	sub := b.hub.Subscribe("alice", uuid.Nil)
	defer sub.Close()
	docSub := b.hub.Subscribe("bob", other)
	defer docSub.Close()

	for i := range 3 {
		e := b.appendCommitted(t, a)
		require.Equal(t, i+1, e.Seq)
		b.appendCommitted(t, other)
	}
	for i := range 3 {
		e := receive(t, sub)
		require.Equal(t, a, e.DocumentID, "bob's events never reach alice")
		require.Equal(t, i+1, e.Seq)
		require.Equal(t, events.OwnerPosBase+int64(i)+1, e.OwnerPos, "alice's own positions, gap-free")
		e = receive(t, docSub)
		require.Equal(t, other, e.DocumentID)
		require.Equal(t, i+1, e.Seq)
	}
	require.Equal(t, 2, b.hub.Subscribers())
}

// TestWritersDoNotWaitAndLateCommitsAreNeverSkipped: a transaction that
// wrote its event first but commits last. The second writer does not wait
// for it; the late event is delivered after it commits, after the second,
// with the later position: a reader reading "pos > last" cannot pass over
// it.
func TestWritersDoNotWaitAndLateCommitsAreNeverSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	d1, d2 := b.document(t, "alice"), b.document(t, "alice")
	sub := b.hub.Subscribe("alice", uuid.Nil)
	defer sub.Close()

	tx1, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx1.Rollback(ctx) //nolint:errcheck // committed below
	b.appendTx(t, tx1, d1)

	second := b.appendCommitted(t, d2) // would block here if writers serialised
	got := receive(t, sub)
	require.Equal(t, d2, got.DocumentID, "the second commit is delivered while the first is open")

	require.NoError(t, tx1.Commit(ctx))
	late := receive(t, sub)
	require.Equal(t, d1, late.DocumentID)
	require.Greater(t, late.Pos, got.Pos, "the later commit has the later position")
	require.Equal(t, got.OwnerPos+1, late.OwnerPos)
	require.Equal(t, second.Seq, got.Seq)
}

// TestConcurrentWritersWithASlowOne: 32 writers on different documents (of
// four owners) append at once while one transaction holds its event
// uncommitted. Every event reaches its owner's stream once, each document's
// in seq order, each owner's positions gap-free; the slow event arrives
// only after its commit, after everything committed before it.
func TestConcurrentWritersWithASlowOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const writers, each = 32, 20
	owners := []string{"o0", "o1", "o2", "o3"}
	subs := map[string]*events.Subscription{}
	for _, o := range owners {
		subs[o] = b.hub.Subscribe(o, uuid.Nil)
		defer subs[o].Close()
	}

	slowDoc := b.document(t, "o0")
	slow, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer slow.Rollback(ctx) //nolint:errcheck // committed below
	b.appendTx(t, slow, slowDoc)

	docs := make([]uuid.UUID, writers)
	for i := range docs {
		docs[i] = b.document(t, owners[i%len(owners)])
	}
	var wg sync.WaitGroup
	for _, d := range docs {
		wg.Go(func() {
			for range each {
				b.appendCommitted(t, d)
			}
		})
	}
	wg.Wait()

	// Everything committed so far arrives; the slow event does not.
	type key struct {
		doc uuid.UUID
		seq int
	}
	seen := map[key]bool{}
	lastSeq := map[uuid.UUID]int{}
	lastOwnerPos := map[string]int64{}
	var lastPos int64
	check := func(o string, e events.Event) {
		k := key{e.DocumentID, e.Seq}
		require.False(t, seen[k], "delivered twice: %v", k)
		seen[k] = true
		require.Equal(t, lastSeq[e.DocumentID]+1, e.Seq, "seq order within a document")
		lastSeq[e.DocumentID] = e.Seq
		if p, ok := lastOwnerPos[o]; ok {
			require.Equal(t, p+1, e.OwnerPos, "owner positions gap-free")
		}
		lastOwnerPos[o] = e.OwnerPos
		require.Greater(t, e.Pos, lastPos)
	}
	perOwner := writers / len(owners) * each
	for _, o := range owners {
		lastPos = 0
		for range perOwner {
			e := receive(t, subs[o])
			require.NotEqual(t, slowDoc, e.DocumentID, "the slow event is not delivered before its commit")
			check(o, e)
		}
	}
	require.Len(t, seen, writers*each)

	require.NoError(t, slow.Commit(ctx))
	e := receive(t, subs["o0"])
	require.Equal(t, slowDoc, e.DocumentID)
	require.Equal(t, lastOwnerPos["o0"]+1, e.OwnerPos, "after everything committed before it")
	lastPos = 0
	check("o0", e)
}

// TestListenConnectionLossLosesNothing terminates the hub's LISTEN
// connection; events written meanwhile arrive after it reconnects.
func TestListenConnectionLossLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	id := b.document(t, "alice")
	sub := b.hub.Subscribe("alice", id)
	defer sub.Close()

	b.appendCommitted(t, id)
	require.Equal(t, 1, receive(t, sub).Seq)

	var killed int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, fmt.Sprintf("%s:%d", events.ApplicationName, os.Getpid())).Scan(&killed))
	require.Equal(t, 1, killed)
	for range 5 {
		b.appendCommitted(t, id)
	}
	for want := 2; want <= 6; want++ {
		require.Equal(t, want, receive(t, sub).Seq, "gap-free across the reconnect")
	}
}

// TestSlowSubscriberOfStateEventsIsCutOff: a subscriber that reads nothing
// while more state events than its buffer arrive gets its buffer's worth,
// then is cut off (its client resumes from the log); a fast one is not.
func TestSlowSubscriberOfStateEventsIsCutOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.document(t, "alice")
	slow := b.hub.Subscribe("alice", id)
	defer slow.Close()
	fast := b.hub.Subscribe("alice", id)
	defer fast.Close()

	n := events.SubscriptionBuffer + 10
	for i := range n {
		b.appendState(t, id)
		if i%64 == 63 || i == n-1 {
			for range i%64 + 1 {
				receive(t, fast) // fast keeps up
			}
		}
	}
	count := 0
	for {
		e, live := next(t, slow)
		if !live {
			break
		}
		count++
		require.Equal(t, count, e.Seq)
	}
	require.Equal(t, events.SubscriptionBuffer, count, "the slow one got its buffer's worth, then was cut off")
}

// TestSlowSubscriberGetsTheLatestProgress: a subscriber that reads nothing
// while many progress events arrive is not cut off: superseded progress is
// dropped, state events are kept, in order, and the latest progress comes.
func TestSlowSubscriberGetsTheLatestProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, other := b.document(t, "alice"), b.document(t, "alice")
	slow := b.hub.Subscribe("alice", uuid.Nil)
	defer slow.Close()
	fast := b.hub.Subscribe("alice", uuid.Nil)
	defer fast.Close()

	var states []int // the seqs of id's state events
	n := 3 * events.SubscriptionBuffer
	for i := range n {
		if i%100 == 50 {
			states = append(states, b.appendState(t, id).Seq)
		} else {
			b.appendCommitted(t, id)
		}
		if i%64 == 63 {
			for range 64 {
				receive(t, fast) // fast keeps up
			}
		}
	}
	last := b.appendCommitted(t, other) // the other document's only progress
	receive(t, fast)

	var got []events.Event
	for len(got) == 0 || got[len(got)-1].DocumentID != other {
		e, live := next(t, slow)
		require.True(t, live, "not cut off: progress gives way")
		got = append(got, e)
	}
	var gotStates []int
	prev := 0
	for _, e := range got[:len(got)-1] {
		require.Equal(t, id, e.DocumentID)
		if e.Seq != prev+1 {
			require.Greater(t, e.Seq, prev, "in order")
			require.Equal(t, events.ParseProgress, e.Type, "only progress is skipped, and a run lands on its last")
			require.True(t, e.Coalesced, "the jump is marked: seq %d after %d", e.Seq, prev)
		}
		prev = e.Seq
		if e.Type != events.ParseProgress {
			gotStates = append(gotStates, e.Seq)
		}
	}
	require.Equal(t, states, gotStates, "every state event, none dropped")
	require.Less(t, len(got), n/2, "superseded progress was dropped")
	require.Equal(t, n, prev, "the latest progress of id arrives")
	require.Equal(t, last.Seq, got[len(got)-1].Seq)
	require.False(t, got[len(got)-1].Coalesced, "nothing before it was skipped")
}

// TestEventsOfThePreviousReleaseAreSequencedToo: during a rolling deploy,
// writers of the previous release still take a position from the clock
// row and NOTIFY; the trigger hands their events to the sequencer as well,
// so a document written by both releases is delivered in seq order, with
// the owner's positions gap-free.
func TestEventsOfThePreviousReleaseAreSequencedToo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	d := b.document(t, "alice")
	sub := b.hub.Subscribe("alice", d)
	defer sub.Close()

	for i := range 6 {
		if i%2 == 0 {
			b.appendCommitted(t, d)
			continue
		}
		owner, seq := b.next(d)
		require.NoError(t, pgx.BeginFunc(ctx, b.db.Pool, func(tx pgx.Tx) error {
			return legacyAppend(ctx, tx, d, owner, seq)
		}))
	}
	var prev events.Event
	for i := range 6 {
		e := receive(t, sub)
		require.Equal(t, i+1, e.Seq)
		if i > 0 {
			require.Greater(t, e.Pos, prev.Pos, "global positions in order")
			require.Equal(t, prev.OwnerPos+1, e.OwnerPos, "owner positions gap-free")
		}
		prev = e
	}
}

// legacyAppend is the previous release's events.Append.
func legacyAppend(ctx context.Context, tx pgx.Tx, id uuid.UUID, owner string, seq int) error {
	_, _, err := legacyevents.Append(ctx, tx, id, owner, seq, events.ParseProgressData{Stage: "extracting", PagesDone: seq})
	return err
}
