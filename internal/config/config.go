package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	neturl "net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/internal/clamd"
)

// Config is the whole configuration of a Folio process. Build it with Load;
// the zero value is not useful.
type Config struct {
	// DatabaseURL is the Postgres connection string (DATABASE_URL). Empty
	// only where the caller starts a local database itself (folio dev).
	DatabaseURL string

	// S3Bucket is the bucket holding originals and artifacts (FOLIO_S3_BUCKET).
	S3Bucket string
	// S3PathStyle addresses buckets as http://host/bucket rather than
	// http://bucket.host, as most S3-compatible servers want
	// (FOLIO_S3_PATH_STYLE).
	S3PathStyle bool
	// S3MaxConns bounds one process's connections to S3 at once
	// (FOLIO_S3_MAX_CONNS).
	S3MaxConns int
	// S3UnsignedPayload sends upload bytes to S3 without SigV4's payload
	// hash (FOLIO_S3_UNSIGNED_PAYLOAD): Folio hashes every upload itself
	// (SHA-256), and TLS protects the bytes on the way.
	S3UnsignedPayload bool
	// S3Versioning: the bucket must keep old versions (FOLIO_S3_VERSIONING):
	// the API turns it on at start if it is off, and will not start if the
	// server cannot. What `folio restore` rolls the bucket back with.
	S3Versioning bool
	// S3VersionRetention: the sweep deletes object versions noncurrent for
	// longer (FOLIO_S3_VERSION_RETENTION; 0: the bucket's lifecycle rule
	// does). Keep it at least as long as PostgreSQL's backups reach back.
	S3VersionRetention time.Duration

	// HTTPAddr is where the API listens (FOLIO_HTTP_ADDR).
	HTTPAddr string
	// HealthAddr is where the worker serves /healthz, /readyz and /metrics
	// (FOLIO_HEALTH_ADDR).
	HealthAddr string
	// AdminAddr is where the API serves the admin surface (River UI at
	// /admin/river/); empty: nowhere (FOLIO_ADMIN_ADDR).
	AdminAddr string
	// AdminToken is the admin token (FOLIO_ADMIN_TOKEN, or _FILE).
	AdminToken string
	// AdminClaim and AdminClaimValue: a verified JWT whose claim
	// AdminClaim (a dotted path) holds AdminClaimValue is an admin's
	// (FOLIO_ADMIN_CLAIM, FOLIO_ADMIN_CLAIM_VALUE; no value: none is).
	AdminClaim      string
	AdminClaimValue string

	// LogLevel is the minimum level logged (FOLIO_LOG_LEVEL).
	LogLevel string
	// LogFormat is "json", "text" or "auto" (JSON unless stderr is a
	// terminal) (FOLIO_LOG_FORMAT).
	LogFormat string

	// ShutdownTimeout bounds how long a process waits for in-flight work
	// when asked to stop (FOLIO_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration

	// DrainTimeout is how long a stopping worker lets running jobs finish
	// before it hands them back to the queue (FOLIO_DRAIN_TIMEOUT).
	DrainTimeout time.Duration
	// ShutdownDelay is how long a stopping API keeps serving with /readyz
	// at 503, for load balancers to stop sending (FOLIO_SHUTDOWN_DELAY).
	ShutdownDelay time.Duration

	// WorkerConcurrency is how many jobs one worker process runs at once
	// (FOLIO_WORKER_CONCURRENCY).
	WorkerConcurrency int

	// AuthJWTSecret is the HS256 secret tokens may be signed with
	// (FOLIO_AUTH_JWT_SECRET, or _FILE).
	AuthJWTSecret string
	// AuthJWKSURL is where an identity provider publishes its keys
	// (FOLIO_AUTH_JWKS_URL).
	AuthJWKSURL string
	// AuthIssuer and AuthAudience, when set, must match the token's "iss"
	// and "aud" (FOLIO_AUTH_ISSUER, FOLIO_AUTH_AUDIENCE).
	AuthIssuer, AuthAudience string

	// AllowedOrigins are the browser origins allowed to call the API
	// (FOLIO_ALLOWED_ORIGINS, comma-separated).
	AllowedOrigins []string

	// MaxUploadBytes is the largest document accepted
	// (FOLIO_MAX_UPLOAD_BYTES).
	MaxUploadBytes int64
	// UploadPartSize and UploadPartsInFlight bound the memory of one upload
	// to about PartSize × (PartsInFlight + 1) (FOLIO_UPLOAD_PART_SIZE,
	// FOLIO_UPLOAD_PARTS_IN_FLIGHT).
	UploadPartSize      int64
	UploadPartsInFlight int
	// UploadRateLimit uploads per owner are accepted per UploadRateWindow
	// (FOLIO_UPLOAD_RATE_LIMIT, FOLIO_UPLOAD_RATE_WINDOW).
	UploadRateLimit  int
	UploadRateWindow time.Duration
	// UploadMinRate and UploadGrace bound a slow upload: its body may
	// never go UploadGrace without a byte, and after UploadGrace it must
	// have arrived at UploadMinRate bytes per second on average, or it ends
	// with 408 upload_too_slow (FOLIO_UPLOAD_MIN_RATE, FOLIO_UPLOAD_GRACE).
	UploadMinRate int64
	UploadGrace   time.Duration
	// ReparseRateLimit and TicketRateLimit are how many reparses and
	// stream tickets one owner may ask for per minute
	// (FOLIO_REPARSE_RATE_LIMIT, FOLIO_TICKET_RATE_LIMIT).
	ReparseRateLimit int
	TicketRateLimit  int
	// MaxStreamsPerOwner caps one owner's open event streams on one API
	// process (FOLIO_MAX_STREAMS_PER_OWNER).
	MaxStreamsPerOwner int
	// OwnerQuotaBytes caps the total size of one owner's documents
	// (FOLIO_OWNER_QUOTA_BYTES).
	OwnerQuotaBytes int64
	// PresignTTL is how long a download link stays valid
	// (FOLIO_PRESIGN_TTL).
	PresignTTL time.Duration

	// ParseMemoryLimit caps one sandboxed parse's memory
	// (FOLIO_PARSE_MEMORY_LIMIT).
	ParseMemoryLimit int64
	// ParseTimeout caps one parse's wall-clock and CPU time
	// (FOLIO_PARSE_TIMEOUT).
	ParseTimeout time.Duration
	// MaxPages: documents with more pages fail with too_many_pages
	// (FOLIO_MAX_PAGES).
	MaxPages int
	// ProgressInterval is the most often a parse writes its progress
	// (FOLIO_PROGRESS_INTERVAL).
	ProgressInterval time.Duration

	// OCR turns the reading of scanned pages on ("auto": when Tesseract
	// with OCRLanguages is installed) or "off" (FOLIO_OCR).
	OCR string
	// OCRLanguages are Tesseract's languages, joined by "+"
	// (FOLIO_OCR_LANGUAGES).
	OCRLanguages string
	// OCRAvailableLanguages are the languages an upload may choose for its
	// document (ocr_languages), space-separated; every worker must have
	// them. Empty: what the local tesseract has, else OCRLanguages'
	// (FOLIO_OCR_AVAILABLE_LANGUAGES).
	OCRAvailableLanguages []string
	// OCRRotateConfidence is Tesseract's orientation confidence from which
	// a scanned page is turned upright; 0 turns none
	// (FOLIO_OCR_ROTATE_CONFIDENCE).
	OCRRotateConfidence float64
	// OCRConcurrency is how many OCR jobs one worker runs at once, apart
	// from parses (FOLIO_OCR_CONCURRENCY).
	OCRConcurrency int
	// OCRPageTimeout caps rendering and reading one page, OCRTimeout one
	// attempt of a document's OCR (FOLIO_OCR_PAGE_TIMEOUT,
	// FOLIO_OCR_TIMEOUT).
	OCRPageTimeout time.Duration
	OCRTimeout     time.Duration

	// Render turns page images on ("on") or "off" (FOLIO_RENDER).
	Render string
	// RenderConcurrency is how many on-demand renders one worker runs at
	// once (FOLIO_RENDER_CONCURRENCY).
	RenderConcurrency int
	// RenderPageTimeout caps drawing one page, RenderTimeout one
	// document's thumbnails or one on-demand image
	// (FOLIO_RENDER_PAGE_TIMEOUT, FOLIO_RENDER_TIMEOUT).
	RenderPageTimeout time.Duration
	RenderTimeout     time.Duration
	// RenderCacheDir keeps the renderer's compiled WebAssembly
	// (FOLIO_RENDER_CACHE_DIR; default: the user's cache directory).
	RenderCacheDir string
	// RenderWait is how long a request for a page image not rendered yet
	// waits for it before answering 503 (FOLIO_RENDER_WAIT).
	RenderWait time.Duration
	// RenderMaxQueued caps one owner's on-demand renders waiting or
	// running (FOLIO_RENDER_MAX_QUEUED).
	RenderMaxQueued int
	// FairSlice is how long a parse or an OCR may hold its worker slot
	// while another owner's job waits in its queue (FOLIO_FAIR_SLICE; 0:
	// unbounded).
	FairSlice time.Duration

	// EventRetention is how long document events are kept for replay
	// (FOLIO_EVENT_RETENTION).
	EventRetention time.Duration
	// Scan is "clamd" (uploads are scanned for malware before their parse,
	// by the clamd at ClamdAddress) or "off" (FOLIO_SCAN).
	Scan string
	// ClamdAddress is where workers reach clamd: unix:/path or
	// tcp:host:port (FOLIO_CLAMD_ADDRESS).
	ClamdAddress string
	// ScanMaxBytes is the most of a file sent to clamd, which must accept
	// that much (its StreamMaxLength); a longer file's beginning is scanned
	// and ScanTooLarge decides (FOLIO_SCAN_MAX_BYTES).
	ScanMaxBytes int64
	// ScanTooLarge is what becomes of a file longer than the scanner reads
	// (or that exceeds one of its limits): "quarantine", or "pass" (parsed,
	// with scan result too_large) (FOLIO_SCAN_TOO_LARGE).
	ScanTooLarge string
	// ScanTimeout bounds one scan (FOLIO_SCAN_TIMEOUT); ScanRetry is how
	// long a scan waits before trying again when clamd does not answer
	// (FOLIO_SCAN_RETRY); ScanConcurrency, how many scans one worker runs
	// at once (FOLIO_SCAN_CONCURRENCY).
	ScanTimeout     time.Duration
	ScanRetry       time.Duration
	ScanConcurrency int
	// RescanMaxAge: when clamd's signatures change, documents younger
	// than this are scanned again in the background; 0: none are
	// (FOLIO_RESCAN_MAX_AGE). SignaturesInterval is how often a worker
	// asks clamd its signatures' version (FOLIO_SCAN_SIGNATURES_INTERVAL).
	RescanMaxAge       time.Duration
	SignaturesInterval time.Duration

	// QueueMetricsInterval is how often the exporting worker reads the
	// queues' depth (FOLIO_QUEUE_METRICS_INTERVAL).
	QueueMetricsInterval time.Duration

	// UploadMaxAge is how old an unfinished multipart upload under Folio's
	// prefix may grow before the sweeper aborts it (FOLIO_UPLOAD_MAX_AGE).
	UploadMaxAge time.Duration

	// ResumableExpiry is how long a resumable upload may go without a
	// byte before the sweeper deletes it (FOLIO_RESUMABLE_EXPIRY).
	ResumableExpiry time.Duration
	// ResumableMaxActive caps the requests on resumable uploads one API
	// process serves at once: each holds a Postgres connection (the
	// upload's lock) and up to (FOLIO_UPLOAD_PARTS_IN_FLIGHT + 1) parts
	// of memory (FOLIO_RESUMABLE_MAX_ACTIVE).
	ResumableMaxActive int
	// ResumableMaxPartials caps the partial uploads one final upload may
	// name (tus concatenation; FOLIO_RESUMABLE_MAX_PARTIALS).
	ResumableMaxPartials int
	// DirectMaxPending caps one owner's direct-to-S3 uploads waiting to be
	// finalized (FOLIO_DIRECT_MAX_PENDING).
	DirectMaxPending int

	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (FOLIO_TRUSTED_PROXIES: addresses or CIDR prefixes).
	TrustedProxies []netip.Prefix
	// MaxRequestsPerOwner caps one owner's requests in progress on one
	// API process (FOLIO_MAX_REQUESTS_PER_OWNER).
	MaxRequestsPerOwner int
	// AuthFailureLimit caps the requests per minute one client address
	// may make without valid credentials, on the API and the admin
	// listener alike; beyond it, 429 before any token is checked
	// (FOLIO_AUTH_FAILURE_LIMIT).
	AuthFailureLimit int
	// AdminLoginLimit caps admin sign-in attempts per minute per client
	// address (FOLIO_ADMIN_LOGIN_LIMIT).
	AdminLoginLimit int
	// AdminHosts are the host names the admin listener answers to besides
	// loopback names and IP addresses (FOLIO_ADMIN_HOSTS): other Host
	// headers are refused (DNS rebinding).
	AdminHosts []string
	// AdminSessionTTL is how long an admin's browser sign-in lasts
	// (FOLIO_ADMIN_SESSION_TTL).
	AdminSessionTTL time.Duration

	// PublicURL is the API's address as the application's backend reaches
	// it (FOLIO_PUBLIC_URL): webhook messages' links start with it ("":
	// the links are paths).
	PublicURL string
	// WebhookRetries is the delay before each webhook attempt after a
	// failed one, the first attempt's (0) included (FOLIO_WEBHOOK_RETRIES;
	// Standard Webhooks' schedule by default).
	WebhookRetries []time.Duration
	// WebhookTimeout bounds one webhook attempt (FOLIO_WEBHOOK_TIMEOUT).
	WebhookTimeout time.Duration
	// WebhookConcurrency bounds one endpoint's attempts in flight per
	// worker (FOLIO_WEBHOOK_CONCURRENCY).
	WebhookConcurrency int
	// WebhookDisableAfter disables an endpoint every attempt to which
	// failed for this long (FOLIO_WEBHOOK_DISABLE_AFTER; 0: never).
	WebhookDisableAfter time.Duration
	// WebhookRetention is how long ended deliveries stay listed (and
	// replayable) (FOLIO_WEBHOOK_RETENTION).
	WebhookRetention time.Duration
	// WebhookAllowNets are address ranges webhooks may go to although they
	// are not public (FOLIO_WEBHOOK_ALLOW_NETS; folio dev: loopback).
	WebhookAllowNets []netip.Prefix
	// WebhookRotationOverlap is how long a rotated-out secret keeps
	// signing beside the new one (FOLIO_WEBHOOK_ROTATION_OVERLAP).
	WebhookRotationOverlap time.Duration
}

