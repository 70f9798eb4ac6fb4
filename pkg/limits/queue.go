package limits

import (
	"container/heap"
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// semaphore is one concurrency limit (a key's or a backend's) with its local queue of
// waiters. The slot count itself lives in the store: held here for memory, a sorted
// set of leases for Redis.
type semaphore struct {
	scope, name string
	depth       prometheus.Gauge
	wait        *prometheus.HistogramVec

	mu      sync.Mutex
	waiters waitHeap
	seq     uint64
	held    int64 // memory store: slots taken
	refs    int64 // tickets pointing here (key semaphores are swept when unused)
	dead    bool
}

func newSemaphore(scope, name string, m *metrics) *semaphore {
	return &semaphore{scope: scope, name: name, depth: m.depth(scope, name), wait: m.wait}
}

// reap implements reaper: an unused key semaphore is dropped.
func (s *semaphore) reap(int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 && len(s.waiters) == 0 && s.held == 0 {
		s.dead = true
	}
	return s.dead
}

// waiter is one queued request. idx is its heap position (-1 once removed).
type waiter struct {
	prio int
	seq  uint64
	idx  int
	wake chan struct{}
}

// waitHeap orders waiters by priority (higher first), then arrival (FIFO).
type waitHeap []*waiter

func (h waitHeap) Len() int { return len(h) }
func (h waitHeap) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *waitHeap) Push(x any) {
	w := x.(*waiter)
	w.idx = len(*h)
	*h = append(*h, w)
}
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.idx = -1
	return w
}

