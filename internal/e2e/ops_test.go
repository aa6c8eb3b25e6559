package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// folioJSON runs `folio CMD... --json ARGS...` and decodes what it prints.
func folioJSON[T any](t *testing.T, env []string, cmd []string, args ...string) T {
	t.Helper()
	p := start(t, env, "folio", append(append(cmd, "--json"), args...)...)
	require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
	var v T
	require.NoError(t, json.Unmarshal([]byte(p.stdout.String()), &v), p.stdout.String())
	return v
}

// TestOpsCLI: an operator's day with `folio queues`, `folio jobs` and
// `folio documents reparse` against a real API and worker: find the failed
// job, retry it, pause the parse queue (nothing starts) and resume it
// (everything finishes), reparse failed documents in bulk after a dry run.
func TestOpsCLI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, health := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+health)
	api := start(t, env, "api")
	worker := start(t, env, "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "ops", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)
	upload := func(name string, data []byte) *client.Document {
		doc, err := c.Upload(ctx, name, bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(t, err)
		return doc
	}
	status := func(doc *client.Document) string {
		d, err := documents.Get(ctx, db.Pool, "ops", doc.ID)
		require.NoError(t, err)
		return string(d.Status)
	}
	waitStatus := func(doc *client.Document, want string) {
		require.Eventually(t, func() bool { return status(doc) == want }, time.Minute, 20*time.Millisecond, "%s becomes %s", doc.ID, want)
	}
	parseEvents := func(doc *client.Document) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE document_id = $1 AND type = 'parse.started'`, doc.ID).Scan(&n))
		return n
	}

	bad := upload("cycle.pdf", pdftest.Hostile()["page tree cycle"])
	waitStatus(bad, "failed")

	type job struct {
		ID      int64
		Kind    string
		State   string
		Attempt int
		Args    struct {
			DocumentID string `json:"document_id"`
		}
	}
	var failed []job
	require.Eventually(t, func() bool { // River records the job's end just after the document's
		failed = folioJSON[[]job](t, env, []string{"jobs", "list"}, "--state", "failed", "--since", "1h", "--kind", "parse")
		return len(failed) == 1
	}, time.Minute, 100*time.Millisecond, "the failed parse job is listed")
	require.Equal(t, bad.ID.String(), failed[0].Args.DocumentID)
	require.Equal(t, "cancelled", failed[0].State, "a file's own fault cancels its job")

	retried := folioJSON[[]job](t, env, []string{"jobs", "retry"}, strconv.FormatInt(failed[0].ID, 10))
	require.Equal(t, "available", retried[0].State)
	require.Eventually(t, func() bool { return parseEvents(bad) == 2 }, time.Minute, 20*time.Millisecond, "the retried job ran")
	waitStatus(bad, "failed")

	type queue struct {
		Queue     string
		Available int
		Paused    bool
	}
	pause := start(t, env, "folio", "queues", "pause", "parse")
	require.Equal(t, 0, pause.wait(t, time.Minute), pause.stderr.String())
	queues := folioJSON[[]queue](t, env, []string{"queues"})
	paused := false
	for _, q := range queues {
		if q.Queue == "parse" {
			paused = q.Paused
		}
	}
	require.True(t, paused, "folio queues shows it paused")
	good := upload("good.pdf", pdftest.TextPages([]string{"one"}, []string{"two"}))
	// Paused: for a while (workers learn of a pause within a second or
	// two), the upload stays queued and its job available.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		require.Equal(t, "queued", status(good), "a paused queue starts no parse")
		time.Sleep(50 * time.Millisecond)
	}
	queues = folioJSON[[]queue](t, env, []string{"queues"})
	for _, q := range queues {
		if q.Queue == "parse" {
			require.Equal(t, 1, q.Available, "the waiting parse is counted")
		}
	}
	resume := start(t, env, "folio", "queues", "resume", "parse")
	require.Equal(t, 0, resume.wait(t, time.Minute), resume.stderr.String())
	waitStatus(good, "done")

	type reparse struct {
		Documents []struct {
			ID      string
			Outcome string
		}
		Counts map[string]int
		DryRun bool `json:"dry_run"`
	}
	dry := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "malformed", "--dry-run")
	require.True(t, dry.DryRun)
	require.Len(t, dry.Documents, 1)
	require.Equal(t, bad.ID.String(), dry.Documents[0].ID)
	require.Equal(t, "failed", status(bad), "a dry run changes nothing")
	require.Equal(t, 2, parseEvents(bad))
	none := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "internal", "--dry-run")
	require.Empty(t, none.Documents, "filtered by code")

	done := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "malformed")
	require.Equal(t, map[string]int{"reparse queued": 1}, done.Counts)
	require.Eventually(t, func() bool { return parseEvents(bad) == 3 }, time.Minute, 20*time.Millisecond, "reparsed")
	waitStatus(bad, "failed")
}
