package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

type scanBundle struct {
	*parseBundle
	clamd   *devstack.Clamd
	scanner *jobs.Scanner
	metrics *prometheus.Registry
}

func setupScan(t *testing.T, opts devstack.ClamdOptions) *scanBundle {
	t.Helper()
	b := &scanBundle{parseBundle: setupParse(t), clamd: testenv.ClamdWith(t, opts), metrics: prometheus.NewRegistry()}
	client, err := clamd.Parse(b.clamd.Address)
	require.NoError(t, err)
	b.scanner = &jobs.Scanner{Pool: b.db.Pool, Store: b.bucket.Store, Clamd: client, Logger: slog.New(slog.DiscardHandler),
		MaxBytes: 512 << 20, Timeout: time.Minute, Retry: time.Second, RescanMaxAge: 24 * time.Hour,
		Metrics: jobs.NewScanMetrics(b.metrics)}
	return b
}

// upload stores data as alice's document taken in with scanning on.
func (b *scanBundle) upload(t *testing.T, data []byte) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	key := documents.OriginalKey("alice", id)
	_, err := b.bucket.Store.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{})
	require.NoError(t, err)
	doc := &documents.Document{ID: id, Owner: "alice", Filename: "a.pdf", SizeBytes: int64(len(data)), S3Key: key}
	require.NoError(t, documents.Create(ctx, b.db.Pool, b.client, doc, documents.Intake{QuotaBytes: 1 << 40, Scan: true}))
	require.Equal(t, documents.StatusScanning, doc.Status)
	return id
}

