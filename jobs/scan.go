package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

// Scanner scans originals for malware with clamd, before anything else
// reads them: the original is streamed from S3 to clamd's INSTREAM in
// chunks (never to disk; memory bounded by one chunk and S3's buffer).
// It fails closed: a document is never let through because the scanner
// did not answer; it waits, scanning, and is tried again.
type Scanner struct {
	Pool   *pgxpool.Pool
	Store  *storage.Store
	Clamd  *clamd.Client
	Logger *slog.Logger
	// MaxBytes is the most of a file sent to clamd (its StreamMaxLength
	// must allow it). A longer file's beginning is scanned; found, it is
	// quarantined; clean, PassTooLarge decides.
	MaxBytes int64
	// PassTooLarge lets a file longer than the scanner reads (or one that
	// exceeds a ClamAV limit) through, with scan result too_large; false
	// quarantines it.
	PassTooLarge bool
	// Timeout bounds one scan; Retry is how long a scan waits when clamd
	// does not answer.
	Timeout, Retry time.Duration
	// RescanMaxAge: documents younger than this are rescanned when the
	// signatures change; 0: none.
	RescanMaxAge time.Duration
	Metrics      *ScanMetrics
}

// TooLargeSignature is what a file longer than the scanner reads is
// quarantined as (FOLIO_SCAN_TOO_LARGE=quarantine), when ClamAV itself
// named no limit.
const TooLargeSignature = "Folio.Scan.TooLarge"

// ScanMetrics are the scanner's metrics.
type ScanMetrics struct {
	scans      *prometheus.CounterVec
	failures   *prometheus.CounterVec
	bytes      prometheus.Counter
	seconds    prometheus.Histogram
	up         prometheus.Gauge
	lastError  prometheus.Gauge
	signatures prometheus.Gauge
	age        prometheus.Gauge
}

// NewScanMetrics registers the scanner's metrics on reg.
func NewScanMetrics(reg prometheus.Registerer) *ScanMetrics {
	m := &ScanMetrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_scans_total",
			Help: "Malware scans by kind (upload, rescan) and outcome (clean, too_large, found).",
		}, []string{"kind", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_scan_failures_total",
			Help: "Scans that got no verdict from clamd, by reason (unreachable: no connection or timeout; error: clamd answered an error). The document waits, scanning, and is tried again.",
		}, []string{"reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_scan_bytes_total",
			Help: "Bytes sent to clamd.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_scan_seconds",
			Help:    "Time of one scan with a verdict, from opening the original to clamd's answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "folio_scanner_up",
			Help: "1 when this worker's last exchange with clamd (a scan, or the signature check) succeeded, 0 when it failed: uploads wait in scanning meanwhile.",
		}),
		lastError: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "folio_scanner_last_failure_timestamp_seconds",
			Help: "When an exchange with clamd last failed (0: never).",
		}),
		signatures: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "folio_scan_signatures_version",
			Help: "The version of clamd's signature database (daily), as its VERSION answer gives it; 0 when it gives none.",
		}),
		age: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "folio_scan_signatures_age_seconds",
			Help: "How old clamd's signature database is (from the date in its VERSION answer): freshclam keeps it under a day or two.",
		}),
	}
	reg.MustRegister(m.scans, m.failures, m.bytes, m.seconds, m.up, m.lastError, m.signatures, m.age)
	// Every series from the start, at zero: rates and alerts see them.
	for _, kind := range []string{"upload", "rescan"} {
		for _, outcome := range []string{documents.ScanClean, documents.ScanTooLarge, documents.ScanFound} {
			m.scans.WithLabelValues(kind, outcome)
		}
	}
	m.failures.WithLabelValues("unreachable")
	m.failures.WithLabelValues("error")
	return m
}

// Reached records an exchange with clamd outside a scan (the worker's
// first, at start-up): err nil, it answered.
func (m *ScanMetrics) Reached(err error) {
	if err != nil {
		m.failed(err)
		return
	}
	if m != nil {
		m.up.Set(1)
	}
}

func (m *ScanMetrics) failed(err error) {
	if m == nil {
		return
	}
	reason := "unreachable"
	var reply *clamd.ReplyError
	if errors.As(err, &reply) {
		reason = "error"
	}
	m.failures.WithLabelValues(reason).Inc()
	m.up.Set(0)
	m.lastError.Set(float64(time.Now().Unix()))
}

func (m *ScanMetrics) scanned(kind, outcome string, n int64, took time.Duration) {
	if m == nil {
		return
	}
	m.scans.WithLabelValues(kind, outcome).Inc()
	m.bytes.Add(float64(n))
	m.seconds.Observe(took.Seconds())
	m.up.Set(1)
}

