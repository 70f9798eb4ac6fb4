// Package telemetry turns finished requests (gateway.Summary) into Prometheus series:
// the OpenTelemetry GenAI semantic conventions (token usage, request duration, time to
// first token, time per output token) exported with Prometheus naming, plus llm-router's
// own gateway series (requests, processing time, cost, unpriced requests, estimated
// tokens). Label cardinality is bounded. Tracing lives in the tracing sub-package, which
// the gateway can import without a cycle.
package telemetry

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/llm-router/llm-router/pkg/gateway"
)

// Metric names. GenAI names follow the OpenTelemetry → Prometheus conversion: dots
// become underscores, the unit "s" becomes "_seconds" and the annotation unit
// "{token}" adds no suffix.
const (
	MetricTokenUsage         = "gen_ai_client_token_usage"
	MetricRequestDuration    = "gen_ai_server_request_duration_seconds"
	MetricTimeToFirstToken   = "gen_ai_server_time_to_first_token_seconds"
	MetricTimePerOutputToken = "gen_ai_server_time_per_output_token_seconds"
	MetricRequests           = "llm_router_requests_total"
	MetricProcessing         = "llm_router_processing_seconds"
	MetricUpstreamDuration   = "llm_router_upstream_duration_seconds"
	MetricCost               = "llm_router_cost_usd_total"
	MetricTokens             = "llm_router_tokens_total"
	MetricUnpriced           = "llm_router_unpriced_requests_total"
	MetricTokensEstimated    = "llm_router_tokens_estimated_total"
)

// Token types (gen_ai_token_type). The semantic conventions define input and output;
// the cache and reasoning kinds are llm-router's additions, and they are subsets of
// input and output respectively (do not add them to those).
const (
	TokenInput         = "input"
	TokenOutput        = "output"
	TokenCachedInput   = "cached_input"
	TokenCacheCreation = "cache_creation_input"
	TokenReasoning     = "reasoning"
)

// Bucket boundaries recommended by the OpenTelemetry GenAI metric conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/).
var (
	tokenBuckets      = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets   = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets       = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	tpotBuckets       = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
	processingBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

// MetricsOptions bound the label values. Free-form values (model names a client sends,
// key ids) are capped: with an allow-list only listed values are kept, without one the
// first MaxValues distinct values are kept; the rest are reported as "other".
type MetricsOptions struct {
	// Models are the public model names (config models[].name).
	Models []string
	// Backends are the backend names (config models[].backends[].name).
	Backends []string
	// UpstreamModels are the provider model ids (gen_ai_response_model).
	UpstreamModels []string
	// ProviderKinds maps a provider's config name (Summary.Provider) to its kind, from
	// which gen_ai_provider_name is derived. A name not in the map is taken as a kind.
	ProviderKinds map[string]string
	// KeyIDLabel adds a key_id label to the cost and token counters. Off by default:
	// every key becomes a series.
	KeyIDLabel bool
	// MaxKeyIDs caps the distinct key ids when KeyIDLabel is on (default 1000).
	MaxKeyIDs int
	// MaxValues caps each label that has no allow-list (default 100).
	MaxValues int
}

// Metrics implements gateway.Observer. Observe is synchronous but only updates
// in-memory metric vectors (no I/O, no blocking beyond short mutexes).
type Metrics struct {
	opts MetricsOptions

	model, backend, upstream, provider, endpoint, errType, keyID *boundedLabel

	tokenUsage, requestDuration, ttft, tpot *prometheus.HistogramVec
	processing, upstreamDur                 *prometheus.HistogramVec
	requests, cost, tokens                  *prometheus.CounterVec
	unpriced, estimated                     *prometheus.CounterVec
}

var _ gateway.Observer = (*Metrics)(nil)

// NewMetrics creates the metric vectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer, opts MetricsOptions) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("telemetry: NewMetrics needs a Registerer")
	}
	if opts.MaxValues <= 0 {
		opts.MaxValues = 100
	}
	if opts.MaxKeyIDs <= 0 {
		opts.MaxKeyIDs = 1000
	}
	m := &Metrics{
		opts:     opts,
		model:    newBoundedLabel(opts.Models, opts.MaxValues),
		backend:  newBoundedLabel(opts.Backends, opts.MaxValues),
		upstream: newBoundedLabel(opts.UpstreamModels, opts.MaxValues),
		provider: newBoundedLabel(nil, 64),
		endpoint: newBoundedLabel(nil, 16),
		errType:  newBoundedLabel(nil, 64),
		keyID:    newBoundedLabel(nil, opts.MaxKeyIDs),
	}
	genai := []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model"}
	genaiErr := append(append([]string{}, genai...), "error_type")
	keyed := func(labels ...string) []string {
		if opts.KeyIDLabel {
			return append(labels, "key_id")
		}
		return labels
	}
	m.tokenUsage = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricTokenUsage,
		Help:    "Number of input and output tokens used per request (OpenTelemetry gen_ai.client.token.usage); cached_input, cache_creation_input and reasoning are subsets of input and output.",
		Buckets: tokenBuckets,
	}, append(append([]string{}, genai...), "gen_ai_token_type"))
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRequestDuration,
		Help:    "Time from request start to the last response byte, upstream time included (OpenTelemetry gen_ai.server.request.duration).",
		Buckets: durationBuckets,
	}, genaiErr)
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricTimeToFirstToken,
		Help:    "Time from request start to the first streamed response byte (OpenTelemetry gen_ai.server.time_to_first_token).",
		Buckets: ttftBuckets,
	}, genaiErr)
	m.tpot = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricTimePerOutputToken,
		Help:    "Time per output token after the first, for successful streamed responses (OpenTelemetry gen_ai.server.time_per_output_token).",
		Buckets: tpotBuckets,
	}, genaiErr)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequests,
		Help: "Finished requests by endpoint, public model, backend, HTTP status class and error type.",
	}, []string{"endpoint", "model", "backend", "status_class", "error_type"})
	m.processing = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricProcessing,
		Help:    "Time spent inside llm-router per request (all phases), excluding upstream time.",
		Buckets: processingBuckets,
	}, []string{"endpoint", "backend"})
	m.upstreamDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricUpstreamDuration,
		Help:    "Request duration minus the time spent inside llm-router: the upstream's share.",
		Buckets: durationBuckets,
	}, []string{"endpoint", "backend"})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricCost,
		Help: "Cost of priced requests in US dollars, from the price table.",
	}, keyed("model"))
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricTokens,
		Help: "Tokens by public model and token type (cached_input, cache_creation_input and reasoning are subsets of input and output).",
	}, keyed("model", "token_type"))
	m.unpriced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricUnpriced,
		Help: "Requests that reached a backend whose model has no price: counted at cost 0.",
	}, []string{"model", "backend"})
	m.estimated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricTokensEstimated,
		Help: "Tokens estimated by llm-router's tokenizer because the provider reported none.",
	}, []string{"model", "token_type"})
	for _, c := range []prometheus.Collector{
		m.tokenUsage, m.requestDuration, m.ttft, m.tpot, m.requests, m.processing,
		m.upstreamDur, m.cost, m.tokens, m.unpriced, m.estimated,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register metrics: %w", err)
		}
	}
	return m, nil
}