// jobsOf lists the document's jobs of kind.
func (b *scanBundle) jobsOf(t *testing.T, kind string, id uuid.UUID) []*rivertype.JobRow {
	t.Helper()
	list, err := b.client.JobList(context.Background(), river.NewJobListParams().Kinds(kind).
		Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
	require.NoError(t, err)
	return list.Jobs
}

func (b *scanBundle) scan(t *testing.T, id uuid.UUID) *rivertest.WorkResult {
	t.Helper()
	scans := b.jobsOf(t, jobargs.KindScan, id)
	require.Len(t, scans, 1)
	return workJob[jobargs.ScanArgs](t, b.db, &jobs.ScanWorker{Scanner: b.scanner}, scans[0])
}

func (b *scanBundle) eventTypes(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT type FROM document_events WHERE document_id = $1 ORDER BY seq`, id)
	require.NoError(t, err)
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return types
}

// gauge reads a gauge of the scanner's metrics.
func (b *scanBundle) gauge(t *testing.T, name string) float64 {
	t.Helper()
	families, err := b.metrics.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestScanLetsCleanThroughAndQuarantinesEICAR(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{})
	clean := b.upload(t, pdftest.TextPages([]string{"Nothing to see"}))
	bad := b.upload(t, pdftest.Carrying("An ordinary page", "eicar.com", clamd.EICAR()))
	for _, id := range []uuid.UUID{clean, bad} {
		require.Empty(t, b.jobsOf(t, jobargs.KindParse, id), "nothing is parsed before its scan")
	}

	require.Equal(t, river.EventKindJobCompleted, b.scan(t, clean).EventKind)
	d := b.get(t, clean)
	require.Equal(t, documents.StatusQueued, d.Status)
	require.Equal(t, documents.ScanClean, d.Scan.Result)
	require.Equal(t, "1", d.Scan.Signatures)
	require.Len(t, b.jobsOf(t, jobargs.KindParse, clean), 1, "the scan queued the parse")
	require.Equal(t, []string{"document.queued", "scan.done"}, b.eventTypes(t, clean))

	require.Equal(t, river.EventKindJobCompleted, b.scan(t, bad).EventKind)
	d = b.get(t, bad)
	require.Equal(t, documents.StatusQuarantined, d.Status)
	require.Equal(t, documents.ScanFound, d.Scan.Result)
	require.Equal(t, "Folio.Test.EICAR.UNOFFICIAL", d.Scan.Found)
	require.Empty(t, b.jobsOf(t, jobargs.KindParse, bad), "a quarantined document is never parsed")
	require.Equal(t, []string{"document.queued", "document.quarantined"}, b.eventTypes(t, bad))
	audit, err := documents.Audit(context.Background(), b.db.Pool, bad)
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "quarantined", audit[0].Action)

	// Reparse is refused; release (an operator's) queues the parse, with
	// an audit line.
	_, err = documents.Reparse(context.Background(), b.db.Pool, b.client, "alice", bad)
	require.ErrorIs(t, err, documents.ErrQuarantined)
	_, err = documents.Release(context.Background(), b.db.Pool, b.client, bad, "ops@example", "a test file")
	require.NoError(t, err)
	d = b.get(t, bad)
	require.Equal(t, documents.StatusQueued, d.Status)
	require.Equal(t, documents.ScanReleased, d.Scan.Result)
	require.Len(t, b.jobsOf(t, jobargs.KindParse, bad), 1)
	audit, err = documents.Audit(context.Background(), b.db.Pool, bad)
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.Equal(t, "released", audit[1].Action)
	require.Equal(t, "ops@example", audit[1].Actor)
}

func TestScanWaitsWhileClamdIsDown(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{})
	id := b.upload(t, pdftest.TextPages([]string{"Nothing to see"}))
	require.NoError(t, b.clamd.Stop())

	res := b.scan(t, id)
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "no verdict: the job waits, its attempts unspent")
	require.Equal(t, documents.StatusScanning, b.get(t, id).Status)
	require.Empty(t, b.jobsOf(t, jobargs.KindParse, id), "never parsed without a verdict")
	require.Equal(t, 0.0, b.gauge(t, "folio_scanner_up"))
}

func TestScanTooLarge(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{StreamMaxLength: 1 << 20})
	big := pdftest.TextPages([]string{"Nothing to see"})
	big = append(big, bytes.Repeat([]byte("%"), 2<<20)...) // trailing comment bytes: still a PDF
	id := b.upload(t, big)
	dirty := b.upload(t, append(pdftest.Carrying("page", "eicar.com", clamd.EICAR()), bytes.Repeat([]byte("%"), 2<<20)...))

	// Past what Folio sends (clamd's own limit allows 1 MiB).
	b.scanner.MaxBytes = 1 << 20
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, id).EventKind)
	d := b.get(t, id)
	require.Equal(t, documents.StatusQuarantined, d.Status, "by default a file too large to scan whole is quarantined")
	require.Equal(t, jobs.TooLargeSignature, d.Scan.Found)

	// Found in the part that was scanned: quarantined whatever the setting.
	b.scanner.PassTooLarge = true
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, dirty).EventKind)
	require.Equal(t, "Folio.Test.EICAR.UNOFFICIAL", b.get(t, dirty).Scan.Found)

	// Passed, saying so, when the deployment chose that.
	other := b.upload(t, big)
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, other).EventKind)
	d = b.get(t, other)
	require.Equal(t, documents.StatusQueued, d.Status)
	require.Equal(t, documents.ScanTooLarge, d.Scan.Result)

	// Folio sending more than clamd takes: clamd's refusal is too large,
	// never clean.
	b.scanner.MaxBytes, b.scanner.PassTooLarge = 512<<20, false
	last := b.upload(t, big)
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, last).EventKind)
	d = b.get(t, last)
	require.Equal(t, documents.StatusQuarantined, d.Status)
	require.Equal(t, jobs.TooLargeSignature, d.Scan.Found)
}

func TestRescanQuarantinesWithNewSignatures(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{})
	ctx := context.Background()
	data := pdftest.TextPages([]string{"Harmless, until today"})
	id := b.upload(t, data)
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, id).EventKind)
	// Parse it: the document is done.
	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)
	require.Equal(t, documents.StatusDone, b.get(t, id).Status)

	check := func() {
		t.Helper()
		job, err := b.client.Insert(ctx, jobs.SignaturesArgs{}, nil)
		require.NoError(t, err)
		workJob[jobs.SignaturesArgs](t, b.db, &jobs.SignaturesWorker{Scanner: b.scanner}, job.Job)
	}
	rescans := func(signatures string) []*rivertype.JobRow {
		list, err := b.client.JobList(ctx, river.NewJobListParams().Kinds(jobargs.KindRescan).
			Where("args->>'signatures' = @v", river.NamedArgs{"v": signatures}))
		require.NoError(t, err)
		return list.Jobs
	}
	check() // version 1 first seen: recent documents not scanned with it are rescanned
	require.Equal(t, 1.0, b.gauge(t, "folio_scanner_up"))
	require.Equal(t, 1.0, b.gauge(t, "folio_scan_signatures_version"))
	for _, j := range rescans("1") {
		workJob[jobargs.RescanArgs](t, b.db, &jobs.RescanWorker{Scanner: b.scanner}, j)
	}
	require.Equal(t, documents.StatusDone, b.get(t, id).Status)

	require.NoError(t, b.clamd.SetSignatures(ctx, 2, map[string]string{"daily.hdb": clamd.HashSignature("Folio.Test.Today", data)}))
	check()
	pending := rescans("2")
	require.Len(t, pending, 1)
	workJob[jobargs.RescanArgs](t, b.db, &jobs.RescanWorker{Scanner: b.scanner}, pending[0])
	d := b.get(t, id)
	require.Equal(t, documents.StatusQuarantined, d.Status)
	require.Equal(t, "Folio.Test.Today.UNOFFICIAL", d.Scan.Found)
	require.Equal(t, "2", d.Scan.Signatures)
	types := b.eventTypes(t, id)
	require.Equal(t, "document.quarantined", types[len(types)-1])

	check() // the same version again: no second rescan
	require.Len(t, rescans("2"), 1)
}

// TestScanOfAMissingOriginal: an original S3 no longer has is retried like
// a parse, and on the last attempt the document fails with a reason instead
// of staying scanning for ever.
func TestScanOfAMissingOriginal(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{})
	ctx := context.Background()
	id := b.upload(t, pdftest.TextPages([]string{"Soon gone"}))
	require.NoError(t, b.bucket.Store.Delete(ctx, documents.OriginalKey("alice", id)))

	res := b.scan(t, id)
	require.Equal(t, river.EventKindJobFailed, res.EventKind, "retried")
	require.Equal(t, documents.StatusScanning, b.get(t, id).Status)

	_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET attempt = max_attempts - 1, state = 'available' WHERE kind = 'scan'`)
	require.NoError(t, err)
	b.scan(t, id)
	d := b.get(t, id)
	require.Equal(t, documents.StatusFailed, d.Status)
	require.Equal(t, "internal", d.Failure.Code)
	require.Empty(t, b.jobsOf(t, jobargs.KindParse, id))
}

