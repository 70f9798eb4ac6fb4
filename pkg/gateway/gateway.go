// Package gateway is llm-router's request pipeline: for each ext_proc stream it
// authenticates the caller, resolves the model, picks a backend, translates the request
// for that backend (or passes it through when the schemas match), translates the
// response back, counts tokens, and reports the outcome. It implements extproc.Handler
// and knows providers only through pkg/provider interfaces.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/cache"
	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/limits"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/routing"
)

// Summary describes one finished request, for logs, metrics and the usage ledger.
type Summary struct {
	RequestID string
	KeyID     string
	Endpoint  string
	Model     string // public model name
	Backend   string
	Provider  string
	// ProviderKind is the provider's registry kind (openai, anthropic, …).
	ProviderKind string
	// CacheStatus is "hit", "miss" (stored or storable), "bypass" or "" (cache off).
	CacheStatus string
	// UpstreamRequestID is the provider's own request id, when it sent one.
	UpstreamRequestID string
	// Owner and Team come from the caller's key, for reports.
	Owner, Team   string
	UpstreamModel string
	Status        int
	ErrorType     string
	Stream        bool
	Usage         canonical.Usage
	// CostUSD is the request's cost from the price table; CostKnown is false when the
	// model has no price (cost 0, flagged in metrics rather than guessed).
	CostUSD   float64
	CostKnown bool
	Start     time.Time
	Duration  time.Duration
	// TimeToFirstByte is the time from request start to the first response byte.
	TimeToFirstByte time.Duration
	// Processing is the time spent inside llm-router (all phases).
	Processing time.Duration
}

// Observer receives a Summary for every finished request. Implementations must not
// block (queue and return).
type Observer interface {
	Observe(ctx context.Context, s *Summary)
}

// TokenEstimator estimates tokens when a provider reports none.
type TokenEstimator interface {
	EstimateRequest(model string, req *canonical.Request) int
	CountText(model, text string) int
}

// Pricer prices token usage for an upstream model of a provider kind.
type Pricer interface {
	Cost(providerKind, model string, u canonical.Usage) (usd float64, known bool)
}

// Options are the Gateway's dependencies.
type Options struct {
	// Frontends are the client-facing schemas (openai is required; anthropic enables
	// /v1/messages).
	Frontends map[provider.Schema]provider.Frontend
	// Logger writes one info line per request; nil disables it.
	Logger *zap.Logger
	// Observers receive each request's summary.
	Observers []Observer
	// Tokens estimates usage when a provider reports none; nil disables estimation.
	Tokens TokenEstimator
	// Pricer computes cost; nil prices everything at 0 (unknown).
	Pricer Pricer
	// Limiter enforces rate limits, budgets and concurrency; nil disables limits.
	Limiter limits.Limiter
	// Cache is the exact-match response cache; nil disables caching.
	Cache cache.Cache
	// CacheTTL is the lifetime of stored responses (0: the store's default).
	CacheTTL time.Duration
	// CachePerKey keeps cached answers separate per API key.
	CachePerKey bool
	// CacheMetrics counts bypasses by reason; may be nil.
	CacheMetrics *cache.Metrics
	// Router orders candidates (strategies, circuit breakers, in-flight and latency
	// statistics); nil uses the simple built-in strategies without breakers.
	Router *routing.Router
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Gateway implements extproc.Handler.
type Gateway struct {
	rt        atomic.Pointer[Runtime]
	frontends map[provider.Schema]provider.Frontend
	log       *zap.Logger
	observers []Observer
	tokens    TokenEstimator
	pricer    Pricer
	router    *routing.Router
	limiter   limits.Limiter
	cache     cache.Cache
	cacheTTL  time.Duration
	cacheKey  bool
	cacheMet  *cache.Metrics
	now       func() time.Time
	// inflight maps request ids to router-level exchanges so the upstream-level filter
	// (a different ext_proc stream of the same request) can find the parsed request.
	inflight sync.Map
}

// New returns a Gateway serving rt.
func New(rt *Runtime, opts Options) *Gateway {
	g := &Gateway{frontends: opts.Frontends, log: opts.Logger, observers: opts.Observers, tokens: opts.Tokens, pricer: opts.Pricer, router: opts.Router, now: opts.Now,
		limiter: opts.Limiter, cache: opts.Cache, cacheTTL: opts.CacheTTL, cacheKey: opts.CachePerKey, cacheMet: opts.CacheMetrics}
	if g.log == nil {
		g.log = zap.NewNop()
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.rt.Store(rt)
	return g
}

// Swap atomically replaces the runtime; requests in flight keep the old one.
func (g *Gateway) Swap(rt *Runtime) { g.rt.Store(rt) }

// Runtime returns the current snapshot.
func (g *Gateway) Runtime() *Runtime { return g.rt.Load() }

// NewExchange implements extproc.Handler. Whether the stream comes from the router-level
// or the upstream-level filter is decided on its first message.
func (g *Gateway) NewExchange(context.Context) extproc.Exchange {
	return &dispatchExchange{g: g}
}

// dispatchExchange picks the router-level or upstream-level behaviour from the first
// message: only the upstream filter is configured with request_attributes naming the
// upstream host metadata.
type dispatchExchange struct {
	g     *Gateway
	inner extproc.Exchange
}

func (d *dispatchExchange) RequestHeaders(ctx context.Context, req *extproc.RequestHeaders) extproc.Reply {
	if _, ok := req.Attributes[attrUpstreamHostMetadata]; ok {
		d.inner = &upstreamExchange{g: d.g}
	} else {
		d.inner = newRouterExchange(d.g)
	}
	return d.inner.RequestHeaders(ctx, req)
}

func (d *dispatchExchange) RequestBody(ctx context.Context, body []byte, eos bool) extproc.Reply {
	if d.inner == nil {
		return extproc.Reply{}
	}
	return d.inner.RequestBody(ctx, body, eos)
}

func (d *dispatchExchange) ResponseHeaders(ctx context.Context, h extproc.Headers, eos bool) extproc.Reply {
	if d.inner == nil {
		return extproc.Reply{}
	}
	return d.inner.ResponseHeaders(ctx, h, eos)
}

func (d *dispatchExchange) ResponseBody(ctx context.Context, chunk []byte, eos bool) extproc.Reply {
	if d.inner == nil {
		return extproc.Reply{}
	}
	return d.inner.ResponseBody(ctx, chunk, eos)
}

func (d *dispatchExchange) Close(ctx context.Context, err error) {
	if d.inner != nil {
		d.inner.Close(ctx, err)
	}
}

// newRequestID returns a random 128-bit hex id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
