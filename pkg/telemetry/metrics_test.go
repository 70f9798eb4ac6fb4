package telemetry

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/gateway"
)

var update = flag.Bool("update", false, "rewrite testdata/observe.golden.txt")

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fixtureSummaries is one Summary of each kind the gateway reports.
func fixtureSummaries() []*gateway.Summary {
	return []*gateway.Summary{
		{ // streamed chat, priced, with cache and reasoning tokens
			RequestID: "r1", KeyID: "team-a", Endpoint: "chat", Model: "gpt-4o",
			Backend: "openai.gpt-4o", Provider: "openai-main", UpstreamModel: "gpt-4o-2024-08-06",
			Status: 200, Stream: true,
			Usage:   canonical.Usage{InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 501, ReasoningTokens: 100},
			CostUSD: 0.0625, CostKnown: true, Start: t0,
			Duration: 2 * time.Second, TimeToFirstByte: 500 * time.Millisecond, Processing: 3 * time.Millisecond,
		},
		{ // Anthropic Messages, not streamed, cache read and write
			RequestID: "r2", KeyID: "team-b", Endpoint: "messages", Model: "claude",
			Backend: "anthropic.claude-sonnet-4-5", Provider: "anthropic", UpstreamModel: "claude-sonnet-4-5",
			Status:  200,
			Usage:   canonical.Usage{InputTokens: 3000, CachedInputTokens: 1000, CacheCreationTokens: 500, OutputTokens: 200},
			CostUSD: 0.125, CostKnown: true, Start: t0,
			Duration: 1200 * time.Millisecond, TimeToFirstByte: 1200 * time.Millisecond, Processing: 2 * time.Millisecond,
		},
		{ // embeddings on a self-hosted model: no price, estimated tokens
			RequestID: "r3", KeyID: "team-a", Endpoint: "embeddings", Model: "embed",
			Backend: "vllm.e5", Provider: "local-vllm", UpstreamModel: "e5-large",
			Status: 200, Usage: canonical.Usage{InputTokens: 42, Estimated: true}, Start: t0,
			Duration: 50 * time.Millisecond, Processing: time.Millisecond,
		},
		{ // upstream failure
			RequestID: "r4", KeyID: "team-a", Endpoint: "chat", Model: "gpt-4o",
			Backend: "openai.gpt-4o", Provider: "openai-main", UpstreamModel: "gpt-4o-2024-08-06",
			Status: 503, ErrorType: "upstream_503", CostKnown: true, Start: t0,
			Duration: 300 * time.Millisecond, Processing: 2 * time.Millisecond,
		},
		{ // rejected locally before routing
			RequestID: "r5", Endpoint: "chat", Status: 401, ErrorType: "authentication", Start: t0,
			Duration: time.Millisecond, Processing: 500 * time.Microsecond,
		},
		{ // stream that failed after the first byte
			RequestID: "r6", KeyID: "team-b", Endpoint: "chat", Model: "gpt-4o",
			Backend: "openai.gpt-4o", Provider: "openai-main", UpstreamModel: "gpt-4o-2024-08-06",
			Status: 200, ErrorType: "stream_error", Stream: true,
			Usage: canonical.Usage{InputTokens: 10, OutputTokens: 5}, CostUSD: 0.0078125, CostKnown: true, Start: t0,
			Duration: time.Second, TimeToFirstByte: 200 * time.Millisecond, Processing: time.Millisecond,
		},
	}
}

func newTestMetrics(t testing.TB, opts MetricsOptions) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if opts.ProviderKinds == nil {
		opts.ProviderKinds = map[string]string{"openai-main": "openai", "local-vllm": "vllm"}
	}
	m, err := NewMetrics(reg, opts)
	require.NoError(t, err)
	return m, reg
}

func observeAll(m *Metrics) {
	for _, s := range fixtureSummaries() {
		m.Observe(context.Background(), s)
	}
}

