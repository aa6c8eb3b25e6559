package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads"
)

const (
	// uploadsPath is where resumable uploads are created (tus 1.0 and
	// the IETF resumable upload drafts 03 and 05, via tusd's handler).
	uploadsPath = "/v1/uploads"
	// maxMetadataBytes bounds Upload-Metadata.
	maxMetadataBytes = 4 << 10
	// lockWait is how long a request waits for an upload another
	// request holds (which it asks to let go) before 423.
	lockWait = 10 * time.Second
	// tusExtensions is what the server supports: tusd's own list plus the
	// two extensions Folio adds around it.
	tusExtensions = "creation,creation-with-upload,termination,concatenation,creation-defer-length,checksum,expiration"
)

// resumable builds the tus handler on Folio's store and locker.
func (s *Server) resumable() (*handler.UnroutedHandler, error) {
	store := uploads.NewStore(uploads.Config{
		Pool: s.Pool, Store: s.Store, Queue: s.River, Logger: s.Logger,
		MaxSize: s.Limits.MaxUploadBytes, Quota: s.Limits.OwnerQuotaBytes, Scan: s.Limits.Scan, Expiry: s.Limits.ResumableExpiry,
		PutOptions: func(filename string) storage.PutOptions {
			return storage.PutOptions{ContentType: "application/pdf", ContentDisposition: contentDisposition(filename)}
		},
	})
	lockPool := s.LockPool
	if lockPool == nil {
		lockPool = s.Pool
	}
	s.locker = &uploads.Locker{Pool: lockPool, Logger: s.Logger}
	composer := handler.NewStoreComposer()
	store.Compose(composer, s.locker)
	grace := s.Limits.UploadGrace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	return handler.NewUnroutedHandler(handler.Config{
		StoreComposer:              composer,
		MaxSize:                    s.Limits.MaxUploadBytes,
		BasePath:                   uploadsPath + "/",
		EnableExperimentalProtocol: true, // the IETF drafts tus-js-client speaks
		DisableDownload:            true,
		Cors:                       &handler.CorsConfig{Disable: true}, // the API's CORS covers it
		Logger:                     expslog.New(expslog.NewJSONHandler(os.Stderr, &expslog.HandlerOptions{Level: expslog.LevelWarn})),
		PreUploadCreateCallback:    s.admitResumable,
		PreFinishResponseCallback: func(hook handler.HookEvent) (handler.HTTPResponse, error) {
			if !hook.Upload.IsPartial { // a document now
				s.uploads.WithLabelValues("created").Inc()
				s.bytes.Add(float64(hook.Upload.Size))
			}
			return handler.HTTPResponse{}, nil
		},
		AcquireLockTimeout: lockWait,
		NetworkTimeout:     grace,
	})
}

// RunUploads listens for other API processes asking this one to let go of
// an upload's lock, until ctx ends.
func (s *Server) RunUploads(ctx context.Context) error { return s.locker.Run(ctx) }

// StopUploads ends every resumable upload request where its body is:
// every byte received is kept (whole parts in S3, the rest in Postgres)
// and the client is told the offset, to resume on another process (the
// drain).
func (s *Server) StopUploads() { s.stopUploadsOnce.Do(func() { close(s.stopUploads) }) }

// admitResumable checks a new upload like a one-request upload: rate
// limit, declared length against the quota, and the file name (kept
// sanitised, with the file type, as the upload's only metadata).
func (s *Server) admitResumable(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	ctx := hook.Context
	owner := ownerOf(ctx)
	// The rule of every upload path; a deferred length is counted as it
	// grows (the store refuses the bytes past the quota).
	size := hook.Upload.Size
	if hook.Upload.SizeIsDeferred {
		size = -1
	}
	_, err := s.admission.Admit(ctx, s.Pool, owner, size, true)
	if hook.Upload.IsFinal && errors.Is(err, uploads.ErrOverQuota) {
		err = nil // a final upload's bytes are its partial uploads', counted already
	}
	if err != nil {
		p := s.problemFor(err)
		if p == errDatabase {
			s.Logger.Error("resumable upload: admission", "err", err)
		}
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, problemError(p)
	}
	meta := hook.Upload.MetaData
	name := meta["filename"]
	if name == "" {
		name = meta["name"] // Uppy's
	}
	kept := handler.MetaData{"filename": sanitizeFilename(name)}
	if t := meta["filetype"]; t != "" && len(t) < 200 {
		kept["filetype"] = t
	}
	if !hook.Upload.IsPartial { // the document's: a final upload's own
		langs, p := s.ocrLanguages(meta["ocr_languages"])
		if p != nil {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, problemError(p)
		}
		kept["ocr_languages"] = langs
		app := uploads.TusAppData(meta)
		if err := app.Check(); err != nil {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, problemError(s.problemFor(err))
		}
		if app.ExternalID != "" {
			kept["external_id"] = app.ExternalID
		}
		maps.Copy(kept, app.Metadata)
	}
	return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: kept}, nil
}

