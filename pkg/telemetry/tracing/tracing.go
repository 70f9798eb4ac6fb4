// Package tracing records one OpenTelemetry span per LLM request, with the GenAI
// semantic-convention attributes, continuing the caller's W3C trace context. It is off
// by default and costs nothing when off (no exporter, no goroutines, and Start/End do
// not allocate). When on, spans go to an OTLP/gRPC exporter configured by the standard
// OTEL_* environment variables.
//
// The package does not import the gateway, so the gateway can call it directly.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// InstrumentationName names the tracer.
const InstrumentationName = "github.com/llm-router/llm-router"

// Options configure NewTracerProvider. The zero value follows the environment only.
type Options struct {
	// ServiceName is the default service.name; OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES win over it. Empty means "llm-router".
	ServiceName string
	// ServiceVersion sets service.version.
	ServiceVersion string
	// SpanProcessors, when set, receive spans in addition to (or, with no OTLP
	// configuration, instead of) the OTLP exporter, and turn tracing on. Tests pass a
	// tracetest.SpanRecorder here.
	SpanProcessors []sdktrace.SpanProcessor
	// Sampler overrides OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
	Sampler sdktrace.Sampler
	// Getenv reads the environment; nil means os.Getenv. The SDK and the OTLP exporter
	// read their own OTEL_* variables from the process environment.
	Getenv func(string) string
}

// Provider owns the tracer provider. A disabled Provider hands out no-op spans.
type Provider struct {
	sdk    *sdktrace.TracerProvider
	tracer trace.Tracer
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// TracerProvider returns the OpenTelemetry tracer provider (a no-op one when disabled),
// for instrumentation libraries such as otelgrpc.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if !p.Enabled() {
		return noop.NewTracerProvider()
	}
	return p.sdk
}

// Shutdown flushes pending spans and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// NewTracerProvider builds the provider from the environment:
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off.
//   - OTEL_TRACES_EXPORTER=otlp, or an OTEL_EXPORTER_OTLP_ENDPOINT /
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: on, exporting over OTLP/gRPC (the exporter
//     reads the endpoint, headers, TLS, compression and timeout variables itself).
//   - otherwise off, unless opts.SpanProcessors are given.
//
// The sampler comes from OTEL_TRACES_SAMPLER(_ARG) (default parentbased_always_on), the
// resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
func NewTracerProvider(ctx context.Context, opts Options) (*Provider, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	disabled := &Provider{tracer: noop.NewTracerProvider().Tracer(InstrumentationName)}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return disabled, nil
	}
	useOTLP := false
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return disabled, nil
	case "otlp":
		useOTLP = true
	case "":
		useOTLP = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported (use otlp or none)", exp)
	}
	if !useOTLP && len(opts.SpanProcessors) == 0 {
		return disabled, nil
	}

	tpOpts := []sdktrace.TracerProviderOption{}
	if useOTLP {
		proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if proto == "" {
			proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if proto != "" && proto != "grpc" {
			return nil, fmt.Errorf("tracing: OTLP protocol %q is not supported (llm-router exports OTLP over gRPC)", proto)
		}
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	for _, sp := range opts.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
	}
	if opts.Sampler != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(opts.Sampler))
	}
	name := opts.ServiceName
	if name == "" {
		name = "llm-router"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if opts.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", opts.ServiceVersion))
	}
	// Later detectors win: the environment overrides the defaults given here.
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tpOpts = append(tpOpts, sdktrace.WithResource(res))
	sdk := sdktrace.NewTracerProvider(tpOpts...)
	return &Provider{sdk: sdk, tracer: sdk.Tracer(InstrumentationName)}, nil
}

// HeaderGetter returns the value of a lower-case request header, or "".
type HeaderGetter func(name string) string

// headerCarrier adapts a HeaderGetter to the propagation API (read only).
type headerCarrier HeaderGetter

func (h headerCarrier) Get(key string) string { return h(strings.ToLower(key)) }
func (headerCarrier) Set(string, string)      {}
func (headerCarrier) Keys() []string          { return []string{"traceparent", "tracestate"} }

// Extract returns ctx carrying the remote span context from the W3C traceparent and
// tracestate headers, if they are present and valid.
func Extract(ctx context.Context, get HeaderGetter) context.Context {
	if get == nil {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, headerCarrier(get))
}

// Inject writes the traceparent (and tracestate) of the span in ctx through set, for
// forwarding to an upstream.
func Inject(ctx context.Context, set func(name, value string)) {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	for k, v := range c {
		set(k, v)
	}
}

