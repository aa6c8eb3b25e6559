package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) {
	// The sandboxes run the worker binary, built without the race detector
	// (the test binary's races are what -race is for; a child's it cannot
	// see), and PDFium is compiled once before any test times a render.
	if _, err := testbin.Build("worker"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := testbin.WarmRenderer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testenv.Main(m, testbin.Cleanup)
}

// childRunner runs sandboxed children from the worker binary, with limits
// no test here means to reach: the tests of the limits themselves are in
// internal/sandbox.
func childRunner() *sandbox.Runner {
	return &sandbox.Runner{Exe: testbin.Path("worker"), MemoryLimit: 1 << 30, Timeout: 10 * time.Minute, MaxPages: 100}
}

type sweepBundle struct {
	db     *testenv.DB
	bucket *testenv.Bucket
}

func setupSweep(t *testing.T) *sweepBundle {
	t.Helper()
	return &sweepBundle{db: testenv.Postgres(t), bucket: testenv.S3(t)}
}

func (b *sweepBundle) startUpload(t *testing.T, key string) {
	t.Helper()
	_, err := b.bucket.Client.CreateMultipartUpload(context.Background(),
		&s3.CreateMultipartUploadInput{Bucket: &b.bucket.Name, Key: aws.String(key)})
	require.NoError(t, err)
}

func (b *sweepBundle) work(t *testing.T, now time.Time) *rivertest.WorkResult {
	t.Helper()
	ctx := context.Background()
	worker := &jobs.SweepUploadsWorker{Store: b.bucket.Store, MaxAge: time.Hour, Now: func() time.Time { return now }}
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, worker)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	res, err := tw.Work(ctx, t, tx, jobs.SweepUploadsArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	return res
}

func TestSweepAbortsStaleUploadsOnly(t *testing.T) {
	t.Parallel()
	b := setupSweep(t)
	b.startUpload(t, "originals/alice/stale")
	b.startUpload(t, "elsewhere/not-ours")

	// An upload younger than the max age is kept: it may be in flight.
	b.work(t, time.Now())
	uploads, err := b.bucket.Store.ListUploads(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, uploads, 2)

	// Once older than the max age it is aborted; keys outside Folio's
	// prefix are never touched.
	b.work(t, time.Now().Add(2*time.Hour))
	uploads, err = b.bucket.Store.ListUploads(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, uploads, 1)
	require.Equal(t, "elsewhere/not-ours", uploads[0].Key)
}

func TestSweepIsUniquePerPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Postgres(t)
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)

	for range 3 {
		_, err := client.Insert(ctx, jobs.SweepUploadsArgs{}, nil)
		require.NoError(t, err)
	}
	list, err := client.JobList(ctx, river.NewJobListParams().Kinds(jobs.SweepUploadsArgs{}.Kind()))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
}

func TestPruneEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Postgres(t)
	_, err := db.Pool.Exec(ctx, `INSERT INTO document_events (document_id, owner, seq, type, created_at) VALUES
		(gen_random_uuid(), 'a', 1, 'document.queued', now() - interval '8 days'),
		(gen_random_uuid(), 'a', 1, 'document.queued', now() - interval '1 day')`)
	require.NoError(t, err)
	n, err := events.Sequence(ctx, db.Pool) // positions 1 and 2, as a hub gives them
	require.NoError(t, err)
	require.Equal(t, 2, n)

	worker := &jobs.PruneEventsWorker{Pool: db.Pool, Retention: 7 * 24 * time.Hour}
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, worker)
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	res, err := tw.Work(ctx, t, tx, jobs.PruneEventsArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	var left []int64
	rows, err := db.Pool.Query(ctx, `SELECT pos FROM document_events ORDER BY pos`)
	require.NoError(t, err)
	left, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, []int64{2}, left, "only events older than the retention go")
}

// TestSweepDeletesOrphanObjectsOnly: an old object no document references
// goes; a referenced one and a fresh one (an upload about to commit) stay.
func TestSweepDeletesOrphanObjectsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSweep(t)
	queue, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{})
	require.NoError(t, err)
	pb := &parseBundle{db: b.db, bucket: b.bucket, client: queue}
	kept := pb.document(t, []byte("%PDF-1.4 kept"))
	_, err = b.bucket.Store.Put(ctx, "originals/alice/orphan", bytes.NewReader([]byte("%PDF-1.4 orphan")), storage.PutOptions{})
	require.NoError(t, err)

	worker := &jobs.SweepUploadsWorker{Store: b.bucket.Store, Pool: b.db.Pool, MaxAge: time.Hour}
	run := func(now time.Time) {
		worker.Now = func() time.Time { return now }
		tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, worker)
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
		_, err = tw.Work(ctx, t, tx, jobs.SweepUploadsArgs{}, nil)
		require.NoError(t, err)
	}
	exists := func(key string) bool {
		_, err := b.bucket.Store.Get(ctx, key)
		return err == nil
	}

	// Page images: a live document's stay; a deleted one's go.
	liveImage := documents.ImageKey("alice", kept, "r1", 1, 256, 0)
	goneImage := documents.ImageKey("alice", uuid.Must(uuid.NewV7()), "r1", 1, 256, 0)
	for _, k := range []string{liveImage, goneImage} {
		_, err = b.bucket.Store.Put(ctx, k, bytes.NewReader([]byte("jpeg")), storage.PutOptions{})
		require.NoError(t, err)
	}

	run(time.Now())
	require.True(t, exists("originals/alice/orphan"), "a fresh object may be an upload about to commit")
	require.True(t, exists(goneImage), "a fresh image may be a render finishing")
	run(time.Now().Add(2 * time.Hour))
	require.False(t, exists("originals/alice/orphan"), "an old object nobody references goes")
	require.True(t, exists(documents.OriginalKey("alice", kept)), "a document's original stays")
	require.False(t, exists(goneImage), "the image of a deleted document goes")
	require.True(t, exists(liveImage), "a document's images stay")
}

// TestSweepKeepsOriginalsOfDotOwners: before OwnerSegment, the owner "."
// got the key "originals/./<id>", which S3 servers collapse to
// "originals/<id>"; the sweeper took that object for an orphan and deleted
// a live document's original. An object any row may reference stays.
func TestSweepKeepsOriginalsOfDotOwners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSweep(t)
	queue, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{})
	require.NoError(t, err)
	id := uuid.Must(uuid.NewV7())
	data := []byte("%PDF-1.4 a document of the owner '.'")
	// Where the collapsing server stored it, and what the row says.
	_, err = b.bucket.Store.Put(ctx, "originals/"+id.String(), bytes.NewReader(data), storage.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, documents.Create(ctx, b.db.Pool, queue, &documents.Document{
		ID: id, Owner: ".", Filename: "a.pdf", SizeBytes: int64(len(data)), SHA256: strings.Repeat("a", 64), S3Key: "originals/./" + id.String(),
	}, documents.Intake{QuotaBytes: 1 << 30}))

	worker := &jobs.SweepUploadsWorker{Store: b.bucket.Store, Pool: b.db.Pool, MaxAge: time.Hour,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, worker)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	res, err := tw.Work(ctx, t, tx, jobs.SweepUploadsArgs{}, nil)
	require.NoError(t, err)
	var out jobs.SweepResult
	require.NoError(t, json.Unmarshal(res.Job.Output(), &out))
	require.Zero(t, out.OrphansDeleted)
	_, err = b.bucket.Store.Get(ctx, "originals/"+id.String())
	require.NoError(t, err, "the original of a live document is never swept")
}
