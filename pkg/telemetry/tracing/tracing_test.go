package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/llm-router/llm-router/pkg/canonical"
)

const (
	traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	remoteTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	remoteSpan  = "00f067aa0ba902b7"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func headers(kv map[string]string) HeaderGetter {
	return func(k string) string { return kv[k] }
}

func newRecorded(t *testing.T, opts Options) (*Provider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	opts.SpanProcessors = append(opts.SpanProcessors, rec)
	if opts.Getenv == nil {
		opts.Getenv = env(nil)
	}
	p, err := NewTracerProvider(context.Background(), opts)
	require.NoError(t, err)
	require.True(t, p.Enabled())
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, rec
}

func TestDisabledByDefault(t *testing.T) {
	for name, e := range map[string]map[string]string{
		"no environment":     nil,
		"sdk disabled":       {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"exporter none":      {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"exporter none caps": {"OTEL_TRACES_EXPORTER": " NONE "},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := NewTracerProvider(context.Background(), Options{Getenv: env(e)})
			require.NoError(t, err)
			require.False(t, p.Enabled())
			require.NoError(t, p.Shutdown(context.Background()))
			_, isSDK := p.TracerProvider().(*sdktrace.TracerProvider)
			require.False(t, isSDK)

			ctx := context.Background()
			got, span := p.Start(ctx, headers(map[string]string{"traceparent": traceparent}), "chat")
			require.Equal(t, ctx, got)
			require.False(t, span.Recording())
			require.Empty(t, span.TraceID())
			span.End(Result{Status: 500})
			p.Record(ctx, Result{})
		})
	}
	// A processor does not switch tracing on against an explicit "none".
	p, err := NewTracerProvider(context.Background(), Options{
		Getenv:         env(map[string]string{"OTEL_TRACES_EXPORTER": "none"}),
		SpanProcessors: []sdktrace.SpanProcessor{tracetest.NewSpanRecorder()},
	})
	require.NoError(t, err)
	require.False(t, p.Enabled())
	var nilProvider *Provider
	require.False(t, nilProvider.Enabled())
}

func TestDisabledPathAllocatesNothing(t *testing.T) {
	p, err := NewTracerProvider(context.Background(), Options{Getenv: env(nil)})
	require.NoError(t, err)
	ctx := context.Background()
	get := headers(map[string]string{"traceparent": traceparent})
	r := Result{Operation: "chat", RequestModel: "gpt-4o", Status: 200, Usage: canonical.Usage{InputTokens: 10}}
	allocs := testing.AllocsPerRun(1000, func() {
		_, s := p.Start(ctx, get, "chat")
		s.End(r)
	})
	require.Zero(t, allocs)
}

func TestEnvironmentErrors(t *testing.T) {
	for name, e := range map[string]map[string]string{
		"unsupported exporter": {"OTEL_TRACES_EXPORTER": "zipkin"},
		"http protocol":        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
		"traces http protocol": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewTracerProvider(context.Background(), Options{Getenv: env(e)})
			require.Error(t, err)
		})
	}
}

func TestOTLPFromEnvironment(t *testing.T) {
	// The exporter reads the process environment; point it at a closed loopback port.
	// Nothing is exported (no span is recorded), so nothing is dialled.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	for name, e := range map[string]map[string]string{
		"endpoint":        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"traces endpoint": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"exporter otlp":   {"OTEL_TRACES_EXPORTER": "otlp"},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := NewTracerProvider(context.Background(), Options{Getenv: env(e), ServiceVersion: "1.2.3"})
			require.NoError(t, err)
			require.True(t, p.Enabled())
			_, isSDK := p.TracerProvider().(*sdktrace.TracerProvider)
			require.True(t, isSDK)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			require.NoError(t, p.Shutdown(ctx))
		})
	}
}

