package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/storage"
)

const (
	// multipartSlack is what a multipart body may carry beyond the file:
	// boundaries, part headers and small form fields.
	multipartSlack = 1 << 20
	// maxFieldBytes bounds one non-file form field.
	maxFieldBytes = 64 << 10
	// commitTimeout bounds the commit after the bytes are stored: a
	// document whose bytes all arrived is committed even if the client
	// leaves at that moment.
	commitTimeout = 30 * time.Second
	// quotaRetryAfter is what a client over its byte quota is told to wait:
	// room comes only when it deletes documents.
	quotaRetryAfter = time.Hour
)

var (
	errTooSlow    = errors.New("body arrives too slowly")
	errTooLarge   = errors.New("body exceeds the upload limit")
	errOverQuota  = errors.New("body exceeds the owner's remaining quota")
	acceptedTypes = map[string]bool{"application/pdf": true, "application/x-pdf": true, "application/octet-stream": true}
)

// upload handles POST /v1/documents: a raw PDF body or multipart/form-data
// with the file in field "file". The bytes stream through a SHA-256 hasher
// into S3; then one transaction records the document and enqueues its parse.
func (s *Server) upload(rw http.ResponseWriter, r *http.Request) {
	// Every path answers: one that kept nothing must never fall through to
	// the implicit 200 of a handler that wrote nothing.
	w := &answered{ResponseWriter: rw}
	defer func() {
		if !w.wrote {
			s.Logger.Error("upload: a path returned without answering")
			writeProblem(w, problem(http.StatusInternalServerError, "internal", "The upload failed; nothing was kept."))
		}
	}()
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	// At the shutdown cutoff: stop, and unblock a read of a body that is
	// still arriving (a context does not interrupt it; a deadline does).
	rc := http.NewResponseController(w)
	defer context.AfterFunc(s.cutoff, func() {
		stop()
		_ = rc.SetReadDeadline(time.Now())
	})()
	if s.Limits.UploadMinRate > 0 {
		// A body that trickles in (or never comes) must not hold the
		// connection and its part buffers forever.
		r.Body = &pacedBody{ReadCloser: r.Body, rc: rc, start: time.Now(), minRate: s.Limits.UploadMinRate,
			grace: s.Limits.UploadGrace, stopped: func() bool { return s.cutoff.Err() != nil }}
		defer func() {
			if s.cutoff.Err() == nil {
				_ = rc.SetReadDeadline(time.Time{}) // the connection may serve another request
			}
		}()
	}
	owner := ownerOf(ctx)
	log := s.Logger.With(append([]any{"owner", owner}, tracing.LogAttrs(ctx)...)...)

	room, p := s.admit(ctx, owner, r.ContentLength)
	if p != nil {
		s.uploads.WithLabelValues(outcomeOf(p)).Inc()
		writeProblem(w, p)
		return
	}

	content, filename, fields, p := s.openContent(w, r)
	if p != nil {
		s.uploads.WithLabelValues("rejected").Inc()
		writeProblem(w, p)
		return
	}
	var appData documents.AppData
	asked := r.URL.Query().Get("ocr_languages")
	if asked == "" {
		asked = fields["ocr_languages"]
	}
	ocrLanguages, p := s.ocrLanguages(asked)
	if p == nil {
		appData, p = uploadAppData(r.URL.Query(), fields)
	}
	if p != nil {
		s.uploads.WithLabelValues("rejected").Inc()
		writeProblem(w, p)
		return
	}
	// The first bytes must carry the PDF signature before anything is kept.
	head := make([]byte, documents.SniffLen)
	n, err := io.ReadFull(content, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		s.finishBodyError(w, log, err)
		return
	}
	head = head[:n]
	if !documents.LooksLikePDF(head) {
		s.uploads.WithLabelValues("rejected").Inc()
		detail := "The file is not a PDF: no %PDF- signature in its first 1024 bytes."
		if n == 0 {
			detail = "The file is empty."
		}
		writeProblem(w, problem(http.StatusUnsupportedMediaType, "not_pdf", detail))
		return
	}

	id := uuid.Must(uuid.NewV7())
	key := documents.OriginalKey(owner, id)
	hash := sha256.New()
	body := &limitedReader{r: io.MultiReader(bytes.NewReader(head), content), max: s.Limits.MaxUploadBytes, quota: room}
	size, err := s.Store.Put(ctx, key, io.TeeReader(body, hash), storage.PutOptions{
		ContentType:        "application/pdf",
		ContentDisposition: contentDisposition(filename),
		Metadata:           map[string]string{"filename": url.QueryEscape(filename), "document-id": id.String()},
	})
	if err != nil {
		switch {
		case s.cutoff.Err() != nil:
			s.uploads.WithLabelValues("cut_off").Inc()
			log.Info("upload: cut off by shutdown", "document_id", id)
			w.Header().Set("Connection", "close")
			writeProblem(w, problem(http.StatusServiceUnavailable, "server_restarting",
				"The server is restarting and could not finish this upload in time; nothing was kept. Retry."))
		case body.err != nil:
			s.finishBodyError(w, log, body.err)
		case ctx.Err() != nil:
			// The connection closed (or half-closed) before the bytes were
			// stored. The client may still be reading: say that nothing
			// was kept, never a silent 200.
			s.uploads.WithLabelValues("client_gone").Inc()
			log.Info("upload: client went away", "document_id", id)
			w.Header().Set("Connection", "close")
			writeProblem(w, problem(http.StatusBadRequest, "connection_closed",
				"The connection closed before the upload was stored; nothing was kept. Send it again."))
		default:
			s.uploads.WithLabelValues("storage_error").Inc()
			log.Error("upload: storing", "document_id", id, "err", err)
			writeProblem(w, errStorage)
		}
		return
	}

	doc := &documents.Document{
		ID: id, Owner: owner, Filename: filename,
		SizeBytes: size, SHA256: hex.EncodeToString(hash.Sum(nil)), S3Key: key, OCRLanguages: ocrLanguages,
		AppData: appData,
	}
	if err := s.commit(ctx, doc); err != nil {
		s.cleanupObject(ctx, key)
		p := s.problemFor(err)
		if p == errDatabase {
			log.Error("upload: committing", "document_id", id, "err", err)
		}
		s.uploads.WithLabelValues(outcomeOf(p)).Inc()
		writeProblem(w, p)
		return
	}
	s.uploads.WithLabelValues("created").Inc()
	s.bytes.Add(float64(size))
	log.Info("upload: created", "document_id", id, "size_bytes", size)
	w.Header().Set("Location", "/v1/documents/"+id.String())
	writeJSON(w, http.StatusCreated, doc)
}

