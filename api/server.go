package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/rs/cors"
	"github.com/tus/tusd/v2/pkg/handler"
	"golang.org/x/sync/singleflight"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/clientaddr"
	"github.com/foliohq/folio/internal/health"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads"
)

// Limits are the API's settings for uploads, downloads and streams (see
// internal/config for each one's variable and default).
type Limits struct {
	MaxUploadBytes   int64
	UploadRateLimit  int
	UploadRateWindow time.Duration
	// UploadMinRate (bytes/s, on average) and UploadGrace bound a slow
	// upload body; zero: unbounded.
	UploadMinRate   int64
	UploadGrace     time.Duration
	OwnerQuotaBytes int64
	// Scan: uploads are scanned for malware before their parse
	// (FOLIO_SCAN=clamd): documents are scanning, then queued or
	// quarantined.
	Scan       bool
	PresignTTL time.Duration
	// ReparseRateLimit and TicketRateLimit are per owner and minute; zero:
	// unlimited.
	ReparseRateLimit int
	TicketRateLimit  int
	// MaxStreamsPerOwner caps one owner's open streams on this process;
	// zero: unlimited.
	MaxStreamsPerOwner int
	// DirectMaxPending caps an owner's direct uploads not finalized (20
	// when zero).
	DirectMaxPending int
	// ResumableExpiry is how long a resumable upload may go without a
	// byte before it is swept (24 h when zero).
	ResumableExpiry time.Duration
	// ResumableMaxPartials caps the partial uploads a final upload may
	// name (64 when zero).
	ResumableMaxPartials int
	// RenderWait is how long a request for a page image that is not
	// rendered yet waits for it (30 s when zero).
	RenderWait time.Duration
	// RenderMaxQueued caps one owner's on-demand renders waiting or
	// running (16 when zero): beyond, 429 render_busy.
	RenderMaxQueued int
	// MaxRequestsPerOwner caps one owner's requests in progress on this
	// process (streams apart, limited on their own) (32 when zero):
	// beyond, 429 too_many_requests. One owner's flood cannot take every
	// database connection and goroutine from the others.
	MaxRequestsPerOwner int
	// AuthFailureLimit caps the requests per minute a client address may
	// make without valid credentials (60 when zero); beyond it, 429
	// before any token is checked.
	AuthFailureLimit int
}

// Deps are the Server's collaborators.
type Deps struct {
	Logger  *slog.Logger
	Health  *health.Checker
	Metrics *telemetry.Metrics
	Pool    *pgxpool.Pool
	// LockPool holds resumable uploads' locks: one connection per
	// request on an upload (Pool when nil).
	LockPool *pgxpool.Pool
	Store    *storage.Store
	River    *river.Client[pgx.Tx] // inserts jobs; works none
	Verifier *auth.Verifier
	Hub      *events.Hub // live events for streams
	Limits   Limits
	// OCR are the languages documents may ask OCR to read with.
	OCR            OCRLanguages
	AllowedOrigins []string
	// ClientAddr finds a request's client address (FOLIO_TRUSTED_PROXIES).
	ClientAddr clientaddr.Resolver
	// Dev, when set (`folio dev` only), hands out tokens at POST /v1/dev/token.
	Dev *DevMode
	// Web, when set, serves GET and HEAD requests no route matches outside
	// /v1/ (`folio dev` serves the demo app with it).
	Web http.Handler
}

// Server is the API's HTTP handler.
type Server struct {
	Deps
	handler     http.Handler
	routes      []route
	uploads     *prometheus.CounterVec
	bytes       prometheus.Counter
	streamsOpen *prometheus.GaugeVec // by transport
	writeLag    prometheus.Histogram // event transaction start → written to a live stream
	shutdown    chan struct{}
	closeOnce   sync.Once
	pumps       sync.WaitGroup // live streams

	streamsMu      sync.Mutex
	streamsByOwner map[string]int // open streams on this process

	requestsMu      sync.Mutex
	requestsByOwner map[string]int // requests in progress on this process
	// cutoff ends uploads still running when the shutdown timeout is up.
	cutoff     context.Context
	cutoffFunc context.CancelFunc

	renders singleflight.Group // on-demand renders this process waits for

	authFailures *clientaddr.Limiter // requests without valid credentials, per client address

	admission       *uploads.Admission       // rate, size and quota of every upload path
	direct          *uploads.Direct          // direct-to-S3 uploads
	tusd            *handler.UnroutedHandler // resumable uploads
	locker          *uploads.Locker
	stopUploads     chan struct{} // closed: resumable uploads stop at a part boundary
	stopUploadsOnce sync.Once
}

