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

func (b *bundle) appendCommitted(t *testing.T, id uuid.UUID) events.Event {
	t.Helper()
	var e *events.Event
	require.NoError(t, pgx.BeginFunc(context.Background(), b.db.Pool, func(tx pgx.Tx) error {
		e = b.appendTx(t, tx, id)
		return nil
	}))
	return *e
}

func receive(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case e, ok := <-s.C:
		require.True(t, ok, "subscription closed")
		return *e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return events.Event{}
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

	for i := range 3 {
		e := b.appendCommitted(t, a)
		require.Equal(t, i+1, e.Seq)
		b.appendCommitted(t, other)
	}
	for i := range 3 {
		e := receive(t, sub)
		require.Equal(t, a, e.DocumentID, "bob's events never reach alice")
		require.Equal(t, i+1, e.Seq)
	}
}

// TestLateCommitIsNeverSkipped: a transaction that took its place in the
// log first but commits last. The clock row makes the second writer wait
// for the first to commit, so positions follow commit order and a reader
// reading "pos > last" cannot pass over the late one.
func TestLateCommitIsNeverSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	d1, d2 := b.document(t, "alice"), b.document(t, "alice")
	sub := b.hub.Subscribe("alice", uuid.Nil)
	defer sub.Close()

	tx1, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	first := b.appendTx(t, tx1, d1)

	// The second writer starts, and has to wait for the first to commit.
	secondDone := make(chan *events.Event, 1)
	conn2, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn2.Release()
	var pid2 int
	require.NoError(t, conn2.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid2))
	go func() {
		var e *events.Event
		_ = pgx.BeginFunc(ctx, conn2, func(tx pgx.Tx) error {
			owner, seq := b.next(d2)
			var err error
			e, err = events.Append(ctx, tx, d2, owner, seq, events.ParseProgressData{})
			return err
		})
		secondDone <- e
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		_ = b.db.Pool.QueryRow(ctx, `SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1`, pid2).Scan(&waiting)
		return waiting
	}, 10*time.Second, 10*time.Millisecond, "the second writer waits for the first")

	require.NoError(t, tx1.Commit(ctx))
	second := <-secondDone
	require.NotNil(t, second)
	require.Greater(t, second.Pos, first.Pos, "the later commit has the later position")

	got := []int64{receive(t, sub).Pos, receive(t, sub).Pos}
	require.Equal(t, []int64{first.Pos, second.Pos}, got, "both delivered, in order")
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

func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.document(t, "alice")
	slow := b.hub.Subscribe("alice", id)
	defer slow.Close()
	fast := b.hub.Subscribe("alice", id)
	defer fast.Close()

	n := events.SubscriptionBuffer + 10
	for range n {
		b.appendCommitted(t, id)
		receive(t, fast) // fast keeps up
	}
	count := 0
	for range slow.C {
		count++
	}
	require.Equal(t, events.SubscriptionBuffer, count, "the slow one got its buffer's worth, then its channel closed")
}
