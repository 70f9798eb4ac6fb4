package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/routing"
	"github.com/llm-router/llm-router/pkg/telemetry/tracing"
)

// fail answers the request locally with e in the caller's schema.
func (x *routerExchange) fail(e *canonical.Error) extproc.Reply {
	return x.failWith(e)
}

func (x *routerExchange) failWith(e *canonical.Error, extra ...extproc.Header) extproc.Reply {
	x.localStatus = e.Status
	if x.errType == "" {
		x.errType = string(e.Kind)
	}
	var body []byte
	if x.front != nil {
		body = x.front.EncodeError(e)
	} else if f := x.g.frontends["openai"]; f != nil {
		body = f.EncodeError(e)
	} else {
		body, _ = json.Marshal(map[string]any{"error": map[string]string{"message": e.Message, "type": string(e.Kind)}})
	}
	headers := []extproc.Header{{Name: "content-type", Value: "application/json"}}
	if ra := e.RetryAfterHeader(); ra != "" {
		headers = append(headers, extproc.Header{Name: "retry-after", Value: ra})
	}
	if x.reqID != "" {
		headers = append(headers, extproc.Header{Name: HeaderRequestID, Value: x.reqID})
	}
	headers = append(headers, extra...)
	return extproc.Reply{Immediate: &extproc.ImmediateResponse{
		Status: e.Status, Headers: headers, Body: body, Details: "llm_router_" + string(e.Kind),
	}}
}

// respondJSON answers the request locally with a 200 JSON body.
func (x *routerExchange) respondJSON(v any) extproc.Reply {
	body, err := json.Marshal(v)
	if err != nil {
		return x.fail(canonical.NewError(canonical.ErrInternal, "could not encode response"))
	}
	x.localStatus = 200
	return extproc.Reply{Immediate: &extproc.ImmediateResponse{
		Status:  200,
		Headers: []extproc.Header{{Name: "content-type", Value: "application/json"}},
		Body:    body,
		Details: "llm_router_local",
	}}
}

func authError(err error) *canonical.Error {
	e := canonical.NewError(canonical.ErrAuthentication, "%s", err.Error())
	switch {
	case errors.Is(err, auth.ErrMissing):
		e.Message = "missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
		e.Code = "missing_api_key"
	case errors.Is(err, auth.ErrExpired):
		e.Code = "expired_api_key"
	case errors.Is(err, auth.ErrRevoked):
		e.Code = "revoked_api_key"
	case errors.Is(err, auth.ErrForbidden):
		e = canonical.NewError(canonical.ErrPermission, "%s", err.Error())
	default:
		e.Message = "invalid API key"
		e.Code = "invalid_api_key"
	}
	return e
}

func tooLarge(n, limit int) *canonical.Error {
	e := canonical.NewError(canonical.ErrRequestTooLarge, "request body of %d bytes exceeds the limit of %d bytes", n, limit)
	e.Code = "request_too_large"
	return e
}

// asAPIError converts an adapter error into a canonical error, defaulting to kind.
func asAPIError(err error, kind canonical.ErrorKind) *canonical.Error {
	var ce *canonical.Error
	if errors.As(err, &ce) {
		return ce
	}
	return canonical.NewError(kind, "%s", err.Error())
}

// modelObject is an entry of OpenAI's /v1/models list.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// listModels answers /v1/models and /v1/models/{id} locally.
func (x *routerExchange) listModels(rest string) extproc.Reply {
	rest = strings.TrimPrefix(rest, "/")
	allowed := func(name string) bool { return x.identity == nil || x.identity.AllowsModel(name) }
	if rest != "" {
		m, ok := x.rt.Model(rest)
		if !ok || !allowed(rest) {
			e := canonical.NewError(canonical.ErrNotFound, "the model %q does not exist or you do not have access to it", rest)
			e.Code = "model_not_found"
			return x.fail(e)
		}
		return x.respondJSON(modelObject{ID: rest, Object: "model", OwnedBy: ownerOf(m)})
	}
	data := make([]modelObject, 0, len(x.rt.ordered))
	for _, m := range x.rt.ordered {
		if allowed(m.Name) {
			data = append(data, modelObject{ID: m.Name, Object: "model", OwnedBy: ownerOf(m)})
		}
	}
	return x.respondJSON(map[string]any{"object": "list", "data": data})
}

func ownerOf(m *Model) string {
	if len(m.Backends) > 0 {
		return m.Backends[0].Provider
	}
	return "llm-router"
}

// countTokens answers Anthropic's /v1/messages/count_tokens locally, with the
// tokenizer of the model's first backend (the one a request would try first).
func (x *routerExchange) countTokens(body []byte, m *Model) extproc.Reply {
	req, err := x.front.ParseChatRequest(body)
	if err != nil {
		return x.fail(asAPIError(err, canonical.ErrInvalidRequest))
	}
	n := 0
	if x.g.tokens != nil {
		n = x.g.tokens.EstimateRequest(m.Backends[0].Model, req)
	}
	return x.respondJSON(map[string]int{"input_tokens": n})
}

