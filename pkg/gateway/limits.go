package gateway

import (
	"context"
	"errors"
	"math"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/limits"
)

// admit asks the limiter for the request. It may wait in the concurrency queue, and
// returns early when the caller goes away (ctx ends with the ext_proc stream).
func (x *routerExchange) admit(ctx context.Context, b *Backend) (extproc.Reply, bool) {
	if x.g.limiter == nil {
		return extproc.Reply{}, true
	}
	req := &limits.Request{Model: x.model.Name, Backend: b.Name, EstimatedTokens: int64(len(x.body)/4) + x.maxTokens}
	if id := x.identity; id != nil {
		req.KeyID, req.Team, req.Priority, req.Key, req.Budget = id.KeyID, id.Team, id.Priority, id.Limits, id.Budget
	}
	t, err := x.g.limiter.Admit(ctx, req)
	if err != nil {
		var r *limits.Refusal
		if !errors.As(err, &r) {
			x.errType = "client_gone"
			e := canonical.NewError(canonical.ErrUnavailable, "request cancelled while waiting for capacity")
			e.Status = 499
			return x.fail(e), false
		}
		kind := canonical.ErrRateLimit
		code := "rate_limit_exceeded"
		switch {
		case r.Reason == limits.ReasonBudget:
			kind, code = canonical.ErrBudgetExceeded, "budget_exceeded"
		case r.Status == 503:
			kind, code = canonical.ErrUnavailable, "capacity_exceeded"
		}
		e := canonical.NewError(kind, "%s", r.Message)
		e.Status, e.Code = r.Status, code
		if r.RetryAfter > 0 {
			e.RetryAfterSeconds = int(math.Ceil(r.RetryAfter.Seconds()))
		}
		x.errType = "limit_" + r.Reason
		extra := make([]extproc.Header, 0, len(r.Headers))
		for _, h := range r.Headers {
			extra = append(extra, extproc.Header{Name: h.Name, Value: h.Value})
		}
		return x.failWith(e, extra...), false
	}
	x.ticket = t
	for _, h := range t.Headers() {
		x.limitHeaders = append(x.limitHeaders, extproc.Header{Name: h.Name, Value: h.Value})
	}
	return extproc.Reply{}, true
}

// settle reconciles the ticket with the real usage and cost, once.
func (x *routerExchange) settle(tokens int64, cost float64) {
	if x.ticket == nil {
		return
	}
	t := x.ticket
	x.ticket = nil
	t.Done(context.Background(), tokens, cost)
}

// parseUint decodes a non-negative JSON integer, or 0 for anything else.
func parseUint(v []byte) int64 {
	var m int64
	for _, c := range v {
		if c < '0' || c > '9' || m > 1<<40 {
			return 0
		}
		m = m*10 + int64(c-'0')
	}
	return m
}