// Error is a configuration error. It names the variable at fault.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Var, e.Reason) }

// Lookup finds an environment variable, like os.LookupEnv.
type Lookup func(key string) (string, bool)

// Load builds a Config from the process environment.
func Load() (*Config, error) { return LoadFrom(os.LookupEnv) }

// LoadFrom builds a Config from lookup. It returns the first problem found as
// an *Error.
func LoadFrom(lookup Lookup) (*Config, error) {
	r := reader{lookup: lookup}
	cfg := &Config{
		DatabaseURL:          r.secret("DATABASE_URL", ""),
		S3Bucket:             r.str("FOLIO_S3_BUCKET", "folio"),
		S3PathStyle:          r.boolean("FOLIO_S3_PATH_STYLE", false),
		S3MaxConns:           r.integer("FOLIO_S3_MAX_CONNS", 128, 1, 100_000),
		S3Versioning:         r.boolean("FOLIO_S3_VERSIONING", false),
		S3VersionRetention:   r.durationOrZero("FOLIO_S3_VERSION_RETENTION", 0),
		HTTPAddr:             r.addr("FOLIO_HTTP_ADDR", ":8080"),
		HealthAddr:           r.addr("FOLIO_HEALTH_ADDR", ":8081"),
		AdminAddr:            r.optionalAddr("FOLIO_ADMIN_ADDR"),
		AdminToken:           r.secret("FOLIO_ADMIN_TOKEN", ""),
		AdminClaim:           r.str("FOLIO_ADMIN_CLAIM", "roles"),
		AdminClaimValue:      r.str("FOLIO_ADMIN_CLAIM_VALUE", ""),
		LogLevel:             r.oneOf("FOLIO_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:            r.oneOf("FOLIO_LOG_FORMAT", "auto", "auto", "json", "text"),
		ShutdownTimeout:      r.duration("FOLIO_SHUTDOWN_TIMEOUT", 30*time.Second),
		DrainTimeout:         r.duration("FOLIO_DRAIN_TIMEOUT", 25*time.Second),
		ShutdownDelay:        r.durationOrZero("FOLIO_SHUTDOWN_DELAY", 5*time.Second),
		WorkerConcurrency:    r.integer("FOLIO_WORKER_CONCURRENCY", defaultConcurrency(), 1, 10_000),
		UploadMaxAge:         r.duration("FOLIO_UPLOAD_MAX_AGE", 24*time.Hour),
		ResumableExpiry:      r.duration("FOLIO_RESUMABLE_EXPIRY", 24*time.Hour),
		ResumableMaxActive:   r.integer("FOLIO_RESUMABLE_MAX_ACTIVE", 32, 1, 10_000),
		ResumableMaxPartials: r.integer("FOLIO_RESUMABLE_MAX_PARTIALS", 64, 1, 10_000),
		DirectMaxPending:     r.integer("FOLIO_DIRECT_MAX_PENDING", 20, 1, 100_000),
		TrustedProxies:       r.prefixes("FOLIO_TRUSTED_PROXIES"),
		AuthFailureLimit:     r.integer("FOLIO_AUTH_FAILURE_LIMIT", 60, 1, 1_000_000),
		MaxRequestsPerOwner:  r.integer("FOLIO_MAX_REQUESTS_PER_OWNER", 32, 1, 1_000_000),
		AdminLoginLimit:      r.integer("FOLIO_ADMIN_LOGIN_LIMIT", 10, 1, 1_000_000),
		AdminHosts:           r.list("FOLIO_ADMIN_HOSTS"),
		AdminSessionTTL:      r.duration("FOLIO_ADMIN_SESSION_TTL", 12*time.Hour),

		AuthJWTSecret:  r.secret("FOLIO_AUTH_JWT_SECRET", ""),
		AuthJWKSURL:    r.url("FOLIO_AUTH_JWKS_URL"),
		AuthIssuer:     r.str("FOLIO_AUTH_ISSUER", ""),
		AuthAudience:   r.str("FOLIO_AUTH_AUDIENCE", ""),
		AllowedOrigins: r.list("FOLIO_ALLOWED_ORIGINS"),

		MaxUploadBytes:      r.bytes("FOLIO_MAX_UPLOAD_BYTES", 512<<20, 1, 5<<40),
		UploadPartSize:      r.bytes("FOLIO_UPLOAD_PART_SIZE", 5<<20, 5<<20, 5<<30),
		UploadPartsInFlight: r.integer("FOLIO_UPLOAD_PARTS_IN_FLIGHT", 2, 1, 64),
		UploadRateLimit:     r.integer("FOLIO_UPLOAD_RATE_LIMIT", 20, 1, 1_000_000),
		UploadRateWindow:    r.duration("FOLIO_UPLOAD_RATE_WINDOW", time.Minute),
		UploadMinRate:       r.bytes("FOLIO_UPLOAD_MIN_RATE", 8<<10, 1, 1<<40),
		UploadGrace:         r.duration("FOLIO_UPLOAD_GRACE", 30*time.Second),
		ReparseRateLimit:    r.integer("FOLIO_REPARSE_RATE_LIMIT", 10, 1, 1_000_000),
		TicketRateLimit:     r.integer("FOLIO_TICKET_RATE_LIMIT", 60, 1, 1_000_000),
		MaxStreamsPerOwner:  r.integer("FOLIO_MAX_STREAMS_PER_OWNER", 100, 1, 1_000_000),
		OwnerQuotaBytes:     r.bytes("FOLIO_OWNER_QUOTA_BYTES", 10<<30, 1, 1<<60),
		PresignTTL:          r.duration("FOLIO_PRESIGN_TTL", 5*time.Minute),

		ParseMemoryLimit:      r.bytes("FOLIO_PARSE_MEMORY_LIMIT", 1<<30, 64<<20, 1<<40),
		ParseTimeout:          r.duration("FOLIO_PARSE_TIMEOUT", 5*time.Minute),
		MaxPages:              r.integer("FOLIO_MAX_PAGES", 5000, 1, 1_000_000),
		ProgressInterval:      r.duration("FOLIO_PROGRESS_INTERVAL", 250*time.Millisecond),
		OCR:                   r.str("FOLIO_OCR", "auto"),
		OCRLanguages:          r.str("FOLIO_OCR_LANGUAGES", "eng"),
		OCRAvailableLanguages: strings.Fields(strings.ReplaceAll(r.str("FOLIO_OCR_AVAILABLE_LANGUAGES", ""), ",", " ")),
		OCRRotateConfidence:   float64(r.integer("FOLIO_OCR_ROTATE_CONFIDENCE", 12, 0, 1000)),
		OCRConcurrency:        r.integer("FOLIO_OCR_CONCURRENCY", 1, 1, 10_000),
		OCRPageTimeout:        r.duration("FOLIO_OCR_PAGE_TIMEOUT", 2*time.Minute),
		OCRTimeout:            r.duration("FOLIO_OCR_TIMEOUT", time.Hour),
		Render:                r.str("FOLIO_RENDER", "on"),
		RenderConcurrency:     r.integer("FOLIO_RENDER_CONCURRENCY", 2, 1, 10_000),
		RenderPageTimeout:     r.duration("FOLIO_RENDER_PAGE_TIMEOUT", 30*time.Second),
		RenderTimeout:         r.duration("FOLIO_RENDER_TIMEOUT", 10*time.Minute),
		RenderCacheDir:        r.str("FOLIO_RENDER_CACHE_DIR", ""),
		RenderWait:            r.duration("FOLIO_RENDER_WAIT", 30*time.Second),
		RenderMaxQueued:       r.integer("FOLIO_RENDER_MAX_QUEUED", 16, 1, 100_000),
		FairSlice:             r.durationOrZero("FOLIO_FAIR_SLICE", 5*time.Second),
		EventRetention:        r.duration("FOLIO_EVENT_RETENTION", 7*24*time.Hour),

		Scan:               r.oneOf("FOLIO_SCAN", "off", "off", "clamd"),
		ClamdAddress:       r.str("FOLIO_CLAMD_ADDRESS", ""),
		ScanMaxBytes:       r.bytes("FOLIO_SCAN_MAX_BYTES", 512<<20, 1, 4<<30),
		ScanTooLarge:       r.oneOf("FOLIO_SCAN_TOO_LARGE", "quarantine", "quarantine", "pass"),
		ScanTimeout:        r.duration("FOLIO_SCAN_TIMEOUT", 5*time.Minute),
		ScanRetry:          r.duration("FOLIO_SCAN_RETRY", 10*time.Second),
		ScanConcurrency:    r.integer("FOLIO_SCAN_CONCURRENCY", 2, 1, 10_000),
		RescanMaxAge:       r.durationOrZero("FOLIO_RESCAN_MAX_AGE", 7*24*time.Hour),
		SignaturesInterval: r.duration("FOLIO_SCAN_SIGNATURES_INTERVAL", time.Minute),

		QueueMetricsInterval: r.duration("FOLIO_QUEUE_METRICS_INTERVAL", 5*time.Second),

		PublicURL:              r.url("FOLIO_PUBLIC_URL"),
		WebhookRetries:         r.durations("FOLIO_WEBHOOK_RETRIES", "0s,5s,5m,30m,2h,5h,10h,14h,20h,24h"),
		WebhookTimeout:         r.duration("FOLIO_WEBHOOK_TIMEOUT", 15*time.Second),
		WebhookConcurrency:     r.integer("FOLIO_WEBHOOK_CONCURRENCY", 8, 1, 1000),
		WebhookDisableAfter:    r.durationOrZero("FOLIO_WEBHOOK_DISABLE_AFTER", 5*24*time.Hour),
		WebhookRetention:       r.duration("FOLIO_WEBHOOK_RETENTION", 30*24*time.Hour),
		WebhookAllowNets:       r.prefixes("FOLIO_WEBHOOK_ALLOW_NETS"),
		WebhookRotationOverlap: r.duration("FOLIO_WEBHOOK_ROTATION_OVERLAP", 24*time.Hour),
	}
	if r.err != nil {
		return nil, r.err
	}
	if cfg.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
			return nil, &Error{Var: "DATABASE_URL", Reason: "not a valid Postgres URL or DSN (want postgres://user:pass@host:5432/db)"}
		}
	}
	if cfg.OCR != "auto" && cfg.OCR != "off" {
		return nil, &Error{Var: "FOLIO_OCR", Reason: `must be "auto" or "off"`}
	}
	if cfg.Render != "on" && cfg.Render != "off" {
		return nil, &Error{Var: "FOLIO_RENDER", Reason: `must be "on" or "off"`}
	}
	if !ocrLanguages.MatchString(cfg.OCRLanguages) {
		return nil, &Error{Var: "FOLIO_OCR_LANGUAGES", Reason: `must be Tesseract language codes joined by "+", e.g. "eng" or "eng+deu"`}
	}
	for _, l := range cfg.OCRAvailableLanguages {
		if !ocrLanguages.MatchString(l) || strings.Contains(l, "+") {
			return nil, &Error{Var: "FOLIO_OCR_AVAILABLE_LANGUAGES", Reason: fmt.Sprintf(`%q is not a Tesseract language code (want them space-separated: "eng deu fra")`, l)}
		}
	}
	if cfg.Scan == "clamd" && cfg.ClamdAddress != "" {
		if _, err := clamd.Parse(cfg.ClamdAddress); err != nil {
			return nil, &Error{Var: "FOLIO_CLAMD_ADDRESS", Reason: err.Error()}
		}
	}
	if cfg.AdminToken != "" && len(cfg.AdminToken) < 32 {
		return nil, &Error{Var: "FOLIO_ADMIN_TOKEN", Reason: "must be at least 32 bytes (try: openssl rand -hex 32)"}
	}
	if cfg.AuthJWTSecret != "" && len(cfg.AuthJWTSecret) < 32 {
		return nil, &Error{Var: "FOLIO_AUTH_JWT_SECRET", Reason: "must be at least 32 bytes (try: openssl rand -hex 32)"}
	}
	if cfg.MaxUploadBytes > cfg.UploadPartSize*10_000 {
		return nil, &Error{Var: "FOLIO_MAX_UPLOAD_BYTES", Reason: "larger than 10,000 parts of FOLIO_UPLOAD_PART_SIZE: raise the part size"}
	}
	if cfg.PresignTTL > 7*24*time.Hour {
		return nil, &Error{Var: "FOLIO_PRESIGN_TTL", Reason: "S3 presigned URLs last at most 7 days"}
	}
	if err := validBucket(cfg.S3Bucket); err != nil {
		return nil, &Error{Var: "FOLIO_S3_BUCKET", Reason: err.Error()}
	}
	return cfg, nil
}

