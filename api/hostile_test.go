package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// The second round of hostile inputs (docs/security.md): each test here
// failed before the fix it names.

// TestIETFDraftRefusalKeepsItsStatus: an IETF draft upload (interop
// version 5) whose body is not a PDF is refused with 415 and a problem,
// after the 104 interim answer that draft sends first; it used to go out
// as 200 with a text body.
func TestIETFDraftRefusalKeepsItsStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, draft := range []map[string]string{
		{"Upload-Draft-Interop-Version": "5", "Upload-Complete": "?1"},
		{"Upload-Draft-Interop-Version": "3", "Upload-Incomplete": "?0"},
	} {
		var interim []int
		var mu sync.Mutex
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			mu.Lock()
			interim = append(interim, code)
			mu.Unlock()
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodPost, b.url+"/v1/uploads", strings.NewReader(strings.Repeat("not a pdf ", 200)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
		req.Header.Set("Content-Type", "application/octet-stream")
		for k, v := range draft {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		requireProblem(t, resp, http.StatusUnsupportedMediaType, "not_pdf")
		if draft["Upload-Draft-Interop-Version"] == "5" {
			require.Contains(t, interim, 104, "the interim answer came first")
		}
		for _, l := range resp.Header.Values("Location") {
			require.True(t, strings.HasPrefix(l, "/"), "relative: %q", l)
		}
	}
	b.requireNothingStored(t)
	require.Zero(t, b.count(t, "SELECT count(*) FROM uploads"))
}

// TestIETFDraftLocationIsRelative: the draft's Location (in the 104 and
// the final answer) is a path, never built from the request's Host.
func TestIETFDraftLocationIsRelative(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var locations []string
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		mu.Lock()
		locations = append(locations, h.Values("Location")...)
		mu.Unlock()
		return nil
	}}
	body := pdfBytes(t, 1000)
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, b.url+"/v1/uploads", bytes.NewReader(body))
	require.NoError(t, err)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
	req.Header.Set("Upload-Draft-Interop-Version", "5")
	req.Header.Set("Upload-Complete", "?1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, resp.StatusCode, 300)
	locations = append(locations, resp.Header.Values("Location")...)
	require.NotEmpty(t, locations)
	for _, l := range locations {
		require.True(t, strings.HasPrefix(l, "/v1/uploads/"), "relative: %q", l)
		require.NotContains(t, l, "evil")
	}
}

// TestUploadIDsAreCanonical: an upload reached by another spelling of its
// id (upper case) is the same upload under the same lock: two PATCHes
// through two spellings never run at once, and the stored bytes and the
// recorded SHA-256 agree.
func TestUploadIDsAreCanonical(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 14<<20)
	other := pdfBytes(t, 14<<20)
	loc := b.tusCreate(t, "alice", int64(len(body)), nil)
	upper := "/v1/uploads/" + strings.ToUpper(strings.TrimPrefix(loc, "/v1/uploads/"))

	var wg sync.WaitGroup
	answers := make([]*http.Response, 2)
	for i, l := range []string{loc, upper} {
		data := body
		if i == 1 {
			data = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = b.tusPatch(t, "alice", l, 0, data, nil)
		}()
	}
	wg.Wait()
	var winner []byte
	for i, resp := range answers {
		if resp.StatusCode == http.StatusNoContent {
			require.Nil(t, winner, "only one of the two PATCHes can write the upload")
			winner = body
			if i == 1 {
				winner = other
			}
		}
	}
	head := b.tusHead(t, "alice", upper)
	require.Equal(t, http.StatusOK, head.StatusCode)
	if winner == nil {
		// The second asked the first to let go (it kept what it had
		// stored) and then found the offset moved (409): finish the
		// upload from there through the other spelling.
		kept, err := strconv.Atoi(head.Header.Get("Upload-Offset"))
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, b.tusPatch(t, "alice", upper, int64(kept), body[kept:], nil).StatusCode)
		head = b.tusHead(t, "alice", upper)
	}
	id := head.Header.Get("Folio-Document-Id")
	require.Equal(t, strings.TrimPrefix(loc, "/v1/uploads/"), id, "the canonical id")
	doc := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+id, "alice", nil, nil))
	stored := b.object(t, b.s3Key(t, id))
	require.Len(t, stored, len(body))
	require.Equal(t, sha(stored), doc.SHA256, "the stored bytes are the ones hashed")
	if winner != nil {
		require.Equal(t, sha(winner), doc.SHA256)
	}
}

