package documents_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs/jobargs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type testBundle struct {
	db    *testenv.DB
	queue *river.Client[pgx.Tx] // inserts and cancels; works nothing
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := testenv.Postgres(t)
	queue, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	return &testBundle{db: db, queue: queue}
}

// create commits a document of owner of size bytes, as an upload does
// (the bytes themselves are not needed here).
func (b *testBundle) create(t *testing.T, owner string, size int64, quota int64) (*documents.Document, error) {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	sum := sha256.Sum256(id[:])
	doc := &documents.Document{ID: id, Owner: owner, Filename: "a.pdf", SizeBytes: size,
		SHA256: hex.EncodeToString(sum[:]), S3Key: documents.OriginalKey(owner, id)}
	return doc, documents.Create(context.Background(), b.db.Pool, b.queue, doc, documents.Intake{QuotaBytes: quota})
}

// parsing is a document of alice that a worker has started parsing, and
// its generation.
func (b *testBundle) parsing(t *testing.T) (*documents.Document, int64) {
	t.Helper()
	doc, err := b.create(t, "alice", 1, 1<<20)
	require.NoError(t, err)
	gen := b.parseJobs(t, doc.ID)[0].ID
	_, _, err = documents.StartParse(context.Background(), b.db.Pool, doc.ID, gen, 1)
	require.NoError(t, err)
	return doc, gen
}

func (b *testBundle) parseJobs(t *testing.T, id uuid.UUID) []*rivertype.JobRow {
	t.Helper()
	list, err := b.queue.JobList(context.Background(), river.NewJobListParams().Kinds(jobargs.KindParse).
		States(rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateRunning).
		Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
	require.NoError(t, err)
	return list.Jobs
}

func (b *testBundle) eventTypes(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	_, err := events.Sequence(context.Background(), b.db.Pool) // as a hub does
	require.NoError(t, err)
	evs, err := events.DocumentAfter(context.Background(), b.db.Pool, id, 0, 1000)
	require.NoError(t, err)
	var types []string
	for i, e := range evs {
		require.Equal(t, i+1, e.Seq, "seq is gap-free")
		types = append(types, e.Type)
	}
	return types
}

// TestCreateRecordsAndEnqueuesTogether: a created document is queued, has
// its parse job and its document.queued event; one over the quota leaves
// none of them.
func TestCreateRecordsAndEnqueuesTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, err := b.create(t, "alice", 600, 1000)
	require.NoError(t, err)
	require.Equal(t, documents.StatusQueued, doc.Status)
	require.Len(t, b.parseJobs(t, doc.ID), 1)
	require.Equal(t, []string{events.DocumentQueued}, b.eventTypes(t, doc.ID))

	over, err := b.create(t, "alice", 600, 1000)
	require.ErrorIs(t, err, documents.ErrQuotaExceeded)
	_, err = documents.Get(ctx, b.db.Pool, "alice", over.ID)
	require.ErrorIs(t, err, documents.ErrNotFound, "no row")
	require.Empty(t, b.parseJobs(t, over.ID), "no job")
	require.Empty(t, b.eventTypes(t, over.ID), "no event")

	_, err = b.create(t, "bob", 600, 1000)
	require.NoError(t, err, "quotas are per owner")
}

// TestReparseRefusesABusyDocument: a queued or running parse makes a
// reparse a *ParseRunningError that says which.
func TestReparseRefusesABusyDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, err := b.create(t, "alice", 1, 1<<20)
	require.NoError(t, err)
	_, err = documents.Reparse(ctx, b.db.Pool, b.queue, "alice", doc.ID)
	require.ErrorIs(t, err, documents.ErrParseRunning)
	var running *documents.ParseRunningError
	require.ErrorAs(t, err, &running)
	require.Equal(t, documents.StatusQueued, running.Status)

	gen := b.parseJobs(t, doc.ID)[0].ID
	_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, gen, 1)
	require.NoError(t, err)
	_, err = documents.Reparse(ctx, b.db.Pool, b.queue, "alice", doc.ID)
	require.ErrorAs(t, err, &running)
	require.Equal(t, documents.StatusParsing, running.Status)

	_, err = documents.Reparse(ctx, b.db.Pool, b.queue, "bob", doc.ID)
	require.ErrorIs(t, err, documents.ErrNotFound, "another owner's document does not exist")
}