// problemError carries a problem through tusd (which sends its status);
// the response writer turns it back into the problem.
func problemError(p *Problem) error {
	err := handler.NewError(p.Code, p.Detail, p.Status)
	if p.retryAfter > 0 {
		err.HTTPResponse.Header["Retry-After"] = strconv.Itoa(int(p.retryAfter / time.Second))
	}
	return err
}

// tus serves one tus request: it checks what tusd does not (the metadata's
// size, Upload-Checksum), puts the owner and the drain signal where the
// store finds them, and answers errors as problems.
func (s *Server) tus(h http.HandlerFunc) http.HandlerFunc {
	mw := s.tusd.Middleware(h)
	return func(w http.ResponseWriter, r *http.Request) {
		req := &uploads.Request{Stop: s.stopUploads, Locked: r.Method != http.MethodPost}
		if r.Context().Value(identityKey{}) != nil { // OPTIONS needs no token
			req.Owner = ownerOf(r.Context())
		}
		// tusd sets deadlines on the connection (NetworkTimeout) while it
		// reads a body. A read deadline still in force after the body
		// ended fires in net/http's background read while the request
		// goes on (a slow S3 finishing the upload) and cancels the
		// connection's context: this request's and every later one's on
		// that keep-alive connection (golang/go#70834). So tusd's read
		// deadlines reach the connection only while a body arrives, the
		// body's end clears them, and the write deadline is cleared once
		// the answer is out.
		rc := http.NewResponseController(w)
		body := &bodyEnd{ReadCloser: r.Body, rc: rc}
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			body.done.Store(true)
		}
		r.Body = body
		tw := &tusWriter{ResponseWriter: w, req: req, method: r.Method, rc: rc, body: body}
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
		defer tw.finish()
		// At the shutdown cutoff a body still arriving is cut where it
		// is: what arrived is kept, and the client resumes elsewhere.
		defer context.AfterFunc(s.cutoff, func() { body.cut.Store(true); _ = rc.SetReadDeadline(time.Now()) })()
		if len(r.Header.Get("Upload-Metadata")) > maxMetadataBytes {
			writeProblem(tw, problem(http.StatusBadRequest, "bad_metadata", fmt.Sprintf("Upload-Metadata is limited to %d bytes.", maxMetadataBytes)))
			return
		}
		if v := r.Header.Get("Upload-Checksum"); v != "" {
			c, p := parseChecksum(v)
			if p != nil {
				writeProblem(tw, p)
				return
			}
			req.Checksum = c
		}
		if v := r.Header.Get("Upload-Concat"); v != "" && r.Method == http.MethodPost {
			canonical, p := s.parseConcat(v)
			if p != nil {
				writeProblem(tw, p)
				return
			}
			r.Header.Set("Upload-Concat", canonical)
		}
		r = r.WithContext(uploads.WithRequest(r.Context(), req))
		if v := r.PathValue("id"); v != "" {
			// One spelling per upload: the lock, the lookups and Location
			// all use the canonical form of the id.
			id, err := uuid.Parse(v)
			if err != nil {
				writeProblem(tw, errNotFound)
				return
			}
			r.URL.Path = id.String() // tusd reads the id from a path without its base
		}
		mw.ServeHTTP(tw, r)
	}
}

// tusOverride serves a POST to an upload as the method its
// X-HTTP-Method-Override names (PATCH, HEAD or DELETE), as tus 1.0 asks of
// servers behind proxies that drop PATCH (tus-js-client's
// overridePatchMethod). tusd's middleware switches the method; this picks
// the handler.
func (s *Server) tusOverride(tusd *handler.UnroutedHandler) http.HandlerFunc {
	byMethod := map[string]http.HandlerFunc{
		http.MethodPatch:  s.tus(tusd.PatchFile),
		http.MethodHead:   s.tus(tusd.HeadFile),
		http.MethodDelete: s.tus(tusd.DelFile),
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h := byMethod[strings.ToUpper(r.Header.Get("X-HTTP-Method-Override"))]
		if h == nil {
			w.Header().Set("Allow", "HEAD, PATCH, DELETE")
			writeProblem(w, problem(http.StatusMethodNotAllowed, "method_not_allowed",
				"POST to an upload needs X-HTTP-Method-Override: PATCH, HEAD or DELETE; or use those methods."))
			return
		}
		r.Header.Set("X-HTTP-Method-Override", strings.ToUpper(r.Header.Get("X-HTTP-Method-Override")))
		h(w, r)
	}
}