// TestReparseScansWhatWasNeverScanned: with scanning on, a reparse of a
// document that failed its scan (or came before scanning) is scanned
// before it is parsed; one scanned already goes straight to its parse.
func TestReparseScansWhatWasNeverScanned(t *testing.T) {
	t.Parallel()
	b := setupScan(t, devstack.ClamdOptions{})
	ctx := context.Background()
	never := b.upload(t, pdftest.Carrying("page", "eicar.com", clamd.EICAR()))
	require.NoError(t, documents.FailScan(ctx, b.db.Pool, never, "internal", "S3 was away"))
	// The scan job finished (as the worker's last attempt would).
	_, err := b.db.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'scan'`)
	require.NoError(t, err)

	doc, err := documents.ReparseWith(ctx, b.db.Pool, b.client, "alice", never, documents.ReparseOptions{Scan: true})
	require.NoError(t, err)
	require.Equal(t, documents.StatusScanning, doc.Status)
	require.Empty(t, b.jobsOf(t, jobargs.KindParse, never), "not parsed unscanned")
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, never).EventKind)
	require.Equal(t, documents.StatusQuarantined, b.get(t, never).Status)

	clean := b.upload(t, pdftest.TextPages([]string{"clean"}))
	require.Equal(t, river.EventKindJobCompleted, b.scan(t, clean).EventKind)
	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, clean)).EventKind)
	doc, err = documents.ReparseWith(ctx, b.db.Pool, b.client, "alice", clean, documents.ReparseOptions{Scan: true})
	require.NoError(t, err)
	require.Equal(t, documents.StatusQueued, doc.Status, "scanned already: straight to its parse")
}
