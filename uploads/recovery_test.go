package uploads

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The tests below take the store through the failures its recovery paths
// exist for, one by one, on a real Postgres and a real S3 server. Each
// names the failure in its name; "a process" is a Store (and Locker) of
// its own on the same database and bucket, as another API process would
// have.

const partSize = storage.MinPartSize

type testBundle struct {
	db     *testenv.DB
	bucket *testenv.Bucket
	queue  documents.Queue
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	queue, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	return &testBundle{db: db, bucket: bucket, queue: queue}
}

// process is one API process's store of the bundle's uploads.
func (b *testBundle) process(queue documents.Queue) *Store {
	if queue == nil {
		queue = b.queue
	}
	return NewStore(Config{
		Pool: b.db.Pool, Queue: queue, Logger: slog.New(slog.DiscardHandler),
		Store:   storage.New(b.bucket.Client, b.bucket.Name, storage.Options{PartSize: partSize, PartsInFlight: 2}),
		MaxSize: 1 << 30, Quota: 1 << 40, Expiry: time.Hour,
		PutOptions: func(string) storage.PutOptions { return storage.PutOptions{ContentType: "application/pdf"} },
	})
}

// request is the context of a tus request by owner holding the lock.
func request(owner string) (context.Context, *Request) {
	r := &Request{Owner: owner, Locked: true}
	return WithRequest(context.Background(), r), r
}

func pdfBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	copy(b, "%PDF-1.7\n")
	return b
}

// create starts an upload of size bytes by owner.
func create(t *testing.T, s *Store, owner string, size int64) *upload {
	t.Helper()
	ctx, _ := request(owner)
	up, err := s.NewUpload(ctx, handler.FileInfo{Size: size, MetaData: map[string]string{"filename": "a.pdf"}})
	require.NoError(t, err)
	return up.(*upload)
}

// load is a new request's view of the upload (on process s).
func load(t *testing.T, s *Store, owner string, id uuid.UUID) (*upload, error) {
	t.Helper()
	ctx, _ := request(owner)
	up, err := s.GetUpload(ctx, id.String())
	if err != nil {
		return nil, err
	}
	return up.(*upload), nil
}

// requireDocument checks that the upload became a document whose original
// holds body and whose recorded hash is body's.
func (b *testBundle) requireDocument(t *testing.T, owner string, id uuid.UUID, body []byte) {
	t.Helper()
	ctx := context.Background()
	doc, err := documents.Get(ctx, b.db.Pool, owner, id)
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	require.Equal(t, hex.EncodeToString(sum[:]), doc.SHA256, "the recorded hash is that of the bytes sent")
	require.Equal(t, int64(len(body)), doc.SizeBytes)
	obj, err := b.bucket.Store.Get(ctx, doc.S3Key)
	require.NoError(t, err)
	defer obj.Close()
	stored, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.True(t, bytes.Equal(body, stored), "the stored object is the bytes sent (%d bytes, %d stored)", len(body), len(stored))
	var docID *uuid.UUID
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT document_id FROM uploads WHERE id = $1`, id).Scan(&docID))
	require.NotNil(t, docID)
	var jobs int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'parse' AND args->>'document_id' = $1`, id.String()).Scan(&jobs))
	require.Equal(t, 1, jobs, "one parse enqueued with the document")
}

func (b *testBundle) requireNoDocument(t *testing.T, owner string, id uuid.UUID) {
	t.Helper()
	_, err := documents.Get(context.Background(), b.db.Pool, owner, id)
	require.ErrorIs(t, err, documents.ErrNotFound)
}

// finish sends the rest of body from the offset the upload holds, ends the
// upload and checks the document it became.
func (b *testBundle) finish(t *testing.T, u *upload, body []byte) {
	t.Helper()
	_, err := write(t, u, u.st.Owner, body[u.st.Offset:])
	require.NoError(t, err)
	ctx, _ := request(u.st.Owner)
	require.NoError(t, u.FinishUpload(ctx))
	b.requireDocument(t, u.st.Owner, u.st.ID, body)
}

func write(t *testing.T, u *upload, owner string, body []byte) (int64, error) {
	t.Helper()
	ctx, _ := request(owner)
	return u.WriteChunk(ctx, u.st.Offset, bytes.NewReader(body))
}

// The process died after the last byte was recorded and before it
// completed the object: the next request (HEAD or PATCH, on any process)
// completes and commits it.
func TestRecoverDiedBeforeCompleting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 2*partSize+1234)
	u := create(t, b.process(nil), "alice", int64(len(body)))
	n, err := write(t, u, "alice", body)
	require.NoError(t, err)
	require.Equal(t, int64(len(body)), n)
	b.requireNoDocument(t, "alice", u.st.ID) // FinishUpload never ran

	again, err := load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	require.True(t, again.st.committed())
	b.requireDocument(t, "alice", u.st.ID, body)
}