func TestMetricsExactCounters(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{})
	observeAll(m)
	m.Observe(context.Background(), nil) // ignored

	expected := `
# HELP llm_router_requests_total Finished requests by endpoint, public model, backend, HTTP status class and error type.
# TYPE llm_router_requests_total counter
llm_router_requests_total{backend="anthropic.claude-sonnet-4-5",endpoint="messages",error_type="",model="claude",status_class="2xx"} 1
llm_router_requests_total{backend="none",endpoint="chat",error_type="authentication",model="none",status_class="4xx"} 1
llm_router_requests_total{backend="openai.gpt-4o",endpoint="chat",error_type="",model="gpt-4o",status_class="2xx"} 1
llm_router_requests_total{backend="openai.gpt-4o",endpoint="chat",error_type="stream_error",model="gpt-4o",status_class="2xx"} 1
llm_router_requests_total{backend="openai.gpt-4o",endpoint="chat",error_type="upstream_503",model="gpt-4o",status_class="5xx"} 1
llm_router_requests_total{backend="vllm.e5",endpoint="embeddings",error_type="",model="embed",status_class="2xx"} 1
# HELP llm_router_cost_usd_total Cost of priced requests in US dollars, from the price table.
# TYPE llm_router_cost_usd_total counter
llm_router_cost_usd_total{model="claude"} 0.125
llm_router_cost_usd_total{model="gpt-4o"} 0.0703125
# HELP llm_router_unpriced_requests_total Requests that reached a backend whose model has no price: counted at cost 0.
# TYPE llm_router_unpriced_requests_total counter
llm_router_unpriced_requests_total{backend="vllm.e5",model="embed"} 1
# HELP llm_router_tokens_estimated_total Tokens estimated by llm-router's tokenizer because the provider reported none.
# TYPE llm_router_tokens_estimated_total counter
llm_router_tokens_estimated_total{model="embed",token_type="input"} 42
# HELP llm_router_tokens_total Tokens by public model and token type (cached_input, cache_creation_input and reasoning are subsets of input and output).
# TYPE llm_router_tokens_total counter
llm_router_tokens_total{model="claude",token_type="cache_creation_input"} 500
llm_router_tokens_total{model="claude",token_type="cached_input"} 1000
llm_router_tokens_total{model="claude",token_type="input"} 3000
llm_router_tokens_total{model="claude",token_type="output"} 200
llm_router_tokens_total{model="embed",token_type="input"} 42
llm_router_tokens_total{model="gpt-4o",token_type="cached_input"} 200
llm_router_tokens_total{model="gpt-4o",token_type="input"} 1010
llm_router_tokens_total{model="gpt-4o",token_type="output"} 506
llm_router_tokens_total{model="gpt-4o",token_type="reasoning"} 100
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected),
		MetricRequests, MetricCost, MetricUnpriced, MetricTokensEstimated, MetricTokens))
}

func TestMetricsExactHistograms(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{})
	observeAll(m)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	h := func(name string, labels map[string]string) *dto.Histogram {
		t.Helper()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, metric := range mf.GetMetric() {
				got := map[string]string{}
				for _, lp := range metric.GetLabel() {
					got[lp.GetName()] = lp.GetValue()
				}
				for k, v := range labels {
					if got[k] != v {
						continue next
					}
				}
				return metric.GetHistogram()
			}
		}
		t.Fatalf("no %s series with %v", name, labels)
		return nil
	}
	openai := map[string]string{"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o", "gen_ai_response_model": "gpt-4o-2024-08-06", "gen_ai_operation_name": "chat"}
	with := func(base map[string]string, k, v string) map[string]string {
		c := map[string]string{k: v}
		for bk, bv := range base {
			c[bk] = bv
		}
		return c
	}

	in := h(MetricTokenUsage, with(openai, "gen_ai_token_type", "input"))
	require.Equal(t, uint64(2), in.GetSampleCount())
	require.Equal(t, 1010.0, in.GetSampleSum())
	out := h(MetricTokenUsage, with(openai, "gen_ai_token_type", "output"))
	require.Equal(t, 506.0, out.GetSampleSum())
	// 5 and 501 output tokens: one in le=16, both in le=1024, none in le=4.
	require.Equal(t, uint64(0), bucket(out, 4))
	require.Equal(t, uint64(1), bucket(out, 16))
	require.Equal(t, uint64(2), bucket(out, 1024))

	claude := h(MetricTokenUsage, map[string]string{"gen_ai_provider_name": "anthropic", "gen_ai_token_type": "cache_creation_input"})
	require.Equal(t, 500.0, claude.GetSampleSum())
	vllm := h(MetricTokenUsage, map[string]string{"gen_ai_provider_name": "vllm", "gen_ai_operation_name": "embeddings"})
	require.Equal(t, 42.0, vllm.GetSampleSum())

	ok := h(MetricRequestDuration, with(openai, "error_type", ""))
	require.Equal(t, uint64(1), ok.GetSampleCount())
	require.Equal(t, 2.0, ok.GetSampleSum())
	require.Equal(t, uint64(0), bucket(ok, 1.28))
	require.Equal(t, uint64(1), bucket(ok, 2.56))
	failed := h(MetricRequestDuration, with(openai, "error_type", "upstream_503"))
	require.InDelta(t, 0.3, failed.GetSampleSum(), 1e-12)

	// TTFT: both streams (the failed one too), not the unstreamed Anthropic call.
	ttft := h(MetricTimeToFirstToken, with(openai, "error_type", ""))
	require.Equal(t, 0.5, ttft.GetSampleSum())
	ttftErr := h(MetricTimeToFirstToken, with(openai, "error_type", "stream_error"))
	require.InDelta(t, 0.2, ttftErr.GetSampleSum(), 1e-12)
	// TPOT: (2s − 0.5s) / (501 − 1) = 3ms, only for the successful stream.
	tpot := h(MetricTimePerOutputToken, openai)
	require.Equal(t, uint64(1), tpot.GetSampleCount())
	require.InDelta(t, 0.003, tpot.GetSampleSum(), 1e-12)

	proc := h(MetricProcessing, map[string]string{"endpoint": "chat", "backend": "none"})
	require.InDelta(t, 0.0005, proc.GetSampleSum(), 1e-12)
	up := h(MetricUpstreamDuration, map[string]string{"endpoint": "chat", "backend": "openai.gpt-4o"})
	require.Equal(t, uint64(3), up.GetSampleCount())
	require.InDelta(t, 1.997+0.298+0.999, up.GetSampleSum(), 1e-9)

	for _, name := range []string{MetricTimeToFirstToken, MetricTimePerOutputToken} {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, metric := range mf.GetMetric() {
				for _, lp := range metric.GetLabel() {
					require.NotEqual(t, "claude", lp.GetValue(), "%s recorded for an unstreamed response", name)
				}
			}
		}
	}
}

func bucket(h *dto.Histogram, le float64) uint64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	return 1 << 63
}

// TestMetricsGolden pins the whole exposition after the fixture summaries. Regenerate
// with -update after an intended change and review the diff.
func TestMetricsGolden(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{KeyIDLabel: true})
	observeAll(m)
	golden := filepath.Join("testdata", "observe.golden.txt")
	if *update {
		require.NoError(t, os.WriteFile(golden, exposition(t, reg), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.NoError(t, testutil.GatherAndCompare(reg, bytes.NewReader(want)))
}

func exposition(t testing.TB, g prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	return buf.Bytes()
}

// TestMetricsLint is the `promtool check metrics` equivalent.
func TestMetricsLint(t *testing.T) {
	for _, keyID := range []bool{false, true} {
		m, reg := newTestMetrics(t, MetricsOptions{KeyIDLabel: keyID})
		observeAll(m)
		problems, err := promlint.New(bytes.NewReader(exposition(t, reg))).Lint()
		require.NoError(t, err)
		require.Empty(t, problems)
	}
}

func TestMetricsCardinalityAllowList(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{
		Models: []string{"gpt-4o"}, Backends: []string{"openai.gpt-4o"}, UpstreamModels: []string{"gpt-4o-2024-08-06"},
	})
	observeAll(m)
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("messages", LabelOther, LabelOther, "2xx", "")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("embeddings", LabelOther, LabelOther, "2xx", "")))
	require.Equal(t, 0.125, testutil.ToFloat64(m.cost.WithLabelValues(LabelOther)))
	require.Equal(t, 0.0703125, testutil.ToFloat64(m.cost.WithLabelValues("gpt-4o")))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP llm_router_unpriced_requests_total Requests that reached a backend whose model has no price: counted at cost 0.
# TYPE llm_router_unpriced_requests_total counter
llm_router_unpriced_requests_total{backend="other",model="other"} 1
`), MetricUnpriced))
}

