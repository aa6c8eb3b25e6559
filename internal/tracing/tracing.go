// Package tracing sets up OpenTelemetry traces for a Folio process and
// carries trace context where a request's work continues elsewhere: from
// an upload into its parse job's metadata, and from there into the
// worker. Off unless an exporter is configured with the standard OTEL_*
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_TRACES_EXPORTER=none turns it
// off; OTEL_SERVICE_NAME names the process), so a process without them
// pays nothing but no-op calls.
package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Folio's spans.
const Name = "github.com/foliohq/folio"

// Tracer is Folio's tracer from the global provider (no-op until Setup
// or a test installs one).
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Enabled reports whether the environment configures a trace exporter.
func Enabled() bool {
	if os.Getenv("OTEL_TRACES_EXPORTER") == "none" || os.Getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs an OTLP/HTTP trace exporter configured by the OTEL_*
// variables, when Enabled, and the W3C trace-context propagator always.
// flush sends what is buffered (within 5 s); call it on the way out.
func Setup(ctx context.Context, service string, logger *slog.Logger) (flush func(), err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Enabled() {
		return func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("error creating the OTLP trace exporter: %w", err)
	}
	res, err := sdkresource.Merge(sdkresource.Default(), sdkresource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		res = sdkresource.Default()
	}
	if os.Getenv("OTEL_SERVICE_NAME") != "" {
		res = sdkresource.Default() // OTEL_SERVICE_NAME wins, as the SDK reads it
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	logger.Info("traces exported over OTLP", "service", service)
	return func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(fctx); err != nil {
			logger.Warn("flushing traces", "err", err)
		}
	}, nil
}

// Inject returns ctx's trace context as job metadata (nil when ctx
// carries none).
func Inject(ctx context.Context) []byte {
	c := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"trace": map[string]string(c)})
	return b
}

// Extract returns ctx with the trace context that Inject put in a job's
// metadata, if any.
func Extract(ctx context.Context, metadata []byte) context.Context {
	var m struct {
		Trace map[string]string `json:"trace"`
	}
	if len(metadata) == 0 || json.Unmarshal(metadata, &m) != nil || len(m.Trace) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(m.Trace))
}

// LogAttrs are the trace and span ids of ctx's span, for log lines (none
// when it has no valid span).
func LogAttrs(ctx context.Context) []any {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []any{"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()}
}

// Start starts a span of Folio's.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording *errp as its error when there is one. Use it as
// defer tracing.End(span, &err).
func End(span trace.Span, errp *error) {
	if errp != nil && *errp != nil {
		span.RecordError(*errp)
		span.SetStatus(codes.Error, (*errp).Error())
	}
	span.End()
}
