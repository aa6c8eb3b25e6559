package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// UploadOptions tune UploadResumable.
type UploadOptions struct {
	// Progress, when set, is called with the bytes the server holds plus
	// those sent in the request under way.
	Progress func(sent int64)
	// URL, when set, resumes that upload (OnCreated gave it to an
	// earlier run); a URL the server no longer knows starts a new one.
	URL string
	// OnCreated, when set, is called with a new upload's URL as soon as
	// the server made it: keep it to resume after the process is gone.
	OnCreated func(url string)
	// ChunkSize is the most bytes one PATCH carries; zero: the whole
	// rest of the file in one request.
	ChunkSize int64
	// Retries bounds the failed requests in a row before giving up
	// (zero: 8).
	Retries int
	// Stats, when set, counts what was sent.
	Stats *UploadStats
	// OCRLanguages, when set, are the languages the document's scanned
	// pages are read with ("deu", "deu+eng"; Upload-Metadata ocr_languages).
	OCRLanguages string
	// ExternalID and Metadata are the application's own, kept on the
	// document (Upload-Metadata external_id, and one key per entry).
	ExternalID string
	Metadata   map[string]string
}

// UploadStats count a resumable upload's requests.
type UploadStats struct {
	// BytesSent is every byte of the file read into a request body,
	// including those sent again after an interruption.
	BytesSent atomic.Int64
	// Resent is the bytes sent more than once: sent in a request, then
	// not kept by the server (it told a smaller offset, or the request
	// failed and the server held less than was sent).
	Resent atomic.Int64
	// Resumes counts the times the upload asked the server where it was
	// (HEAD) after an interruption.
	Resumes atomic.Int64
}

// UploadResumable uploads file with the tus protocol (POST /v1/uploads,
// then PATCHes): a dropped connection, an API process restarting (its
// drain answers with the offset it kept) or killed costs at most what was
// in flight, not the whole file. The next request may go to any API
// process (the next address on a connection failure). It returns the
// document once the last byte is in.
func (c *Client) UploadResumable(ctx context.Context, filename string, file io.ReaderAt, size int64, opts UploadOptions) (*Document, error) {
	retries := opts.Retries
	if retries == 0 {
		retries = 8
	}
	stats := opts.Stats
	if stats == nil {
		stats = &UploadStats{}
	}
	loc, offset := opts.URL, int64(-1)
	failures := 0
	backoff := backoffMin
	// A failed PATCH: where it started and what it sent, until a HEAD
	// tells what the server kept.
	var failedFrom, failedSent int64 = -1, 0
	fail := func(err error) error {
		failures++
		if failures > retries {
			return err
		}
		c.rotate()
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		backoff = min(backoff*2, backoffMax)
		offset = -1
		return sleep(ctx, wait)
	}
	// create makes the upload, again after a 5xx (nothing was kept) or a
	// network failure (an upload made before the answer was lost expires
	// unused), like the requests after it.
	create := func() (string, error) {
		for {
			loc, err := c.createUpload(ctx, filename, size, opts)
			if err == nil || !retryable(err) {
				return loc, err
			}
			if err := fail(err); err != nil {
				return "", err
			}
		}
	}
	if loc == "" {
		var err error
		if loc, err = create(); err != nil {
			return nil, err
		}
		failures, backoff, offset = 0, backoffMin, 0
	}
	for {
		if offset < 0 {
			stats.Resumes.Add(1)
			off, id, err := c.uploadOffset(ctx, loc)
			var p *Problem
			switch {
			case errors.As(err, &p) && (p.Status == http.StatusNotFound || p.Status == http.StatusGone) && opts.URL != "":
				// Gone (expired): start over, once.
				opts.URL = ""
				if loc, err = create(); err != nil {
					return nil, err
				}
				failures, backoff, offset = 0, backoffMin, 0
				continue
			case err != nil && retryable(err):
				if err := fail(err); err != nil {
					return nil, err
				}
				continue
			case err != nil:
				return nil, err
			}
			if id != uuid.Nil {
				return c.Get(ctx, id)
			}
			if failedFrom >= 0 {
				stats.Resent.Add(max(0, failedSent-(off-failedFrom)))
				failedFrom = -1
			}
			offset = off
		}
		n := size - offset
		if opts.ChunkSize > 0 {
			n = min(n, opts.ChunkSize)
		}
		before := stats.BytesSent.Load()
		next, id, err := c.patch(ctx, loc, file, offset, n, stats, opts.Progress)
		sent := stats.BytesSent.Load() - before
		if err != nil {
			failedFrom, failedSent = offset, sent
			if !retryable(err) {
				return nil, err
			}
			if err := fail(err); err != nil {
				return nil, err
			}
			continue
		}
		failures, backoff = 0, backoffMin
		if id != uuid.Nil {
			return c.Get(ctx, id)
		}
		stats.Resent.Add(max(0, sent-(next-offset)))
		offset = next
	}
}