// The process died after completing the multipart upload and before the
// commit: the object is whole and the multipart upload is gone; the next
// request commits without completing again.
func TestRecoverDiedAfterCompletingBeforeCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, partSize+77)
	u := create(t, b.process(nil), "alice", int64(len(body)))
	_, err := write(t, u, "alice", body)
	require.NoError(t, err)
	require.NoError(t, u.completeObject(context.Background(), false))

	_, err = load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	b.requireDocument(t, "alice", u.st.ID, body)
}

// Two requests finish the same upload from stale views (one completed the
// object and died): completing again finds the multipart upload gone, sees
// the whole object and commits once.
func TestRecoverCompletedByAnAttemptThatDied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, partSize+5)
	s := b.process(nil)
	u := create(t, s, "alice", int64(len(body)))
	_, err := write(t, u, "alice", body)
	require.NoError(t, err)
	stale := &upload{s: s, st: cloneState(u.st)}
	require.NoError(t, u.completeObject(context.Background(), false))

	ctx, _ := request("alice")
	require.NoError(t, stale.FinishUpload(ctx))
	b.requireDocument(t, "alice", u.st.ID, body)
}

// failingQueue fails the first enqueue, as a database that went away in the
// middle of the commit's transaction would (a narrow fake for the error
// path; everything else is the real River client).
type failingQueue struct {
	documents.Queue
	failed atomic.Bool
}

func (q *failingQueue) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if q.failed.CompareAndSwap(false, true) {
		return nil, errors.New("connection reset by peer")
	}
	return q.Queue.InsertTx(ctx, tx, args, opts)
}

// The commit failed (the database went away mid-transaction): the client
// is told 503 and nothing half-written stays (no document, no job); its
// next request commits the upload, with the bytes already stored.
func TestRecoverCommitFailedThenNextRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, partSize+900)
	s := b.process(&failingQueue{Queue: b.queue})
	u := create(t, s, "alice", int64(len(body)))
	_, err := write(t, u, "alice", body)
	require.NoError(t, err)
	ctx, _ := request("alice")
	err = u.FinishUpload(ctx)
	require.ErrorIs(t, err, errUnavailable)
	require.Equal(t, 503, err.(handler.Error).HTTPResponse.StatusCode) //nolint:errorlint // tusd's type
	b.requireNoDocument(t, "alice", u.st.ID)

	// HEAD on another process.
	_, err = load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	b.requireDocument(t, "alice", u.st.ID, body)
}

// cutReader gives n bytes of body, then fails with err.
type cutReader struct {
	body []byte
	n    int
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, c.err
	}
	k := copy(p, c.body[:min(len(c.body), c.n, len(p))])
	c.body, c.n = c.body[k:], c.n-k
	return k, nil
}

// The connection failed in the middle of a request after two parts were
// stored: they stay recorded (offset and hash at their end), the bytes of
// the part being filled are not counted, and the client resumes from the
// offset on another process.
func TestRecoverConnectionResetAfterParts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 3*partSize+4321)
	u := create(t, b.process(nil), "alice", int64(len(body)))
	ctx, _ := request("alice")
	n, err := u.WriteChunk(ctx, 0, &cutReader{body: body, n: 2*partSize + 1000, err: errors.New("read tcp: connection reset by peer")})
	require.ErrorIs(t, err, errUnavailable)
	require.Equal(t, int64(2*partSize), n, "the whole parts stored are kept")

	again, err := load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2*partSize), again.st.Offset)
	require.Len(t, again.st.Parts, 2)
	b.finish(t, again, body)
}

// The body ended before its Content-Length (the client went away): every
// byte that arrived is kept, the last ones as the tail, and the client
// resumes after them.
func TestRecoverBodyEndedEarly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 2*partSize+4321)
	u := create(t, b.process(nil), "alice", int64(len(body)))
	ctx, _ := request("alice")
	n, err := u.WriteChunk(ctx, 0, &cutReader{body: body, n: partSize + 1000, err: io.ErrUnexpectedEOF})
	require.NoError(t, err)
	require.Equal(t, int64(partSize+1000), n)

	again, err := load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	require.Equal(t, int64(partSize+1000), again.st.Offset)
	require.Len(t, again.st.Tail, 1000)
	b.finish(t, again, body)
}

// A process was killed after it sent a part to S3 and before it recorded
// it: S3 holds a part the database does not know. The resumed request
// sends that part number again with the right bytes, and the object is
// the client's file, not the orphan's.
func TestRecoverPartStoredNotRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 2*partSize+10)
	u := create(t, b.process(nil), "alice", int64(len(body)))
	_, err := write(t, u, "alice", body[:partSize+3]) // part 1 recorded, 3 bytes in the tail
	require.NoError(t, err)
	require.Len(t, u.st.Parts, 1)
	orphan := pdfBytes(t, partSize)
	_, err = b.bucket.Store.UploadPart(context.Background(), u.st.Key, u.st.S3UploadID, 2, orphan)
	require.NoError(t, err)

	again, err := load(t, b.process(nil), "alice", u.st.ID)
	require.NoError(t, err)
	require.Equal(t, int64(partSize+3), again.st.Offset)
	b.finish(t, again, body)
}