// route is one endpoint. Routes are a table so that tests (the OpenAPI
// check) can see them all.
type route struct {
	pattern string
	public  bool // no bearer token needed
	handler http.HandlerFunc
}

// New returns a Server with every route mounted.
func New(deps Deps) *Server {
	s := &Server{Deps: deps, shutdown: make(chan struct{}), streamsByOwner: map[string]int{}, requestsByOwner: map[string]int{},
		stopUploads: make(chan struct{})}
	if s.OCR.Default == "" {
		s.OCR.Default = "eng"
	}
	if len(s.OCR.Available) == 0 {
		s.OCR.Available = strings.Split(s.OCR.Default, "+")
	}
	if s.Limits.ResumableExpiry <= 0 {
		s.Limits.ResumableExpiry = 24 * time.Hour
	}
	if s.Limits.ResumableMaxPartials <= 0 {
		s.Limits.ResumableMaxPartials = 64
	}
	if s.Limits.DirectMaxPending <= 0 {
		s.Limits.DirectMaxPending = 20
	}
	if s.Limits.RenderMaxQueued <= 0 {
		s.Limits.RenderMaxQueued = 16
	}
	if s.Limits.MaxRequestsPerOwner <= 0 {
		s.Limits.MaxRequestsPerOwner = 32
	}
	if s.Limits.AuthFailureLimit <= 0 {
		s.Limits.AuthFailureLimit = 60
	}
	s.authFailures = clientaddr.NewLimiter(s.Limits.AuthFailureLimit, time.Minute)
	signTTL := s.Limits.PresignTTL
	if signTTL <= 0 {
		signTTL = 15 * time.Minute
	}
	s.admission = &uploads.Admission{MaxSize: s.Limits.MaxUploadBytes, Quota: s.Limits.OwnerQuotaBytes, Scan: s.Limits.Scan,
		RateLimit: s.Limits.UploadRateLimit, RateWindow: s.Limits.UploadRateWindow}
	s.direct = &uploads.Direct{Pool: s.Pool, Store: s.Store, Queue: s.River, Logger: s.Logger, Admission: s.admission,
		MaxPending: s.Limits.DirectMaxPending,
		Expiry:     s.Limits.ResumableExpiry, SignTTL: signTTL}
	tusd, err := s.resumable()
	if err != nil {
		panic(fmt.Sprintf("api: resumable uploads: %v", err)) // the configuration is Folio's own
	}
	s.tusd = tusd
	s.cutoff, s.cutoffFunc = context.WithCancel(context.Background())
	s.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "folio_uploads_total",
		Help: "Uploads by outcome: created, rejected (4xx before storing), client_gone, too_slow, too_large, over_quota, cut_off, storage_error, database_error.",
	}, []string{"outcome"})
	s.bytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "folio_upload_bytes_total",
		Help: "Bytes of uploads that were stored and committed.",
	})
	s.streamsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "folio_event_streams_open",
		Help: "Event streams open on this process, by transport (websocket, sse).",
	}, []string{"transport"})
	s.streamsOpen.WithLabelValues("websocket").Set(0)
	s.streamsOpen.WithLabelValues("sse").Set(0)
	s.writeLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "folio_event_write_lag_seconds",
		Help:    "From an event's transaction start to its write to a live stream's connection returning (websocket or SSE), per stream: what a watcher waits, as far as this process can see.",
		Buckets: []float64{.0025, .005, .01, .025, .05, .075, .1, .125, .15, .2, .25, .3, .4, .5, .75, 1, 2.5, 5, 10},
	})
	deps.Metrics.Registry.MustRegister(s.uploads, s.bytes, s.streamsOpen, s.writeLag)

	s.routes = []route{
		{"GET /healthz", true, deps.Health.Healthz},
		{"GET /readyz", true, deps.Health.Readyz},
		{"GET /metrics", true, deps.Metrics.Handler().ServeHTTP},
		{"GET /v1/openapi.json", true, serveOpenAPI},
		{"POST /v1/documents", false, s.upload},
		{"PUT /v1/documents", false, s.upload}, // what `curl -T file` sends
		{"GET /v1/documents", false, s.list},
		{"GET /v1/documents/{id}", false, s.get},
		{"GET /v1/documents/{id}/content", false, s.content},
		{"POST /v1/documents/{id}/reparse", false, s.reparse},
		{"DELETE /v1/documents/{id}", false, s.delete},
		{"PATCH /v1/documents/{id}", false, s.update},
		{"GET /v1/documents/{id}/pages", false, s.pages},
		{"GET /v1/documents/{id}/pages/{n}/image", false, s.pageImage},
		{"GET /v1/documents/{id}/text", false, s.text},
		{"GET /v1/documents/{id}/outline", false, s.outline},
		{"GET /v1/search", false, s.search},
		{"POST /v1/events/tickets", false, s.ticket},
		{"GET /v1/documents/{id}/events", true, s.documentEvents}, // authenticates itself: tickets too
		{"GET /v1/events", true, s.allEvents},
		{"POST /v1/dev/token", true, s.devToken},               // 404 unless Dev is set
		{"OPTIONS " + uploadsPath, true, s.tus(tusd.PostFile)}, // tusd answers OPTIONS itself
		{"POST " + uploadsPath, false, s.tus(tusd.PostFile)},
		{"HEAD " + uploadsPath + "/{id}", false, s.tus(tusd.HeadFile)},
		{"PATCH " + uploadsPath + "/{id}", false, s.tus(tusd.PatchFile)},
		{"DELETE " + uploadsPath + "/{id}", false, s.tus(tusd.DelFile)},
		{"POST " + uploadsPath + "/{id}", false, s.tusOverride(tusd)}, // X-HTTP-Method-Override (tus 1.0)
		{"POST /v1/direct-uploads", false, s.directCreate},
		{"POST /v1/direct-uploads/sign", false, s.directSign},
		{"POST /v1/direct-uploads/{id}/finalize", false, s.directFinalize},
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		h := rt.handler
		if !rt.public {
			h = s.authenticated(h)
		}
		mux.HandleFunc(rt.pattern, h)
	}
	mux.Handle("/", s.fallback(notFound(mux)))
	c := cors.New(cors.Options{
		AllowedOrigins: deps.AllowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodHead, http.MethodPatch},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Content-Disposition", "Last-Event-ID",
			// tus 1.0 and the IETF resumable upload drafts
			"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat",
			"Upload-Checksum", "Upload-Incomplete", "Upload-Complete", "Upload-Draft-Interop-Version", "X-HTTP-Method-Override", "X-Requested-With"},
		ExposedHeaders: []string{"Location", "Retry-After", "Folio-Document-Id",
			"Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length",
			"Upload-Metadata", "Upload-Defer-Length", "Upload-Concat", "Upload-Expires", "Upload-Incomplete", "Upload-Complete",
			"Upload-Draft-Interop-Version", "Upload-Limit"},
		AllowCredentials: false,
		MaxAge:           600,
	})
	s.handler = secured(c.Handler(deps.Metrics.Instrument(mux)))
	return s
}

// secured sets what every response carries, and closes the connection
// after a request with a Transfer-Encoding: Go reads such a body by its
// chunks and drops any Content-Length that came with it, and RFC 9112
// §6.3 asks a server to close the connection after answering a request
// that had both (a request-smuggling attempt, or a broken proxy). The
// header that would tell them apart is gone by the time a handler runs,
// so every chunked request's connection is closed; browsers do not send
// chunked requests, so this costs their connections nothing.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == uploadsPath+"/" { // tus clients' usual endpoint
			r.URL.Path = uploadsPath
		}
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// CloseStreams ends every event stream: websockets get close code 1012
// (service restart) and SSE streams end, so clients reconnect elsewhere
// and resume. http.Server.Shutdown does not close hijacked connections.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.shutdown) }) }

// CutOffUploads stops the uploads still in flight: their multipart uploads
// are aborted, nothing is stored, and their clients get a 503 problem
// (server_restarting) to retry elsewhere. Called when the shutdown timeout
// is up.
func (s *Server) CutOffUploads() { s.cutoffFunc() }

// WaitStreams waits until every stream has sent its close (after
// CloseStreams), or ctx ends.
func (s *Server) WaitStreams(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.pumps.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists the patterns the server serves ("METHOD /path").
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// fallback serves the web app (when there is one) for page loads outside
// the API's paths, and next for everything else.
func (s *Server) fallback(next http.Handler) http.Handler {
	if s.Web == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")
		// /admin is the admin listener's (FOLIO_ADMIN_ADDR), never a page here.
		adminPath := r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/")
		if !api && !adminPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.Web.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// notFound answers what no route matches with a problem: 405 with Allow
// when the path exists for other methods, 404 otherwise.
func notFound(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, problem(http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed here; use "+strings.Join(allow, ", ")+"."))
			return
		}
		writeProblem(w, problem(http.StatusNotFound, "no_such_endpoint", "There is no endpoint at "+r.URL.Path+"; see /v1/openapi.json."))
	})
}