// TestDeleteCancelsTheParse: deleting a document with a parse under way
// cancels its job and announces both, in order, then the row is gone.
func TestDeleteCancelsTheParse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, err := b.create(t, "alice", 1, 1<<20)
	require.NoError(t, err)
	_, err = documents.Delete(ctx, b.db.Pool, b.queue, "bob", doc.ID)
	require.ErrorIs(t, err, documents.ErrNotFound, "only the owner deletes")

	deleted, err := documents.Delete(ctx, b.db.Pool, b.queue, "alice", doc.ID)
	require.NoError(t, err)
	require.Equal(t, doc.S3Key, deleted.S3Key, "the caller learns which object to delete")
	jobs := b.parseJobs(t, doc.ID)
	require.Len(t, jobs, 1)
	require.Equal(t, rivertype.JobStateCancelled, jobs[0].State)
	require.Equal(t, []string{events.DocumentQueued, events.DocumentCanceled, events.DocumentDeleted}, b.eventTypes(t, doc.ID))
	_, err = documents.Get(ctx, b.db.Pool, "alice", doc.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
	_, err = documents.Delete(ctx, b.db.Pool, b.queue, "alice", doc.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
}

// TestEventSeqIsGapFreeUnderConcurrency: transitions racing on one
// document number its events 1, 2, 3, … with no gap and no repeat (the
// document row's lock orders them).
func TestEventSeqIsGapFreeUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, gen := b.parsing(t)
	const writers = 16
	require.NoError(t, documents.SetPageCount(ctx, b.db.Pool, doc.ID, gen, writers, 0))

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			errs <- documents.SavePages(ctx, b.db.Pool, doc.ID, gen,
				[]documents.PageRow{{Number: i + 1, Width: 1, Height: 1, Text: "x"}}, i+1, true)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	types := b.eventTypes(t, doc.ID) // checks seq 1…n
	require.Len(t, types, 2+1+writers, "queued, started, the page count, then one progress event per concurrent save")
	got, err := documents.Get(ctx, b.db.Pool, "alice", doc.ID)
	require.NoError(t, err)
	require.Equal(t, len(types), got.EventSeq, "the row's seq is its log's last")
}

// TestFinishedParseIsNotRunAgain: a parse job runs again when River had
// not recorded it complete before its worker died (kill -9 right after
// the parse committed). Its generation is done: running it again must not
// take the document back to parsing. Nor may an older generation's job
// take over from a reparse.
func TestFinishedParseIsNotRunAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, gen := b.parsing(t)
	ok, err := documents.FinishParse(ctx, b.db.Pool, doc.ID, gen, 1, documents.Summary{Version: "1.7"}, nil, nil)
	require.NoError(t, err)
	require.True(t, ok)
	before := b.eventTypes(t, doc.ID)

	_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, gen, 2)
	require.ErrorIs(t, err, documents.ErrNothingToParse)
	got, err := documents.Get(ctx, b.db.Pool, "alice", doc.ID)
	require.NoError(t, err)
	require.Equal(t, documents.StatusDone, got.Status)
	require.Equal(t, before, b.eventTypes(t, doc.ID), "no event")

	_, err = b.queue.JobCancel(ctx, gen)
	require.NoError(t, err)
	_, err = documents.Reparse(ctx, b.db.Pool, b.queue, "alice", doc.ID)
	require.NoError(t, err)
	var newer int64
	for _, j := range b.parseJobs(t, doc.ID) {
		newer = max(newer, j.ID)
	}
	_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, newer, 1)
	require.NoError(t, err)
	_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, gen, 3)
	require.ErrorIs(t, err, documents.ErrNothingToParse, "the older generation does not take over")
}
