package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/health"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/telemetry"
)

// TestOneUploadIsOneTrace: an upload's HTTP request, its commit, its
// parse job (in another process in production: the trace context travels
// in the job's metadata), the sandbox run, the page writes and the events
// they append are one trace, from the request to document.done.
func TestOneUploadIsOneTrace(t *testing.T) { //nolint:paralleltest // installs the process's tracer provider
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	b := setupParse(t)
	const secret = "0123456789abcdef0123456789abcdef-trace"
	verifier, err := auth.New(context.Background(), auth.Config{Secret: []byte(secret)})
	require.NoError(t, err)
	srv := api.New(api.Deps{
		Logger: slog.New(slog.DiscardHandler), Health: health.NewChecker(time.Second, nil), Metrics: telemetry.NewMetrics(),
		Pool: b.db.Pool, Store: b.bucket.Store, River: b.client, Verifier: verifier,
		Limits: api.Limits{MaxUploadBytes: 1 << 20, UploadRateLimit: 10, UploadRateWindow: time.Minute, OwnerQuotaBytes: 1 << 30, PresignTTL: time.Minute},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tok, err := auth.Sign([]byte(secret), "alice", time.Hour)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/documents?filename=t.pdf",
		bytes.NewReader(pdftest.TextPages([]string{"one"}, []string{"two"})))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var doc documents.Document
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, doc.ID)).EventKind)
	require.Equal(t, documents.StatusDone, b.get(t, doc.ID).Status)

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	var root tracetest.SpanStub
	for _, s := range spans {
		if s.Name == "POST /v1/documents" {
			root = s
		}
	}
	require.True(t, root.SpanContext.IsValid(), "the upload request is a span")
	require.Equal(t, trace.SpanKindServer, root.SpanKind)
	inTrace := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == root.SpanContext.TraceID() {
			byName[s.Name] = s
			inTrace[s.SpanContext.SpanID()] = s
		}
	}
	for _, name := range []string{"documents.Create", "parse", "documents.StartParse", "sandbox.run", "documents.SetPageCount", "documents.FinishParse"} {
		require.Contains(t, byName, name, "%s is in the upload's trace", name)
	}
	// Every span of the trace hangs from the request.
	for _, s := range inTrace {
		for s.Parent.IsValid() {
			parent, ok := inTrace[s.Parent.SpanID()]
			require.True(t, ok, "%s's parent is in the trace", s.Name)
			s = parent
		}
		require.Equal(t, root.SpanContext.SpanID(), s.SpanContext.SpanID(), "the chain ends at the request")
	}
	require.Equal(t, byName["documents.Create"].SpanContext.SpanID(), byName["parse"].Parent.SpanID(),
		"the parse continues from the commit that enqueued it")
	events := func(s tracetest.SpanStub) []string {
		var out []string
		for _, e := range s.Events {
			out = append(out, e.Name)
		}
		return out
	}
	require.Contains(t, events(byName["documents.Create"]), "document.queued")
	require.Contains(t, events(byName["documents.FinishParse"]), "document.done", "the trace reaches document.done")
}