type identityKey struct{}

// authenticated lets through only requests with a valid bearer token, and
// puts the token's identity in the context (its subject is the owner).
func (s *Server) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		addr, ok := s.underFailureLimit(w, r)
		if !ok {
			return
		}
		id, err := s.Verifier.FromRequest(r)
		if err != nil {
			s.authFailures.Count(addr)
			// The reason goes to the log at debug level, never the token.
			s.Logger.Debug("unauthorized request", "path", r.URL.Path, "reason", err.Error())
			writeProblem(w, errUnauthorized("A valid bearer token is required (Authorization: Bearer <JWT>)."))
			return
		}
		release, ok := s.startRequest(id.Subject)
		if !ok {
			p := problem(http.StatusTooManyRequests, "too_many_requests",
				fmt.Sprintf("At most %d of your requests at once on one server; wait for some to finish.", s.Limits.MaxRequestsPerOwner))
			p.retryAfter = time.Second
			writeProblem(w, p)
			return
		}
		defer release()
		next(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}

// startRequest counts a request of owner in progress, unless the owner
// has MaxRequestsPerOwner in progress already; release uncounts it.
func (s *Server) startRequest(owner string) (release func(), ok bool) {
	s.requestsMu.Lock()
	defer s.requestsMu.Unlock()
	if s.requestsByOwner[owner] >= s.Limits.MaxRequestsPerOwner {
		return nil, false
	}
	s.requestsByOwner[owner]++
	return func() {
		s.requestsMu.Lock()
		defer s.requestsMu.Unlock()
		if s.requestsByOwner[owner]--; s.requestsByOwner[owner] <= 0 {
			delete(s.requestsByOwner, owner)
		}
	}, true
}

// underFailureLimit answers 429 (and false) when the request's client
// address made more than AuthFailureLimit requests without valid
// credentials this minute: a flood of bad tokens costs a map lookup, not
// a signature check each. It returns the address, to count a failure.
func (s *Server) underFailureLimit(w http.ResponseWriter, r *http.Request) (netip.Addr, bool) {
	addr := s.ClientAddr.Of(r)
	if over, wait := s.authFailures.Over(addr); over {
		p := problem(http.StatusTooManyRequests, "too_many_failures",
			fmt.Sprintf("Too many requests without valid credentials from your address; wait %d s.", int(wait.Seconds()+1)))
		p.retryAfter = wait
		writeProblem(w, p)
		return addr, false
	}
	return addr, true
}

func identityOf(ctx context.Context) auth.Identity { return ctx.Value(identityKey{}).(auth.Identity) }

func ownerOf(ctx context.Context) string { return identityOf(ctx).Subject }