// Observe implements gateway.Observer.
func (m *Metrics) Observe(ctx context.Context, s *gateway.Summary) {
	if s == nil {
		return
	}
	endpoint := m.endpoint.value(s.Endpoint)
	model := m.model.value(s.Model)
	backend := m.backend.value(s.Backend)
	errType := ""
	if s.ErrorType != "" {
		errType = m.errType.value(s.ErrorType)
	}
	m.requests.WithLabelValues(endpoint, model, backend, statusClass(s.Status), errType).Inc()
	if s.Processing > 0 {
		m.processing.WithLabelValues(endpoint, backend).Observe(s.Processing.Seconds())
	}
	if s.Backend == "" {
		// Answered locally (models list, token count, auth or limit rejections): no
		// upstream, no GenAI operation.
		return
	}
	if up := s.Duration - s.Processing; up > 0 {
		m.upstreamDur.WithLabelValues(endpoint, backend).Observe(up.Seconds())
	}

	kind := s.Provider
	if k, ok := m.opts.ProviderKinds[s.Provider]; ok {
		kind = k
	}
	op := OperationName(s.Endpoint)
	provider := m.provider.value(ProviderName(kind))
	respModel := m.upstream.value(s.UpstreamModel)

	observeWithTrace(ctx, m.requestDuration.WithLabelValues(op, provider, model, respModel, errType), s.Duration)
	success := s.Status >= 200 && s.Status < 300 && s.ErrorType == ""
	if s.Stream && s.TimeToFirstByte > 0 {
		m.ttft.WithLabelValues(op, provider, model, respModel, errType).Observe(s.TimeToFirstByte.Seconds())
		if success && s.Usage.OutputTokens > 1 && s.Duration > s.TimeToFirstByte {
			perToken := (s.Duration - s.TimeToFirstByte).Seconds() / float64(s.Usage.OutputTokens-1)
			m.tpot.WithLabelValues(op, provider, model, respModel, errType).Observe(perToken)
		}
	}

	key := ""
	if m.opts.KeyIDLabel {
		key = m.keyID.value(s.KeyID)
	}
	u := s.Usage
	for _, tk := range [...]struct {
		typ string
		n   int
	}{
		{TokenInput, u.InputTokens},
		{TokenOutput, u.OutputTokens},
		{TokenCachedInput, u.CachedInputTokens},
		{TokenCacheCreation, u.CacheCreationTokens},
		{TokenReasoning, u.ReasoningTokens},
	} {
		if tk.n <= 0 {
			continue
		}
		m.tokenUsage.WithLabelValues(op, provider, model, respModel, tk.typ).Observe(float64(tk.n))
		if m.opts.KeyIDLabel {
			m.tokens.WithLabelValues(model, tk.typ, key).Add(float64(tk.n))
		} else {
			m.tokens.WithLabelValues(model, tk.typ).Add(float64(tk.n))
		}
		if u.Estimated {
			m.estimated.WithLabelValues(model, tk.typ).Add(float64(tk.n))
		}
	}

	switch {
	case s.CostKnown && s.CostUSD > 0:
		if m.opts.KeyIDLabel {
			m.cost.WithLabelValues(model, key).Add(s.CostUSD)
		} else {
			m.cost.WithLabelValues(model).Add(s.CostUSD)
		}
	case !s.CostKnown:
		m.unpriced.WithLabelValues(model, backend).Inc()
	}
}

// observeWithTrace records d and, when ctx carries a sampled span, attaches its trace
// id as an exemplar so a latency outlier links to its trace.
func observeWithTrace(ctx context.Context, o prometheus.Observer, d time.Duration) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(d.Seconds(), prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(d.Seconds())
}