// TraceIDFromHeaders returns the trace id of a valid traceparent header ("" without
// one), so that access logs carry it even when tracing is off.
func TraceIDFromHeaders(get HeaderGetter) string {
	if get == nil {
		return ""
	}
	sc := trace.SpanContextFromContext(Extract(context.Background(), get))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Span is one request's span. The zero Span (tracing off) does nothing.
type Span struct {
	span trace.Span
}

// Start begins the request span as a child of the caller's traceparent. operation is
// the gen_ai.operation.name when known ("chat", "embeddings"). When tracing is off it
// returns ctx unchanged and a zero Span without allocating.
func (p *Provider) Start(ctx context.Context, get HeaderGetter, operation string) (context.Context, Span) {
	if !p.Enabled() {
		return ctx, Span{}
	}
	ctx = Extract(ctx, get)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	if operation != "" {
		opts = append(opts, trace.WithAttributes(attribute.String("gen_ai.operation.name", operation)))
	}
	name := operation
	if name == "" {
		name = "llm_router.request"
	}
	ctx, s := p.tracer.Start(ctx, name, opts...)
	return ctx, Span{span: s}
}

// Recording reports whether the span records (tracing on and sampled).
func (s Span) Recording() bool { return s.span != nil && s.span.IsRecording() }

// TraceID returns the span's trace id, or "".
func (s Span) TraceID() string {
	if s.span == nil {
		return ""
	}
	return s.span.SpanContext().TraceID().String()
}

// End sets the request's outcome on the span and ends it (at r.End when set).
func (s Span) End(r Result) {
	if s.span == nil {
		return
	}
	r.apply(s.span)
	if !r.End.IsZero() {
		s.span.End(trace.WithTimestamp(r.End))
		return
	}
	s.span.End()
}

// Record writes a finished request's span after the fact, from r.Start to r.End, as a
// child of the span context in ctx (see Extract). It does nothing when tracing is off.
func (p *Provider) Record(ctx context.Context, r Result) {
	if !p.Enabled() {
		return
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	if !r.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(r.Start))
	}
	_, s := p.tracer.Start(ctx, "llm_router.request", opts...)
	Span{span: s}.End(r)
}

// Result is a request's outcome, as recorded on its span.
type Result struct {
	// Operation is gen_ai.operation.name ("chat", "embeddings").
	Operation string
	// ProviderKind is the llm-router provider kind, mapped to gen_ai.provider.name.
	ProviderKind string
	// RequestModel is the model the caller asked for; ResponseModel the provider's.
	RequestModel, ResponseModel string
	// ServerAddress and ServerPort identify the upstream (server.address/port).
	ServerAddress string
	ServerPort    int
	// Status is the HTTP status returned to the caller.
	Status int
	// ErrorType classifies a failure (error.type); empty on success.
	ErrorType string
	// Usage is the token usage (gen_ai.usage.*).
	Usage canonical.Usage
	// Stream marks a streamed response.
	Stream bool
	// TimeToFirstByte is recorded as gen_ai.response.time_to_first_chunk for streams.
	TimeToFirstByte time.Duration
	// RequestID, KeyID and Backend are llm-router attributes (never the key itself).
	RequestID, KeyID, Backend string
	// CostUSD is recorded when CostKnown.
	CostUSD   float64
	CostKnown bool
	// Start and End bound the span in Record; End also ends a started Span.
	Start, End time.Time
}

// apply sets the span's name, attributes and status.
func (r Result) apply(s trace.Span) {
	op := r.Operation
	if op == "" {
		op = "chat"
	}
	name := op
	if r.RequestModel != "" {
		name = op + " " + r.RequestModel
	}
	s.SetName(name)
	attrs := make([]attribute.KeyValue, 0, 20)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	addInt := func(k string, v int) {
		if v > 0 {
			attrs = append(attrs, attribute.Int(k, v))
		}
	}
	add("gen_ai.operation.name", op)
	add("gen_ai.provider.name", ProviderName(r.ProviderKind))
	add("gen_ai.request.model", r.RequestModel)
	add("gen_ai.response.model", r.ResponseModel)
	add("server.address", r.ServerAddress)
	addInt("server.port", r.ServerPort)
	addInt("http.response.status_code", r.Status)
	if !r.Usage.IsZero() {
		attrs = append(attrs,
			attribute.Int("gen_ai.usage.input_tokens", r.Usage.InputTokens),
			attribute.Int("gen_ai.usage.output_tokens", r.Usage.OutputTokens))
		addInt("gen_ai.usage.cache_read.input_tokens", r.Usage.CachedInputTokens)
		addInt("gen_ai.usage.cache_creation.input_tokens", r.Usage.CacheCreationTokens)
		addInt("gen_ai.usage.reasoning.output_tokens", r.Usage.ReasoningTokens)
		if r.Usage.Estimated {
			attrs = append(attrs, attribute.Bool("llm_router.usage.estimated", true))
		}
	}
	if r.Stream {
		attrs = append(attrs, attribute.Bool("llm_router.stream", true))
		if r.TimeToFirstByte > 0 {
			attrs = append(attrs, attribute.Float64("gen_ai.response.time_to_first_chunk", r.TimeToFirstByte.Seconds()))
		}
	}
	add("llm_router.request_id", r.RequestID)
	add("llm_router.key_id", r.KeyID)
	add("llm_router.backend", r.Backend)
	if r.CostKnown {
		attrs = append(attrs, attribute.Float64("llm_router.cost_usd", r.CostUSD))
	}
	errType := r.ErrorType
	if errType == "" && r.Status >= 400 {
		errType = strconv.Itoa(r.Status)
	}
	if errType != "" {
		attrs = append(attrs, attribute.String("error.type", errType))
		s.SetStatus(codes.Error, errType)
	}
	s.SetAttributes(attrs...)
}

// ProviderName returns the gen_ai.provider.name of the OpenTelemetry GenAI semantic
// conventions for an llm-router provider kind. Kinds without a registered value keep
// their own name.
func ProviderName(kind string) string {
	switch kind {
	case "azure-openai":
		return "azure.ai.openai"
	case "gemini":
		return "gcp.gemini"
	case "vertex-ai", "vertex-anthropic":
		return "gcp.vertex_ai"
	case "bedrock":
		return "aws.bedrock"
	case "mistral":
		return "mistral_ai"
	case "xai":
		return "x_ai"
	}
	// openai, anthropic, cohere, groq, deepseek, perplexity: the same spelling.
	return kind
}

// OperationName returns the gen_ai.operation.name for a gateway endpoint.
func OperationName(endpoint string) string {
	if endpoint == "embeddings" {
		return "embeddings"
	}
	return "chat"
}