// RequireDatabase reports an *Error when DatabaseURL is empty.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return &Error{Var: "DATABASE_URL", Reason: "must be set (or DATABASE_URL_FILE)"}
	}
	return nil
}

// RequireScanner reports an *Error when uploads are scanned but no clamd
// is named (workers need one; the API does not dial it).
func (c *Config) RequireScanner() error {
	if c.Scan == "clamd" && c.ClamdAddress == "" {
		return &Error{Var: "FOLIO_CLAMD_ADDRESS", Reason: "FOLIO_SCAN=clamd needs clamd's address: unix:/run/clamav/clamd.ctl or tcp:host:3310"}
	}
	return nil
}

// RequireAdmin reports an *Error when the admin listener is on but nobody
// could be an admin.
func (c *Config) RequireAdmin() error {
	if c.AdminAddr != "" && c.AdminToken == "" && c.AdminClaimValue == "" {
		return &Error{Var: "FOLIO_ADMIN_ADDR", Reason: "the admin listener needs FOLIO_ADMIN_TOKEN (or _FILE) or FOLIO_ADMIN_CLAIM_VALUE"}
	}
	return nil
}

// RequireAuth reports an *Error when no way to verify tokens is set.
func (c *Config) RequireAuth() error {
	if c.AuthJWTSecret == "" && c.AuthJWKSURL == "" {
		return &Error{Var: "FOLIO_AUTH_JWT_SECRET", Reason: "set it (or FOLIO_AUTH_JWKS_URL) so the API can verify tokens"}
	}
	return nil
}

