package jobs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

type parseBundle struct {
	db     *testenv.DB
	bucket *testenv.Bucket
	worker *jobs.ParseWorker
	client *river.Client[pgx.Tx]
}

func setupParse(t *testing.T) *parseBundle {
	t.Helper()
	b := &parseBundle{db: testenv.Postgres(t), bucket: testenv.S3(t)}
	b.worker = &jobs.ParseWorker{
		Pool: b.db.Pool, Store: b.bucket.Store, Logger: slog.New(slog.DiscardHandler), ProgressInterval: 10 * time.Millisecond,
		Sandbox: childRunner(),
	}
	var err error
	b.client, err = river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{})
	require.NoError(t, err)
	return b
}

// document stores data as an uploaded document of alice, created the way
// an upload creates it (documents.Create enqueues its parse job), and
// returns its id.
func (b *parseBundle) document(t *testing.T, data []byte) uuid.UUID {
	t.Helper()
	return b.documentOf(t, "alice", data)
}

// documentOf is document for another owner.
func (b *parseBundle) documentOf(t *testing.T, owner string, data []byte) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	key := documents.OriginalKey(owner, id)
	_, err := b.bucket.Store.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{})
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.NoError(t, documents.Create(ctx, b.db.Pool, b.client, &documents.Document{
		ID: id, Owner: owner, Filename: "a.pdf",
		SizeBytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), S3Key: key,
	}, documents.Intake{QuotaBytes: 1 << 40}))
	return id
}

// job is the parse job of id that Create enqueued.
func (b *parseBundle) job(t *testing.T, id uuid.UUID) *rivertype.JobRow {
	t.Helper()
	list, err := b.client.JobList(context.Background(), river.NewJobListParams().Kinds(jobargs.KindParse).
		Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	return list.Jobs[0]
}

func (b *parseBundle) work(t *testing.T, job *rivertype.JobRow) *rivertest.WorkResult {
	t.Helper()
	return workJob[jobargs.ParseArgs](t, b.db, b.worker, job)
}

// workJob works job with worker in a transaction it rolls back (the
// worker's own writes go through the pool).
func workJob[T river.JobArgs](t *testing.T, db *testenv.DB, worker river.Worker[T], job *rivertype.JobRow) *rivertest.WorkResult {
	t.Helper()
	ctx := context.Background()
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, worker)
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	res, err := tw.WorkJob(ctx, t, tx, job)
	if res == nil {
		require.NoError(t, err)
	}
	return res
}

func (b *parseBundle) get(t *testing.T, id uuid.UUID) *documents.Document {
	t.Helper()
	d, err := documents.Get(context.Background(), b.db.Pool, "alice", id)
	require.NoError(t, err)
	return d
}

