package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/migrations"
	"github.com/foliohq/folio/storage"
)

// The drill's size: the short form runs in make test; make drill sets
// these for the long one.
var (
	drillDocs   = flag.Int("drill.docs", 3, "restore drill: documents per upload path before the point in time (and as many after)")
	drillBigMiB = flag.Int("drill.big-mib", 0, "restore drill: also upload -drill.big PDFs of this many MiB (random bytes attached; pdfcpu reads streams up to 128 MiB) before the point in time")
	drillBig    = flag.Int("drill.big", 2, "restore drill: how many big PDFs")
	drillReport = flag.String("drill.report", "", "restore drill: append the RPO and RTO figures to this file")
)

// drillStack is the drill's own Postgres (backed up with pgBackRest) and
// S3 server (versioning on), and the API and worker binaries on them.
type drillStack struct {
	t       *testing.T
	root    string
	pgOpts  devstack.PostgresOptions
	pg      *devstack.Postgres
	s3      *devstack.S3
	env     []string
	apiAddr string
	health  string
	api     *proc
	worker  *proc
	c       *apiClient
	store   *storage.Store
	pool    *pgxpool.Pool
}

// TestRestoreDrill is `make drill` (its short form runs in make test):
// documents through every upload path, some parsed, one job left pending
// and one resumable upload unfinished at T; after T more uploads, a
// reparse and deletions; then Postgres' data directory is destroyed.
// First a restore to the end of the WAL archive measures what a failure
// loses (RPO); then a restore to T (pgBackRest, then folio restore, then
// the processes) is checked: every document of T with its original
// (SHA-256) and pages, nothing created after T left (no object without a
// row), the deletions after T still deleted (the erasure ledger), the job
// pending at T run, the upload unfinished at T resumable, every
// document's events gap-free. RTO is timed from the restore's first
// command to both processes' /readyz 200.
func TestRestoreDrill(t *testing.T) {
	if _, err := devstack.PgBackRestBin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if _, err := devstack.PostgresBinDir(); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	d := startDrillStack(ctx, t)

	// The nightly full backup, before anything is uploaded.
	full, err := d.pg.Backup(ctx, "full")
	require.NoError(t, err)
	for time.Now().Before(full.Stop.Add(time.Second)) { // pgBackRest picks a backup that stopped before T, to the second
		time.Sleep(50 * time.Millisecond)
	}
	// Recorded, it is the worker's backup freshness.
	out := d.folio("backup", "record", "--config", d.pg.BackupConfig(), "--stanza", devstack.BackupStanza)
	require.Contains(t, out, full.Label)
	metrics := "http://" + d.health + "/metrics"
	require.Equal(t, float64(full.Stop.Unix()), metricValue(t, metrics, "folio_backup_last_success_timestamp_seconds"))
	require.Equal(t, 1.0, metricValue(t, metrics, "folio_wal_archiving"))
	require.Positive(t, metricValue(t, metrics, "folio_wal_archive_last_success_timestamp_seconds"), "stanza-create archived a segment")

	// Before T: every upload path, parsed; some big ones (for the
	// figures' sake: bytes to keep, not work to redo).
	before := map[string]string{} // id -> path
	for i := range *drillDocs {
		for id, path := range d.uploadEachWay(ctx, fmt.Sprintf("before %d", i)) {
			before[id] = path
		}
	}
	if *drillBigMiB > 0 {
		for i := range *drillBig {
			before[d.uploadBig(i)] = "one request (big)"
		}
	}
	for id := range before {
		require.Equal(t, "done", d.c.waitTerminal(id, 5*time.Minute).Status, id)
	}
	// A resumable upload half sent, and a document whose parse job is
	// pending (no worker runs) at T.
	partial := pdftest.TextPages([]string{"Resumed after the restore"}, []string{"second page"})
	tusURL := d.tusStart(partial[:len(partial)/2], len(partial))
	d.stopWorker()
	pending := d.upload("pending at T", pdftest.TextPages([]string{"Pending at T"}))
	before[pending] = "one request (pending)"

	at := time.Now()
	atLSN, err := d.pg.WALPosition(ctx)
	require.NoError(t, err)
	snap := d.snapshot(ctx)
	require.Len(t, snap, len(before))
	require.Contains(t, []string{"scanning", "queued"}, snap[pending].status, "its job waits for a worker")

	// After T: the worker back, more uploads, a reparse, deletions.
	time.Sleep(time.Until(at.Truncate(time.Second).Add(time.Second))) // S3 dates versions to the second: the bucket's T is after this one
	d.startWorker()
	after := map[string]string{}
	for i := range *drillDocs {
		for id, path := range d.uploadEachWay(ctx, fmt.Sprintf("after %d", i)) {
			after[id] = path
		}
	}
	reparsed, deleted := "", []string{}
	for id, path := range before {
		switch {
		case id == pending || strings.Contains(path, "big"):
		case reparsed == "":
			reparsed = id
		case len(deleted) < 2:
			deleted = append(deleted, id)
		}
	}
	for id := range after {
		require.Equal(t, "done", d.c.waitTerminal(id, 5*time.Minute).Status)
	}
	require.Equal(t, "done", d.c.waitTerminal(pending, 5*time.Minute).Status)
	code, body := d.c.do(http.MethodPost, "/v1/documents/"+reparsed+"/reparse", nil)
	require.Equal(t, http.StatusAccepted, code, string(body))
	require.Equal(t, "done", d.c.waitTerminal(reparsed, 5*time.Minute).Status)
	for _, id := range deleted {
		code, body := d.c.do(http.MethodDelete, "/v1/documents/"+id, nil)
		require.Equal(t, http.StatusNoContent, code, string(body))
	}
	// The WAL holding T must be in the archive before the failure; what
	// was written since may not be (that is the RPO).
	require.NoError(t, d.pg.WaitArchivedPast(ctx, atLSN))

	// The failure: processes and Postgres killed, its data directory gone.
	lastDoc := d.upload("the last write", pdftest.TextPages([]string{"Written just before the failure"}))
	var lastWrite time.Time
	require.NoError(t, d.pool.QueryRow(ctx, `SELECT max(created_at) FROM document_events`).Scan(&lastWrite))
	var eventsAtFailure int
	require.NoError(t, d.pool.QueryRow(ctx, `SELECT count(*) FROM document_events`).Scan(&eventsAtFailure))
	failedAt := time.Now()
	d.crash()

	// RPO: restore to the archive's end and count what is missing.
	rpo := d.restoreLatest(ctx, lastWrite, eventsAtFailure, lastDoc)
	rpo.failedAt = failedAt

	// Restore to T, timed to both processes ready.
	began := time.Now()
	d.pg, err = devstack.RestorePostgres(ctx, d.pgOpts, devstack.RestoreOptions{To: at})
	require.NoError(t, err)
	phases := rtoPhases{postgres: time.Since(began)}
	d.openPool(ctx)
	restoreArgs := []string{"restore", "--json"}
	restored := d.folio(restoreArgs...)
	phases.folio = time.Since(began) - phases.postgres
	// (Run again, it finds nothing to do: not counted in the RTO.)
	againAt := time.Now()
	var rep, again backup.Report
	require.NoError(t, json.Unmarshal([]byte(d.folio(restoreArgs...)), &again))
	require.Equal(t, 0, again.Objects.Revived+again.Objects.Missing+again.OrphansDeleted+again.DerivedDeleted+
		len(again.Erased)+again.ImagesForgotten+again.UploadsExpired, "a second run finds nothing to do")
	began = began.Add(time.Since(againAt))
	started := time.Now()
	d.startProcesses()
	phases.processes = time.Since(started)
	rto := time.Since(began)
	require.NoError(t, json.Unmarshal([]byte(restored), &rep), restored)
	t.Logf("folio restore: %s", restored)

	// Everything of T is there, byte for byte, with its pages.
	now := d.snapshot(ctx)
	for id, was := range snap {
		if contains(deleted, id) {
			require.NotContains(t, now, id, "deleted after T: the erasure ledger deletes it again")
			continue
		}
		got, ok := now[id]
		require.True(t, ok, "document %s (%s) of T is gone", id, before[id])
		require.Equal(t, was.sha, got.sha, "document %s: its original", id)
		require.Equal(t, was.sha, d.originalSHA(ctx, got.key), "document %s: the bucket's original", id)
		if was.status == "done" {
			require.Equal(t, was.pages, got.pages, "document %s: pages", id)
			require.Equal(t, "done", got.status, id)
		}
	}
	for id := range after {
		require.NotContains(t, now, id, "created after T")
	}
	require.NotContains(t, now, lastDoc)
	require.ElementsMatch(t, deleted, uuidStrings(rep.Erased), "the restore applied the deletions after T again")
	d.requireNoObjectWithoutRow(ctx)
	// The job pending at T runs; the reparse after T is undone (its
	// document is as it was at T).
	require.Equal(t, "done", d.c.waitTerminal(pending, 5*time.Minute).Status)
	// The upload unfinished at T resumes where T left it.
	doc := d.tusFinish(ctx, tusURL, partial)
	require.Equal(t, "done", d.c.waitTerminal(doc, 5*time.Minute).Status)
	d.requireEventsGapFree(ctx)
	d.report(ctx, rpo, rto, phases, rep)
}

