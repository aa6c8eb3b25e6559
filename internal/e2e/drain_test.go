package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// longParse is an api and one worker (FOLIO_WORKER_CONCURRENCY=1) with a
// long document uploaded: a parse to interrupt.
type longParse struct {
	db           *testenv.DB
	env          []string
	client       *client.Client
	doc          *client.Document
	worker       *proc
	workerHealth string
}

// longPages is the length of a document whose parse takes long enough to
// be interrupted (a few seconds on two idle cores).
const longPages = 2000

// startLongParse starts an api and a worker and uploads a document of
// pages pages.
func startLongParse(ctx context.Context, t *testing.T, pages int, extraEnv ...string) *longParse {
	t.Helper()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, health := freeAddr(t), freeAddr(t)
	env := append(append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr,
		"FOLIO_PROGRESS_INTERVAL=50ms", "FOLIO_WORKER_CONCURRENCY=1"), extraEnv...)
	api := start(t, env, "api")
	worker := start(t, append(env, "FOLIO_HEALTH_ADDR="+health), "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	data := pdftest.LongDocument("long", pages, 40)
	c := client.New(tok, "http://"+apiAddr)
	doc, err := c.Upload(ctx, "long.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	return &longParse{db: db, env: env, client: c, doc: doc, worker: worker, workerHealth: health}
}

// TestWorkerDrainHandsBackAndResumes: SIGTERM to a worker mid-parse. It
// turns not-ready at once, gives the job FOLIO_DRAIN_TIMEOUT, then hands it
// back (parse.requeued, draining) and exits 0; the next worker resumes at
// the first page not yet committed, and every page is stored once.
func TestWorkerDrainHandsBackAndResumes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lp := startLongParse(ctx, t, longPages, "FOLIO_DRAIN_TIMEOUT=200ms")
	db, env, c, doc, w1, h1, h2 := lp.db, lp.env, lp.client, lp.doc, lp.worker, lp.workerHealth, freeAddr(t)

	var msgs []client.Message
	stopped := false
	err := c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		msgs = append(msgs, m)
		if m.Type == "parse.progress" && !stopped {
			var p client.Progress
			_ = json.Unmarshal(m.Data, &p)
			if p.PagesDone > 0 && p.PagesDone < longPages {
				stopped = true
				w1.signal(t, syscall.SIGTERM)
				waitStatus(t, w1, "http://"+h1+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
			}
		}
		if m.Type == "parse.requeued" {
			// The first worker handed the job back: start the next one.
			require.Equal(t, 0, w1.wait(t, 30*time.Second), w1.stderr.String())
			start(t, append(env, "FOLIO_HEALTH_ADDR="+h2), "worker")
		}
		if m.Terminal() {
			return client.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	require.True(t, stopped, "the parse was still running when the worker was stopped")

	var requeued, resumedAt int
	for _, m := range msgs {
		switch m.Type {
		case "parse.requeued":
			var d struct{ Why string }
			_ = json.Unmarshal(m.Data, &d)
			require.Equal(t, "draining", d.Why)
			requeued++
		case "parse.started":
			var d struct {
				ResumeAt int `json:"resume_at_page"`
			}
			_ = json.Unmarshal(m.Data, &d)
			resumedAt = d.ResumeAt
		}
	}
	require.Equal(t, 1, requeued)
	require.Greater(t, resumedAt, 1, "the second worker resumed past page 1")
	require.Equal(t, "document.done", msgs[len(msgs)-1].Type)
	schemas := loadEventSchemas(t)
	for _, m := range msgs {
		if m.Type != "snapshot" {
			schemas.requireDescribed(t, m.Type, m.Data) // parse.requeued (draining) among them
		}
	}

	var n, distinct, gens int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT page_number), count(DISTINCT generation)
		FROM pages WHERE document_id = $1`, doc.ID).Scan(&n, &distinct, &gens))
	require.Equal(t, longPages, n)
	require.Equal(t, longPages, distinct, "no page twice")
	require.Equal(t, 1, gens, "one generation: the resumed attempt kept the first one's pages")
	var attempt int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE kind = 'parse'`).Scan(&attempt))
	require.Equal(t, 1, attempt, "a drained attempt does not count against the job")
	t.Logf("drained at page %d of %d; resumed at page %d", resumedAt-1, longPages, resumedAt)
}

// TestAPIDrainFinishesUploads: SIGTERM to an API with an upload in flight.
// /readyz turns 503 at once while the API keeps serving for
// FOLIO_SHUTDOWN_DELAY; the upload finishes (201) within
// FOLIO_SHUTDOWN_TIMEOUT; the process exits 0.
func TestAPIDrainFinishesUploads(t *testing.T) {
	t.Parallel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addr := freeAddr(t)
	api := start(t, append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+addr,
		"FOLIO_SHUTDOWN_DELAY=1s", "FOLIO_SHUTDOWN_TIMEOUT=20s"), "api")
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	// A body that arrives slowly: 8 MiB in 64 KiB steps, paced by the test.
	pr, pw := io.Pipe()
	data := pdftest.TextPages([]string{"slow"})
	body := append(bytes.Clone(data), make([]byte, 8<<20)...)
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/documents?filename=slow.pdf", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	sent := 0
	step := func() bool {
		if sent >= len(body) {
			return false
		}
		n := min(64<<10, len(body)-sent)
		_, err := pw.Write(body[sent : sent+n])
		require.NoError(t, err)
		sent += n
		return true
	}
	for range 16 { // a first megabyte, then the signal
		step()
	}
	api.signal(t, syscall.SIGTERM)
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusServiceUnavailable, 5*time.Second)
	require.Equal(t, http.StatusOK, status("http://"+addr+"/healthz"), "still serving during the delay")
	for step() {
		time.Sleep(time.Millisecond) // pace the body: the upload spans the shutdown
	}
	require.NoError(t, pw.Close())
	require.Equal(t, http.StatusCreated, <-result, "the upload in flight finished")
	require.Equal(t, 0, api.wait(t, 30*time.Second), api.stderr.String())
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM documents").Scan(&n))
	require.Equal(t, 1, n)
}

// TestCrashedWorkerJobRunsAgain: kill -9 a worker mid-parse. Its job is
// handed back once its heartbeat is stale, another worker resumes it, and
// the document ends done with every page once.
func TestCrashedWorkerJobRunsAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lp := startLongParse(ctx, t, longPages)
	db, env, c, doc, w1, h2 := lp.db, lp.env, lp.client, lp.doc, lp.worker, freeAddr(t)

	var (
		killedAt, restartedAt time.Time
		attempts              []int
	)
	err := c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		switch m.Type {
		case "parse.started":
			var d struct{ Attempt int }
			_ = json.Unmarshal(m.Data, &d)
			attempts = append(attempts, d.Attempt)
			if !killedAt.IsZero() && restartedAt.IsZero() {
				restartedAt = m.CreatedAt // written by the worker that took the job again
			}
		case "parse.progress":
			var p client.Progress
			_ = json.Unmarshal(m.Data, &p)
			if killedAt.IsZero() && p.PagesDone > 0 && p.PagesDone < longPages {
				require.NoError(t, w1.cmd.Process.Signal(syscall.SIGKILL))
				killedAt = time.Now()
				<-w1.done
				start(t, append(env, "FOLIO_HEALTH_ADDR="+h2), "worker")
			}
		}
		if m.Terminal() {
			return client.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	require.False(t, killedAt.IsZero(), "the worker was killed mid-parse")
	// The watcher may connect after the first attempt started (its snapshot
	// covers that); the second attempt's start it always sees.
	require.NotEmpty(t, attempts)
	require.Equal(t, 2, attempts[len(attempts)-1], "the job ran again as attempt 2")
	var attempt int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE kind = 'parse'`).Scan(&attempt))
	require.Equal(t, 2, attempt)
	// Within DeadAfter + RescueInterval (20 s) and the new worker's start,
	// not River's hour: a bound that holds on a loaded machine.
	recovery := restartedAt.Sub(killedAt)
	require.Less(t, recovery, time.Minute, "a crashed worker's job runs again within a minute")

	var n, distinct int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT page_number) FROM pages WHERE document_id = $1`, doc.ID).Scan(&n, &distinct))
	require.Equal(t, longPages, n)
	require.Equal(t, longPages, distinct)
	t.Logf("kill -9 → running again on another worker in %s", recovery.Round(100*time.Millisecond))
}

// TestAPIDrainCutsOffLateUploads: an upload still arriving when the
// shutdown timeout is up is cut off: its client gets a 503 problem
// (server_restarting), and nothing is left: no row, no object, no parts.
func TestAPIDrainCutsOffLateUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addr := freeAddr(t)
	api := start(t, append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+addr,
		"FOLIO_SHUTDOWN_DELAY=0s", "FOLIO_SHUTDOWN_TIMEOUT=1s"), "api")
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	pr, pw := io.Pipe()
	type answer struct {
		status int
		code   string
	}
	result := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/documents?filename=late.pdf", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- answer{}
			return
		}
		defer resp.Body.Close()
		var p struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		result <- answer{resp.StatusCode, p.Code}
	}()
	// 12 MiB sent (two parts uploaded to S3), then the client stalls.
	first := append(pdftest.TextPages([]string{"late"}), make([]byte, 12<<20)...)
	_, err = pw.Write(first)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		uploads, err := bucket.Store.ListUploads(ctx, "originals/")
		return err == nil && len(uploads) == 1
	}, 30*time.Second, 20*time.Millisecond, "the multipart upload is under way")

	api.signal(t, syscall.SIGTERM)
	got := <-result
	require.Equal(t, http.StatusServiceUnavailable, got.status)
	require.Equal(t, "server_restarting", got.code)
	require.Equal(t, 0, api.wait(t, 30*time.Second), api.stderr.String())
	_ = pw.CloseWithError(io.ErrClosedPipe)

	uploads, err := bucket.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads, "the multipart upload was aborted")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n))
	require.Zero(t, n)
}

// heldBack is a file whose bytes past `at` are not there yet: reads of
// them wait until release is closed. An upload of it stalls part-way.
type heldBack struct {
	data    []byte
	at      int64
	release chan struct{}
}

func (f *heldBack) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		<-f.release
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// TestClientUploadMovesOnWhenAnAPIRestarts: the Go client (so `folio
// upload`) uploads resumably: when the API it was talking to drains with
// the body stalled part-way (the cutoff ends the request; what arrived is
// kept), the rest goes to the next API; the document is recorded once,
// with the right bytes, and no multipart upload is left.
func TestClientUploadMovesOnWhenAnAPIRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_SHUTDOWN_DELAY=0s", "FOLIO_SHUTDOWN_TIMEOUT=1s")
	apiA := start(t, append(env, "FOLIO_HTTP_ADDR="+addrA), "api")
	apiB := start(t, append(env, "FOLIO_HTTP_ADDR="+addrB), "api")
	waitStatus(t, apiA, "http://"+addrA+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, apiB, "http://"+addrB+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	data := append(pdftest.TextPages([]string{"moved"}), make([]byte, 16<<20)...)
	file := &heldBack{data: data, at: 12 << 20, release: make(chan struct{})}
	type result struct {
		doc *client.Document
		err error
	}
	done := make(chan result, 1)
	go func() {
		c := client.New(tok, "http://"+addrA, "http://"+addrB)
		doc, err := c.Upload(ctx, "moved.pdf", io.NewSectionReader(file, 0, int64(len(data))), int64(len(data)), nil)
		done <- result{doc, err}
	}()
	require.Eventually(t, func() bool {
		uploads, err := bucket.Store.ListUploads(ctx, "originals/")
		return err == nil && len(uploads) == 1
	}, 30*time.Second, 20*time.Millisecond, "the upload to A is under way")

	apiA.signal(t, syscall.SIGTERM) // A drains: 1 s later the upload is cut off
	require.Equal(t, 0, apiA.wait(t, 30*time.Second), apiA.stderr.String())
	close(file.release) // the rest of the file arrives, now sent to B

	got := <-done
	require.NoError(t, got.err)
	sum := sha256.Sum256(data)
	require.Equal(t, hex.EncodeToString(sum[:]), got.doc.SHA256)
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n))
	require.Equal(t, 1, n, "recorded once")
	uploads, err := bucket.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads, "the multipart upload was completed on B")
}