// reader reads variables and keeps the first error, so Load reads as a table.
type reader struct {
	lookup Lookup
	err    error
}

func (r *reader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = &Error{Var: key, Reason: fmt.Sprintf(format, args...)}
	}
}

func (r *reader) str(key, def string) string {
	v, ok := r.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

// secret reads key, or the contents of the file named by key_FILE. Setting
// both is an error: it is never clear which one was meant.
func (r *reader) secret(key, def string) string {
	v, hasV := r.lookup(key)
	path, hasFile := r.lookup(key + "_FILE")
	switch {
	case hasV && hasFile && v != "" && path != "":
		r.fail(key, "set either %s or %s_FILE, not both", key, key)
		return ""
	case hasFile && path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			r.fail(key+"_FILE", "cannot read the file: %v", errors.Unwrap(err))
			return ""
		}
		return strings.TrimSpace(string(b))
	case hasV && v != "":
		return strings.TrimSpace(v)
	}
	return def
}

func (r *reader) boolean(key string, def bool) bool {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, "%q is not a boolean (want true or false)", v)
	}
	return b
}

func (r *reader) integer(key string, def, lo, hi int) int {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, "%q is not a whole number", v)
		return def
	}
	if n < lo || n > hi {
		r.fail(key, "%d is out of range (%d to %d)", n, lo, hi)
	}
	return n
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(key, "%q is not a duration (want e.g. 30s, 5m, 24h)", v)
		return def
	}
	if d <= 0 {
		r.fail(key, "%q must be positive", v)
	}
	return d
}