// TestLongSubjectsCanUpload: every subject the docs allow (up to 255
// bytes) uploads on every path: S3 keys fit S3's limits.
func TestLongSubjectsCanUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, n := range []int{189, 190, 191, 200, 255} {
		sub := strings.Repeat("s", n)
		resp := b.uploadRaw(t, sub, "a.pdf", pdfBytes(t, 2000))
		require.Equal(t, http.StatusCreated, resp.StatusCode, "subject of %d bytes: one-request upload", n)
		loc := b.tusCreate(t, sub, 2000, nil)
		require.Equal(t, http.StatusNoContent, b.tusPatch(t, sub, loc, 0, pdfBytes(t, 2000), nil).StatusCode, "subject of %d bytes: tus", n)
		up := b.directCreate(t, sub, 2000)
		for _, seg := range strings.Split(up.Key, "/") {
			require.LessOrEqual(t, len(seg), 255, "a key segment a file system can hold")
		}
	}
	for _, key := range b.keys(t) {
		require.LessOrEqual(t, len(key), 1024)
		for _, seg := range strings.Split(key, "/") {
			require.LessOrEqual(t, len(seg), 255, key)
		}
	}
}

// TestNumbersOutOfRange: every numeric path and query parameter past what
// it can hold is a 4xx at the edge, never a database error.
func TestNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 2000))).ID.String()
	huge := []string{"2147483648", "9223372036854775807", "9223372036854775808", "99999999999999999999999", "-1", "-2147483649", "1e6", "0x10"}
	for _, v := range huge {
		for _, path := range []string{
			"/v1/documents/" + id + "/pages/" + v + "/image",
			"/v1/documents/" + id + "/pages/1/image?width=" + v,
			"/v1/documents/" + id + "/pages?from=" + v,
			"/v1/documents/" + id + "/pages?limit=" + v,
			"/v1/documents?limit=" + v,
			"/v1/search?q=x&limit=" + v,
		} {
			resp := b.do(t, http.MethodGet, path, "alice", nil, nil)
			require.GreaterOrEqual(t, resp.StatusCode, 400, path)
			require.Less(t, resp.StatusCode, 500, path)
		}
		for _, path := range []string{"/v1/documents/" + id + "/events?after=" + v, "/v1/events?after=" + v} {
			resp := b.do(t, http.MethodGet, path, "alice", nil, map[string]string{"Accept": "text/event-stream"})
			require.Less(t, resp.StatusCode, 500, path)
			if resp.StatusCode == http.StatusOK {
				resp.Body.Close() // a resume point past the head: a snapshot
			}
		}
	}
}

// TestConcatenationTakesOnlyUnusedPartials: a final upload may name only
// the caller's own partial uploads, finished, each once; a finished
// one-upload document's upload, another final, a partial named twice or a
// partial not finished are refused with a specific 4xx, and nothing named
// is consumed.
func TestConcatenationTakesOnlyUnusedPartials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	final := func(sub string, parts ...string) *http.Response {
		return b.do(t, http.MethodPost, "/v1/uploads", sub, nil,
			map[string]string{"Tus-Resumable": "1.0.0", "Upload-Concat": "final;" + strings.Join(parts, " ")})
	}
	partial := func(data []byte) string {
		loc := b.tusCreate(t, "alice", int64(len(data)), map[string]string{"Upload-Concat": "partial"})
		require.Equal(t, http.StatusNoContent, b.tusPatch(t, "alice", loc, 0, data, nil).StatusCode)
		return loc
	}
	body := pdfBytes(t, 3000)
	p1, p2 := partial(body[:1000]), partial(body[1000:])
	whole := b.tusCreate(t, "alice", 2000, nil) // not a partial
	require.Equal(t, http.StatusNoContent, b.tusPatch(t, "alice", whole, 0, pdfBytes(t, 2000), nil).StatusCode)
	unfinished := b.tusCreate(t, "alice", 5000, map[string]string{"Upload-Concat": "partial"})
	before := b.count(t, "SELECT count(*) FROM uploads")

	requireProblem(t, final("alice", p1, p1, p2), http.StatusBadRequest, "bad_concatenation")
	requireProblem(t, final("alice", p1, whole), http.StatusBadRequest, "bad_concatenation")
	requireProblem(t, final("alice", p1, unfinished), http.StatusBadRequest, "upload_not_finished")
	require.Equal(t, http.StatusNotFound, final("mallory", p1, p2).StatusCode)
	require.Equal(t, before, b.count(t, "SELECT count(*) FROM uploads"), "nothing consumed")
	require.Equal(t, http.StatusOK, b.tusHead(t, "alice", whole).StatusCode, "the named upload is still there")

	ok := final("alice", p1, p2)
	require.Equal(t, http.StatusCreated, ok.StatusCode)
	// A final cannot be a part of another final, nor can a used partial.
	requireProblem(t, final("alice", ok.Header.Get("Location")), http.StatusBadRequest, "bad_concatenation")
	require.Equal(t, http.StatusNotFound, final("alice", p1).StatusCode, "a partial is used once")
	doc := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+ok.Header.Get("Folio-Document-Id"), "alice", nil, nil))
	require.Equal(t, sha(body), doc.SHA256)
}