// countingReader counts what was read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// errScanner marks an error of the scanner (not of S3 or Postgres).
type errScanner struct{ err error }

func (e errScanner) Error() string { return e.err.Error() }
func (e errScanner) Unwrap() error { return e.err }

// scan reads the document's original through clamd and returns the
// verdict. An errScanner error: clamd gave none.
func (s *Scanner) scan(ctx context.Context, doc *documents.Document, kind string) (documents.ScanOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	began := time.Now()
	// Asked for each scan (a local round trip, well under a millisecond):
	// the verdict records the signatures it was made with, which is what
	// a background rescan compares.
	v, err := s.Clamd.Version(ctx)
	if err != nil {
		return documents.ScanOutcome{}, errScanner{err}
	}
	obj, err := s.Store.Get(ctx, doc.S3Key)
	if err != nil {
		return documents.ScanOutcome{}, err
	}
	defer obj.Close()
	in := &countingReader{r: io.LimitReader(obj, s.MaxBytes)}
	res, err := s.Clamd.Scan(ctx, in)
	tooLarge := obj.Size > s.MaxBytes
	switch {
	case errors.Is(err, clamd.ErrSizeLimit):
		// clamd reads less than FOLIO_SCAN_MAX_BYTES: nothing of the file
		// was judged.
		s.Logger.Warn("scan: clamd refused the stream as too long: FOLIO_SCAN_MAX_BYTES is more than its StreamMaxLength",
			"document_id", doc.ID, "sent", in.n)
		tooLarge, res = true, clamd.Result{}
	case errors.As(err, new(*clamd.ReadError)):
		return documents.ScanOutcome{}, err // S3 broke off: retried
	case err != nil:
		return documents.ScanOutcome{}, errScanner{err}
	}
	out := documents.ScanOutcome{Signatures: v.Signatures}
	switch {
	case res.Found() && !res.LimitExceeded():
		out.Result, out.Found = documents.ScanFound, res.Signature
	case tooLarge || res.LimitExceeded():
		out.Result = documents.ScanTooLarge
		if !s.PassTooLarge {
			out.Result, out.Found = documents.ScanFound, res.Signature
			if out.Found == "" {
				out.Found = TooLargeSignature
			}
		}
	default:
		out.Result = documents.ScanClean
	}
	s.Metrics.scanned(kind, out.Result, in.n, time.Since(began))
	return out, nil
}

// ScanWorker scans one document (jobargs.ScanArgs).
type ScanWorker struct {
	river.WorkerDefaults[jobargs.ScanArgs]
	Scanner *Scanner
}

// Timeout bounds the job: the scan's, plus room for S3 and Postgres.
func (w *ScanWorker) Timeout(*river.Job[jobargs.ScanArgs]) time.Duration {
	return w.Scanner.Timeout + time.Minute
}

// Work scans the document and lets it through or quarantines it. When
// clamd gives no verdict, the job is snoozed (its attempts are not
// spent): the document waits, scanning, until the scanner is back.
func (w *ScanWorker) Work(ctx context.Context, job *river.Job[jobargs.ScanArgs]) error {
	s := w.Scanner
	id := job.Args.DocumentID
	log := s.Logger.With("document_id", id, "job_id", job.ID)
	doc, err := documents.Original(ctx, s.Pool, id)
	if errors.Is(err, documents.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !job.Args.Rescan && doc.Status != documents.StatusScanning {
		return nil // scanned already (a job run again)
	}
	kind := "upload"
	if job.Args.Rescan {
		kind = "rescan"
	}
	out, err := s.scan(ctx, doc, kind)
	if err != nil && ctx.Err() != nil {
		// The worker is draining (or the job's time is up): hand the scan
		// back at once, for the next worker.
		return river.JobSnooze(0)
	}
	var se errScanner
	if errors.As(err, &se) {
		s.Metrics.failed(err)
		log.Warn("scan: clamd gave no verdict; the document waits, scanning, and is tried again", "retry_in", s.Retry.String(), "err", err)
		return river.JobSnooze(s.Retry)
	}
	if err != nil {
		if job.Attempt >= job.MaxAttempts && !job.Args.Rescan {
			// Its original cannot be read (S3): the upload's document
			// ends failed, as a parse that cannot read it does.
			log.Warn("scan: the original could not be read on the last attempt; the document fails", "err", err)
			if ferr := documents.FailScan(ctx, s.Pool, id, "internal",
				"Scanning failed repeatedly for reasons that are not the file's; upload it again later."); ferr != nil {
				return ferr
			}
		}
		return fmt.Errorf("scan: %w", err)
	}
	return s.record(ctx, log, doc, out, job.Args.Rescan, job.Args.Actor)
}

// record stores the verdict: quarantine, or let through.
func (s *Scanner) record(ctx context.Context, log *slog.Logger, doc *documents.Document, out documents.ScanOutcome, rescan bool, actor string) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	if out.Result == documents.ScanFound {
		log.Warn("scan: malware found; the document is quarantined", "signature", out.Found, "signatures", out.Signatures, "rescan", rescan)
		err = documents.Quarantine(ctx, s.Pool, client, doc.ID, out, rescan)
	} else {
		_, err = documents.PassScan(ctx, s.Pool, client, doc.ID, out, actor)
	}
	if errors.Is(err, documents.ErrNotFound) {
		return nil
	}
	return err
}

