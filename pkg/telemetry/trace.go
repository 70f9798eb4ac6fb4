package telemetry

import (
	"context"

	"github.com/llm-router/llm-router/pkg/gateway"
	"github.com/llm-router/llm-router/pkg/telemetry/tracing"
)

// SpanFromSummary converts a finished request into the tracing package's Result.
// providerKind is the kind of s.Provider (Summary carries the provider's config name);
// serverAddress is the upstream host, if known.
func SpanFromSummary(s *gateway.Summary, providerKind, serverAddress string) tracing.Result {
	return tracing.Result{
		Operation:       OperationName(s.Endpoint),
		ProviderKind:    providerKind,
		RequestModel:    s.Model,
		ResponseModel:   s.UpstreamModel,
		ServerAddress:   serverAddress,
		Status:          s.Status,
		ErrorType:       s.ErrorType,
		Usage:           s.Usage,
		Stream:          s.Stream,
		TimeToFirstByte: s.TimeToFirstByte,
		RequestID:       s.RequestID,
		KeyID:           s.KeyID,
		Backend:         s.Backend,
		CostUSD:         s.CostUSD,
		CostKnown:       s.CostKnown,
		Start:           s.Start,
		End:             s.Start.Add(s.Duration),
	}
}

// TraceObserver is a gateway.Observer that records each finished request as a span,
// after the fact, under the span context found in the Observe context. Use it when the
// gateway does not start spans itself (tracing.Provider.Start / Span.End).
type TraceObserver struct {
	Provider *tracing.Provider
	// ProviderKinds maps provider config names to kinds (see MetricsOptions).
	ProviderKinds map[string]string
	// ServerAddresses maps provider config names to upstream hosts.
	ServerAddresses map[string]string
}

var _ gateway.Observer = (*TraceObserver)(nil)

// Observe implements gateway.Observer.
func (o *TraceObserver) Observe(ctx context.Context, s *gateway.Summary) {
	if s == nil || !o.Provider.Enabled() || s.Backend == "" {
		return
	}
	kind := s.Provider
	if k, ok := o.ProviderKinds[s.Provider]; ok {
		kind = k
	}
	o.Provider.Record(ctx, SpanFromSummary(s, kind, o.ServerAddresses[s.Provider]))
}