// A chunk that does not match its Upload-Checksum is dropped whole: not
// one of its parts is recorded, and sending it again with the right bytes
// makes the file.
func TestRecoverChecksumMismatchDropsTheChunk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, partSize+100)
	s := b.process(nil)
	u := create(t, s, "alice", int64(len(body)))
	wrong := sha256.Sum256([]byte("not these bytes"))
	ctx, _ := request("alice")
	req := requestOf(ctx)
	req.Checksum = &Checksum{Algorithm: "sha256", Sum: wrong[:]}
	_, err := u.WriteChunk(ctx, 0, bytes.NewReader(body))
	require.ErrorIs(t, err, ErrChecksumMismatch)

	again, err := load(t, s, "alice", u.st.ID)
	require.NoError(t, err)
	require.Zero(t, again.st.Offset)
	require.Empty(t, again.st.Parts)
	right := sha256.Sum256(body)
	req.Checksum = &Checksum{Algorithm: "sha256", Sum: right[:]}
	_, err = again.WriteChunk(ctx, 0, bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, again.FinishUpload(ctx))
	b.requireDocument(t, "alice", u.st.ID, body)
}

// A client lost its connection while its request still streams on one
// process, and resumes on another: the newcomer asks the holder to let go
// (NOTIFY, heard by the holder's Run), the holder lets go, and the
// newcomer gets the lock without waiting for a timeout.
func TestRecoverLockHandedOver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, second := &Locker{Pool: b.db.Pool}, &Locker{Pool: b.db.Pool}
	for _, l := range []*Locker{first, second} {
		done := make(chan struct{})
		go func() { _ = l.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	id := uuid.New().String()

	held, err := first.NewLock(id)
	require.NoError(t, err)
	asked := make(chan struct{})
	var once sync.Once
	holdCtx, holdReq := request("alice")
	require.NoError(t, held.Lock(holdCtx, func() { once.Do(func() { close(asked) }) }))
	holdReq.arm() // the holder streams its body

	// The newcomer's NOTIFY may go out before the holder's LISTEN is in
	// place: it asks once, then waits for the lock; so it retries.
	newcomer, err := second.NewLock(id)
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		for {
			nctx, _ := request("alice")
			lockCtx, stop := context.WithTimeout(nctx, 2*time.Second)
			err := newcomer.Lock(lockCtx, func() {})
			stop()
			if !errors.Is(err, handler.ErrFileLocked) || ctx.Err() != nil {
				got <- err
				return
			}
		}
	}()
	select {
	case <-asked:
	case <-time.After(time.Minute):
		t.Fatal("the holder was never asked to let go")
	}
	select {
	case err := <-got:
		t.Fatalf("the newcomer got the lock (%v) before the holder let go", err)
	default:
	}
	require.NoError(t, held.Unlock())
	require.NoError(t, <-got)
	require.NoError(t, newcomer.Unlock())
}

// The process holding an upload's lock died: its session ended, and with
// it the advisory lock; the next request takes the lock.
func TestRecoverLockOfADeadProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	locker := &Locker{Pool: b.db.Pool}
	id := uuid.New().String()
	held, err := locker.NewLock(id)
	require.NoError(t, err)
	ctx, _ := request("alice")
	require.NoError(t, held.Lock(ctx, func() {}))

	// Not yet: the lock is held.
	other := &Locker{Pool: b.db.Pool}
	busy, err := other.NewLock(id)
	require.NoError(t, err)
	shortCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	require.ErrorIs(t, busy.Lock(shortCtx, func() {}), handler.ErrFileLocked)
	stop()

	// The process is gone: Postgres ends its session.
	pid := held.(*lock).conn.Conn().PgConn().PID()
	_, err = b.db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	// (What is left of the dead process's side: its connection goes.)
	t.Cleanup(func() { _ = held.Unlock() })
	next, err := other.NewLock(id)
	require.NoError(t, err)
	lockCtx, stop := context.WithTimeout(ctx, time.Minute)
	defer stop()
	require.NoError(t, next.Lock(lockCtx, func() {}))
	require.NoError(t, next.Unlock())
}

func cloneState(st *state) *state {
	c := *st
	c.Parts = append(c.Parts[:0:0], st.Parts...)
	c.Tail = append([]byte(nil), st.Tail...)
	c.HashState = append([]byte(nil), st.HashState...)
	return &c
}