// admit applies the checks that need no body (uploads.Admission, the rule
// of every upload path): declared size, rate limit, quota already used
// up. It returns the room left in the quota, which the body may fill.
func (s *Server) admit(ctx context.Context, owner string, contentLength int64) (int64, *Problem) {
	if contentLength > s.Limits.MaxUploadBytes+multipartSlack {
		return 0, tooLarge(s.Limits.MaxUploadBytes)
	}
	room, err := s.admission.Admit(ctx, s.Pool, owner, -1, true) // the size is the body's, checked as it comes
	if err != nil {
		p := s.problemFor(err)
		if p == errDatabase {
			s.Logger.Error("upload: admission", "err", err)
		}
		return 0, p
	}
	return room, nil
}

// commit records the document and enqueues its parse (documents.Create),
// on a context that outlives the request: a document whose bytes all
// arrived is committed even if the client leaves at that moment.
func (s *Server) commit(reqCtx context.Context, doc *documents.Document) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), commitTimeout)
	defer cancel()
	return documents.Create(ctx, s.Pool, s.River, doc, s.admission.Intake())
}

// openContent finds the file in the request: the raw body, or the "file"
// part of a multipart form. It returns the file's reader and its sanitised
// name.
func (s *Server) openContent(w http.ResponseWriter, r *http.Request) (io.Reader, string, map[string]string, *Problem) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, "", nil, problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the PDF as the body (Content-Type: application/pdf) or as multipart/form-data field \"file\".")
	}
	switch {
	case acceptedTypes[mediaType]:
		name := r.URL.Query().Get("filename")
		if name == "" {
			if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
				name = p["filename"]
			}
		}
		return r.Body, sanitizeFilename(name), nil, nil
	case mediaType == "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, s.Limits.MaxUploadBytes+multipartSlack)
		mr := multipart.NewReader(r.Body, params["boundary"])
		fields := map[string]string{} // the small fields before "file"
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, "", nil, problem(http.StatusBadRequest, "missing_file", "The form has no \"file\" field.")
			}
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, "", nil, tooLarge(s.Limits.MaxUploadBytes)
				}
				if errors.Is(err, errTooSlow) {
					w.Header().Set("Connection", "close")
					return nil, "", nil, s.tooSlow()
				}
				return nil, "", nil, problem(http.StatusBadRequest, "bad_multipart", "The multipart body is malformed: "+err.Error())
			}
			if part.FormName() == "file" {
				return part, sanitizeFilename(part.FileName()), fields, nil
			}
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, "", nil, problem(http.StatusBadRequest, "bad_multipart", "The multipart body is malformed: "+err.Error())
			}
			name := part.FormName()
			if appDataField(name) {
				// Never dropped: a limit is an error (uploadAppData).
				if _, twice := fields[name]; twice {
					return nil, "", nil, problem(http.StatusBadRequest, "bad_metadata", fmt.Sprintf("The form field %q is given more than once.", name))
				}
				if len(fields) >= 32+documents.MaxMetadataKeys || len(v) > documents.MaxMetadataBytes {
					return nil, "", nil, problem(http.StatusBadRequest, "bad_metadata",
						fmt.Sprintf("The form's metadata exceeds its limits (%d keys, %d bytes).", documents.MaxMetadataKeys, documents.MaxMetadataBytes))
				}
				fields[name] = string(v)
				continue
			}
			if len(v) <= maxFieldBytes && len(fields) < 32 {
				fields[name] = string(v)
			}
		}
	}
	return nil, "", nil, problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
		fmt.Sprintf("Content-Type %s is not accepted: send application/pdf or multipart/form-data.", mediaType))
}

