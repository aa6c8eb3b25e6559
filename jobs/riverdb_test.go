package jobs_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs"
)

// TestRescueRiverSchemaIsPinned: Rescue writes river_job itself (the one
// place Folio does). This fails when River's schema moves past the version
// its SQL was checked against, or when a column it reads or writes changes:
// check riverdb.go against the new schema, then raise RiverSchemaVersion.
func TestRescueRiverSchemaIsPinned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Postgres(t)
	var version int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT max(version) FROM river_migration WHERE line = 'main'`).Scan(&version))
	require.Equal(t, jobs.RiverSchemaVersion, version,
		"River's schema moved on: check jobs/riverdb.go's SQL against it, then raise RiverSchemaVersion")

	rows, err := db.Pool.Query(ctx, `SELECT column_name::text, udt_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'river_job'`)
	require.NoError(t, err)
	columns := map[string]string{}
	for rows.Next() {
		var name, typ string
		require.NoError(t, rows.Scan(&name, &typ))
		columns[name] = typ
	}
	require.NoError(t, rows.Err())
	for name, typ := range map[string]string{
		"id": "int8", "state": "river_job_state", "scheduled_at": "timestamptz", "errors": "_jsonb",
		"attempt": "int2", "attempted_by": "_text", "attempted_at": "timestamptz", "args": "jsonb", "queue": "text",
	} {
		require.Equal(t, typ, columns[name], "river_job.%s, as Rescue uses it", name)
	}
	var states []string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT enum_range(NULL::river_job_state)::text[]`).Scan(&states))
	require.Subset(t, states, []string{"running", "available"})
}

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
	_, _, err := documents.StartParse(ctx, b.db.Pool, dead, deadJob.ID, 1)
	require.NoError(t, err)
	require.NoError(t, (&jobs.Liveness{Pool: b.db.Pool, ClientID: "worker-alive"}).Heartbeat(ctx))
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO worker_heartbeats VALUES ('worker-dead', now() - interval '1 minute')`)
	require.NoError(t, err)

	n, err := jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	state := func(id int64) string {
		job, err := b.client.JobGet(ctx, id)
		require.NoError(t, err)
		return string(job.State)
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

// TestRescueJobsALiveWorkerNoLongerClaims: River records a job's outcome
// after Work returns, retrying for a few seconds; when the database fails
// all that while, the job stays running although its (live) worker is done
// with it, and River alone would hand it back only after an hour. A live
// worker's heartbeat names the jobs it claims (working, or finished a
// moment ago); a running job it does not claim, and started well before
// that heartbeat, is handed back. One that started after it, or that it
// claims, is left alone.
func TestRescueJobsALiveWorkerNoLongerClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	var ids []int64
	for i, age := range []string{"1 minute", "1 minute", "0 seconds"} {
		id := b.document(t, pdftest.TextPages([]string{strconv.Itoa(i)}))
		job := b.job(t, id)
		_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
			attempted_at = now() - $2::interval, attempted_by = ARRAY['worker-live'] WHERE id = $1`, job.ID, age)
		require.NoError(t, err)
		ids = append(ids, job.ID)
	}
	claimed, lost, fresh := ids[0], ids[1], ids[2]
	claims := jobs.NewClaims()
	live := &jobs.Liveness{Pool: b.db.Pool, ClientID: "worker-live", Claims: claims}
	require.NoError(t, claims.Work(ctx, &rivertype.JobRow{ID: claimed}, func(ctx context.Context) error {
		return live.Heartbeat(ctx) // while the job is worked
	}))

	n, err := jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	state := func(id int64) rivertype.JobState {
		job, err := b.client.JobGet(ctx, id)
		require.NoError(t, err)
		return job.State
	}
	require.Equal(t, rivertype.JobStateRunning, state(claimed), "claimed while worked")
	require.Equal(t, rivertype.JobStateAvailable, state(lost), "its outcome was lost: back in the queue")
	require.Equal(t, rivertype.JobStateRunning, state(fresh), "started after the heartbeat: not known yet")

	require.NoError(t, live.Heartbeat(ctx)) // Work has returned: still claimed for a while
	n, err = jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, rivertype.JobStateRunning, state(claimed), "River may still be recording its outcome")
}

// TestCanceledParseEndsItsDocument: a parse job an operator cancels —
// through River itself (River UI), queued or running, or through
// jobs.Cancel (folio jobs cancel) — leaves no document stuck queued or
// parsing: it ends failed with the reason canceled (document.failed), the
// owner can reparse it, and a reparsed document is not touched by the
// old job's cancellation.
func TestCanceledParseEndsItsDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	queued := b.document(t, pdftest.TextPages([]string{"a"}))
	running := b.document(t, pdftest.TextPages([]string{"b"}))
	viaCLI := b.document(t, pdftest.TextPages([]string{"c"}))
	runningJob := b.job(t, running)
	_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['worker-1'] WHERE id = $1`, runningJob.ID)
	require.NoError(t, err)
	_, _, err = documents.StartParse(ctx, b.db.Pool, running, runningJob.ID, 1)
	require.NoError(t, err)

	// River UI: the queued job is cancelled at once; the running one once
	// its worker stops (River finalizes it then).
	_, err = b.client.JobCancel(ctx, b.job(t, queued).ID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE id = $1`, runningJob.ID)
	require.NoError(t, err)
	require.Equal(t, documents.StatusQueued, b.get(t, queued).Status, "nothing told the document yet")

	n, err := jobs.EndCanceled(ctx, b.db.Pool, jobs.CanceledWindow)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []uuid.UUID{queued, running} {
		d := b.get(t, id)
		require.Equal(t, documents.StatusFailed, d.Status)
		require.Equal(t, "canceled", d.Failure.Code)
		var typ string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT type FROM document_events WHERE document_id = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&typ))
		require.Equal(t, "document.failed", typ)
	}
	n, err = jobs.EndCanceled(ctx, b.db.Pool, jobs.CanceledWindow)
	require.NoError(t, err)
	require.Zero(t, n, "idempotent")

	// The owner reparses; the old cancellation does not touch the new parse.
	_, err = documents.Reparse(ctx, b.db.Pool, b.client, "alice", queued)
	require.NoError(t, err)
	n, err = jobs.EndCanceled(ctx, b.db.Pool, jobs.CanceledWindow)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, documents.StatusQueued, b.get(t, queued).Status)

	// folio jobs cancel: at once, in the cancel's transaction.
	row, err := jobs.Cancel(ctx, b.db.Pool, b.client, b.job(t, viaCLI).ID)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateCancelled, row.State)
	d := b.get(t, viaCLI)
	require.Equal(t, documents.StatusFailed, d.Status)
	require.Equal(t, "canceled", d.Failure.Code)
}