// signal wakes w without blocking; a pending wake is enough.
func (w *waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wakeHead tells the first waiter that a slot may be free.
func (s *semaphore) wakeHead() {
	s.mu.Lock()
	if len(s.waiters) > 0 {
		s.waiters[0].signal()
	}
	s.mu.Unlock()
}

// leave removes w from the queue and, if it was first, wakes the next waiter: either
// w took a slot and more may be free, or w gave up and a wake meant for it must not
// be lost.
func (s *semaphore) leave(w *waiter) {
	s.mu.Lock()
	if w.idx >= 0 {
		head := w.idx == 0
		heap.Remove(&s.waiters, w.idx)
		s.depth.Dec()
		if head && len(s.waiters) > 0 {
			s.waiters[0].signal()
		}
	}
	s.mu.Unlock()
}

// isHead reports whether w is first in line.
func (s *semaphore) isHead(w *waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return w.idx == 0
}

// Queue outcomes (wait-time histogram label).
const (
	outcomeAdmitted = "admitted"
	outcomeTimeout  = "timeout"
	outcomeCanceled = "canceled"
	outcomeFull     = "full"
	outcomeError    = "error"
)

// acquire takes a slot of semaphore i for t, queueing when none is free. Only the
// head of the queue tries the store, so slots go out in priority order (exactly on
// one replica; with Redis, replicas' heads compete for freed slots).
func (c *core) acquire(ctx context.Context, t *Ticket, i int) error {
	s := t.sems[i]
	s.mu.Lock()
	queued := len(s.waiters) > 0
	s.mu.Unlock()
	if !queued && !t.tried[i] {
		ok, err := c.st.try(ctx, t, i)
		if err != nil {
			return err
		}
		if ok {
			t.held[i] = true
			return nil
		}
	}
	q := c.opts.Queue
	if q.MaxWait < 0 || q.MaxDepth < 0 {
		return c.busy(t, i, 0)
	}
	start := time.Now()
	s.mu.Lock()
	if len(s.waiters) >= q.MaxDepth {
		s.mu.Unlock()
		s.wait.WithLabelValues(s.scope, outcomeFull).Observe(0)
		return c.busy(t, i, 0)
	}
	s.seq++
	w := &waiter{prio: t.prio, seq: s.seq, wake: make(chan struct{}, 1)}
	heap.Push(&s.waiters, w)
	s.depth.Inc()
	s.mu.Unlock()

	// One wait budget for the request: queueing for the key's slot and then the
	// backend's does not double it.
	if t.deadline.IsZero() {
		t.deadline = start.Add(q.MaxWait)
	}
	timer := time.NewTimer(time.Until(t.deadline))
	defer timer.Stop()
	var tick <-chan time.Time
	if c.poll > 0 {
		tk := time.NewTicker(c.poll)
		defer tk.Stop()
		tick = tk.C
	}
	done := func(outcome string) {
		s.leave(w)
		s.wait.WithLabelValues(s.scope, outcome).Observe(time.Since(start).Seconds())
	}
	for {
		if s.isHead(w) {
			ok, err := c.st.try(ctx, t, i)
			if err != nil {
				done(outcomeError)
				return err
			}
			if ok {
				done(outcomeAdmitted)
				t.held[i] = true
				return nil
			}
		}
		select {
		case <-w.wake:
		case <-tick:
		case <-timer.C:
			done(outcomeTimeout)
			return c.busy(t, i, time.Since(start))
		case <-ctx.Done():
			done(outcomeCanceled)
			return fmt.Errorf("limits: left the %s concurrency queue: %w", s.scope, ctx.Err())
		}
	}
}

// busy is the refusal for a semaphore without a free slot: 429 for the caller's own
// key (it is over its limit), 503 for a backend (the service is saturated).
func (c *core) busy(t *Ticket, i int, waited time.Duration) *Refusal {
	s := t.sems[i]
	r := &Refusal{Status: 429, Reason: ReasonConcurrency, Scope: s.scope, RetryAfter: time.Second}
	what := fmt.Sprintf("key %q is at its limit of %d concurrent requests", s.name, t.semLimit[i])
	if s.scope == ScopeBackend {
		r.Status = 503
		what = fmt.Sprintf("backend %q is at its limit of %d concurrent requests", s.name, t.semLimit[i])
	}
	switch {
	case waited > 0:
		r.Message = fmt.Sprintf("Too many concurrent requests: %s; no slot freed within %s. Retry after 1s.", what, waited.Round(time.Millisecond))
	default:
		r.Message = fmt.Sprintf("Too many concurrent requests: %s and its queue is full. Retry after 1s.", what)
	}
	return r
}

// reaper is an entry of a table that can be dropped when idle. reap marks it dead
// (under its own lock) and reports whether it was.
type reaper interface {
	reap(now int64) bool
}

const (
	nShards    = 64
	sweepEvery = period // µs between sweeps of one shard
)

// table is a sharded string map: lookups take one shard's read lock, so there is no
// global lock on the hot path. Idle entries are swept from a shard when a new entry
// is added to it, at most once per sweepEvery, so window state expires without a
// background goroutine. Users must check an entry's dead flag under its lock and
// look it up again if set.
type table[T reaper] struct {
	seed   maphash.Seed
	shards [nShards]tableShard[T]
}

type tableShard[T reaper] struct {
	mu    sync.RWMutex
	m     map[string]T
	swept int64
	_     [64]byte // keep shards on separate cache lines
}

func (t *table[T]) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].m = make(map[string]T)
	}
}

func (t *table[T]) get(name string, now int64, mk func() T) T {
	sh := &t.shards[maphash.String(t.seed, name)%nShards]
	sh.mu.RLock()
	v, ok := sh.m[name]
	sh.mu.RUnlock()
	if ok {
		return v
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok = sh.m[name]; ok {
		return v
	}
	if now-sh.swept >= sweepEvery {
		sh.swept = now
		for k, e := range sh.m {
			if e.reap(now) {
				delete(sh.m, k)
			}
		}
	}
	v = mk()
	sh.m[strings.Clone(name)] = v
	return v
}

// len counts entries (tests).
func (t *table[T]) len() int {
	n := 0
	for i := range t.shards {
		t.shards[i].mu.RLock()
		n += len(t.shards[i].m)
		t.shards[i].mu.RUnlock()
	}
	return n
}
