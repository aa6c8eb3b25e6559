package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/internal/pdftest"
)

var (
	noisyFull   = flag.Bool("noisy.full", false, "TestNoisyNeighbours: every abuse at full size, one at a time and all at once, with the bounds checked (make noisy)")
	noisyReport = flag.String("noisy.report", "", "write TestNoisyNeighbours' table to this file too")
	noisyOnly   = flag.String("noisy.only", "", `TestNoisyNeighbours: run only the abuses whose name holds this ("all": only all of them at once)`)
)

// noisySize is how big the abuses are: full (make noisy, the sizes the
// issue measured) or short (make test: the same kinds, smaller).
type noisySize struct {
	slice        time.Duration // FOLIO_FAIR_SLICE
	concatNames  int           // one partial named this often in a final
	imagePages   int           // pages of the document whose images are asked for, ×3 widths
	scanPages    int           // pages of the scan to OCR
	bombs, depth int           // nested-form files and their depth (fan-out 10)
	hold         time.Duration // how long an abuse runs before the victim starts
}

var (
	fullNoisy  = noisySize{slice: 5 * time.Second, concatNames: 20_500, imagePages: 300, scanPages: 300, bombs: 4, depth: 7, hold: 3 * time.Second}
	shortNoisy = noisySize{slice: 2 * time.Second, concatNames: 2_000, imagePages: 40, scanPages: 12, bombs: 2, depth: 6, hold: time.Second}
)

// neighbourhood is one stack (an api and a worker, real binaries) with a
// victim (alice, who does nothing wrong) and an abuser (mallory).
type neighbourhood struct {
	t        *testing.T
	ctx      context.Context
	st       stack
	base     string
	size     noisySize
	victim   string
	mallory  string
	readyBad atomic.Int64 // /readyz answers other than 200
	victim5x atomic.Int64 // 5xx answered to the victim
	imageDoc string       // the victim's done document, for on-demand images
	nextImg  int
	stopped  chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// stopWatching ends the /readyz watch and the abuses' loops.
func (n *neighbourhood) stopWatching() {
	n.stopOnce.Do(func() { close(n.stopped); n.wg.Wait() })
}

func newNeighbourhood(ctx context.Context, t *testing.T, size noisySize) *neighbourhood {
	t.Helper()
	st := startStack(t, "FOLIO_RENDER=on", "FOLIO_FAIR_SLICE="+size.slice.String(), "FOLIO_WORKER_CONCURRENCY=2",
		"FOLIO_OCR_CONCURRENCY=1", "FOLIO_RENDER_CONCURRENCY=2", "FOLIO_UPLOAD_RATE_LIMIT=1000")
	n := &neighbourhood{t: t, ctx: ctx, st: st, base: "http://" + st.apiAddr, size: size, stopped: make(chan struct{})}
	var err error
	n.victim, err = auth.Sign([]byte(testSecret), "alice", 2*time.Hour)
	require.NoError(t, err)
	n.mallory, err = auth.Sign([]byte(testSecret), "mallory", 2*time.Hour)
	require.NoError(t, err)
	// /readyz watched all along, as a load balancer would.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		c := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-n.stopped:
				return
			case <-time.After(250 * time.Millisecond):
			}
			resp, err := c.Get(n.base + "/readyz")
			if err != nil || resp.StatusCode != http.StatusOK {
				n.readyBad.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	t.Cleanup(n.stopWatching)
	n.imageDoc = n.victimUpload(pdftest.TextPages(pages(12, "alice's page")...))
	n.waitDone(n.victim, n.imageDoc)
	return n
}

// close stops the stack's processes (their clean-ups wait for them).
func (n *neighbourhood) close() {
	n.stopWatching()
	for _, p := range []*proc{n.st.worker, n.st.api} {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func pages(n int, text string) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = []string{fmt.Sprintf("%s %d", text, i+1)}
	}
	return out
}

// do sends a request as tok and returns the status and body; for the
// victim, a 5xx is counted.
func (n *neighbourhood) do(tok, method, path string, body []byte, header map[string]string) (int, []byte) {
	req, err := http.NewRequestWithContext(n.ctx, method, n.base+path, bytes.NewReader(body))
	require.NoError(n.t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if n.ctx.Err() != nil {
			return 0, nil
		}
		require.NoError(n.t, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if tok == n.victim && resp.StatusCode >= 500 {
		n.victim5x.Add(1)
		n.t.Logf("victim got %d on %s %s: %s", resp.StatusCode, method, path, out)
	}
	return resp.StatusCode, out
}

func (n *neighbourhood) upload(tok string, data []byte) string {
	code, body := n.do(tok, http.MethodPost, "/v1/documents?filename=f.pdf", data, map[string]string{"Content-Type": "application/pdf"})
	require.Equal(n.t, http.StatusCreated, code, "%s", body)
	var d docJSON
	require.NoError(n.t, json.Unmarshal(body, &d))
	return d.ID
}

func (n *neighbourhood) victimUpload(data []byte) string { return n.upload(n.victim, data) }

type docState struct {
	Status string `json:"status"`
	OCR    *struct {
		Status string `json:"status"`
	} `json:"ocr"`
	Failure *struct{ Code, Message string } `json:"failure"`
}

func (n *neighbourhood) state(tok, id string) docState {
	code, body := n.do(tok, http.MethodGet, "/v1/documents/"+id, nil, nil)
	require.Equal(n.t, http.StatusOK, code, "%s", body)
	var d docState
	require.NoError(n.t, json.Unmarshal(body, &d))
	return d
}

func (n *neighbourhood) waitFor(tok, id, what string, ok func(docState) bool) {
	deadline := time.Now().Add(15 * time.Minute)
	for {
		d := n.state(tok, id)
		if ok(d) {
			return
		}
		require.False(n.t, d.Status == "failed", "%s failed: %+v", id, d.Failure)
		require.True(n.t, time.Now().Before(deadline), "%s never %s", id, what)
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *neighbourhood) waitDone(tok, id string) {
	n.waitFor(tok, id, "done", func(d docState) bool { return d.Status == "done" })
}

// eventGap is the time between two events of a document, as recorded.
func (n *neighbourhood) eventGap(id, from, to string) time.Duration {
	var d time.Duration
	var a, b time.Time
	q := `SELECT created_at FROM document_events WHERE document_id = $1 AND type = $2 ORDER BY seq LIMIT 1`
	require.NoError(n.t, n.st.db.Pool.QueryRow(n.ctx, q, id, from).Scan(&a))
	require.NoError(n.t, n.st.db.Pool.QueryRow(n.ctx, q, id, to).Scan(&b))
	d = b.Sub(a)
	return d
}

// victimFigures is what alice sees: her 1-page PDF from upload to done and
// her 1-page scan from upload to its OCR done (as the system recorded
// them), an on-demand page image (the request's time), and /readyz.
type victimFigures struct {
	parse, scanParse, ocr, image time.Duration
}

func (n *neighbourhood) measure(scan []byte) victimFigures {
	var f victimFigures
	// One after the other, as three people would: each figure is what one
	// upload sees, not what alice's own two uploads do to each other.
	doc := n.victimUpload(pdftest.TextPages([]string{"alice writes one page"}))
	n.waitDone(n.victim, doc)
	f.parse = n.eventGap(doc, "document.queued", "document.done")
	scanned := n.victimUpload(scan)
	n.waitFor(n.victim, scanned, "read by OCR", func(d docState) bool { return d.OCR != nil && d.OCR.Status == "done" })
	// The scan: its parse (a parse like any other), then its OCR from
	// when it was queued (the parse's end) to when it was read.
	f.scanParse = n.eventGap(scanned, "document.queued", "document.done")
	f.ocr = n.eventGap(scanned, "document.done", "ocr.done")
	if testing.Verbose() {
		n.timeline(scanned)
	}
	// A page image not drawn yet: rendered on demand.
	widths := []int{512, 1024, 2048}
	page, width := n.nextImg%12+1, widths[(n.nextImg/12)%3]
	n.nextImg++
	began := time.Now()
	code, body := n.do(n.victim, http.MethodGet, fmt.Sprintf("/v1/documents/%s/pages/%d/image?width=%d", n.imageDoc, page, width), nil, nil)
	f.image = time.Since(began)
	require.Equal(n.t, http.StatusOK, code, "%s", body)
	return f
}

// abuse is one thing mallory does; start returns once it is under way
// (and keeps it going until ctx ends).
type abuse struct {
	name  string
	start func(ctx context.Context, n *neighbourhood)
}

// loop runs fn until ctx ends, in its own goroutine.
func (n *neighbourhood) loop(ctx context.Context, fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for ctx.Err() == nil {
			fn()
		}
	}()
}

func abuses(size noisySize, scanJPEG []byte) []abuse {
	return []abuse{
		{"a final upload naming one partial upload " + strconv.Itoa(size.concatNames) + " times", func(ctx context.Context, n *neighbourhood) {
			// A 9-byte partial upload, its bytes sent with its creation.
			resp, err := http.DefaultClient.Do(mustReq(n, http.MethodPost, "/v1/uploads", n.mallory, []byte("%PDF-1.7\n"),
				map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "9", "Upload-Concat": "partial",
					"Content-Type": "application/offset+octet-stream"}))
			require.NoError(n.t, err)
			resp.Body.Close()
			require.Equal(n.t, http.StatusCreated, resp.StatusCode)
			loc := resp.Header.Get("Location")
			names := strings.TrimSpace(strings.Repeat(loc+" ", size.concatNames))
			n.loop(ctx, func() { // as often as the upload rate limit's default allows: 20 a minute
				code, _ := n.do(n.mallory, http.MethodPost, "/v1/uploads", nil, map[string]string{"Tus-Resumable": "1.0.0",
					"Upload-Concat": "final;" + names})
				if code != http.StatusBadRequest && ctx.Err() == nil {
					n.t.Errorf("a final naming one partial %d times: %d, not 400", size.concatNames, code)
				}
				sleepCtx(ctx, 3*time.Second)
			})
		}},
		{fmt.Sprintf("%d page images (%d pages × 3 widths) of one document", 3*size.imagePages, size.imagePages), func(ctx context.Context, n *neighbourhood) {
			id := n.upload(n.mallory, pdftest.TextPages(pages(size.imagePages, "mallory's page")...))
			n.waitDone(n.mallory, id)
			// Eight at a time, each image until it comes, as a client
			// would: after a 429 or a 503, it waits as it is told.
			var next atomic.Int64
			for range 8 {
				n.loop(ctx, func() {
					i := int(next.Add(1)-1) % (3 * size.imagePages)
					path := fmt.Sprintf("/v1/documents/%s/pages/%d/image?width=%d", id, i%size.imagePages+1, []int{512, 1024, 2048}[i/size.imagePages])
					for ctx.Err() == nil {
						code, _ := n.do(n.mallory, http.MethodGet, path, nil, nil)
						if code == http.StatusOK || code == 0 {
							return
						}
						sleepCtx(ctx, 2*time.Second)
					}
				})
			}
		}},
		{fmt.Sprintf("one %d-page scan (one image on every page)", size.scanPages), func(ctx context.Context, n *neighbourhood) {
			data, err := pdftest.RepeatedScan(scanJPEG, 300, size.scanPages)
			require.NoError(n.t, err)
			id := n.upload(n.mallory, data)
			n.waitFor(n.mallory, id, "reading", func(d docState) bool { return d.OCR != nil && d.OCR.Status == "running" })
		}},
		{fmt.Sprintf("%d PDFs of form XObjects nested %d deep (fan-out 10)", size.bombs, size.depth), func(ctx context.Context, n *neighbourhood) {
			var ids []string
			for range size.bombs {
				ids = append(ids, n.upload(n.mallory, pdftest.NestedForms(size.depth, 10)))
			}
			n.waitFor(n.mallory, ids[0], "parsing", func(d docState) bool { return d.Status != "queued" })
		}},
		{"page images of a document still parsing, pages 1e6, 2e6, 2^31−1", func(ctx context.Context, n *neighbourhood) {
			id := n.upload(n.mallory, pdftest.LongDocument("mallory", 2000, 40))
			n.loop(ctx, func() {
				for _, p := range []string{"1000000", "2000000", "2147483647"} {
					code, body := n.do(n.mallory, http.MethodGet, "/v1/documents/"+id+"/pages/"+p+"/image?width=512", nil, nil)
					if ctx.Err() == nil && code != http.StatusConflict && code != http.StatusNotFound {
						n.t.Errorf("page %s of a document not parsed: %d %s", p, code, body)
					}
				}
				sleepCtx(ctx, time.Second)
			})
		}},
		{"a direct upload declaring 1 byte, then 5 MiB parts", func(ctx context.Context, n *neighbourhood) {
			n.loop(ctx, func() {
				code, body := n.do(n.mallory, http.MethodPost, "/v1/direct-uploads", []byte(`{"filename":"a.pdf","size":1}`),
					map[string]string{"Content-Type": "application/json"})
				defer sleepCtx(ctx, 3*time.Second) // 20 a minute
				if code != http.StatusCreated {
					return // the pending cap: a 429
				}
				var up struct{ Key, URL string }
				require.NoError(n.t, json.Unmarshal(body, &up))
				for part := 2; part <= 3; part++ {
					code, _ := n.do(n.mallory, http.MethodPost, "/v1/direct-uploads/sign",
						[]byte(fmt.Sprintf(`{"method":"PUT","key":%q,"uploadId":"x","partNumber":%d}`, up.Key, part)),
						map[string]string{"Content-Type": "application/json"})
					if ctx.Err() == nil && code != http.StatusRequestEntityTooLarge && code != http.StatusForbidden {
						n.t.Errorf("part %d of a 1-byte direct upload signed: %d", part, code)
					}
				}
			})
		}},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func mustReq(n *neighbourhood, method, path, tok string, body []byte, header map[string]string) *http.Request {
	req, err := http.NewRequestWithContext(n.ctx, method, n.base+path, bytes.NewReader(body))
	require.NoError(n.t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// TestNoisyNeighbours: real binaries; one owner (mallory) runs each abuse
// found by the fair-share issue, then all at once, while another (alice)
// uploads a 1-page PDF, a 1-page scan and asks for a page image. Alice's
// figures beside the same with nobody abusing, from the same run.
// make test runs a short form (smaller abuses, all at once, 2 s slices):
// alice's work all ends, /readyz never fails, she gets no 5xx. make noisy
// runs every abuse at full size and checks the bounds: a 1-page PDF done
// within 2× its idle time plus a slice, a 1-page scan's OCR within one
// slice of its idle time, a page image within 2 s.
func TestNoisyNeighbours(t *testing.T) {
	t.Parallel()
	size := shortNoisy
	if *noisyFull {
		size = fullNoisy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	if _, err := os.Stat("/usr/bin/pdftoppm"); err != nil {
		requireOrSkip(t, err)
	}
	jpegs, err := pdftest.PageJPEGs(ctx, pdftest.TextPages([]string{"The quick brown fox jumps over the lazy dog."}), 300)
	require.NoError(t, err)
	scan, err := pdftest.Scanned(300, jpegs[0])
	require.NoError(t, err)

	type row struct {
		name string
		f    victimFigures
	}
	var rows []row
	idle := newNeighbourhood(ctx, t, size)
	idle.measure(scan) // warm: the first of anything pays for starting children
	rows = append(rows, row{"nobody abusing", idle.measure(scan)})
	idle.stopWatching()
	require.Zero(t, idle.readyBad.Load())
	idle.close()
	base := rows[0].f
	all := abuses(size, jpegs[0])
	scenarios := [][]abuse{all} // all at once
	if *noisyFull {
		scenarios = nil
		for _, a := range all {
			if *noisyOnly != "all" && strings.Contains(a.name, *noisyOnly) {
				scenarios = append(scenarios, []abuse{a})
			}
		}
		if *noisyOnly == "" || *noisyOnly == "all" {
			scenarios = append(scenarios, all)
		}
	}
	for _, sc := range scenarios {
		name := "all of them at once"
		if len(sc) == 1 {
			name = sc[0].name
		}
		n := newNeighbourhood(ctx, t, size)
		actx, stop := context.WithCancel(ctx)
		for _, a := range sc {
			a.start(actx, n)
		}
		time.Sleep(size.hold)
		f := n.measure(scan)
		stop()
		n.stopWatching()
		rows = append(rows, row{name, f})
		t.Logf("%s: parse %s, scan parse %s, OCR %s, image %s", name, f.parse.Round(time.Millisecond), f.scanParse.Round(time.Millisecond),
			f.ocr.Round(time.Millisecond), f.image.Round(time.Millisecond))
		require.Zero(t, n.readyBad.Load(), "%s: /readyz failed", name)
		require.Zero(t, n.victim5x.Load(), "%s: 5xx answered to the victim", name)
		n.close() // what this abuse left queued must not weigh on the next one
		if *noisyFull {
			require.LessOrEqual(t, f.parse, 2*base.parse+size.slice, "%s: the 1-page PDF", name)
			require.LessOrEqual(t, f.scanParse, 2*base.scanParse+size.slice, "%s: the 1-page scan's parse", name)
			require.LessOrEqual(t, f.ocr, base.ocr+size.slice, "%s: the 1-page scan's OCR", name)
			require.LessOrEqual(t, f.image, 2*time.Second, "%s: the page image", name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| what mallory does | alice's 1-page PDF, upload → done | alice's 1-page scan, upload → done | its OCR, queued → done | alice's page image on demand | /readyz failures | 5xx to alice |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %.2f s | %.2f s | 0 | 0 |\n", r.name, r.f.parse.Seconds(), r.f.scanParse.Seconds(),
			r.f.ocr.Seconds(), r.f.image.Seconds())
	}
	fmt.Fprintf(&b, "\nBounds (slice %s): a PDF's or a scan's parse within 2× its idle time plus a slice; the OCR within its idle time plus a slice; an image within 2 s.\n", size.slice)
	t.Log("\n" + b.String())
	if *noisyReport != "" {
		require.NoError(t, os.WriteFile(*noisyReport, []byte(b.String()), 0o644))
	}
}

// timeline logs a document's events and when each was written.
func (n *neighbourhood) timeline(id string) {
	rows, err := n.st.db.Pool.Query(n.ctx, `SELECT type, data::text, created_at FROM document_events WHERE document_id = $1 ORDER BY seq`, id)
	require.NoError(n.t, err)
	defer rows.Close()
	var first time.Time
	var b strings.Builder
	for rows.Next() {
		var typ, data string
		var at time.Time
		require.NoError(n.t, rows.Scan(&typ, &data, &at))
		if first.IsZero() {
			first = at
		}
		fmt.Fprintf(&b, "  +%6.2fs %s %s\n", at.Sub(first).Seconds(), typ, data)
	}
	n.t.Logf("%s:\n%s", id, b.String())
}
