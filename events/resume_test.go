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

	// One document, head seq 4.
	for _, c := range []struct {
		after int64
		want  events.Resume
	}{
		{0, events.Resume{OK: true, After: 0}},
		{2, events.Resume{OK: true, After: 2}},
		{4, events.Resume{OK: true, After: 4}},
		{5, events.Resume{}}, // past the head: a plain snapshot
	} {
		got, err := events.ResumeDocument(ctx, db, doc, 4, c.after)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "after seq %d", c.after)
	}
	// All of alice's documents.
	for _, c := range []struct {
		after int64
		want  events.Resume
	}{
		{base, events.Resume{OK: true, After: base}},
		{base + 3, events.Resume{OK: true, After: base + 3}},
		{base + 5, events.Resume{}},
		// A global position from before owner positions: translated.
		{log[1].Pos, events.Resume{OK: true, After: log[1].OwnerPos}},
	} {
		got, err := events.ResumeOwner(ctx, db, "alice", c.after)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "after pos %d", c.after)
	}
	got, err := events.ResumeOwner(ctx, db, "bob", base)
	require.NoError(t, err)
	require.Equal(t, events.Resume{OK: true, After: base}, got, "an owner with no events resumes at the start")

	// The first two events are pruned.
	_, err = db.Exec(ctx, `UPDATE document_events SET created_at = now() - interval '1 day' WHERE document_id = $1 AND seq <= 2`, doc)
	require.NoError(t, err)
	n, err := events.Prune(ctx, db, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	for _, c := range []struct {
		after int64
		want  events.Resume
	}{
		{0, events.Resume{Truncated: true}},
		{1, events.Resume{Truncated: true}},
		{2, events.Resume{OK: true, After: 2}},
	} {
		got, err := events.ResumeDocument(ctx, db, doc, 4, c.after)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "after seq %d, pruned to 2", c.after)
	}
	for _, c := range []struct {
		after int64
		want  events.Resume
	}{
		{base + 1, events.Resume{Truncated: true}},
		{base + 2, events.Resume{OK: true, After: base + 2}},
		{log[0].Pos, events.Resume{OK: true, After: log[2].OwnerPos - 1}}, // just before the oldest left
	} {
		got, err := events.ResumeOwner(ctx, db, "alice", c.after)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "after pos %d, pruned to %d", c.after, base+2)
	}
}
