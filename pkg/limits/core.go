package limits

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// store is what differs between the in-memory and the Redis limiter: where rate,
// budget and semaphore state live. The admission flow, the queue, tickets and
// headers are shared (core).
type store interface {
	// reserve checks and takes the request's rate and budget units, all or nothing,
	// and fills t's header state. It may also take semaphore slots whose queue is
	// empty (t.held). A refusal is a *Refusal; any other error is returned as is.
	reserve(ctx context.Context, t *Ticket) error
	// try takes one slot of semaphore i for t if one is free. An error is a
	// *Refusal (fail closed); fail open answers true.
	try(ctx context.Context, t *Ticket, i int) (bool, error)
	// settle ends t: when served, reconciles tokens with actual (negative: keep the
	// estimate) and charges cost (nano-USD); otherwise gives back the request and
	// its tokens. It releases the semaphore slots t holds.
	settle(ctx context.Context, t *Ticket, actual, cost int64, served bool)
}

// subject is one owner of limits that a request is counted against.
type subject struct {
	scope    int // scopeKey, scopeTeam, scopeModel
	name     string
	rpm, tpm int64
	budget   int64 // nano-USD; 0 = none
	bkind    int   // budget period kind
}

const (
	scopeKey = iota
	scopeTeam
	scopeModel
	nScopes
)

var scopeNames = [nScopes]string{ScopeKey, ScopeTeam, ScopeModel}

// headerState is the binding (least remaining) limit of one kind.
type headerState struct {
	has                    bool
	limit, remaining, rstU int64
}

func (h *headerState) observe(g gcra, now, limit int64) {
	rem := g.remaining(now, limit)
	if !h.has || rem < h.remaining {
		*h = headerState{has: true, limit: limit, remaining: rem, rstU: g.reset(now)}
	}
}

// Ticket holds what Admit reserved. Done must be called exactly once; the Ticket must
// not be used after Done (tickets are pooled so that admission does not allocate).
type Ticket struct {
	c    *core
	subs [nScopes]subject
	n    int
	est  int64
	at   int64 // admission time, µs
	prio int

	bper [nScopes]int64  // budget period id per subject
	ents [nScopes]*entry // memory store
	keys [nScopes]string // Redis store: rate hash keys
	bkey [nScopes]string // Redis store: budget counter keys

	sems     [2]*semaphore
	semLimit [2]int64
	held     [2]bool
	tried    [2]bool   // the store already tried the slot during reserve
	deadline time.Time // end of the queue wait, shared by both semaphores
	lease    [2]string // Redis store
	nsem     int

	req, tok headerState
	open     bool // admitted without the store (Redis unreachable, fail open)
}

// Headers returns the OpenAI-style rate-limit headers for the response: for
// requests and for tokens, the limit with the least remaining among the key, team
// and model limits that apply. A kind without any limit has no headers. Call it
// before Done.
func (t *Ticket) Headers() []Header {
	if t == nil || (!t.req.has && !t.tok.has) {
		return nil
	}
	h := make([]Header, 0, 6)
	if t.req.has {
		h = append(h,
			Header{HeaderLimitRequests, strconv.FormatInt(t.req.limit, 10)},
			Header{HeaderRemainingRequests, strconv.FormatInt(t.req.remaining, 10)},
			Header{HeaderResetRequests, formatReset(t.req.rstU)})
	}
	if t.tok.has {
		h = append(h,
			Header{HeaderLimitTokens, strconv.FormatInt(t.tok.limit, 10)},
			Header{HeaderRemainingTokens, strconv.FormatInt(t.tok.remaining, 10)},
			Header{HeaderResetTokens, formatReset(t.tok.rstU)})
	}
	return h
}

// Done ends the request: it reconciles the token reservation with actualTokens
// (negative keeps the estimate), charges costUSD to the budgets, and releases the
// concurrency slots so the next queued request can start. It must be called exactly
// once per Ticket; it uses ctx only for its values (a request ending because its
// client left still settles).
func (t *Ticket) Done(ctx context.Context, actualTokens int64, costUSD float64) {
	if t == nil || t.c == nil {
		return
	}
	c := t.c
	c.st.settle(ctx, t, actualTokens, nanoUSD(costUSD), true)
	c.finish(t)
}