// durationOrZero is duration, allowing 0 (no delay).
func (r *reader) durationOrZero(key string, def time.Duration) time.Duration {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(key, "%q is not a duration of 0 or more (want e.g. 0s, 5s)", v)
		return def
	}
	return d
}

func (r *reader) addr(key, def string) string {
	v := r.str(key, def)
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		r.fail(key, "%q is not a listen address (want host:port or :port)", v)
		return v
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		r.fail(key, "%q has no valid port", v)
	}
	return v
}

// optionalAddr is addr, or empty when the variable is unset.
func (r *reader) optionalAddr(key string) string {
	if r.str(key, "") == "" {
		return ""
	}
	return r.addr(key, "")
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(r.str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

// bytes reads a size: a whole number of bytes, or one with a unit
// (KiB, MiB, GiB, TiB, or KB, MB, GB, TB).
func (r *reader) bytes(key string, def, lo, hi int64) int64 {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	n, err := ParseBytes(v)
	if err != nil {
		r.fail(key, "%q is not a size (want e.g. 536870912, 512MiB, 2GiB)", v)
		return def
	}
	if n < lo || n > hi {
		r.fail(key, "%s is out of range (%d to %d bytes)", v, lo, hi)
	}
	return n
}

// ParseBytes parses a size such as "512MiB", "10GB" or "1048576".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("invalid size")
	}
	return n * mult, nil
}

