package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// Client talks to one Folio deployment.
type Client struct {
	// BaseURLs are the API's addresses; reconnects move to the next one.
	BaseURLs []string
	// Token is the bearer token.
	Token string
	// HTTP is used for uploads and requests; http.DefaultClient when nil.
	HTTP *http.Client

	next atomic.Uint32
}

// New returns a client for the API at baseURL.
func New(token string, baseURLs ...string) *Client {
	return &Client{BaseURLs: baseURLs, Token: token}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// base returns the address to use now; rotate moves on to the next one.
func (c *Client) base() string {
	return strings.TrimRight(c.BaseURLs[int(c.next.Load())%len(c.BaseURLs)], "/")
}

func (c *Client) rotate() { c.next.Add(1) }

// Document is the API's document (the fields a watcher needs, and the rest
// as they come).
type Document struct {
	ID        uuid.UUID       `json:"id"`
	Filename  string          `json:"filename"`
	Status    string          `json:"status"`
	SizeBytes int64           `json:"size_bytes"`
	SHA256    string          `json:"sha256"`
	PageCount *int            `json:"page_count"`
	PagesDone int             `json:"pages_done"`
	Failure   *Failure        `json:"failure,omitempty"`
	Summary   json.RawMessage `json:"summary,omitempty"`
	// OCRLanguages are the languages its scanned pages are read with.
	OCRLanguages string `json:"ocr_languages,omitempty"`
	// Scan is its last malware scan (absent: never scanned).
	Scan *Scan `json:"scan,omitempty"`
	// ExternalID and Metadata are the application's own (given at
	// upload, changed by SetAppData).
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// Scan is a document's last malware scan: Result clean, too_large, found
// (the document is quarantined) or released; Found names what was found.
type Scan struct {
	Result     string    `json:"result"`
	Found      string    `json:"found,omitempty"`
	Signatures string    `json:"signatures,omitempty"`
	ScannedAt  time.Time `json:"scanned_at"`
}

// Failure says why a document failed.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Terminal reports whether the document will not change without a reparse
// (or an operator's release of a quarantined one).
func (d *Document) Terminal() bool {
	return d.Status == "done" || d.Status == "failed" || d.Status == "canceled" || d.Status == "quarantined"
}

// Problem is an error the API answered with (RFC 9457).
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`

	retryAfter time.Duration // from Retry-After, in seconds
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

func problemOf(resp *http.Response) error {
	var p Problem
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(body, &p) != nil || p.Code == "" {
		p = Problem{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Detail: strings.TrimSpace(string(body))}
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		p.retryAfter = time.Duration(secs) * time.Second
	}
	return &p
}

// Upload sends a PDF and returns the created document. progress, when set,
// is called with the bytes sent so far.
//
// When body is an io.ReaderAt (a file, a bytes.Reader) the upload is
// resumable (UploadResumable, the tus protocol): an interruption — a
// dropped connection, an API draining in a rolling deploy or killed —
// costs what was in flight, and the rest goes to whichever API process
// answers. Any other reader is sent in one request (POST /v1/documents),
// which cannot resume.
func (c *Client) Upload(ctx context.Context, filename string, body io.Reader, size int64, progress func(sent int64)) (*Document, error) {
	if ra, ok := body.(io.ReaderAt); ok {
		return c.UploadResumable(ctx, filename, ra, size, UploadOptions{Progress: progress})
	}
	return c.uploadOneRequest(ctx, filename, body, size, progress)
}

// uploadOneRequest sends body in one request (POST /v1/documents).
func (c *Client) uploadOneRequest(ctx context.Context, filename string, body io.Reader, size int64, progress func(sent int64)) (*Document, error) {
	return c.uploadOnce(ctx, filename, body, size, progress)
}

func (c *Client) uploadOnce(ctx context.Context, filename string, body io.Reader, size int64, progress func(sent int64)) (*Document, error) {
	if progress != nil {
		progress(0)
		body = &countingReader{r: body, fn: progress}
	}
	u := c.base() + "/v1/documents?filename=" + url.QueryEscape(filename)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/pdf")
	return c.document(req, http.StatusCreated)
}

// document sends req with the token and decodes the document it answers
// with status want.
func (c *Client) document(req *http.Request, want int) (*Document, error) {
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return nil, problemOf(resp)
	}
	var d Document
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Get returns a document.
func (c *Client) Get(ctx context.Context, id uuid.UUID) (*Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/v1/documents/"+id.String(), nil)
	if err != nil {
		return nil, err
	}
	return c.document(req, http.StatusOK)
}

// AppDataPatch changes a document's application data (PATCH
// /v1/documents/{id}): a nil ExternalID leaves it, "" clears it; each
// Metadata key is set, or removed when its value is nil.
type AppDataPatch struct {
	ExternalID *string            `json:"external_id,omitempty"`
	Metadata   map[string]*string `json:"metadata,omitempty"`
}

// SetAppData changes a document's external_id and metadata.
func (c *Client) SetAppData(ctx context.Context, id uuid.UUID, p AppDataPatch) (*Document, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.base()+"/v1/documents/"+id.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	return c.document(req, http.StatusOK)
}

// Find lists the caller's documents with this external_id ("" : any) and
// these metadata values, newest first (the first page, up to 100).
func (c *Client) Find(ctx context.Context, externalID string, metadata map[string]string) ([]Document, error) {
	q := url.Values{"limit": {"100"}}
	if externalID != "" {
		q.Set("external_id", externalID)
	}
	for k, v := range metadata {
		q.Set("metadata."+k, v)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/documents?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, problemOf(resp)
	}
	var page struct {
		Documents []Document `json:"documents"`
	}
	return page.Documents, json.NewDecoder(resp.Body).Decode(&page)
}

// Delete deletes a document (its original, text and page images).
func (c *Client) Delete(ctx context.Context, id uuid.UUID) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v1/documents/"+id.String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return problemOf(resp)
	}
	return nil
}

// PageImage returns page n of a document drawn width pixels wide, as JPEG
// (widths: 256, 512, 1024, 2048). A page that could not be drawn is an
// error whose problem says why.
func (c *Client) PageImage(ctx context.Context, id uuid.UUID, n, width int) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/v1/documents/%s/pages/%d/image?width=%d", id, n, width))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, problemOf(resp)
	}
	return io.ReadAll(resp.Body)
}

// send sends a request without a body, with the token.
func (c *Client) send(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base()+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	return c.httpClient().Do(req)
}

type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

// Message is one message of an event stream: a snapshot, or an event.
type Message struct {
	Type       string    `json:"type"`
	Seq        int       `json:"seq"`
	Pos        int64     `json:"pos"`
	DocumentID uuid.UUID `json:"document_id"`
	// CreatedAt is when the event was written (the writer's transaction).
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
	// Coalesced: a parse.progress event sent in place of the progress
	// events just before it, which a stream too far behind skipped.
	Coalesced bool `json:"coalesced,omitempty"`
	// Snapshots carry the state.
	Document        *Document   `json:"document,omitempty"`
	Documents       []*Document `json:"documents,omitempty"`
	ReplayTruncated bool        `json:"replay_truncated,omitempty"`
}

// Progress is a parse.progress event's data.
type Progress struct {
	Stage      string `json:"stage"`
	PagesDone  int    `json:"pages_done"`
	PagesTotal int    `json:"pages_total"`
}

// Terminal reports whether the message ends the document's parse.
func (m *Message) Terminal() bool {
	switch m.Type {
	case "document.done", "document.failed", "document.canceled", "document.deleted", "document.quarantined":
		return true
	case "snapshot":
		return m.Document != nil && m.Document.Terminal()
	}
	return false
}

// ErrStop is what a handler returns to end a watch without an error.
var ErrStop = errors.New("stop watching")

// WatchDocument streams a document's events to fn until fn returns ErrStop
// (nil is returned) or another error, or ctx ends. It reconnects by itself.
func (c *Client) WatchDocument(ctx context.Context, id uuid.UUID, fn func(Message) error) error {
	last := -1 // nothing seen: start with a snapshot
	return c.watch(ctx, "/v1/documents/"+id.String()+"/events", func() string {
		if last < 0 {
			return ""
		}
		return strconv.Itoa(last)
	}, func(m Message) error {
		if m.Type != "snapshot" && m.Seq <= last {
			return nil // seen already
		}
		last = m.Seq
		return fn(m)
	})
}

// WatchAll streams the events of all the caller's documents.
func (c *Client) WatchAll(ctx context.Context, fn func(Message) error) error {
	var last int64 = -1
	return c.watch(ctx, "/v1/events", func() string {
		if last < 0 {
			return ""
		}
		return strconv.FormatInt(last, 10)
	}, func(m Message) error {
		if m.Type != "snapshot" && m.Pos <= last {
			return nil
		}
		last = m.Pos
		return fn(m)
	})
}

// Reconnect backoff: from 100 ms doubling to 5 s, with full jitter.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) watch(ctx context.Context, path string, after func() string, fn func(Message) error) error {
	backoff := backoffMin
	for {
		err := c.stream(ctx, path, after(), fn)
		switch {
		case errors.Is(err, ErrStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isHandlerError(err):
			return errors.Unwrap(err)
		}
		var p *Problem
		if errors.As(err, &p) && (p.Status == http.StatusNotFound || p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden) {
			return err // reconnecting cannot help
		}
		c.rotate()
		switch websocket.CloseStatus(err) {
		case websocket.StatusServiceRestart, websocket.StatusTryAgainLater, StatusCredentialsExpired:
			backoff = backoffMin
			continue // at once, elsewhere
		}
		if err := sleep(ctx, time.Duration(rand.Int64N(int64(backoff))+1)); err != nil {
			return err
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// StatusCredentialsExpired is the close code of a stream whose token
// expired: the client reconnects at once (with its token, which answers
// 401 if it has expired too).
const StatusCredentialsExpired websocket.StatusCode = 4001

type handlerError struct{ err error }

func (h handlerError) Error() string { return h.err.Error() }
func (h handlerError) Unwrap() error { return h.err }

func isHandlerError(err error) bool {
	var h handlerError
	return errors.As(err, &h)
}

func (c *Client) stream(ctx context.Context, path, after string, fn func(Message) error) error {
	u := c.base() + path
	if after != "" {
		u += "?after=" + after
	}
	u = "ws" + strings.TrimPrefix(u, "http")
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.Token)
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: c.HTTP})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return &Problem{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Detail: err.Error()}
		}
		return err
	}
	defer conn.CloseNow() //nolint:errcheck // closing after Close is a no-op
	conn.SetReadLimit(16 << 20)
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("bad message: %w", err)
		}
		if err := fn(m); err != nil {
			if errors.Is(err, ErrStop) {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return ErrStop
			}
			return handlerError{err}
		}
	}
}
