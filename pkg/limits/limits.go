// Package limits admits or refuses requests against rate limits (requests and tokens
// per minute, per key, team and model), spending budgets (USD per key and team per
// day, month or in total) and concurrency limits (per key and per backend, with a
// bounded priority queue). It has one interface, Limiter, and two implementations:
// Memory for a single replica (the embedded default) and Redis for replicated
// deployments, where N replicas together admit exactly the configured limit.
//
// # Algorithms, by limit kind
//
//   - Requests and tokens per minute use GCRA (the generic cell rate algorithm, a
//     token bucket stored as one "theoretical arrival time"). It was chosen over a
//     sliding window because (1) it is exact: from a full bucket exactly N units pass,
//     with integer arithmetic (the cost of one unit, period/N, is carried as a quotient
//     and a remainder so no rounding leaks capacity), while the sliding-window counter
//     is an approximation and the sliding-window log costs memory per request; (2) its
//     state is two integers per limit, so one Redis hash and one HMGET serve a key;
//     (3) token reconciliation is natural: a response that used more tokens than
//     estimated pushes the arrival time forward (the caller pays the debt by waiting),
//     one that used fewer pulls it back; and (4) the OpenAI-style headers fall out
//     directly: remaining = headroom / cost of a unit, reset = time until the bucket
//     is full again, and retry-after is exact. There is no window edge at which twice
//     the limit can pass, which a fixed window allows.
//   - Budgets use calendar periods in UTC ("day", "month", or "total" for no reset),
//     because budgets are accounting periods that users compare with invoices.
//     A request is refused when the spend already charged reaches the budget
//     (spent ≥ budget); the real cost is charged when the request ends (Ticket.Done).
//     The spend read for a decision is the exact committed spend (one lock in memory,
//     one atomic script in Redis), so it is stale only by the cost of requests still
//     in flight: overspend is bounded by what those requests cost. Estimated costs
//     are deliberately not reserved: a reservation leaked by a crashed replica would
//     block a "total" budget forever, and an estimate (max_tokens × price) is usually
//     far above the real cost, so it would refuse requests that fit.
//   - Concurrency uses counting semaphores (in Redis: a sorted set of leases that
//     expire unless renewed, so a crashed replica frees its slots) fronted by a local
//     priority queue.
//
// Limits are checked in this order: requests, tokens and budgets (all or nothing, in
// one lock or one Redis round trip), then the key's concurrency slot, then the
// backend's. A request refused for concurrency gives back its request and tokens.
package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/auth"
)

// Reasons for a refusal (Refusal.Reason).
const (
	ReasonRequests    = "requests"
	ReasonTokens      = "tokens"
	ReasonBudget      = "budget"
	ReasonConcurrency = "concurrency"
	// ReasonUnavailable is a refusal because the shared store (Redis) is unreachable
	// and the fail mode is closed.
	ReasonUnavailable = "unavailable"
)

// Scopes name who a limit belongs to (Refusal.Scope, metric labels).
const (
	ScopeKey     = "key"
	ScopeTeam    = "team"
	ScopeModel   = "model"
	ScopeBackend = "backend"
)

// Request describes one request for admission.
type Request struct {
	// KeyID identifies the caller's key; empty means no per-key limits.
	KeyID string
	// Team is the caller's team; limits come from Options.Teams.
	Team string
	// Model is the public model name; limits come from Options.Models.
	Model string
	// Backend is the chosen backend; its concurrency comes from Options.Backends.
	Backend string
	// EstimatedTokens is the input estimate plus max_tokens. It is reserved against
	// token limits at admission and reconciled with the real usage in Ticket.Done.
	EstimatedTokens int64
	// Priority orders the concurrency queue: higher first, FIFO within a priority.
	Priority int
	// Key holds the per-key limits: RequestsPerMinute, TokensPerMinute, MaxParallel
	// (zero = unlimited).
	Key auth.Limits
	// Budget is the per-key USD budget and its period ("day", "month", "total";
	// empty means "total"). Zero USD means no budget.
	Budget auth.Budget
}

// Limiter admits requests.
type Limiter interface {
	// Admit decides (and for concurrency, waits in a priority queue up to the
	// configured max wait, returning early if ctx ends — a disconnecting caller
	// leaves the queue at once). A refusal is returned as *Refusal (implements
	// error) with Status 429 (key, team or model limits, budget, key concurrency) or
	// 503 (backend concurrency, store unavailable with fail mode closed),
	// RetryAfter, Reason and Message. When ctx ends while queued the error wraps
	// ctx.Err() and is not a *Refusal.
	Admit(ctx context.Context, req *Request) (*Ticket, error)
}

