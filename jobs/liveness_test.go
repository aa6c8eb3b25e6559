package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/jobs"
)

// TestRescueOnlyDeadWorkersJobs: a running job whose client heartbeats is
// left alone; one whose client went quiet goes back to the queue, with its
// document requeued.
func TestRescueOnlyDeadWorkersJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	alive, dead := b.document(t, pdftest.TextPages([]string{"a"})), b.document(t, pdftest.TextPages([]string{"b"}))
	aliveJob, deadJob := b.job(t, alive), b.job(t, dead)
	for _, j := range []struct {
		id     int64
		client string
	}{{aliveJob.ID, "worker-alive"}, {deadJob.ID, "worker-dead"}} {
		_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY[$2::text] WHERE id = $1`, j.id, j.client)
		require.NoError(t, err)
	}
	_, err := b.db.Pool.Exec(ctx, `UPDATE documents SET status = 'parsing', parse_generation = $2 WHERE id = $1`, dead, deadJob.ID)
	require.NoError(t, err)
	require.NoError(t, (&jobs.Liveness{Pool: b.db.Pool, ClientID: "worker-alive"}).Heartbeat(ctx))
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO worker_heartbeats VALUES ('worker-dead', now() - interval '1 minute')`)
	require.NoError(t, err)

	n, err := jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	state := func(id int64) string {
		var s string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s))
		return s
	}
	require.Equal(t, "running", state(aliveJob.ID), "a live worker's job is never taken from it")
	require.Equal(t, "available", state(deadJob.ID))
	require.Equal(t, "queued", string(b.get(t, dead).Status))
	var why string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT data->>'why' FROM document_events WHERE document_id = $1 AND type = 'parse.requeued'`, dead).Scan(&why))
	require.Equal(t, "worker_lost", why)

	n, err = jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Zero(t, n, "idempotent")
}