// retryable: a network failure, a 5xx, 409 (the offset moved: ask), 423
// (locked: the previous request on it is still ending) or 429 with
// Retry-After.
func retryable(err error) bool {
	var p *Problem
	if !errors.As(err, &p) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return p.Status >= 500 || p.Status == http.StatusConflict || p.Status == http.StatusLocked
}

func (c *Client) createUpload(ctx context.Context, filename string, size int64, opts UploadOptions) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/v1/uploads", nil)
	if err != nil {
		return "", err
	}
	c.tusHeaders(req)
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte(filename))
	if opts.OCRLanguages != "" {
		meta += ",ocr_languages " + base64.StdEncoding.EncodeToString([]byte(opts.OCRLanguages))
	}
	if opts.ExternalID != "" {
		meta += ",external_id " + base64.StdEncoding.EncodeToString([]byte(opts.ExternalID))
	}
	for k, v := range opts.Metadata {
		if k == "filename" || k == "name" || k == "filetype" || k == "ocr_languages" || k == "external_id" || strings.ContainsAny(k, " ,") {
			return "", fmt.Errorf("metadata key %q cannot go in Upload-Metadata (reserved, or holds a space or comma)", k)
		}
		meta += "," + k + " " + base64.StdEncoding.EncodeToString([]byte(v))
	}
	req.Header.Set("Upload-Metadata", meta)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", problemOf(resp)
	}
	loc, err := c.resolve(resp.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	if opts.OnCreated != nil {
		opts.OnCreated(loc)
	}
	return loc, nil
}

// resolve makes a Location absolute (the API sends a path).
func (c *Client) resolve(loc string) (string, error) {
	base, err := url.Parse(c.base() + "/")
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(loc)
	if err != nil || loc == "" {
		return "", fmt.Errorf("folio: the upload's Location %q is not a URL", loc)
	}
	return base.ResolveReference(ref).String(), nil
}

// onBase moves an upload URL onto the current address (the upload lives
// in the database: any API process serves it).
func (c *Client) onBase(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	b, err := url.Parse(c.base())
	if err != nil {
		return loc
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String()
}

func (c *Client) tusHeaders(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Tus-Resumable", "1.0.0")
}

// uploadOffset asks where an upload is (HEAD): its offset, or its
// document when it is done.
func (c *Client) uploadOffset(ctx context.Context, loc string) (int64, uuid.UUID, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.onBase(loc), nil)
	if err != nil {
		return 0, uuid.Nil, err
	}
	c.tusHeaders(req)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, uuid.Nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, uuid.Nil, &Problem{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Detail: "HEAD " + loc}
	}
	if id, err := uuid.Parse(resp.Header.Get("Folio-Document-Id")); err == nil {
		return 0, id, nil
	}
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return 0, uuid.Nil, fmt.Errorf("folio: HEAD %s: no Upload-Offset", loc)
	}
	return off, uuid.Nil, nil
}

// patch sends n bytes of file from offset; it returns the new offset, or
// the document's id when that was the last of them.
func (c *Client) patch(ctx context.Context, loc string, file io.ReaderAt, offset, n int64, stats *UploadStats, progress func(int64)) (int64, uuid.UUID, error) {
	counter := &sentCounter{r: io.NewSectionReader(file, offset, n), stats: stats}
	// Once answered, the request reads no more of the file (Go's
	// transport may still be writing the body when the answer comes):
	// what was sent is then final.
	defer counter.close()
	var body io.Reader = counter
	if progress != nil {
		progress(offset)
		body = &countingReader{r: body, n: offset, fn: progress}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.onBase(loc), body)
	if err != nil {
		return 0, uuid.Nil, err
	}
	req.ContentLength = n
	c.tusHeaders(req)
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, uuid.Nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return 0, uuid.Nil, problemOf(resp)
	}
	if id, err := uuid.Parse(resp.Header.Get("Folio-Document-Id")); err == nil {
		return 0, id, nil
	}
	next, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || next < offset {
		return 0, uuid.Nil, fmt.Errorf("folio: PATCH %s: bad Upload-Offset %q", loc, resp.Header.Get("Upload-Offset"))
	}
	return next, uuid.Nil, nil
}

type sentCounter struct {
	r      io.Reader
	stats  *UploadStats
	mu     sync.Mutex
	closed bool
}

var errAnswered = errors.New("folio: the request was answered")

func (s *sentCounter) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errAnswered
	}
	n, err := s.r.Read(p)
	s.stats.BytesSent.Add(int64(n))
	return n, err
}

// close stops the reads; when it returns, BytesSent has every byte this
// request read.
func (s *sentCounter) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