// core is the shared admission flow.
type core struct {
	opts     Options
	st       store
	m        *metrics
	pool     sync.Pool
	keySems  table[*semaphore]
	backends map[string]*semaphore
	poll     time.Duration // Redis: how often a queue head re-checks the shared semaphore
}

func newCore(opts Options, st store) (*core, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c := &core{opts: opts, st: st, m: m, backends: make(map[string]*semaphore)}
	c.pool.New = func() any { return new(Ticket) }
	c.keySems.init()
	for name, b := range opts.Backends {
		if b.MaxParallel > 0 {
			c.backends[name] = newSemaphore(ScopeBackend, name, m)
		}
	}
	return c, nil
}

// nowUS is the limiter clock in microseconds.
func (c *core) nowUS() int64 {
	if c.opts.Now != nil {
		return c.opts.Now().UnixMicro()
	}
	return time.Now().UnixMicro()
}

// admit is Limiter.Admit.
func (c *core) admit(ctx context.Context, req *Request) (*Ticket, error) {
	if req == nil {
		req = new(Request)
	}
	t := c.pool.Get().(*Ticket)
	t.c = c
	c.plan(t, req)
	if t.n > 0 {
		if err := c.st.reserve(ctx, t); err != nil {
			c.release(t)
			return nil, c.refused(err)
		}
	}
	for i := 0; i < t.nsem; i++ {
		if t.held[i] {
			continue
		}
		if err := c.acquire(ctx, t, i); err != nil {
			c.st.settle(context.WithoutCancel(ctx), t, -1, 0, false)
			c.finish(t)
			return nil, c.refused(err)
		}
	}
	return t, nil
}

// plan fills t with the subjects and semaphores that apply to req.
func (c *core) plan(t *Ticket, req *Request) {
	t.est = max(req.EstimatedTokens, 0)
	t.prio = req.Priority
	t.at = c.nowUS()
	if req.KeyID != "" {
		s := subject{scope: scopeKey, name: req.KeyID,
			rpm: clampRate(req.Key.RequestsPerMinute), tpm: clampRate(req.Key.TokensPerMinute)}
		if req.Budget.USD > 0 {
			s.budget = nanoUSD(req.Budget.USD)
			// An unknown period from a token claim never resets: the safe reading.
			s.bkind, _ = parsePeriod(req.Budget.Period)
		}
		t.add(s)
	}
	if req.Team != "" {
		if tl, ok := c.opts.Teams[req.Team]; ok {
			s := subject{scope: scopeTeam, name: req.Team,
				rpm: clampRate(tl.RequestsPerMinute), tpm: clampRate(tl.TokensPerMinute)}
			if tl.Budget.USD > 0 {
				s.budget = nanoUSD(tl.Budget.USD)
				s.bkind, _ = parsePeriod(tl.Budget.Period)
			}
			t.add(s)
		}
	}
	if r, ok := c.opts.Models[req.Model]; ok {
		t.add(subject{scope: scopeModel, name: req.Model,
			rpm: clampRate(r.RequestsPerMinute), tpm: clampRate(r.TokensPerMinute)})
	}
	if req.KeyID != "" && req.Key.MaxParallel > 0 {
		t.sems[t.nsem], t.semLimit[t.nsem] = c.keySem(req.KeyID, t.at), req.Key.MaxParallel
		t.nsem++
	}
	if s := c.backends[req.Backend]; s != nil {
		t.sems[t.nsem], t.semLimit[t.nsem] = s, c.opts.Backends[req.Backend].MaxParallel
		t.nsem++
	}
}

func (t *Ticket) add(s subject) {
	if s.rpm > 0 || s.tpm > 0 || s.budget > 0 {
		t.subs[t.n] = s
		t.n++
	}
}

// keySem returns the key's semaphore with a reference held (dropped in release).
func (c *core) keySem(keyID string, now int64) *semaphore {
	for {
		s := c.keySems.get(keyID, now, func() *semaphore { return newSemaphore(ScopeKey, keyID, c.m) })
		s.mu.Lock()
		if !s.dead {
			s.refs++
			s.mu.Unlock()
			return s
		}
		s.mu.Unlock()
	}
}