// Refusal is a request that was not admitted.
type Refusal struct {
	// Status is the HTTP status to answer: 429 or 503.
	Status int
	// Reason is one of the Reason constants.
	Reason string
	// Scope is whose limit refused: one of the Scope constants (empty for
	// ReasonUnavailable).
	Scope string
	// RetryAfter is when a retry may succeed; zero when waiting does not help (a
	// request larger than the token limit, a "total" budget spent).
	RetryAfter time.Duration
	// Message is a human-readable explanation safe to show the caller.
	Message string
	// Headers are the OpenAI-style rate-limit headers of the limit that refused (its
	// limit, 0 remaining, its reset), as OpenAI sends them on its own 429s; none for
	// budgets, concurrency and an unreachable store.
	Headers []Header
}

// Error implements error.
func (r *Refusal) Error() string { return r.Message }

// Header is one response header.
type Header struct {
	Name, Value string
}

// Header names set on every response that had a rate limit (the OpenAI set).
const (
	HeaderLimitRequests     = "x-ratelimit-limit-requests"
	HeaderRemainingRequests = "x-ratelimit-remaining-requests"
	HeaderResetRequests     = "x-ratelimit-reset-requests"
	HeaderLimitTokens       = "x-ratelimit-limit-tokens"
	HeaderRemainingTokens   = "x-ratelimit-remaining-tokens"
	HeaderResetTokens       = "x-ratelimit-reset-tokens"
)

// Rate is a requests-per-minute and tokens-per-minute pair; zero means unlimited.
type Rate struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
}

// TeamLimits are limits shared by every key of a team.
type TeamLimits struct {
	Rate
	// Budget is the team's spending cap (zero USD = none).
	Budget auth.Budget
}

// BackendLimits are limits of one backend.
type BackendLimits struct {
	// MaxParallel caps requests in flight to the backend (across replicas with
	// Redis); zero means unlimited.
	MaxParallel int64
}

// QueueOptions bound the concurrency queue.
type QueueOptions struct {
	// MaxWait is how long a request may wait for a concurrency slot before it is
	// refused. Default 4s: the router-level ext_proc filter has message_timeout 5s
	// and Admit runs inside one message, so waiting longer would make Envoy fail the
	// request instead of answering a clean 429/503. Negative disables queueing (a
	// full semaphore refuses at once).
	MaxWait time.Duration
	// MaxDepth caps the waiters of one semaphore (one key or one backend) on this
	// replica; an arrival beyond it is refused at once. Default 1000; negative
	// disables queueing.
	MaxDepth int
}

// MaxRate is the largest per-minute limit honoured; larger limits are treated as
// this. It keeps the GCRA arithmetic exact in Redis, whose Lua numbers are doubles
// (period in µs × limit must stay below 2^53).
const MaxRate = 150_000_000

// period is the rate-limit window: all rates are per minute, in microseconds.
const period = int64(time.Minute / time.Microsecond)

// Options configure a Limiter. The maps are read at construction and must not be
// modified afterwards.
type Options struct {
	// Models holds per-model rate limits (by public model name), shared by all callers.
	Models map[string]Rate
	// Teams holds per-team rate limits and budgets.
	Teams map[string]TeamLimits
	// Backends holds per-backend concurrency limits (by backend name).
	Backends map[string]BackendLimits
	// Queue bounds the concurrency queue.
	Queue QueueOptions
	// Registerer receives the package's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives store failures; default no-op.
	Logger *zap.Logger
	// Now is the clock for rate windows and budget periods (tests). Default
	// time.Now; with Redis, nil means Redis's own clock (TIME), so replicas with
	// skewed clocks still share one window.
	Now func() time.Time
}

const (
	defaultMaxWait  = 4 * time.Second
	defaultMaxDepth = 1000
)

// normalize validates opts and fills defaults.
func (o *Options) normalize() error {
	for name, r := range o.Models {
		if r.RequestsPerMinute < 0 || r.TokensPerMinute < 0 {
			return fmt.Errorf("limits: model %q: negative rate limit", name)
		}
	}
	for name, t := range o.Teams {
		if t.RequestsPerMinute < 0 || t.TokensPerMinute < 0 || t.Budget.USD < 0 {
			return fmt.Errorf("limits: team %q: negative limit", name)
		}
		if _, err := parsePeriod(t.Budget.Period); err != nil {
			return fmt.Errorf("limits: team %q: %w", name, err)
		}
	}
	for name, b := range o.Backends {
		if b.MaxParallel < 0 {
			return fmt.Errorf("limits: backend %q: negative max parallel", name)
		}
	}
	if o.Queue.MaxWait == 0 {
		o.Queue.MaxWait = defaultMaxWait
	}
	if o.Queue.MaxDepth == 0 {
		o.Queue.MaxDepth = defaultMaxDepth
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return nil
}

// clampRate bounds a per-minute limit to [0, MaxRate].
func clampRate(n int64) int64 {
	switch {
	case n <= 0:
		return 0
	case n > MaxRate:
		return MaxRate
	}
	return n
}