// TestTusMethodOverride: a POST with X-HTTP-Method-Override (what
// tus-js-client's overridePatchMethod sends through proxies that drop
// PATCH) is served as that method, on the tus routes only.
func TestTusMethodOverride(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 3000)
	loc := b.tusCreate(t, "alice", int64(len(body)), nil)
	resp := b.do(t, http.MethodPost, loc, "alice", bytes.NewReader(body[:1000]), map[string]string{
		"X-HTTP-Method-Override": "PATCH", "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "1000", resp.Header.Get("Upload-Offset"))
	resp = b.do(t, http.MethodPost, loc, "alice", nil, map[string]string{"X-HTTP-Method-Override": "HEAD", "Tus-Resumable": "1.0.0"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "1000", resp.Header.Get("Upload-Offset"))
	requireProblem(t, b.do(t, http.MethodPost, loc, "alice", nil, map[string]string{"X-HTTP-Method-Override": "GET", "Tus-Resumable": "1.0.0"}),
		http.StatusMethodNotAllowed, "method_not_allowed")
	resp = b.do(t, http.MethodPost, loc, "alice", nil, map[string]string{"X-HTTP-Method-Override": "DELETE", "Tus-Resumable": "1.0.0"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, http.StatusNotFound, b.tusHead(t, "alice", loc).StatusCode)
	// Elsewhere the header changes nothing.
	id := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 2000))).ID.String()
	resp = b.do(t, http.MethodGet, "/v1/documents/"+id, "alice", nil, map[string]string{"X-HTTP-Method-Override": "DELETE"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/documents/"+id, "alice", nil, nil).StatusCode)
}

// TestSearchLengthInCharacters: the query limit is 500 characters, not
// bytes: 500 CJK characters are a query, 501 are not.
func TestSearchLengthInCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for n, want := range map[int]int{167: 200, 500: 200, 501: 400} {
		q := strings.Repeat("東", n)
		resp := b.do(t, http.MethodGet, "/v1/search?q="+q, "alice", nil, nil)
		require.Equal(t, want, resp.StatusCode, "%d characters (%d bytes)", n, len(q))
	}
}

// keys lists every object in the bundle's bucket.
func (b *testBundle) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, b.bucket.Store.EachObject(context.Background(), "", func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			out = append(out, o.Key)
		}
		return nil
	}))
	return out
}

// TestRefusedStreamKeepsItsTicket: a stream request refused for its
// transport (no Upgrade, no Accept), its Origin or its resume point does
// not use up the single-use ticket it carried; the ticket then opens a
// stream once.
func TestRefusedStreamKeepsItsTicket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tk := decode[struct{ Ticket string }](t, b.do(t, http.MethodPost, "/v1/events/tickets", "alice", nil, nil))
	path := "/v1/events?ticket=" + tk.Ticket
	requireProblem(t, b.do(t, http.MethodGet, path, "", nil, nil), http.StatusNotAcceptable, "stream_transport")
	_, resp, err := b.ws(t, path, "", http.Header{"Origin": {"https://evil.example"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	requireProblem(t, b.do(t, http.MethodGet, path+"&after=x", "", nil, map[string]string{"Accept": "text/event-stream"}),
		http.StatusBadRequest, "bad_resume")
	c, _, err := b.ws(t, path, "", nil)
	require.NoError(t, err, "the ticket is still good")
	require.Equal(t, "snapshot", readMsg(t, c).Type)
	_, resp, err = b.ws(t, path, "", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "and used once")
}

// TestDeferredLengthUploadCountsAsItGrows: an upload whose length is not
// declared counts what it holds against the quota: the PATCH that would
// pass it keeps the bytes that fit and is refused (413 quota_exceeded); a
// length past the room is refused; and every other upload path sees the
// room it took.
func TestDeferredLengthUploadCountsAsItGrows(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.OwnerQuotaBytes = 10_000 })
	resp := b.do(t, http.MethodPost, "/v1/uploads", "alice", nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Defer-Length": "1"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")
	body := pdfBytes(t, 12_000)
	require.Equal(t, http.StatusNoContent, b.tusPatch(t, "alice", loc, 0, body[:6000], nil).StatusCode)
	requireProblem(t, b.tusPatch(t, "alice", loc, 6000, body[6000:], nil), http.StatusRequestEntityTooLarge, "quota_exceeded")
	require.Equal(t, "10000", b.tusHead(t, "alice", loc).Header.Get("Upload-Offset"), "the bytes that fit are kept")
	requireProblem(t, b.tusPatch(t, "alice", loc, 10_000, body[10_000:], map[string]string{"Upload-Length": "12000"}),
		http.StatusRequestEntityTooLarge, "quota_exceeded")

	// The room is gone for every path.
	requireProblem(t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)), http.StatusTooManyRequests, "quota_exceeded")
	requireProblem(t, b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "a.pdf", "size": 100}),
		http.StatusTooManyRequests, "quota_exceeded")
	resp = b.do(t, http.MethodPost, "/v1/uploads", "alice", nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "100"})
	requireProblem(t, resp, http.StatusTooManyRequests, "quota_exceeded")

	// Declaring what it holds finishes it, within the quota.
	resp = b.tusPatch(t, "alice", loc, 10_000, nil, map[string]string{"Upload-Length": "10000"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Folio-Document-Id"))
}

// countingDoer counts the S3 requests in flight, by method.
type countingDoer struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	mu      sync.Mutex
	now     map[string]int
	maxSeen map[string]int
}