// list reads a comma-separated list, dropping empty items.
func (r *reader) list(key string) []string {
	var out []string
	for _, item := range strings.Split(r.str(key, ""), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// durations reads a comma-separated list of durations (at least one,
// none negative).
func (r *reader) durations(key, def string) []time.Duration {
	var out []time.Duration
	for _, item := range strings.Split(r.str(key, def), ",") {
		d, err := time.ParseDuration(strings.TrimSpace(item))
		if err != nil || d < 0 {
			r.fail(key, "%q is not a duration (like 0s,5s,5m)", item)
			return nil
		}
		out = append(out, d)
	}
	return out
}

// prefixes reads a list of IP addresses and CIDR prefixes.
func (r *reader) prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, item := range r.list(key) {
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			r.fail(key, "%q is not an IP address or a CIDR prefix (like 10.0.0.0/8)", item)
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out
}

// url reads an absolute http(s) URL.
func (r *reader) url(key string) string {
	v := r.str(key, "")
	if v == "" {
		return ""
	}
	u, err := neturl.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(key, "%q is not an absolute http(s) URL", v)
	}
	return v
}

// validBucket applies the S3 bucket naming rules that matter in practice.
func validBucket(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return errors.New("bucket names are 3 to 63 characters long")
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '-' || c == '.') && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("%q is not a valid bucket name (lowercase letters, digits, '-' and '.')", name)
		}
	}
	return nil
}

var ocrLanguages = regexp.MustCompile(`^[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$`)

func defaultConcurrency() int { return max(runtime.NumCPU(), 1) }