// finish wakes the queues of released slots and recycles t.
func (c *core) finish(t *Ticket) {
	for i := 0; i < t.nsem; i++ {
		if t.held[i] {
			t.sems[i].wakeHead()
		}
	}
	c.release(t)
}

// release drops t's semaphore references and returns it to the pool.
func (c *core) release(t *Ticket) {
	for i := 0; i < t.nsem; i++ {
		if s := t.sems[i]; s.scope == ScopeKey {
			s.mu.Lock()
			s.refs--
			s.mu.Unlock()
		}
	}
	*t = Ticket{}
	c.pool.Put(t)
}

// refused counts a refusal in the metrics and returns err.
func (c *core) refused(err error) error {
	if r, ok := err.(*Refusal); ok {
		c.m.refusal(r.Reason, r.Scope)
	}
	return err
}

// failure collects why a reservation failed.
type failure struct {
	reason string
	idx    int   // subject
	wait   int64 // µs, the longest wait among failing limits
	never  bool  // waiting does not help
	spent  int64 // nano-USD, for the budget message
}

func (f *failure) note(reason string, idx int, wait int64, never bool) {
	if f.reason == "" || (never && !f.never) {
		f.reason, f.idx = reason, idx
	}
	f.never = f.never || never
	f.wait = max(f.wait, wait)
}

// refusal turns a failure into a 429 the caller can act on.
func (t *Ticket) refusal(f *failure) *Refusal {
	s := &t.subs[f.idx]
	r := &Refusal{Status: 429, Reason: f.reason, Scope: scopeNames[s.scope]}
	if !f.never {
		r.RetryAfter = time.Duration(f.wait) * time.Microsecond
	}
	who := r.Scope + " " + strconv.Quote(s.name)
	switch {
	case f.reason == ReasonBudget && f.never:
		r.Message = fmt.Sprintf("Budget exhausted for %s: $%s spent of a total budget of $%s.",
			who, usd(f.spent), usd(s.budget))
	case f.reason == ReasonBudget:
		r.Message = fmt.Sprintf("Budget exhausted for %s: $%s spent of $%s per %s. It resets in %s.",
			who, usd(f.spent), usd(s.budget), periodName(s.bkind), formatReset(f.wait))
	case f.reason == ReasonTokens && f.never:
		r.Message = fmt.Sprintf("Request too large for %s: an estimated %d tokens (input plus max_tokens) exceed the limit of %d tokens per minute.",
			who, t.est, s.tpm)
	case f.reason == ReasonTokens:
		r.Message = fmt.Sprintf("Rate limit reached for %s: %d tokens per minute. Retry after %s.",
			who, s.tpm, formatReset(f.wait))
	default:
		r.Message = fmt.Sprintf("Rate limit reached for %s: %d requests per minute. Retry after %s.",
			who, s.rpm, formatReset(f.wait))
	}
	switch {
	case f.never: // no reset to announce: waiting does not help
	case f.reason == ReasonRequests:
		r.Headers = []Header{{HeaderLimitRequests, strconv.FormatInt(s.rpm, 10)},
			{HeaderRemainingRequests, "0"}, {HeaderResetRequests, formatReset(f.wait)}}
	case f.reason == ReasonTokens:
		r.Headers = []Header{{HeaderLimitTokens, strconv.FormatInt(s.tpm, 10)},
			{HeaderRemainingTokens, "0"}, {HeaderResetTokens, formatReset(f.wait)}}
	}
	return r
}

// usd renders nano-dollars as dollars and cents.
func usd(nano int64) string {
	return strconv.FormatFloat(float64(nano)/1e9, 'f', 2, 64)
}

func periodName(kind int) string {
	if kind == periodDay {
		return "day"
	}
	return "month"
}

// checkBudget is shared by the stores: spent is the committed spend of subject i in
// the current period.
func (t *Ticket) checkBudget(f *failure, i int, spent int64) {
	s := &t.subs[i]
	if spent < s.budget {
		return
	}
	_, end := periodOf(s.bkind, t.at)
	f.note(ReasonBudget, i, max(end-t.at, 0), s.bkind == periodTotal)
	if f.reason == ReasonBudget && f.idx == i {
		f.spent = spent
	}
}