func (c *countingDoer) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.now[r.Method]++
	c.maxSeen[r.Method] = max(c.maxSeen[r.Method], c.now[r.Method])
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.now[r.Method]--
		c.mu.Unlock()
	}()
	resp, err := c.next.Do(r)
	if err == nil && r.Method == http.MethodGet {
		// A read holds its connection until its body is read.
		resp.Body = &countedBody{ReadCloser: resp.Body, c: c}
		c.mu.Lock()
		c.now["GET body"]++
		c.maxSeen["GET body"] = max(c.maxSeen["GET body"], c.now["GET body"])
		c.mu.Unlock()
	}
	return resp, err
}

type countedBody struct {
	io.ReadCloser
	c    *countingDoer
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.c.mu.Lock()
		b.c.now["GET body"]--
		b.c.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

// TestConcatenationOfTheMostPartialsReadsOneAtATime: a final upload naming
// the most partial uploads allowed completes, reading one partial's object
// at a time (no request opens a read per partial); one more is refused
// before anything is read.
func TestConcatenationOfTheMostPartialsReadsOneAtATime(t *testing.T) {
	t.Parallel()
	const most = 40
	doer := &countingDoer{now: map[string]int{}, maxSeen: map[string]int{}}
	b := setup(t, func(o *setupOpts) {
		o.limits.ResumableMaxPartials = most
		bucket := testenv.S3(t)
		client := s3.New(bucket.Client.Options(), func(so *s3.Options) {
			doer.next = so.HTTPClient
			so.HTTPClient = doer
		})
		o.store = storage.New(client, bucket.Name, storage.Options{PartSize: 6 << 20, PartsInFlight: 2})
		o.bucket = bucket
	})
	body := pdfBytes(t, most*500)
	var parts []string
	for i := range most {
		chunk := body[i*500 : (i+1)*500]
		loc := b.tusCreate(t, "alice", int64(len(chunk)), map[string]string{"Upload-Concat": "partial"})
		require.Equal(t, http.StatusNoContent, b.tusPatch(t, "alice", loc, 0, chunk, nil).StatusCode)
		parts = append(parts, loc)
	}
	requireProblem(t, b.do(t, http.MethodPost, "/v1/uploads", "alice", nil, map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Concat": "final;" + strings.Join(append(parts, parts[0]), " ")}), http.StatusBadRequest, "bad_concatenation")
	doer.mu.Lock()
	doer.maxSeen = map[string]int{}
	doer.mu.Unlock()
	resp := b.do(t, http.MethodPost, "/v1/uploads", "alice", nil, map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Concat": "final;" + strings.Join(parts, " ")})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	doc := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+resp.Header.Get("Folio-Document-Id"), "alice", nil, nil))
	require.Equal(t, sha(body), doc.SHA256)
	doer.mu.Lock()
	defer doer.mu.Unlock()
	require.Equal(t, 1, doer.maxSeen["GET body"], "one partial's object open at a time: %v", doer.maxSeen)
}