func (b *parseBundle) pages(t *testing.T, id uuid.UUID) map[int]string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT page_number, text FROM pages WHERE document_id = $1`, id)
	require.NoError(t, err)
	out := map[int]string{}
	for rows.Next() {
		var n int
		var text string
		require.NoError(t, rows.Scan(&n, &text))
		out[n] = text
	}
	require.NoError(t, rows.Err())
	return out
}

func TestParseDone(t *testing.T) {
	t.Parallel()
	b := setupParse(t)
	id := b.document(t, pdftest.TextPages([]string{"Alpha beta"}, []string{"Gamma delta"}, []string{"Epsilon"}))

	res := b.work(t, b.job(t, id))
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status)
	require.NotNil(t, d.PageCount)
	require.Equal(t, 3, *d.PageCount)
	require.Equal(t, 3, d.PagesDone)
	require.Nil(t, d.Failure)
	var summary documents.Summary
	require.NoError(t, json.Unmarshal(d.Summary, &summary))
	require.Equal(t, "1.7", summary.Version)
	require.Equal(t, map[int]string{1: "Alpha beta", 2: "Gamma delta", 3: "Epsilon"}, b.pages(t, id))
}

// TestParseResumesAndDropsOtherGenerations: a retried attempt keeps the
// pages its generation committed and parses only the rest; pages of any
// other generation are dropped, so generations never mix.
func TestParseResumesAndDropsOtherGenerations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	id := b.document(t, pdftest.TextPages([]string{"one"}, []string{"two"}, []string{"three"}, []string{"four"}))
	job := b.job(t, id)

	_, _, err := documents.StartParse(ctx, b.db.Pool, id, job.ID, 1)
	require.NoError(t, err)
	require.NoError(t, documents.SavePages(ctx, b.db.Pool, id, job.ID, []documents.PageRow{
		{Number: 1, Width: 612, Height: 792, Text: "one (committed by attempt 1)"},
		{Number: 2, Width: 612, Height: 792, Text: "two (committed by attempt 1)"},
	}, 2, false))
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO pages (document_id, page_number, generation, width, height, text)
		VALUES ($1, 4, $2, 1, 1, 'stale page of an older parse')`, id, job.ID-1)
	require.NoError(t, err)

	require.Equal(t, river.EventKindJobCompleted, b.work(t, job).EventKind)
	require.Equal(t, map[int]string{
		1: "one (committed by attempt 1)",
		2: "two (committed by attempt 1)",
		3: "three",
		4: "four",
	}, b.pages(t, id))
	var gens int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(DISTINCT generation) FROM pages WHERE document_id = $1`, id).Scan(&gens))
	require.Equal(t, 1, gens)
	require.Equal(t, documents.StatusDone, b.get(t, id).Status)
}

func TestParsePermanentFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		data []byte
		code string
	}{
		{"not a PDF", []byte("\x89PNG\r\n\x1a\n not a pdf at all"), "not_pdf"},
		{"too many pages", pdftest.TextPages(make([][]string, 101)...), "too_many_pages"},
		{"page tree cycle", pdftest.Build([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
		}, ""), "malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupParse(t)
			id := b.document(t, tt.data)
			res := b.work(t, b.job(t, id))
			require.Equal(t, river.EventKindJobCancelled, res.EventKind, "no retries for the input's own faults")
			d := b.get(t, id)
			require.Equal(t, documents.StatusFailed, d.Status)
			require.NotNil(t, d.Failure)
			require.Equal(t, tt.code, d.Failure.Code)
			require.NotEmpty(t, d.Failure.Message)
		})
	}
}

// TestParseDeletedDocumentIsNoWork: a parse job whose document is gone (a
// delete racing a worker that had fetched the job already: Delete cancels
// the job, but a running one only learns it later) completes without work.
func TestParseDeletedDocumentIsNoWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	id := b.document(t, pdftest.TextPages([]string{"x"}))
	_, err := documents.Delete(ctx, b.db.Pool, b.client, "alice", id)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateCancelled, b.job(t, id).State, "Delete cancels the queued job")

	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, b.worker)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	res, err := tw.Work(ctx, t, tx, jobargs.ParseArgs{DocumentID: id}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
}

// TestParseMissingObjectRetries: S3 losing the original is not the file's
// fault: the job errors for River to retry, and on the last attempt the
// document fails with "internal".
func TestParseMissingObjectRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	id := b.document(t, pdftest.TextPages([]string{"x"}))
	require.NoError(t, b.bucket.Store.Delete(ctx, documents.OriginalKey("alice", id)))

	job := b.job(t, id)
	res := b.work(t, job)
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	require.Equal(t, documents.StatusQueued, b.get(t, id).Status, "retries remain: back in the queue")
	var requeued int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE document_id = $1 AND type = 'parse.requeued'
		AND data->>'why' = 'retry'`, id).Scan(&requeued))
	require.Equal(t, 1, requeued)

	job.Attempt, job.MaxAttempts = jobargs.ParseMaxAttempts, jobargs.ParseMaxAttempts
	b.work(t, job)
	d := b.get(t, id)
	require.Equal(t, documents.StatusFailed, d.Status)
	require.Equal(t, "internal", d.Failure.Code)
}