// parseConcat checks a creation's Upload-Concat before anything is looked
// up: "partial", or "final;" and the URLs of at most ResumableMaxPartials
// partial uploads, each once. It returns the header with every id in its
// canonical spelling.
func (s *Server) parseConcat(v string) (string, *Problem) {
	if v == "partial" {
		return v, nil
	}
	list, ok := strings.CutPrefix(v, "final;")
	if !ok {
		return "", problem(http.StatusBadRequest, "bad_concatenation",
			`Upload-Concat must be "partial", or "final;" followed by the URLs of partial uploads.`)
	}
	seen := map[uuid.UUID]bool{}
	var urls []string
	for _, u := range strings.Fields(list) {
		_, tail, found := strings.Cut(u, uploadsPath+"/")
		id, err := uuid.Parse(strings.Trim(tail, "/"))
		if !found || err != nil {
			return "", problem(http.StatusBadRequest, "bad_concatenation", fmt.Sprintf("%q is not the URL of an upload.", u))
		}
		if seen[id] {
			return "", problem(http.StatusBadRequest, "bad_concatenation", fmt.Sprintf("The partial upload %s is named twice.", id))
		}
		seen[id] = true
		urls = append(urls, uploadsPath+"/"+id.String())
	}
	if len(urls) == 0 {
		return "", problem(http.StatusBadRequest, "bad_concatenation", "A final upload names at least one partial upload.")
	}
	if len(urls) > s.Limits.ResumableMaxPartials {
		return "", problem(http.StatusBadRequest, "bad_concatenation",
			fmt.Sprintf("A final upload names at most %d partial uploads.", s.Limits.ResumableMaxPartials))
	}
	return "final;" + strings.Join(urls, " "), nil
}

func parseChecksum(v string) (*uploads.Checksum, *Problem) {
	alg, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	alg = strings.ToLower(alg)
	if !ok || (alg != "sha1" && alg != "sha256") {
		return nil, problem(http.StatusBadRequest, "bad_checksum",
			"Upload-Checksum must be \"<algorithm> <base64 digest>\" with sha1 or sha256.")
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil || (alg == "sha1" && len(sum) != 20) || (alg == "sha256" && len(sum) != 32) {
		return nil, problem(http.StatusBadRequest, "bad_checksum", "Upload-Checksum's digest is not a base64 "+alg+" digest.")
	}
	return &uploads.Checksum{Algorithm: alg, Sum: sum}, nil
}

// tusWriter adds Folio's headers to tusd's answers (the document id, the
// expiry, the extensions tusd does not know it has), makes Location
// relative (right behind any proxy), and turns tusd's text/plain errors
// into problems.
type tusWriter struct {
	http.ResponseWriter
	req     *uploads.Request
	method  string
	status  int
	errBody *bytes.Buffer // an error being turned into a problem
	wrote   bool
	rc      *http.ResponseController // the connection's, for deadlines
	body    *bodyEnd
}

// SetReadDeadline passes tusd's read deadline on while the request's body
// is arriving, and drops it after (see tus).
func (w *tusWriter) SetReadDeadline(t time.Time) error {
	if w.body.done.Load() || w.body.cut.Load() {
		return nil
	}
	return w.rc.SetReadDeadline(t)
}

// SetWriteDeadline passes tusd's write deadline on (cleared once the
// request is answered).
func (w *tusWriter) SetWriteDeadline(t time.Time) error { return w.rc.SetWriteDeadline(t) }

// bodyEnd is a request body that clears the connection's read deadline
// when it ends (unless the shutdown cutoff set it).
type bodyEnd struct {
	io.ReadCloser
	rc   *http.ResponseController
	done atomic.Bool // the body ended, or there is none
	cut  atomic.Bool // the shutdown cutoff set the deadline: keep it
}

func (b *bodyEnd) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done.Swap(true) && !b.cut.Load() {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (w *tusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	h := w.Header()
	if w.req.DocumentID != "" {
		h.Set("Folio-Document-Id", w.req.DocumentID)
	}
	if code < 300 && !w.req.Expires.IsZero() && w.req.DocumentID == "" {
		h.Set("Upload-Expires", w.req.Expires.UTC().Format(http.TimeFormat))
	}
	if h.Get("Tus-Extension") != "" {
		h.Set("Tus-Extension", tusExtensions)
		h.Set("Tus-Checksum-Algorithm", uploads.ChecksumAlgorithms)
	}
	if loc := h.Get("Location"); loc != "" {
		if i := strings.Index(loc, uploadsPath+"/"); i > 0 {
			h.Set("Location", loc[i:])
		}
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// An interim answer (the IETF drafts' 104): the final status,
		// refusal or not, is still to come.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		w.status, w.errBody = code, &bytes.Buffer{}
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(b []byte) (int, error) {
	if w.errBody != nil {
		return w.errBody.Write(b)
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// finish sends the problem an error became.
func (w *tusWriter) finish() {
	if w.errBody == nil {
		return
	}
	code, detail, _ := strings.Cut(strings.TrimSpace(w.errBody.String()), ": ")
	if code == "" {
		code, detail = "upload_error", http.StatusText(w.status)
	}
	code = strings.ToLower(strings.TrimPrefix(code, "ERR_"))
	p := &Problem{Type: "urn:folio:problem:" + code, Title: http.StatusText(w.status), Status: w.status, Detail: detail, Code: code}
	if w.status == 460 {
		p.Title = "Checksum Mismatch"
	}
	w.wrote = true
	w.errBody = nil
	w.Header().Del("Content-Length") // tusd's, for its own body
	if w.method == http.MethodHead {
		w.Header().Del("Content-Type")
		w.ResponseWriter.WriteHeader(p.Status)
		return
	}
	writeProblem(w.ResponseWriter, p)
}

// Unwrap lets http.ResponseController reach the connection (tusd sets
// read deadlines through it).
func (w *tusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