func startDrillStack(ctx context.Context, t *testing.T) *drillStack {
	root, err := os.MkdirTemp("", "folio-drill-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(root, 0o755)) // the postgres user reaches its directories
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(root)
		} else {
			t.Logf("drill state kept in %s", root)
		}
	})
	d := &drillStack{t: t, root: root}
	d.pgOpts = devstack.PostgresOptions{Dir: filepath.Join(root, "pg"),
		Backup: &devstack.BackupOptions{Dir: filepath.Join(root, "backup"), ArchiveTimeout: 5 * time.Second}}
	d.pg, err = devstack.StartPostgres(ctx, d.pgOpts)
	require.NoError(t, err)
	d.pgOpts.Port = d.pg.Port
	t.Cleanup(func() { _ = d.pg.Stop() })
	d.openPool(ctx)
	_, err = migrations.Up(ctx, d.pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	wd, err := os.Getwd()
	require.NoError(t, err)
	repo, err := devstack.Root(wd)
	require.NoError(t, err)
	bin, err := devstack.VersityBin(ctx, repo)
	require.NoError(t, err)
	d.s3, err = devstack.StartS3(ctx, devstack.S3Options{Bin: bin, Dir: filepath.Join(root, "s3")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.s3.Stop() })
	s3client, err := storage.NewClient(ctx, storage.ClientOptions{Endpoint: d.s3.Endpoint, PathStyle: true, Region: devstack.S3Region,
		AccessKey: devstack.S3AccessKey, SecretKey: devstack.S3SecretKey})
	require.NoError(t, err)
	d.store = storage.New(s3client, "drill", storage.Options{})
	require.NoError(t, d.store.EnsureBucket(ctx))

	d.apiAddr, d.health = freeAddr(t), freeAddr(t)
	d.env = []string{"DATABASE_URL=" + d.pg.URL, "AWS_ENDPOINT_URL_S3=" + d.s3.Endpoint, "AWS_REGION=" + devstack.S3Region,
		"AWS_ACCESS_KEY_ID=" + devstack.S3AccessKey, "AWS_SECRET_ACCESS_KEY=" + devstack.S3SecretKey,
		"FOLIO_S3_PATH_STYLE=true", "FOLIO_S3_BUCKET=drill", "FOLIO_S3_VERSIONING=true",
		"FOLIO_HTTP_ADDR=" + d.apiAddr, "FOLIO_HEALTH_ADDR=" + d.health, "FOLIO_AUTH_JWT_SECRET=" + testSecret,
		"FOLIO_RENDER=on", "FOLIO_UPLOAD_RATE_LIMIT=100000"}
	d.startProcesses()
	on, err := d.store.Versioned(ctx)
	require.NoError(t, err)
	require.True(t, on, "FOLIO_S3_VERSIONING turned the bucket's versioning on")
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	d.c = &apiClient{t: t, base: "http://" + d.apiAddr, token: tok}
	return d
}