// SignaturesWorker asks clamd its signatures' version (a periodic job):
// it exports the version and its age, and when a version no scanner
// reported before appears, queues the background rescan of documents
// younger than RescanMaxAge.
type SignaturesWorker struct {
	river.WorkerDefaults[SignaturesArgs]
	Scanner *Scanner
}

// SignaturesArgs are the periodic signature check's (no arguments).
type SignaturesArgs struct{}

// Kind is the job kind.
func (SignaturesArgs) Kind() string { return "scan_signatures" }

// InsertOpts keep one check waiting at a time.
func (SignaturesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobargs.ActiveParseStates}}
}

// Work checks the version once.
func (w *SignaturesWorker) Work(ctx context.Context, _ *river.Job[SignaturesArgs]) error {
	s := w.Scanner
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := s.Clamd.Version(ctx)
	s.Metrics.Reached(err)
	if err != nil {
		s.Logger.Warn("scan: clamd does not answer; uploads wait in scanning until it does", "clamd", s.Clamd.String(), "err", err)
		return nil
	}
	if s.Metrics != nil {
		var n float64
		_, _ = fmt.Sscan(v.Signatures, &n)
		s.Metrics.signatures.Set(n)
		if at, ok := v.Date(); ok {
			s.Metrics.age.Set(time.Since(at).Seconds())
		}
	}
	if v.Signatures == "" {
		return nil
	}
	isNew, err := documents.NoteSignatures(ctx, s.Pool, v.Signatures, v.Engine)
	if err != nil || !isNew || s.RescanMaxAge <= 0 {
		return err
	}
	s.Logger.Info("scan: new signatures; recent documents are scanned again in the background",
		"signatures", v.Signatures, "max_age", s.RescanMaxAge.String())
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, err = client.Insert(ctx, jobargs.RescanArgs{Signatures: v.Signatures, Since: time.Now().Add(-s.RescanMaxAge).Unix()}, nil)
	return err
}

// rescanBatch is how many documents one rescan job reads before handing
// over to the next (so a long rescan is resumable and yields its slot).
const rescanBatch = 20

// RescanWorker rescans one batch of recent documents with new signatures
// (jobargs.RescanArgs), then queues the next batch.
type RescanWorker struct {
	river.WorkerDefaults[jobargs.RescanArgs]
	Scanner *Scanner
}

// Timeout bounds one batch.
func (w *RescanWorker) Timeout(*river.Job[jobargs.RescanArgs]) time.Duration {
	return rescanBatch*w.Scanner.Timeout + time.Minute
}

// Work rescans the batch. A scanner that does not answer snoozes the job:
// it resumes where it stopped (documents rescanned already carry the new
// version and are not read again).
func (w *RescanWorker) Work(ctx context.Context, job *river.Job[jobargs.RescanArgs]) error {
	s := w.Scanner
	a := job.Args
	docs, err := documents.RescanCandidates(ctx, s.Pool, a.Signatures, time.Unix(a.Since, 0), a.After, rescanBatch)
	if err != nil {
		return err
	}
	last := a.After
	for _, doc := range docs {
		out, err := s.scan(ctx, doc, "rescan")
		var se errScanner
		if errors.As(err, &se) {
			s.Metrics.failed(err)
			return river.JobSnooze(s.Retry)
		}
		if errors.Is(err, storage.ErrNotFound) {
			last = doc.ID // deleted meanwhile
			continue
		}
		if err != nil {
			return err
		}
		if out.Signatures != a.Signatures {
			return nil // newer signatures loaded: their own rescan takes over
		}
		if err := s.record(ctx, s.Logger.With("document_id", doc.ID, "job_id", job.ID), doc, out, true, ""); err != nil {
			return err
		}
		last = doc.ID
	}
	if len(docs) < rescanBatch {
		s.Logger.Info("scan: background rescan done", "signatures", a.Signatures)
		return nil
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, err = client.Insert(ctx, jobargs.RescanArgs{Signatures: a.Signatures, Since: a.Since, After: last}, nil)
	return err
}