func TestMetricsCardinalityCap(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{MaxValues: 3})
	for i := range 50 {
		m.Observe(context.Background(), &gateway.Summary{
			Endpoint: "chat", Model: "random-" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Status: 404, ErrorType: "not_found",
		})
	}
	m.Observe(context.Background(), &gateway.Summary{Endpoint: "chat", Model: "bad\nvalue", Status: 400, ErrorType: "invalid_request"})
	m.Observe(context.Background(), &gateway.Summary{Endpoint: "chat", Model: strings.Repeat("x", 200), Status: 400})
	n, err := testutil.GatherAndCount(reg, MetricRequests)
	require.NoError(t, err)
	// 3 distinct models, then "other" for the remaining 47 404s, and one series each for
	// the two invalid model names (different error types).
	require.Equal(t, 6, n)
	require.Equal(t, 47.0, testutil.ToFloat64(m.requests.WithLabelValues("chat", LabelOther, LabelNone, "4xx", "not_found")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("chat", LabelOther, LabelNone, "4xx", "invalid_request")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("chat", LabelOther, LabelNone, "4xx", "")))
}

func TestMetricsKeyIDLabel(t *testing.T) {
	m, _ := newTestMetrics(t, MetricsOptions{KeyIDLabel: true, MaxKeyIDs: 1})
	observeAll(m)
	// team-a is the first key seen; team-b is over the cap of one.
	require.Equal(t, 0.0625, testutil.ToFloat64(m.cost.WithLabelValues("gpt-4o", "team-a")))
	require.Equal(t, 0.0078125, testutil.ToFloat64(m.cost.WithLabelValues("gpt-4o", LabelOther)))
	require.Equal(t, 0.125, testutil.ToFloat64(m.cost.WithLabelValues("claude", LabelOther)))
	require.Equal(t, 42.0, testutil.ToFloat64(m.tokens.WithLabelValues("embed", TokenInput, "team-a")))
}

