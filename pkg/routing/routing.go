// Package routing decides, for one request, in which order a model's candidate backends
// are tried. It holds the per-backend state that decision needs — in-flight counts,
// latency averages, circuit breakers — and nothing about providers, schemas or Envoy.
//
// One Router serves the whole process and outlives config reloads: backends are keyed by
// name, so a reload that keeps a backend's name keeps its statistics and breaker. Call
// Retain after a reload to drop backends that no longer exist.
//
// The hot path (Order) takes no locks while every breaker is closed, performs one map
// lookup per candidate and allocates nothing for up to maxStackCands candidates.
package routing

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Strategy names accepted by Order (the config's models[].strategy).
const (
	// StrategyPriority keeps config order within a priority (the default; "" means it).
	StrategyPriority = "priority"
	// StrategyWeighted draws by weight without replacement, so the whole order is random
	// in proportion to the weights.
	StrategyWeighted = "weighted"
	// StrategyRoundRobin rotates through the candidates, one step per request and model.
	StrategyRoundRobin = "round_robin"
	// StrategyLeastInflight prefers the fewest requests in flight per unit of weight.
	StrategyLeastInflight = "least_inflight"
	// StrategyLowestLatency prefers the lowest EWMA of time to first byte (streaming
	// requests) or of total duration (others).
	StrategyLowestLatency = "lowest_latency"
	// StrategyLowestCost prefers the lowest estimated price for the request.
	StrategyLowestCost = "lowest_cost"
)

var strategies = []string{StrategyPriority, StrategyWeighted, StrategyRoundRobin, StrategyLeastInflight, StrategyLowestLatency, StrategyLowestCost}

// Strategies lists the strategy names Order understands, for config validation.
func Strategies() []string { return append([]string(nil), strategies...) }

// ValidStrategy reports whether s names a strategy ("" is valid and means priority).
// Order treats an unknown name as priority rather than failing a request.
func ValidStrategy(s string) bool {
	if s == "" {
		return true
	}
	for _, v := range strategies {
		if v == s {
			return true
		}
	}
	return false
}

// Candidate is one backend a model may be served by, as the gateway's config describes it.
type Candidate struct {
	// Name is the backend name (x-llm-router-backend); state is kept per name.
	Name string
	// Priority orders fallback: lower is tried first.
	Priority uint32
	// Weight is used by weighted and least_inflight. Zero ranks the candidate after every
	// positively weighted one under weighted, and counts as 1 under least_inflight.
	Weight uint32
	// InputPricePerMTok and OutputPricePerMTok are USD per million tokens, used by
	// lowest_cost. Zero means free; pass math.Inf(1) to rank an unpriced backend last.
	InputPricePerMTok, OutputPricePerMTok float64
	// ContextWindow is the backend model's context size in tokens; 0 means unknown and
	// never filters.
	ContextWindow int
}

// Info is what Order needs to know about the request.
type Info struct {
	// KeyID is the caller's key id; it makes A/B splits sticky (see SplitBucket).
	KeyID string
	// EstimatedTokens is the request's input size in tokens.
	EstimatedTokens int
	// MaxOutputTokens is the request's output limit (max_tokens), 0 when unset. Providers
	// reject input+max_tokens above the context window, so it is added to
	// EstimatedTokens for the context check; lowest_cost also uses it as the expected
	// output size (EstimatedTokens when 0).
	MaxOutputTokens int
	// Stream selects the latency lowest_latency compares: time to first byte for
	// streaming requests, total duration otherwise.
	Stream bool
	// Now is the decision time; zero means the Router's clock.
	Now time.Time
}

// Options configure a Router. Zero values select the documented defaults.
type Options struct {
	// Breaker configures every backend's circuit breaker.
	Breaker BreakerOptions
	// LatencyAlpha is the EWMA smoothing factor in (0,1]: the weight of the newest
	// sample. Default 0.3.
	LatencyAlpha float64
	// Explore is the probability that lowest_latency moves a random other candidate to
	// the front, so a backend that was slow once keeps being measured instead of being
	// starved by a stale average. Default 0.02; negative disables it.
	Explore float64
	// Clock returns the current time (tests inject a fake). Default time.Now.
	Clock func() time.Time
	// Registerer receives the router's metrics (see Collector); nil registers nothing.
	Registerer prometheus.Registerer
}

// maxStackCands is how many candidates Order handles without allocating.
const maxStackCands = 16

// Router orders candidates and keeps per-backend statistics and circuit breakers. It is
// safe for concurrent use; the zero value is not usable, call New.
type Router struct {
	clock   func() time.Time
	alpha   float64
	explore float64
	brk     breakerConfig

	mu       sync.Mutex                          // serialises writers of the maps below
	backends atomic.Pointer[map[string]*backend] // copy on write: readers never lock
	counters atomic.Pointer[map[string]*counter] // round-robin position per model
}

// counter is a round-robin position padded to its own cache line, so models do not
// contend on a shared line.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

// backend is the state kept for one backend name.
type backend struct {
	name     string
	inflight atomic.Int64
	ttft     ewma
	dur      ewma
	br       breaker
}

// New returns a Router. When opts.Registerer is set the router's collector is
// registered on it; registering two routers on one registry panics (a programming
// error, as with prometheus.MustRegister).
func New(opts Options) *Router {
	r := &Router{clock: opts.Clock, alpha: opts.LatencyAlpha, explore: opts.Explore, brk: opts.Breaker.normalize()}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.alpha <= 0 || r.alpha > 1 {
		r.alpha = 0.3
	}
	switch {
	case r.explore == 0:
		r.explore = 0.02
	case r.explore < 0:
		r.explore = 0
	case r.explore > 1:
		r.explore = 1
	}
	empty := map[string]*backend{}
	r.backends.Store(&empty)
	emptyC := map[string]*counter{}
	r.counters.Store(&emptyC)
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(r.Collector())
	}
	return r
}

