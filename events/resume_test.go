package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/events"
)

// TestResume: where a resumed stream starts, for one document (by seq) and
// for all of an owner's documents (by owner position, or a global position
// held from before owner positions), as the log is pruned.
func TestResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	db := b.db.Pool
	doc := b.document(t, "alice")
	sub := b.hub.Subscribe("alice", uuid.Nil)
	defer sub.Close()
	var log []events.Event
	for range 4 {
		b.appendCommitted(t, doc)
		log = append(log, receive(t, sub)) // sequenced: it has its positions
	}
	base := events.OwnerPosBase

	// One document, head seq 4; all of alice's documents.
	byDoc := func(after int64) (events.Resume, error) { return events.ResumeDocument(ctx, db, doc, 4, after) }
	byOwner := func(after int64) (events.Resume, error) { return events.ResumeOwner(ctx, db, "alice", after) }
	checkResume(t, byDoc, "after seq %d", []resumeCase{
		{0, events.Resume{OK: true, After: 0}},
		{2, events.Resume{OK: true, After: 2}},
		{4, events.Resume{OK: true, After: 4}},
		{5, events.Resume{}}, // past the head: a plain snapshot
	})
	checkResume(t, byOwner, "after pos %d", []resumeCase{
		{base, events.Resume{OK: true, After: base}},
		{base + 3, events.Resume{OK: true, After: base + 3}},
		{base + 5, events.Resume{}},
		// A global position from before owner positions: translated.
		{log[1].Pos, events.Resume{OK: true, After: log[1].OwnerPos}},
	})
	got, err := events.ResumeOwner(ctx, db, "bob", base)
	require.NoError(t, err)
	require.Equal(t, events.Resume{OK: true, After: base}, got, "an owner with no events resumes at the start")

	// The first two events are pruned.
	_, err = db.Exec(ctx, `UPDATE document_events SET created_at = now() - interval '1 day' WHERE document_id = $1 AND seq <= 2`, doc)
	require.NoError(t, err)
	n, err := events.Prune(ctx, db, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	checkResume(t, byDoc, "after seq %d, pruned to 2", []resumeCase{
		{0, events.Resume{Truncated: true}},
		{1, events.Resume{Truncated: true}},
		{2, events.Resume{OK: true, After: 2}},
	})
	checkResume(t, byOwner, "after pos %d, pruned to base+2", []resumeCase{
		{base + 1, events.Resume{Truncated: true}},
		{base + 2, events.Resume{OK: true, After: base + 2}},
		{log[0].Pos, events.Resume{OK: true, After: log[2].OwnerPos - 1}}, // just before the oldest left
	})
}

type resumeCase struct {
	after int64
	want  events.Resume
}

// checkResume asks resume about each case's point.
func checkResume(t *testing.T, resume func(after int64) (events.Resume, error), msg string, cases []resumeCase) {
	t.Helper()
	for _, c := range cases {
		got, err := resume(c.after)
		require.NoError(t, err)
		require.Equal(t, c.want, got, msg, c.after)
	}
}
