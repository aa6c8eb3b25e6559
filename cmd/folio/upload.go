package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sync/errgroup"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/cmd/internal/app"
)

// clientFlags are the flags of the commands that talk to a running API.
type clientFlags struct {
	api, token, sub, dir string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.api, "api", envOr("FOLIO_API_URL", "http://localhost:8080"), "the API's address")
	fs.StringVar(&f.token, "token", os.Getenv("FOLIO_TOKEN"), "bearer token (default: one signed with the dev secret for --sub)")
	fs.StringVar(&f.sub, "sub", "dev", "with no --token: the dev user to sign a token for")
	fs.StringVar(&f.dir, "dir", "", "folio dev's state folder, for its dev secret")
}

// client builds an API client, signing a dev token when none is given.
func (f *clientFlags) client() (*client.Client, error) {
	tok := f.token
	if tok == "" {
		secret, err := signingSecret(f.dir)
		if err != nil {
			return nil, fmt.Errorf("no --token (or FOLIO_TOKEN) and nothing to sign one with: %w", err)
		}
		if tok, err = auth.Sign([]byte(secret), f.sub, 24*time.Hour); err != nil {
			return nil, err
		}
	}
	return client.New(tok, f.api), nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// upload handles `folio upload [--watch] [--resume] FILE...`.
func upload(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("folio upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	watch := fs.Bool("watch", false, "after uploading, follow each document until it is done or failed")
	ocrLanguages := fs.String("ocr-languages", "", "the languages OCR reads scanned pages with, in Tesseract's spelling joined by + (deu, deu+eng); default: the deployment's")
	externalID := fs.String("external-id", "", "the application's id for the documents (kept on each, filters the list)")
	meta := metaFlag{}
	fs.Var(meta, "meta", "KEY=VALUE kept in the documents' metadata (repeat for more keys)")
	resume := fs.Bool("resume", false, "go on with uploads of these files that an earlier `folio upload` started and did not finish (their URLs are kept in $FOLIO_STATE_DIR/uploads.json, by default in the user's cache folder)")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: folio upload [--watch] [--resume] [--ocr-languages L] [--external-id ID] [--meta K=V]... [--api URL] [--token T] FILE.pdf...")
		return app.ExitUsage
	}
	store, err := openResumeStore()
	if err != nil {
		fmt.Fprintf(stderr, "folio upload: %v\n", err)
		return app.ExitUsage
	}
	c, err := cf.client()
	if err != nil {
		fmt.Fprintf(stderr, "folio upload: %v\n", err)
		return app.ExitUsage
	}
	ctx, stop := app.SignalContext(app.DiscardLogger())
	defer stop()

	bars := mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(32), mpb.WithAutoRefresh())
	results := make([]result, fs.NArg())
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, path := range fs.Args() {
		g.Go(func() error {
			results[i] = uploadOne(gctx, c, bars, path, *watch, store, *resume, cf.api, client.UploadOptions{
				OCRLanguages: *ocrLanguages, ExternalID: *externalID, Metadata: meta})
			return nil
		})
	}
	_ = g.Wait()
	bars.Wait()
	return report(stdout, results)
}

// watchCmd handles `folio watch ID...`.
func watchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("folio watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	ids := make([]uuid.UUID, fs.NArg())
	for i, a := range fs.Args() {
		id, err := uuid.Parse(a)
		if err != nil {
			fmt.Fprintf(stderr, "folio watch: %q is not a document id\n", a)
			return app.ExitUsage
		}
		ids[i] = id
	}
	if len(ids) == 0 {
		fmt.Fprintln(stderr, "usage: folio watch [--api URL] [--token T] DOCUMENT-ID...")
		return app.ExitUsage
	}
	c, err := cf.client()
	if err != nil {
		fmt.Fprintf(stderr, "folio watch: %v\n", err)
		return app.ExitUsage
	}
	ctx, stop := app.SignalContext(app.DiscardLogger())
	defer stop()
	bars := mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(32), mpb.WithAutoRefresh())
	results := make([]result, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { results[i] = follow(ctx, c, bars, id.String(), id) })
	}
	wg.Wait()
	bars.Wait()
	return report(stdout, results)
}

// result is how one document ended.
type result struct {
	name  string
	id    string
	doc   *client.Document
	err   error
	pages int
}