func TestSpanContinuesTraceparentWithGenAIAttributes(t *testing.T) {
	p, rec := newRecorded(t, Options{ServiceName: "gw-test"})
	ctx, span := p.Start(context.Background(), headers(map[string]string{"traceparent": traceparent}), "chat")
	require.True(t, span.Recording())
	require.Equal(t, remoteTrace, span.TraceID())
	require.Equal(t, remoteTrace, trace.SpanContextFromContext(ctx).TraceID().String())

	end := time.Date(2026, 11, 26, 12, 0, 2, 0, time.UTC)
	span.End(Result{
		Operation: "chat", ProviderKind: "bedrock", RequestModel: "claude", ResponseModel: "anthropic.claude-sonnet-4",
		ServerAddress: "bedrock-runtime.us-east-1.amazonaws.com", ServerPort: 443, Status: 200,
		Usage:  canonical.Usage{InputTokens: 1000, OutputTokens: 200, CachedInputTokens: 300, CacheCreationTokens: 100, ReasoningTokens: 50, Estimated: true},
		Stream: true, TimeToFirstByte: 250 * time.Millisecond,
		RequestID: "req-1", KeyID: "team-a", Backend: "bedrock.claude", CostUSD: 0.01, CostKnown: true, End: end,
	})

	spans := rec.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	require.Equal(t, "chat claude", s.Name())
	require.Equal(t, trace.SpanKindClient, s.SpanKind())
	require.Equal(t, remoteTrace, s.Parent().TraceID().String())
	require.Equal(t, remoteSpan, s.Parent().SpanID().String())
	require.True(t, s.Parent().IsRemote())
	require.Equal(t, end, s.EndTime())
	require.Equal(t, codes.Unset, s.Status().Code)
	attrs := attrMap(s.Attributes())
	for k, v := range map[string]any{
		"gen_ai.operation.name":                    "chat",
		"gen_ai.provider.name":                     "aws.bedrock",
		"gen_ai.request.model":                     "claude",
		"gen_ai.response.model":                    "anthropic.claude-sonnet-4",
		"server.address":                           "bedrock-runtime.us-east-1.amazonaws.com",
		"server.port":                              int64(443),
		"http.response.status_code":                int64(200),
		"gen_ai.usage.input_tokens":                int64(1000),
		"gen_ai.usage.output_tokens":               int64(200),
		"gen_ai.usage.cache_read.input_tokens":     int64(300),
		"gen_ai.usage.cache_creation.input_tokens": int64(100),
		"gen_ai.usage.reasoning.output_tokens":     int64(50),
		"gen_ai.response.time_to_first_chunk":      0.25,
		"llm_router.usage.estimated":               true,
		"llm_router.stream":                        true,
		"llm_router.request_id":                    "req-1",
		"llm_router.key_id":                        "team-a",
		"llm_router.backend":                       "bedrock.claude",
		"llm_router.cost_usd":                      0.01,
	} {
		require.Equal(t, v, attrs[k], k)
	}
	require.NotContains(t, attrs, "error.type")
	res := attrMap(s.Resource().Attributes())
	require.Equal(t, "gw-test", res["service.name"])
}

func TestSpanError(t *testing.T) {
	p, rec := newRecorded(t, Options{})
	_, span := p.Start(context.Background(), nil, "")
	span.End(Result{Status: 429, ErrorType: "rate_limit"})
	_, span = p.Start(context.Background(), headers(map[string]string{"traceparent": "garbage"}), "embeddings")
	span.End(Result{Operation: "embeddings", Status: 502})

	spans := rec.Ended()
	require.Len(t, spans, 2)
	require.Equal(t, "chat", spans[0].Name())
	require.Equal(t, codes.Error, spans[0].Status().Code)
	require.Equal(t, "rate_limit", attrMap(spans[0].Attributes())["error.type"])
	require.False(t, spans[0].Parent().IsValid(), "no traceparent: a new trace")
	require.Equal(t, "embeddings", spans[1].Name())
	require.Equal(t, "502", attrMap(spans[1].Attributes())["error.type"])
	require.False(t, spans[1].Parent().IsValid(), "invalid traceparent ignored")
	require.NotContains(t, attrMap(spans[1].Attributes()), "gen_ai.usage.input_tokens")
}

