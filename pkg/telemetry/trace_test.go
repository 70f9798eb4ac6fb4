package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llm-router/llm-router/pkg/telemetry/tracing"
)

func TestTraceObserver(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	p, err := tracing.NewTracerProvider(context.Background(), tracing.Options{
		Getenv:         func(string) string { return "" },
		SpanProcessors: []sdktrace.SpanProcessor{rec},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	o := &TraceObserver{
		Provider:        p,
		ProviderKinds:   map[string]string{"openai-main": "openai"},
		ServerAddresses: map[string]string{"openai-main": "api.openai.com"},
	}
	ctx := tracing.Extract(context.Background(), func(k string) string {
		if k == "traceparent" {
			return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		}
		return ""
	})
	for _, s := range fixtureSummaries() {
		o.Observe(ctx, s)
	}
	o.Observe(ctx, nil)
	// Every summary with a backend becomes a span; the local 401 does not.
	spans := rec.Ended()
	require.Len(t, spans, 5)
	first := spans[0]
	require.Equal(t, "chat gpt-4o", first.Name())
	require.Equal(t, t0, first.StartTime())
	require.Equal(t, 2*time.Second, first.EndTime().Sub(first.StartTime()))
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", first.Parent().TraceID().String())
	attrs := map[string]any{}
	for _, kv := range first.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	require.Equal(t, "openai", attrs["gen_ai.provider.name"])
	require.Equal(t, "api.openai.com", attrs["server.address"])
	require.Equal(t, "gpt-4o-2024-08-06", attrs["gen_ai.response.model"])
	require.Equal(t, int64(1000), attrs["gen_ai.usage.input_tokens"])
	require.Equal(t, int64(501), attrs["gen_ai.usage.output_tokens"])
	require.Equal(t, "team-a", attrs["llm_router.key_id"])
	require.Equal(t, "anthropic", attrMapOf(spans[1])["gen_ai.provider.name"])
	require.Equal(t, "embeddings embed", spans[2].Name())
	require.Equal(t, "e5-large", attrMapOf(spans[2])["gen_ai.response.model"])
	require.Equal(t, "upstream_503", attrMapOf(spans[3])["error.type"])

	// Tracing off: nothing is recorded, nothing breaks.
	off, err := tracing.NewTracerProvider(context.Background(), tracing.Options{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	(&TraceObserver{Provider: off}).Observe(ctx, fixtureSummaries()[0])
}

func attrMapOf(s sdktrace.ReadOnlySpan) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