func uploadOne(ctx context.Context, c *client.Client, bars *mpb.Progress, path string, watch bool, store *resumeStore, resume bool, api string, opts client.UploadOptions) result {
	name := filepath.Base(path)
	r := result{name: name}
	f, err := os.Open(path)
	if err != nil {
		r.err = err
		return r
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		r.err = err
		return r
	}
	bar := bars.AddBar(fi.Size(),
		mpb.PrependDecorators(decor.Name(truncate(name, 24), decor.WCSyncSpaceR), decor.Name("upload ")),
		mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")),
		mpb.BarRemoveOnComplete())
	abs, _ := filepath.Abs(path)
	opts.Progress = func(n int64) { bar.SetCurrent(n) }
	// Kept at once: an interrupted run can go on with --resume.
	opts.OnCreated = func(url string) { _ = store.put(api, abs, fi, url) }
	if resume {
		if opts.URL, err = store.find(api, abs, fi); err != nil {
			bar.Abort(true)
			r.err = err
			return r
		}
	}
	doc, err := c.UploadResumable(ctx, name, f, fi.Size(), opts)
	if err == nil {
		_ = store.put(api, abs, fi, "")
	}
	if err != nil {
		bar.Abort(true)
		r.err = err
		return r
	}
	bar.SetTotal(-1, true)
	r.doc, r.id = doc, doc.ID.String()
	if !watch {
		return r
	}
	return follow(ctx, c, bars, name, doc.ID)
}

// follow shows a document's parse as a bar of pages until it ends.
func follow(ctx context.Context, c *client.Client, bars *mpb.Progress, name string, id uuid.UUID) result {
	r := result{name: name, id: id.String()}
	bar := bars.AddBar(0,
		mpb.PrependDecorators(decor.Name(truncate(name, 24), decor.WCSyncSpaceR), decor.Name("parse  ")),
		mpb.AppendDecorators(decor.CountersNoUnit("%d / %d pages")))
	err := c.WatchDocument(ctx, id, func(m client.Message) error {
		switch {
		case m.Document != nil:
			r.doc = m.Document
			if m.Document.PageCount != nil {
				bar.SetTotal(int64(*m.Document.PageCount), false)
				bar.SetCurrent(int64(m.Document.PagesDone))
			}
		case m.Type == "parse.progress":
			var p client.Progress
			if err := json.Unmarshal(m.Data, &p); err == nil {
				bar.SetTotal(int64(p.PagesTotal), false)
				bar.SetCurrent(int64(p.PagesDone))
			}
		}
		if m.Terminal() {
			return client.ErrStop
		}
		return nil
	})
	if err == nil {
		r.doc, err = c.Get(ctx, id)
	}
	if err != nil || r.doc == nil || r.doc.Status != "done" {
		bar.Abort(false)
	} else {
		bar.SetTotal(-1, true)
	}
	r.err = err
	if r.doc != nil && r.doc.PageCount != nil {
		r.pages = *r.doc.PageCount
	}
	return r
}

// report prints a line per document; the exit status is 0 only if every
// document uploaded (and, when watched, ended done).
func report(w io.Writer, results []result) int {
	code := app.ExitOK
	for _, r := range results {
		switch {
		case r.err != nil:
			fmt.Fprintf(w, "error   %s: %v\n", r.name, r.err)
			code = app.ExitFailed
		case r.doc.Status == "failed" && r.doc.Failure != nil:
			fmt.Fprintf(w, "failed  %s  %s  %s: %s\n", r.id, r.name, r.doc.Failure.Code, r.doc.Failure.Message)
			code = app.ExitFailed
		case r.doc.Status == "done":
			fmt.Fprintf(w, "done    %s  %s  %d pages\n", r.id, r.name, r.pages)
		case r.doc.Status == "quarantined" && r.doc.Scan != nil:
			fmt.Fprintf(w, "quarantined %s  %s  malware found: %s\n", r.id, r.name, r.doc.Scan.Found)
			code = app.ExitFailed
		default:
			fmt.Fprintf(w, "%-7s %s  %s\n", r.doc.Status, r.id, r.name)
			if r.doc.Terminal() {
				code = app.ExitFailed
			}
		}
	}
	return code
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// metaFlag collects --meta KEY=VALUE.
type metaFlag map[string]string

func (m metaFlag) String() string { return "" }

func (m metaFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("--meta is KEY=VALUE, not %q", v)
	}
	m[k] = val
	return nil
}