// backend returns the state for name, creating it on first use.
func (r *Router) backend(name string) *backend {
	if b, ok := (*r.backends.Load())[name]; ok {
		return b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.backends.Load()
	if b, ok := old[name]; ok {
		return b
	}
	m := make(map[string]*backend, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	b := &backend{name: name}
	b.br.cfg = &r.brk
	m[name] = b
	r.backends.Store(&m)
	return b
}

func (r *Router) counter(model string) *counter {
	if c, ok := (*r.counters.Load())[model]; ok {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.counters.Load()
	if c, ok := old[model]; ok {
		return c
	}
	m := make(map[string]*counter, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	c := &counter{}
	m[model] = c
	r.counters.Store(&m)
	return c
}

// Retain drops the state of every backend not in backends and the round-robin position
// of every model not in models. Call it after a config reload; a backend that keeps its
// name keeps its breaker and statistics. Requests in flight on a dropped backend still
// report their outcome safely (to the detached state).
func (r *Router) Retain(backends, models []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keepB := make(map[string]*backend, len(backends))
	old := *r.backends.Load()
	for _, n := range backends {
		if b, ok := old[n]; ok {
			keepB[n] = b
		}
	}
	r.backends.Store(&keepB)
	keepC := make(map[string]*counter, len(models))
	oldC := *r.counters.Load()
	for _, n := range models {
		if c, ok := oldC[n]; ok {
			keepC[n] = c
		}
	}
	r.counters.Store(&keepC)
}

// Order appends to dst the indices of cands in the order to try them and returns the
// extended slice. It allocates nothing when dst has room and len(cands) <= 16, once
// each backend name has been seen (the first sighting adds the name's state).
//
//   - Candidates whose ContextWindow is known and smaller than EstimatedTokens +
//     MaxOutputTokens are removed. If none fits, nothing is appended: the caller should
//     answer that the request is too large for the model.
//   - Candidates whose breaker is open (or half-open with every probe slot taken) are
//     removed — unless that would remove all of them: then they are all returned anyway
//     (fail open, like Envoy's panic threshold), because trying a backend that may have
//     recovered beats refusing every request until a cooldown ends.
//   - The rest are sorted by Priority (lower first); within one priority the strategy
//     decides. An unknown strategy behaves as priority.
//
// When the first index is a half-open backend, Order takes one of its probe slots; the
// slot passes to the request that Begin starts on that backend, and is given back if no
// Begin follows within BreakerOptions.ProbeTimeout.
func (r *Router) Order(strategy, model string, cands []Candidate, info Info, dst []int) []int {
	return r.order(strategy, model, cands, info, dst, -1, 0)
}

// Begin records that a request is being sent to backend and returns the function that
// reports its outcome. Every Begin must be followed by exactly one call of the returned
// function (later calls are ignored): it releases the in-flight count, feeds the latency
// averages and drives the breaker. Outcomes of requests begun before the breaker last
// changed state are not counted, so a slow request from before an outage cannot close
// or re-open the breaker.
func (r *Router) Begin(name string) func(Outcome) {
	b := r.backend(name)
	b.inflight.Add(1)
	gen, probe := b.br.begin(r.clock().UnixNano())
	var once atomic.Bool
	return func(o Outcome) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		b.inflight.Add(-1)
		r.record(b, gen, probe, o)
	}
}

// Outcome is how an attempt on a backend ended.
type Outcome struct {
	// Status is the upstream HTTP status (0 when no response arrived).
	Status int
	// Err is set for connect failures, timeouts and resets. context.Canceled (the caller
	// went away) is neither a success nor a failure.
	Err error
	// TimeToFirstByte is from sending the request to the first response byte.
	TimeToFirstByte time.Duration
	// Duration is from sending the request to the end of the response.
	Duration time.Duration
}

// Result classifies an Outcome for the breaker.
type Result uint8

// Outcome classes.
const (
	// Neutral outcomes say nothing about the backend: the caller cancelled, or no status
	// and no error were reported.
	Neutral Result = iota
	// Success is any response that is not a failure (4xx other than 429 included: the
	// backend answered).
	Success
	// Failure is a 5xx, a 429, or a transport error (connect failure, timeout, reset).
	Failure
)

// Classify returns the class of o. The gateway can use it to decide on failover with
// the same rules the breaker uses.
func Classify(o Outcome) Result {
	switch {
	case o.Err != nil:
		if errors.Is(o.Err, context.Canceled) {
			return Neutral
		}
		return Failure
	case o.Status >= 500 || o.Status == 429:
		return Failure
	case o.Status == 0:
		return Neutral
	}
	return Success
}

// isTimeout reports whether err is a deadline or network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func (r *Router) record(b *backend, gen uint64, probe bool, o Outcome) {
	res := Classify(o)
	switch {
	case res == Success:
		// Only successful responses feed the latency averages: a backend that fails fast
		// must not look fast.
		if o.TimeToFirstByte > 0 {
			b.ttft.observe(o.TimeToFirstByte.Seconds(), r.alpha)
		}
		if o.Duration > 0 {
			b.dur.observe(o.Duration.Seconds(), r.alpha)
		}
	case res == Failure && o.Duration > 0 && isTimeout(o.Err):
		// A timeout is a lower bound of the backend's latency: count it so a backend that
		// stalls is ranked behind the ones that answer.
		b.dur.observe(o.Duration.Seconds(), r.alpha)
		if o.TimeToFirstByte <= 0 {
			b.ttft.observe(o.Duration.Seconds(), r.alpha)
		}
	}
	b.br.record(gen, probe, res, r.clock().UnixNano())
}

// State returns backend's breaker state (Closed for a backend never seen).
func (r *Router) State(name string) BreakerState {
	b, ok := (*r.backends.Load())[name]
	if !ok {
		return Closed
	}
	return b.br.current(r.clock().UnixNano())
}

// InFlight returns the number of requests begun on backend and not yet finished.
func (r *Router) InFlight(name string) int64 {
	if b, ok := (*r.backends.Load())[name]; ok {
		return b.inflight.Load()
	}
	return 0
}

// BackendStatus is a backend's routing state, for /statusz.
type BackendStatus struct {
	Name     string
	State    BreakerState
	InFlight int64
	// TTFT and Duration are the latency EWMAs (0 before the first success).
	TTFT, Duration time.Duration
	// ConsecutiveFailures counts failures since the last success (closed state).
	ConsecutiveFailures int
	// WindowRequests and WindowFailures are the counts in the error-rate window.
	WindowRequests, WindowFailures int
	// OpenUntil is when an open breaker half-opens (zero unless open).
	OpenUntil time.Time
}

// Snapshot returns every known backend's status, sorted by name.
func (r *Router) Snapshot() []BackendStatus {
	now := r.clock().UnixNano()
	m := *r.backends.Load()
	out := make([]BackendStatus, 0, len(m))
	for _, b := range m {
		s := BackendStatus{Name: b.name, InFlight: b.inflight.Load(),
			TTFT: secondsToDuration(b.ttft.value()), Duration: secondsToDuration(b.dur.value())}
		s.State, s.ConsecutiveFailures, s.WindowRequests, s.WindowFailures, s.OpenUntil = b.br.status(now)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func secondsToDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ewma is an exponentially weighted moving average stored as float64 bits; 0 means no
// sample yet (samples are always positive).
type ewma struct{ bits atomic.Uint64 }

func (e *ewma) observe(v, alpha float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		return
	}
	for {
		old := e.bits.Load()
		nv := v
		if old != 0 {
			o := math.Float64frombits(old)
			nv = o + alpha*(v-o)
		}
		if e.bits.CompareAndSwap(old, math.Float64bits(nv)) {
			return
		}
	}
}

func (e *ewma) value() float64 { return math.Float64frombits(e.bits.Load()) }

// randUint64 is the process-wide fast random source (per-thread state, no lock).
func randUint64() uint64 { return rand.Uint64() }
