package routing

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is a circuit breaker's state. Its numeric value is the value of the
// llm_router_backend_breaker_state gauge.
type BreakerState int32

// Breaker states.
const (
	// Closed: traffic flows; failures are counted.
	Closed BreakerState = 0
	// HalfOpen: the cooldown ended; a few probe requests decide between Closed and Open.
	HalfOpen BreakerState = 1
	// Open: the backend is skipped until the cooldown ends.
	Open BreakerState = 2
)

// String returns "closed", "half_open" or "open".
func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half_open"
	case Open:
		return "open"
	}
	return "unknown"
}

// BreakerOptions configure the per-backend circuit breakers. Zero values select the
// defaults; negative values disable a trigger.
type BreakerOptions struct {
	// Disabled turns the breakers off: every backend is always available.
	Disabled bool
	// ConsecutiveFailures opens the breaker after this many failures in a row. Default 5;
	// negative disables this trigger.
	ConsecutiveFailures int
	// FailureRate opens the breaker when failures/requests within Window reaches it (and
	// at least MinRequests were seen). Default 0.5; negative disables this trigger.
	FailureRate float64
	// Window is the error-rate window, kept as 10 buckets. Default 30s.
	Window time.Duration
	// MinRequests is the least number of requests in Window before FailureRate applies.
	// Default 20.
	MinRequests int
	// Cooldown is how long the breaker stays open before half-opening. Default 30s.
	Cooldown time.Duration
	// MaxCooldown caps the cooldown, which doubles each time a half-open probe fails
	// (reset when the breaker closes). Default: Cooldown (no growth).
	MaxCooldown time.Duration
	// HalfOpenProbes is the most requests in flight on a half-open backend. Default 1.
	HalfOpenProbes int
	// HalfOpenSuccesses is how many probes must succeed to close. Default 1.
	HalfOpenSuccesses int
	// ProbeTimeout is how long a probe slot that Order handed out waits for its Begin
	// before it is reclaimed (the request may have been answered elsewhere). Default 10s.
	ProbeTimeout time.Duration
}

// breakerConfig is BreakerOptions with defaults applied, in nanoseconds.
type breakerConfig struct {
	disabled     bool
	consecutive  int
	rate         float64
	bucket       int64 // window/windowBuckets
	minRequests  int
	cooldown     int64
	maxCooldown  int64
	probes       int
	successes    int
	probeTimeout int64
}

func (o BreakerOptions) normalize() breakerConfig {
	c := breakerConfig{disabled: o.Disabled, consecutive: o.ConsecutiveFailures, rate: o.FailureRate, minRequests: o.MinRequests, probes: o.HalfOpenProbes, successes: o.HalfOpenSuccesses}
	if c.consecutive == 0 {
		c.consecutive = 5
	}
	if c.rate == 0 {
		c.rate = 0.5
	}
	w := o.Window
	if w <= 0 {
		w = 30 * time.Second
	}
	c.bucket = int64(w) / windowBuckets
	if c.bucket <= 0 {
		c.bucket = 1
	}
	if c.minRequests <= 0 {
		c.minRequests = 20
	}
	c.cooldown = int64(o.Cooldown)
	if c.cooldown <= 0 {
		c.cooldown = int64(30 * time.Second)
	}
	c.maxCooldown = int64(o.MaxCooldown)
	if c.maxCooldown < c.cooldown {
		c.maxCooldown = c.cooldown
	}
	if c.probes <= 0 {
		c.probes = 1
	}
	if c.successes <= 0 {
		c.successes = 1
	}
	c.probeTimeout = int64(o.ProbeTimeout)
	if c.probeTimeout <= 0 {
		c.probeTimeout = int64(10 * time.Second)
	}
	return c
}

const windowBuckets = 10

// window counts requests and failures in windowBuckets time buckets.
type window struct {
	slots [windowBuckets]struct {
		epoch       int64
		total, fail int
	}
}

func (w *window) add(now, bucket int64, fail bool) {
	e := now / bucket
	s := &w.slots[uint64(e)%windowBuckets]
	if s.epoch != e {
		s.epoch, s.total, s.fail = e, 0, 0
	}
	s.total++
	if fail {
		s.fail++
	}
}

func (w *window) counts(now, bucket int64) (total, fail int) {
	e := now / bucket
	for i := range w.slots {
		s := &w.slots[i]
		if s.epoch <= e && e-s.epoch < windowBuckets {
			total += s.total
			fail += s.fail
		}
	}
	return total, fail
}

// breaker is one backend's circuit breaker. The state and a generation number share one
// atomic word, so the closed fast path is a single load; every transition and all
// half-open bookkeeping happen under mu (half-open is rare and short).
type breaker struct {
	cfg       *breakerConfig
	word      atomic.Uint64 // generation<<2 | state
	openUntil atomic.Int64  // unix ns; meaningful while open
	entered   [3]atomic.Uint64

	mu          sync.Mutex
	consecutive int
	successes   int
	reopens     int
	probes      int   // probes in flight in this half-open generation
	pending     int   // probe slots handed out by Order, not yet taken by Begin
	pendingAt   int64 // when the last slot was handed out
	win         window
}

func unpack(w uint64) (gen uint64, s BreakerState) { return w >> 2, BreakerState(w & 3) }