// appDataField reports whether a query parameter or form field is
// application data (external_id, metadata.KEY).
func appDataField(name string) bool {
	return name == "external_id" || strings.HasPrefix(name, documents.MetadataPrefix)
}

// uploadAppData is a one-request upload's application data: query
// parameters, or form fields before the file; not both.
func uploadAppData(query url.Values, fields map[string]string) (documents.AppData, *Problem) {
	var names []string
	for name := range query {
		if appDataField(name) {
			names = append(names, name)
		}
	}
	get := func(name string) []string { return query[name] }
	for name := range fields {
		if !appDataField(name) {
			continue
		}
		if len(names) > 0 && query.Has(name) {
			return documents.AppData{}, problem(http.StatusBadRequest, "bad_metadata",
				fmt.Sprintf("%q is given both as a query parameter and as a form field.", name))
		}
		names = append(names, name)
	}
	if len(fields) > 0 {
		get = func(name string) []string {
			if v, ok := fields[name]; ok {
				return []string{v}
			}
			return query[name]
		}
	}
	a, err := documents.AppDataFromForm(names, get)
	var bad *documents.AppDataError
	if errors.As(err, &bad) {
		return documents.AppData{}, problem(http.StatusBadRequest, bad.Code, bad.Detail)
	}
	return a, nil
}

// finishBodyError answers an upload whose body could not be read to the end.
func (s *Server) finishBodyError(w http.ResponseWriter, log *slog.Logger, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooSlow):
		s.uploads.WithLabelValues("too_slow").Inc()
		log.Info("upload: body too slow", "err", err)
		w.Header().Set("Connection", "close")
		writeProblem(w, s.tooSlow())
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		s.uploads.WithLabelValues("too_large").Inc()
		writeProblem(w, tooLarge(s.Limits.MaxUploadBytes))
	case errors.Is(err, errOverQuota):
		s.uploads.WithLabelValues("over_quota").Inc()
		writeProblem(w, overQuota(s.Limits.OwnerQuotaBytes))
	default:
		s.uploads.WithLabelValues("client_gone").Inc()
		log.Info("upload: body ended early", "err", err)
		writeProblem(w, problem(http.StatusBadRequest, "incomplete_body", "The upload ended before the whole body arrived."))
	}
}