// Close implements extproc.Exchange: it reports the request once.
func (x *routerExchange) Close(ctx context.Context, err error) {
	if x.reqID != "" && x.rt.upstream {
		x.g.inflight.Delete(x.reqID)
	}
	s := &Summary{
		RequestID: x.reqID, Endpoint: x.endpoint.String(), Stream: x.stream,
		Status: x.status, ErrorType: x.errType, Usage: x.usage, Start: x.start,
		Duration: x.g.now().Sub(x.start), TimeToFirstByte: x.firstByte, Processing: x.spent,
	}
	if x.localStatus != 0 {
		s.Status = x.localStatus
	}
	if x.identity != nil {
		s.KeyID, s.Owner, s.Team = x.identity.KeyID, x.identity.Owner, x.identity.Team
	}
	if x.model != nil {
		s.Model = x.model.Name
	}
	if info := x.attempt.Load(); info != nil {
		s.Backend, s.Provider, s.UpstreamModel = info.backend.Name, info.backend.Provider, info.backend.Model
		s.ProviderKind = info.backend.Adapter.Settings.Kind
	}
	if err != nil && s.ErrorType == "" {
		s.ErrorType = "stream_aborted"
	}
	if s.Status >= 200 && s.Status < 300 && s.Usage.IsZero() && x.g.tokens != nil && x.canon != nil && s.Model != "" {
		// The provider reported nothing: estimate the input and mark it.
		s.Usage = canonical.Usage{InputTokens: x.g.tokens.EstimateRequest(s.UpstreamModel, x.canon), Estimated: true}
	}
	s.CacheStatus = x.cacheStatus
	s.UpstreamRequestID = x.upstreamReqID
	if x.g.pricer != nil && s.UpstreamModel != "" && s.CacheStatus != "hit" {
		if info := x.attempt.Load(); info != nil {
			s.CostUSD, s.CostKnown = x.g.pricer.Cost(info.backend.Adapter.Settings.Kind, s.UpstreamModel, s.Usage)
		}
	}
	x.settle(int64(s.Usage.TotalTokens()), s.CostUSD)
	x.endAttempt(routing.Outcome{Status: s.Status, TimeToFirstByte: s.TimeToFirstByte, Duration: s.Duration, Err: err})
	if x.endpoint == epUnknown && s.Status == 0 {
		return
	}
	// Continue the caller's trace (W3C traceparent) for the observers' spans and logs.
	traceID := ""
	if x.reqHdr.Get("traceparent") != "" {
		ctx = tracing.Extract(ctx, x.reqHdr.Get)
		traceID = tracing.TraceIDFromHeaders(x.reqHdr.Get)
	}
	if ce := x.g.log.Check(zap.InfoLevel, "request"); ce != nil {
		ce.Write(
			zap.String("request_id", s.RequestID),
			zap.String("trace_id", traceID),
			zap.String("key_id", s.KeyID),
			zap.String("endpoint", s.Endpoint),
			zap.String("model", s.Model),
			zap.String("backend", s.Backend),
			zap.String("upstream_request_id", s.UpstreamRequestID),
			zap.Int("status", s.Status),
			zap.String("error_type", s.ErrorType),
			zap.Bool("stream", s.Stream),
			zap.Int("input_tokens", s.Usage.InputTokens),
			zap.Int("output_tokens", s.Usage.OutputTokens),
			zap.Bool("tokens_estimated", s.Usage.Estimated),
			zap.Float64("cost_usd", s.CostUSD),
			zap.String("cache", s.CacheStatus),
			zap.String("ab_arm", x.arm),
			zap.Duration("duration", s.Duration),
			zap.Duration("ttfb", s.TimeToFirstByte),
			zap.Duration("processing", s.Processing),
		)
	}
	for _, o := range x.g.observers {
		o.Observe(ctx, s)
	}
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// beginAttempt starts in-flight accounting for an attempt. A new attempt while another
// is open means Envoy retried: the previous one failed before any response reached us,
// so it is reported as a 503 for the breaker.
func (x *routerExchange) beginAttempt(r *routing.Router, backend string) {
	x.attemptMu.Lock()
	prev := x.attemptDone
	x.attemptDone = r.Begin(backend)
	x.attemptMu.Unlock()
	if prev != nil {
		prev(routing.Outcome{Status: 503})
	}
}

// endAttempt reports the outcome of the attempt in flight, once.
func (x *routerExchange) endAttempt(o routing.Outcome) {
	x.attemptMu.Lock()
	done := x.attemptDone
	x.attemptDone = nil
	x.attemptMu.Unlock()
	if done != nil {
		done(o)
	}
}