// setLocked moves to state s and starts a new generation.
func (b *breaker) setLocked(s BreakerState) {
	gen, _ := unpack(b.word.Load())
	b.word.Store((gen+1)<<2 | uint64(s))
	b.entered[s].Add(1)
}

// halfOpenLocked half-opens an open breaker whose cooldown has passed.
func (b *breaker) halfOpenLocked(now int64) {
	if _, s := unpack(b.word.Load()); s == Open && now >= b.openUntil.Load() {
		b.probes, b.pending, b.successes = 0, 0, 0
		b.setLocked(HalfOpen)
	}
}

func (b *breaker) openLocked(now int64) {
	cd := b.cfg.cooldown
	for i := 0; i < b.reopens && cd < b.cfg.maxCooldown; i++ {
		cd *= 2
	}
	if cd > b.cfg.maxCooldown {
		cd = b.cfg.maxCooldown
	}
	b.openUntil.Store(now + cd)
	b.consecutive, b.successes, b.probes, b.pending = 0, 0, 0, 0
	b.setLocked(Open)
}

func (b *breaker) closeLocked() {
	b.consecutive, b.successes, b.reopens, b.probes, b.pending = 0, 0, 0, 0, 0
	b.win = window{}
	b.setLocked(Closed)
}

// available reports whether Order may offer the backend: closed, or half-open with a
// free probe slot.
func (b *breaker) available(now int64) bool {
	if b.cfg.disabled {
		return true
	}
	_, s := unpack(b.word.Load())
	switch s {
	case Closed:
		return true
	case Open:
		if now < b.openUntil.Load() {
			return false
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.halfOpenLocked(now)
	_, s = unpack(b.word.Load())
	if s != HalfOpen {
		return s == Closed
	}
	b.expireLocked(now)
	return b.probes+b.pending < b.cfg.probes
}

func (b *breaker) expireLocked(now int64) {
	if b.pending > 0 && now-b.pendingAt > b.cfg.probeTimeout {
		b.pending = 0
	}
}

// halfOpen reports (without locking) whether the breaker is half-open.
func (b *breaker) isHalfOpen() bool {
	_, s := unpack(b.word.Load())
	return s == HalfOpen && !b.cfg.disabled
}

// reserve takes a probe slot for a request Order is about to send; false when none is
// free (another request took the last one).
func (b *breaker) reserve(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, s := unpack(b.word.Load())
	if s != HalfOpen {
		return s == Closed
	}
	b.expireLocked(now)
	if b.probes+b.pending >= b.cfg.probes {
		return false
	}
	b.pending++
	b.pendingAt = now
	return true
}

// begin starts a request: it returns the generation the outcome belongs to and whether
// the request is a half-open probe.
func (b *breaker) begin(now int64) (gen uint64, probe bool) {
	w := b.word.Load()
	gen, s := unpack(w)
	if b.cfg.disabled || s == Closed {
		return gen, false
	}
	if s == Open && now < b.openUntil.Load() {
		// Sent anyway (Order failed open, or the caller did not ask Order): not a probe,
		// and its outcome is ignored like every outcome of an open generation.
		return gen, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.halfOpenLocked(now)
	gen, s = unpack(b.word.Load())
	if s != HalfOpen {
		return gen, false
	}
	// A request without a slot from Order (a fallback attempt) still counts as a probe.
	if b.pending > 0 {
		b.pending--
	}
	b.probes++
	return gen, true
}

// record applies an outcome begun in generation gen.
func (b *breaker) record(gen uint64, probe bool, res Result, now int64) {
	if b.cfg.disabled {
		return
	}
	if !probe && res == Neutral {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, s := unpack(b.word.Load())
	if cur != gen {
		return // stale: the breaker changed state since this request began
	}
	if probe && b.probes > 0 {
		b.probes--
	}
	fail := res == Failure
	switch {
	case res == Neutral:
		return
	case s == Closed:
		b.win.add(now, b.cfg.bucket, fail)
		if !fail {
			b.consecutive = 0
			return
		}
		b.consecutive++
		if b.cfg.consecutive > 0 && b.consecutive >= b.cfg.consecutive {
			b.openLocked(now)
			return
		}
		if b.cfg.rate > 0 {
			total, failures := b.win.counts(now, b.cfg.bucket)
			if total >= b.cfg.minRequests && float64(failures) >= b.cfg.rate*float64(total) {
				b.openLocked(now)
			}
		}
	case s == HalfOpen:
		if fail {
			b.reopens++
			b.openLocked(now)
			return
		}
		b.successes++
		if b.successes >= b.cfg.successes {
			b.closeLocked()
		}
	}
}

// current returns the state, half-opening an open breaker whose cooldown has passed.
func (b *breaker) current(now int64) BreakerState {
	if b.cfg.disabled {
		return Closed
	}
	_, s := unpack(b.word.Load())
	if s != Open || now < b.openUntil.Load() {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.halfOpenLocked(now)
	_, s = unpack(b.word.Load())
	return s
}

func (b *breaker) status(now int64) (s BreakerState, consecutive, total, fail int, openUntil time.Time) {
	s = b.current(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	total, fail = b.win.counts(now, b.cfg.bucket)
	if s == Open {
		openUntil = time.Unix(0, b.openUntil.Load())
	}
	return s, b.consecutive, total, fail, openUntil
}