// cleanupObject deletes a stored object whose document was not committed,
// on a context that outlives the request.
func (s *Server) cleanupObject(reqCtx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), commitTimeout)
	defer cancel()
	if err := s.Store.Delete(ctx, key); err != nil {
		s.Logger.Error("upload: deleting uncommitted object (the sweeper will retry)", "key", key, "err", err)
	}
}

func (s *Server) tooSlow() *Problem {
	return problem(http.StatusRequestTimeout, "upload_too_slow", fmt.Sprintf(
		"The upload arrived slower than %d bytes/s on average after the first %s; nothing was kept.",
		s.Limits.UploadMinRate, s.Limits.UploadGrace))
}

func tooLarge(limit int64) *Problem {
	return problem(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("Uploads are limited to %d bytes.", limit))
}

func overQuota(quota int64) *Problem {
	p := problem(http.StatusTooManyRequests, "quota_exceeded",
		fmt.Sprintf("Your documents would exceed your quota of %d bytes; delete some to make room.", quota))
	p.retryAfter = quotaRetryAfter
	return p
}

func outcomeOf(p *Problem) string {
	switch {
	case p.Code == "quota_exceeded":
		return "over_quota"
	case p.Code == "too_large":
		return "too_large"
	case p.Status >= 500:
		return "database_error"
	}
	return "rejected"
}

// limitedReader stops a body at max bytes (errTooLarge) or at the owner's
// remaining quota (errOverQuota), and remembers the error its reader gave,
// so that a failed Put can tell the client's fault from S3's.
type limitedReader struct {
	r          io.Reader
	n          int64
	max, quota int64
	err        error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	switch {
	case l.n > l.max:
		l.err = errTooLarge
	case l.n > l.quota:
		l.err = errOverQuota
	case err != nil && !errors.Is(err, io.EOF):
		l.err = err
	}
	if l.err != nil {
		return 0, l.err
	}
	return n, err
}

// sanitizeFilename keeps a display name safe to store and show: the base
// name only, valid UTF-8, at most 255 bytes, no control characters and no
// format characters (bidi overrides and isolates, zero-width spaces and
// joiners: "invoice\u202Efdp.exe" would show as "invoiceexe.pdf").
func sanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == "/" || name == ".." {
		return "document.pdf"
	}
	return name
}

// contentDisposition is an attachment header for name (RFC 6266, with an
// RFC 5987 encoding for names that are not ASCII). The name ends in .pdf
// whatever the uploader called it: a download is saved as what it is.
func contentDisposition(name string) string {
	if !strings.HasSuffix(strings.ToLower(name), ".pdf") {
		name += ".pdf"
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

// answered records whether a handler wrote its answer.
type answered struct {
	http.ResponseWriter
	wrote bool
}

func (a *answered) WriteHeader(code int) {
	a.wrote = true
	a.ResponseWriter.WriteHeader(code)
}

func (a *answered) Write(b []byte) (int, error) {
	a.wrote = true
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (a *answered) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// pacedBody makes a body keep up: it may never go grace without a byte,
// and after grace it must have arrived at minRate bytes per second on
// average; otherwise its reads fail with errTooSlow. A body that stops (a
// Content-Length larger than what is sent) or trickles (1 byte/s) is cut
// off, not held forever.
type pacedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	n       int64
	minRate int64
	grace   time.Duration
	stopped func() bool // the shutdown cutoff set its own deadline: keep it
}

func (p *pacedBody) Read(b []byte) (int, error) {
	if !p.stopped() {
		due := p.start.Add(p.grace + time.Duration(float64(p.n)/float64(p.minRate)*float64(time.Second)))
		if idle := time.Now().Add(p.grace); idle.Before(due) {
			due = idle
		}
		_ = p.rc.SetReadDeadline(due)
	}
	n, err := p.ReadCloser.Read(b)
	p.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !p.stopped() {
		return n, fmt.Errorf("%w: %d bytes in %s", errTooSlow, p.n, time.Since(p.start).Round(time.Millisecond))
	}
	return n, err
}