func TestMetricsExemplar(t *testing.T) {
	m, reg := newTestMetrics(t, MetricsOptions{})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
	m.Observe(ctx, fixtureSummaries()[0])
	mfs, err := reg.Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range mfs {
		if mf.GetName() != MetricRequestDuration {
			continue
		}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			if ex := b.GetExemplar(); ex != nil {
				require.Equal(t, "trace_id", ex.GetLabel()[0].GetName())
				require.Equal(t, tid.String(), ex.GetLabel()[0].GetValue())
				found = true
			}
		}
	}
	require.True(t, found)
}

func TestNewMetricsErrors(t *testing.T) {
	_, err := NewMetrics(nil, MetricsOptions{})
	require.Error(t, err)
	reg := prometheus.NewRegistry()
	_, err = NewMetrics(reg, MetricsOptions{})
	require.NoError(t, err)
	_, err = NewMetrics(reg, MetricsOptions{}) // duplicate registration
	require.ErrorContains(t, err, "register")
}

func TestLabelHelpers(t *testing.T) {
	for kind, want := range map[string]string{
		"openai": "openai", "azure-openai": "azure.ai.openai", "anthropic": "anthropic",
		"gemini": "gcp.gemini", "vertex-ai": "gcp.vertex_ai", "vertex-anthropic": "gcp.vertex_ai",
		"bedrock": "aws.bedrock", "cohere": "cohere", "mistral": "mistral_ai", "groq": "groq",
		"deepseek": "deepseek", "xai": "x_ai", "vllm": "vllm",
	} {
		require.Equal(t, want, ProviderName(kind), kind)
	}
	require.Equal(t, "embeddings", OperationName("embeddings"))
	require.Equal(t, "chat", OperationName("messages"))
	for status, want := range map[int]string{0: "none", 101: "1xx", 204: "2xx", 304: "3xx", 429: "4xx", 504: "5xx", 999: "none"} {
		require.Equal(t, want, statusClass(status))
	}
}

// BenchmarkObserve is the per-request cost of the metrics observer.
func BenchmarkObserve(b *testing.B) {
	m, _ := newTestMetrics(b, MetricsOptions{Models: []string{"gpt-4o", "claude", "embed"}})
	ss := fixtureSummaries()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Observe(ctx, ss[i%len(ss)])
		i++
	}
}