func (d *drillStack) openPool(ctx context.Context) {
	if d.pool != nil {
		d.pool.Close()
	}
	var err error
	d.pool, err = pgxpool.New(ctx, d.pg.URL)
	require.NoError(d.t, err)
	d.t.Cleanup(d.pool.Close)
}

func (d *drillStack) startProcesses() {
	d.api = start(d.t, d.env, "api")
	d.startWorker()
	waitStatus(d.t, d.api, "http://"+d.apiAddr+"/readyz", http.StatusOK, 2*time.Minute)
}

func (d *drillStack) startWorker() {
	d.worker = start(d.t, d.env, "worker")
	waitStatus(d.t, d.worker, "http://"+d.health+"/readyz", http.StatusOK, 2*time.Minute)
}

func (d *drillStack) stopWorker() {
	d.worker.signal(d.t, syscall.SIGTERM)
	require.Equal(d.t, 0, d.worker.wait(d.t, 2*time.Minute))
}

// crash kills both processes and Postgres, and destroys its data
// directory.
func (d *drillStack) crash() {
	for _, p := range []*proc{d.api, d.worker} {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	d.pool.Close()
	d.pool = nil
	d.pg.Crash()
	require.NoError(d.t, os.RemoveAll(d.pgOpts.Dir))
}

func (d *drillStack) folio(args ...string) string {
	p := start(d.t, d.env, "folio", args...)
	require.Equal(d.t, 0, p.wait(d.t, 10*time.Minute), "folio %v: %s", args, p.stderr)
	return p.stdout.String()
}

func (d *drillStack) upload(name string, data []byte) string {
	code, body := d.c.do(http.MethodPost, "/v1/documents?filename="+strings.ReplaceAll(name, " ", "-")+".pdf", data)
	require.Equal(d.t, http.StatusCreated, code, string(body))
	var doc docJSON
	require.NoError(d.t, json.Unmarshal(body, &doc))
	return doc.ID
}

// uploadEachWay uploads one PDF by each path and returns id -> path.
func (d *drillStack) uploadEachWay(ctx context.Context, label string) map[string]string {
	page := func(way string) []byte {
		return pdftest.TextPages([]string{fmt.Sprintf("%s, %s", label, way)}, []string{"and a second page"})
	}
	ids := map[string]string{d.upload(label+" post", page("one request")): "one request"}
	data := page("tus")
	doc, err := client.New(d.c.token, d.c.base).UploadResumable(ctx, "tus.pdf", bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	require.NoError(d.t, err)
	ids[doc.ID.String()] = "tus"
	ids[d.c.directUpload("direct.pdf", page("direct"))] = "direct"
	return ids
}

// uploadBig uploads a PDF of drill.big-mib MiB (random bytes attached).
func (d *drillStack) uploadBig(i int) string {
	payload := make([]byte, *drillBigMiB<<20)
	_, _ = rand.Read(payload)
	return d.upload(fmt.Sprintf("big %d", i), pdftest.Carrying("A big document", "noise.bin", payload))
}

// tusStart creates a resumable upload of size bytes and sends first.
func (d *drillStack) tusStart(first []byte, size int) string {
	req, err := http.NewRequest(http.MethodPost, d.c.base+"/v1/uploads", nil)
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+d.c.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(size))
	req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte("resumed.pdf")))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	resp.Body.Close()
	require.Equal(d.t, http.StatusCreated, resp.StatusCode)
	url := resp.Header.Get("Location")
	if strings.HasPrefix(url, "/") {
		url = d.c.base + url
	}
	d.tusPatch(url, 0, first)
	return url
}

func (d *drillStack) tusPatch(url string, offset int, body []byte) *http.Response {
	req, err := http.NewRequest(http.MethodPatch, url, bytes.NewReader(body))
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+d.c.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", fmt.Sprint(offset))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	resp.Body.Close()
	require.Equal(d.t, http.StatusNoContent, resp.StatusCode)
	return resp
}

// tusFinish asks where the upload stands and sends the rest; it returns
// the document's id.
func (d *drillStack) tusFinish(ctx context.Context, url string, data []byte) string {
	head := tusHead(d.t, url, d.c.token)
	require.Equal(d.t, http.StatusOK, head.StatusCode, "the upload unfinished at T is still there")
	var offset int
	_, err := fmt.Sscan(head.Header.Get("Upload-Offset"), &offset)
	require.NoError(d.t, err)
	require.Equal(d.t, len(data)/2, offset, "it resumes where T left it")
	d.tusPatch(url, offset, data[offset:])
	var id string
	require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT document_id::text FROM uploads WHERE id = $1`, path.Base(url)).Scan(&id))
	return id
}

// drillDoc is a document as the drill compares it.
type drillDoc struct {
	status string
	sha    string
	key    string
	pages  int
}

func (d *drillStack) snapshot(ctx context.Context) map[string]drillDoc {
	rows, err := d.pool.Query(ctx, `SELECT id::text, status, coalesce(sha256, ''), s3_key,
		(SELECT count(*) FROM pages p WHERE p.document_id = d.id) FROM documents d`)
	require.NoError(d.t, err)
	defer rows.Close()
	out := map[string]drillDoc{}
	for rows.Next() {
		var id string
		var s drillDoc
		require.NoError(d.t, rows.Scan(&id, &s.status, &s.sha, &s.key, &s.pages))
		out[id] = s
	}
	require.NoError(d.t, rows.Err())
	return out
}

func (d *drillStack) originalSHA(ctx context.Context, key string) string {
	obj, err := d.store.Get(ctx, key)
	require.NoError(d.t, err)
	defer obj.Close()
	h := sha256.New()
	_, err = io.Copy(h, obj)
	require.NoError(d.t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// requireNoObjectWithoutRow: every original and page image in the bucket
// belongs to a document that exists.
func (d *drillStack) requireNoObjectWithoutRow(ctx context.Context) {
	for _, prefix := range []string{documents.OriginalsPrefix, documents.DerivedRoot} {
		require.NoError(d.t, d.store.EachObject(ctx, prefix, func(objs []storage.ObjectInfo) error {
			for _, o := range objs {
				var exists bool
				if id, ok := documents.DerivedDocument(o.Key); ok {
					require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE id = $1)`, id).Scan(&exists))
				} else {
					require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE s3_key = $1)`, o.Key).Scan(&exists))
				}
				require.True(d.t, exists, "object %s has no document", o.Key)
			}
			return nil
		}))
	}
}

// requireEventsGapFree: every document's events are numbered 1, 2, 3…
// without a hole.
func (d *drillStack) requireEventsGapFree(ctx context.Context) {
	rows, err := d.pool.Query(ctx, `SELECT document_id::text, min(seq), max(seq), count(*) FROM document_events GROUP BY document_id`)
	require.NoError(d.t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var lo, hi, count int
		require.NoError(d.t, rows.Scan(&id, &lo, &hi, &count))
		require.Equal(d.t, 1, lo, "document %s: its events start at 1", id)
		require.Equal(d.t, hi, count, "document %s: events 1..%d without a gap", id, hi)
		n++
	}
	require.NoError(d.t, rows.Err())
	require.Positive(d.t, n)
}

// rpo is what a restore to the archive's end lost.
type rpo struct {
	failedAt, lastWrite, lastKept time.Time
	eventsLost                    int
	lastDocKept                   bool
	took                          time.Duration
}

// restoreLatest restores Postgres to the end of its WAL archive, measures
// what the failure lost, and leaves it stopped with its data directory
// gone again.
func (d *drillStack) restoreLatest(ctx context.Context, lastWrite time.Time, events int, lastDoc string) rpo {
	began := time.Now()
	pg, err := devstack.RestorePostgres(ctx, d.pgOpts, devstack.RestoreOptions{})
	require.NoError(d.t, err)
	r := rpo{lastWrite: lastWrite, took: time.Since(began)}
	d.pg = pg
	d.openPool(ctx)
	var kept int
	require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(created_at), 'epoch') FROM document_events`).Scan(&kept, &r.lastKept))
	r.eventsLost = events - kept
	require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE id = $1)`, lastDoc).Scan(&r.lastDocKept))
	d.pool.Close()
	d.pool = nil
	require.NoError(d.t, d.pg.Stop())
	require.NoError(d.t, os.RemoveAll(d.pgOpts.Dir))
	return r
}

// rtoPhases is where the RTO goes.
type rtoPhases struct{ postgres, folio, processes time.Duration }

func (d *drillStack) report(ctx context.Context, r rpo, rto time.Duration, ph rtoPhases, rep backup.Report) {
	var dbBytes int64
	require.NoError(d.t, d.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&dbBytes))
	var objBytes int64
	var objects int
	require.NoError(d.t, d.store.EachObject(ctx, "", func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			objBytes += o.Size
			objects++
		}
		return nil
	}))
	gib := float64(dbBytes+objBytes) / (1 << 30)
	big := 0
	if *drillBigMiB > 0 {
		big = *drillBig
	}
	lost := r.lastWrite.Sub(r.lastKept)
	if lost < 0 {
		lost = 0
	}
	lines := []string{
		fmt.Sprintf("restore drill %s: %d documents per path before T and after, %d big PDFs of %d MiB before", time.Now().UTC().Format(time.RFC3339), *drillDocs, big, *drillBigMiB),
		fmt.Sprintf("  data: database %.1f MiB, bucket %.1f MiB in %d objects (%.3f GiB)", float64(dbBytes)/(1<<20), float64(objBytes)/(1<<20), objects, gib),
		fmt.Sprintf("  RPO (restore to the archive's end after the failure, archive_timeout 5 s): %d events lost, the last %s of writes; the last document uploaded before the failure kept: %v",
			r.eventsLost, lost.Round(time.Millisecond), r.lastDocKept),
		fmt.Sprintf("  RTO (restore to T, from the first command to api and worker ready): %s (%.1f s per GiB): pgBackRest restore, WAL replay and promotion %s, folio restore %s, processes ready %s; Postgres alone to the archive's end: %s",
			rto.Round(time.Millisecond), rto.Seconds()/max(gib, 1e-9), ph.postgres.Round(time.Millisecond), ph.folio.Round(time.Millisecond),
			ph.processes.Round(time.Millisecond), r.took.Round(time.Millisecond)),
		fmt.Sprintf("  folio restore: erasures applied again %d; objects named %d, brought back %d, missing %d; written after T and deleted: %d originals, %d page images; images forgotten %d; uploads expired %d",
			len(rep.Erased), rep.Objects.Named, rep.Objects.Revived, rep.Objects.Missing, rep.OrphansDeleted, rep.DerivedDeleted, rep.ImagesForgotten, rep.UploadsExpired),
	}
	for _, l := range lines {
		d.t.Log(l)
	}
	if *drillReport != "" {
		f, err := os.OpenFile(*drillReport, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(d.t, err)
		defer f.Close()
		_, err = fmt.Fprintln(f, strings.Join(lines, "\n"))
		require.NoError(d.t, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uuidStrings[T fmt.Stringer](ids []T) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