func TestRecordAfterTheFact(t *testing.T) {
	p, rec := newRecorded(t, Options{})
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ctx := Extract(context.Background(), headers(map[string]string{"traceparent": traceparent}))
	p.Record(ctx, Result{Operation: "chat", RequestModel: "gpt-4o", Status: 200, Start: start, End: start.Add(1500 * time.Millisecond)})
	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "chat gpt-4o", spans[0].Name())
	require.Equal(t, start, spans[0].StartTime())
	require.Equal(t, 1500*time.Millisecond, spans[0].EndTime().Sub(spans[0].StartTime()))
	require.Equal(t, remoteTrace, spans[0].SpanContext().TraceID().String())
}

func TestSamplerFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	p, rec := newRecorded(t, Options{})
	_, span := p.Start(context.Background(), nil, "chat")
	require.False(t, span.Recording())
	span.End(Result{})
	require.Empty(t, rec.Ended())

	// An explicit sampler wins over the environment.
	p, rec = newRecorded(t, Options{Sampler: sdktrace.AlwaysSample()})
	_, span = p.Start(context.Background(), nil, "chat")
	require.True(t, span.Recording())
	span.End(Result{})
	require.Len(t, rec.Ended(), 1)
}

func TestServiceNameFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	p, rec := newRecorded(t, Options{ServiceName: "default-name"})
	_, span := p.Start(context.Background(), nil, "chat")
	span.End(Result{})
	require.Equal(t, "from-env", attrMap(rec.Ended()[0].Resource().Attributes())["service.name"])
}

func TestPropagationHelpers(t *testing.T) {
	require.Equal(t, remoteTrace, TraceIDFromHeaders(headers(map[string]string{"traceparent": traceparent})))
	require.Empty(t, TraceIDFromHeaders(headers(map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"})))
	require.Empty(t, TraceIDFromHeaders(nil))
	ctx := context.Background()
	require.Equal(t, ctx, Extract(ctx, nil))

	ctx = Extract(ctx, headers(map[string]string{"traceparent": traceparent, "tracestate": "vendor=x"}))
	out := map[string]string{}
	Inject(ctx, func(k, v string) { out[k] = v })
	require.Equal(t, traceparent, out["traceparent"])
	require.Equal(t, "vendor=x", out["tracestate"])
	require.ElementsMatch(t, []string{"traceparent", "tracestate"}, headerCarrier(nil).Keys())
	headerCarrier(nil).Set("a", "b") // read-only: no effect, no panic
}

func TestNames(t *testing.T) {
	require.Equal(t, "gcp.gemini", ProviderName("gemini"))
	require.Equal(t, "gcp.vertex_ai", ProviderName("vertex-anthropic"))
	require.Equal(t, "azure.ai.openai", ProviderName("azure-openai"))
	require.Equal(t, "mistral_ai", ProviderName("mistral"))
	require.Equal(t, "x_ai", ProviderName("xai"))
	require.Equal(t, "openai", ProviderName("openai"))
	require.Equal(t, "embeddings", OperationName("embeddings"))
	require.Equal(t, "chat", OperationName("count_tokens"))
}

func attrMap(kvs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// BenchmarkDisabled is the per-request cost of tracing when it is off.
func BenchmarkDisabled(b *testing.B) {
	p, err := NewTracerProvider(context.Background(), Options{Getenv: env(nil)})
	require.NoError(b, err)
	ctx := context.Background()
	get := headers(map[string]string{"traceparent": traceparent})
	r := Result{Operation: "chat", RequestModel: "gpt-4o", Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		_, s := p.Start(ctx, get, "chat")
		s.End(r)
	}
}

// BenchmarkEnabled is the per-request cost with a sampled span and an in-memory
// processor (no export).
func BenchmarkEnabled(b *testing.B) {
	p, err := NewTracerProvider(context.Background(), Options{Getenv: env(nil), SpanProcessors: []sdktrace.SpanProcessor{discard{}}})
	require.NoError(b, err)
	ctx := context.Background()
	get := headers(map[string]string{"traceparent": traceparent})
	r := Result{Operation: "chat", RequestModel: "gpt-4o", Status: 200, Usage: canonical.Usage{InputTokens: 100, OutputTokens: 20}}
	b.ReportAllocs()
	for b.Loop() {
		_, s := p.Start(ctx, get, "chat")
		s.End(r)
	}
}

// discard is a span processor that keeps nothing, so a benchmark does not grow memory.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }
