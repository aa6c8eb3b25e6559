package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/pdf"
)

var (
	chaosDocs   = flag.Int("chaos.docs", 16, "documents TestChaos uploads (make chaos: 200)")
	chaosCorpus = flag.String("chaos.corpus", "", "upload real PDFs from this folder (make chaos: .folio/corpus) instead of generated ones")
)

// chaosFiles picks n PDFs spread over the corpus, and the outcome a calm,
// in-process parse gives each ("done" or a failure code).
func chaosFiles(t *testing.T, n int) (files [][]byte, names []string, calm []string) {
	t.Helper()
	var all []string
	require.NoError(t, filepath.WalkDir(*chaosCorpus, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			all = append(all, p)
		}
		return err
	}))
	sort.Strings(all)
	require.NotEmpty(t, all)
	for i := range n {
		p := all[i*len(all)/n]
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		outcome := "done"
		if _, err := pdf.Inspect(b, pdf.Options{MaxPages: 5000}); err != nil {
			var perr *pdf.Error
			require.ErrorAs(t, err, &perr)
			outcome = perr.Code
		}
		files, names, calm = append(files, b), append(names, filepath.Base(p)), append(calm, outcome)
	}
	return files, names, calm
}

// TestChaos: two API processes and two workers; documents uploaded through
// both APIs by concurrent clients that also watch them; meanwhile every
// worker is restarted with SIGTERM (the new one started first), one is
// killed with -9, each API is restarted with SIGTERM and one is killed
// with -9 and started again. Half the documents arrive through resumable
// (tus) uploads that go on across those, the others in one request each.
// Afterwards every
// document is done, every watcher saw a gap-free seq run ending in a
// terminal event, no page is missing or twice, nothing is stuck running
// and no multipart upload is left.
func TestChaos(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	base := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_SHUTDOWN_DELAY=300ms", "FOLIO_SHUTDOWN_TIMEOUT=20s", "FOLIO_DRAIN_TIMEOUT=500ms",
		"FOLIO_PROGRESS_INTERVAL=100ms", "FOLIO_WORKER_CONCURRENCY=2", "FOLIO_UPLOAD_RATE_LIMIT=100000")
	startAPI := func(addr string) *proc {
		p := start(t, append(base, "FOLIO_HTTP_ADDR="+addr), "api")
		waitStatus(t, p, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
		return p
	}
	workers := map[string]*proc{} // by River client id
	clientIDRE := regexp.MustCompile(`"client_id":"([^"]+)"`)
	startWorker := func() *proc {
		h := freeAddr(t)
		p := start(t, append(base, "FOLIO_HEALTH_ADDR="+h), "worker")
		waitStatus(t, p, "http://"+h+"/readyz", http.StatusOK, 30*time.Second)
		var id string
		require.Eventually(t, func() bool {
			m := clientIDRE.FindStringSubmatch(p.stderr.String())
			if m != nil {
				id = m[1]
			}
			return m != nil
		}, 10*time.Second, 10*time.Millisecond)
		workers[id] = p
		return p
	}
	apiA, apiB := startAPI(addrA), startAPI(addrB)
	startWorker()
	startWorker()
	tok, err := auth.Sign([]byte(testSecret), "chaos", time.Hour)
	require.NoError(t, err)

	// Documents of 50 to 400 heavy pages: parses long enough to be cut.
	var corpusFiles [][]byte
	var corpusNames, calm []string
	if *chaosCorpus != "" {
		corpusFiles, corpusNames, calm = chaosFiles(t, *chaosDocs)
	}
	docFor := func(i int) []byte {
		if corpusFiles != nil {
			return corpusFiles[i]
		}
		return pdftest.LongDocument(fmt.Sprintf("document %d", i), 50+(i*37)%350, 30)
	}

	type watched struct {
		i    int
		id   uuid.UUID
		msgs []client.Message
		err  error
	}
	var (
		mu      sync.Mutex
		results []*watched
		wg      sync.WaitGroup
	)
	upload := func(i int) {
		data := docFor(i)
		order := []string{"http://" + addrA, "http://" + addrB}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		c := client.New(tok, order...)
		var doc *client.Document
		name := fmt.Sprintf("doc-%d.pdf", i)
		var resumeURL string            // even documents: one tus upload, resumed across restarts and kills
		for attempt := 0; ; attempt++ { // an API restarting refuses connections: try the other
			var err error
			if i%2 == 0 {
				doc, err = c.UploadResumable(ctx, name, bytes.NewReader(data), int64(len(data)),
					client.UploadOptions{URL: resumeURL, OnCreated: func(u string) { resumeURL = u }})
			} else { // odd ones: one request (a reader that is not an io.ReaderAt)
				doc, err = client.New(tok, order[attempt%2]).Upload(ctx, name, io.MultiReader(bytes.NewReader(data)), int64(len(data)), nil)
			}
			if err == nil {
				break
			}
			require.Less(t, attempt, 20, "upload %d: %v", i, err)
			time.Sleep(200 * time.Millisecond) // the other API may be restarting too
		}
		w := &watched{i: i, id: doc.ID}
		mu.Lock()
		results = append(results, w)
		mu.Unlock()
		w.err = c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
			w.msgs = append(w.msgs, m)
			if m.Terminal() {
				return client.ErrStop
			}
			return nil
		})
	}
	sem := make(chan struct{}, 4)
	for i := range *chaosDocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			upload(i)
		}()
	}

	// The chaos, while uploads and parses go on.
	var figures []string
	restartWorker := func(old *proc) *proc {
		fresh := startWorker()
		began := time.Now()
		old.signal(t, syscall.SIGTERM)
		require.Equal(t, 0, old.wait(t, time.Minute), old.stderr.String())
		figures = append(figures, fmt.Sprintf("worker SIGTERM → exit: %s", time.Since(began).Round(time.Millisecond)))
		return fresh
	}
	restartAPI := func(old *proc, addr string) *proc {
		old.signal(t, syscall.SIGTERM)
		require.Equal(t, 0, old.wait(t, time.Minute), old.stderr.String())
		return startAPI(addr)
	}
	originals := map[*proc]bool{}
	for _, w := range workers {
		originals[w] = true
	}
	// busyWorker waits until a parse is running and returns the worker
	// running it (one of only, when set): the chaos hits work in flight.
	var only map[*proc]bool
	busyWorker := func() *proc {
		var p *proc
		require.Eventually(t, func() bool {
			rows, err := db.Pool.Query(ctx, `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
				WHERE kind = 'parse' AND state = 'running'`)
			if err != nil {
				return false
			}
			ids, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, id := range ids {
				if w, ok := workers[id]; ok && (only == nil || only[w]) {
					select {
					case <-w.done:
					default:
						p = w
						return true
					}
				}
			}
			return false
		}, 2*time.Minute, 5*time.Millisecond, "a parse running on a live worker")
		return p
	}
	// Each of the two first workers is restarted once, the busy one first.
	only = originals
	first := busyWorker()
	restartWorker(first)
	delete(originals, first)
	for second := range originals {
		restartWorker(second)
	}
	only = nil
	apiA = restartAPI(apiA, addrA)
	// An API killed with -9 mid-upload, then started again: its tus
	// uploads go on (on the other, then on it) from their last part.
	require.NoError(t, apiA.cmd.Process.Signal(syscall.SIGKILL))
	<-apiA.done
	startAPI(addrA)
	victim := busyWorker()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	<-victim.done
	startWorker()
	restartAPI(apiB, addrB)
	wg.Wait()

	// Afterwards.
	require.Len(t, results, *chaosDocs)
	var documents, unfinished int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM documents),
		(SELECT count(*) FROM uploads WHERE document_id IS NULL AND "offset" > 0)`).Scan(&documents, &unfinished))
	require.Equal(t, *chaosDocs, documents, "none lost, none twice")
	// (An upload made just as its API was killed, whose 201 never reached
	// the client, has no bytes: the sweeper takes it.)
	require.Zero(t, unfinished, "every resumable upload that got bytes finished")
	for _, w := range results {
		require.NoError(t, w.err, w.id.String())
		require.Equal(t, "snapshot", w.msgs[0].Type)
		for i := 1; i < len(w.msgs); i++ {
			require.Equal(t, w.msgs[i-1].Seq+1, w.msgs[i].Seq, "%s: gap-free, no duplicates at %d", w.id, i)
		}
		last := w.msgs[len(w.msgs)-1]
		if last.Type == "snapshot" && last.Document != nil {
			// Parsed before its watcher connected: the snapshot says how
			// it ended; name that as the matching event.
			last.Type = "document." + last.Document.Status
		}
		want := "done"
		if calm != nil {
			want = calm[w.i]
		}
		if want != "done" {
			d, err := client.New(tok, "http://"+addrA).Get(ctx, w.id)
			require.NoError(t, err)
			require.Equal(t, "document.failed", last.Type, corpusNames[w.i])
			require.Equal(t, want, d.Failure.Code, "%s fails as a calm run does", corpusNames[w.i])
			continue
		}
		require.Equal(t, "document.done", last.Type, "%s ended %s", w.id, last.Type)
		var pageCount, n, distinct int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT page_count, (SELECT count(*) FROM pages p WHERE p.document_id = d.id),
			(SELECT count(DISTINCT page_number) FROM pages p WHERE p.document_id = d.id) FROM documents d WHERE id = $1`, w.id).
			Scan(&pageCount, &n, &distinct))
		require.Equal(t, pageCount, n, "%s: every page once", w.id)
		require.Equal(t, pageCount, distinct)
	}
	// The killed worker's own jobs (a sweep, say) go back once its
	// heartbeat is stale, and run again.
	// A parse the killed worker had finished, but whose completion River
	// had not recorded yet, is handed back and runs again, as a no-op
	// (documents.ErrNothingToParse): wait for those too.
	require.Eventually(t, func() bool {
		var running, unfinished int
		_ = db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE kind = 'parse' AND state <> 'completed') FROM river_job`).Scan(&running, &unfinished)
		return running == 0 && unfinished == 0
	}, 45*time.Second, 100*time.Millisecond, "nothing stuck running; every parse job completed")
	var stuck, rescued int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'parse' AND state <> 'completed'),
		count(*) FILTER (WHERE errors::text LIKE '%worker lost%') FROM river_job`).Scan(&stuck, &rescued))
	if stuck > 0 {
		var detail string
		_ = db.Pool.QueryRow(ctx, `SELECT string_agg(id || ' ' || state || ' attempt ' || attempt || ' ' || coalesce(errors::text, ''), E'\n')
			FROM river_job WHERE kind = 'parse' AND state <> 'completed'`).Scan(&detail)
		t.Logf("parse jobs not completed:\n%s", detail)
	}
	require.Zero(t, stuck, "every parse job completed")
	uploads, err := bucket.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads, "no multipart upload left")
	requeued := map[string]int{}
	rows, err := db.Pool.Query(ctx, `SELECT data->>'why', count(*) FROM document_events WHERE type = 'parse.requeued' GROUP BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var why string
		var n int
		require.NoError(t, rows.Scan(&why, &n))
		requeued[why] = n
	}
	rows.Close()
	var restartedAt time.Time
	_ = db.Pool.QueryRow(ctx, `SELECT min(created_at) FROM document_events WHERE type = 'parse.requeued' AND data->>'why' = 'worker_lost'`).Scan(&restartedAt)
	if !restartedAt.IsZero() {
		figures = append(figures, fmt.Sprintf("kill -9 → its jobs handed back: %s (%d jobs)", restartedAt.Sub(killed).Round(100*time.Millisecond), rescued))
	}
	figures = append(figures, fmt.Sprintf("requeued: %v", requeued))
	t.Logf("chaos: %d documents done; %s", len(results), strings.Join(figures, "; "))
	if out := os.Getenv("FOLIO_CHAOS_REPORT"); out != "" {
		_ = os.WriteFile(out, []byte(strings.Join(figures, "\n")+"\n"), 0o644)
	}
}
