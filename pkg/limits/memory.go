package limits

import (
	"context"
	"sync"
)

// Memory is the in-memory Limiter for a single replica (the embedded default). A
// decision for a key without concurrency limits takes a read lock on one shard per
// subject (key, team, model) and that subject's own mutex, and does not allocate.
// State is lost on restart: rate windows refill, and budgets start from zero spend
// for the current period (use Redis when spend must survive restarts).
type Memory struct {
	c  *core
	st *memStore
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter.
func NewMemory(opts Options) (*Memory, error) {
	st := &memStore{}
	c, err := newCore(opts, st)
	if err != nil {
		return nil, err
	}
	for i := range st.tables {
		st.tables[i].init()
	}
	return &Memory{c: c, st: st}, nil
}

// Admit implements Limiter.
func (m *Memory) Admit(ctx context.Context, req *Request) (*Ticket, error) {
	return m.c.admit(ctx, req)
}

// Close implements io.Closer; the in-memory limiter holds no resources.
func (m *Memory) Close() error { return nil }

// memStore keeps rate and budget state per subject in sharded tables.
type memStore struct {
	tables [nScopes]table[*entry]
}

// entry is the state of one subject.
type entry struct {
	mu       sync.Mutex
	dead     bool
	inflight int64
	req, tok gcra
	bkind    int
	period   int64 // budget period id that spent belongs to
	spent    int64 // nano-USD
}

func newEntry() *entry { return &entry{} }

// reap implements reaper: an entry goes when nothing is in flight, both buckets are
// full, and no spend of a live budget period would be forgotten.
func (e *entry) reap(now int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight > 0 || e.req.tat > now || e.tok.tat > now {
		return false
	}
	if e.spent > 0 {
		if e.bkind == periodTotal {
			return false
		}
		if id, _ := periodOf(e.bkind, now); id == e.period {
			return false
		}
	}
	e.dead = true
	return true
}

// spentIn returns the spend of the given period.
func (e *entry) spentIn(kind int, id int64) int64 {
	if e.bkind == kind && e.period == id {
		return e.spent
	}
	return 0
}

// lock finds and locks the entries of t's subjects, in subject order (key, team,
// model: each in its own table, so the order is the same for every request and
// locking cannot deadlock).
func (m *memStore) lock(t *Ticket) {
	for i := 0; i < t.n; {
		e := m.tables[t.subs[i].scope].get(t.subs[i].name, t.at, newEntry)
		e.mu.Lock()
		if e.dead { // swept between lookup and lock: look it up again
			e.mu.Unlock()
			continue
		}
		t.ents[i] = e
		i++
	}
}

func (m *memStore) unlock(t *Ticket) {
	for i := 0; i < t.n; i++ {
		t.ents[i].mu.Unlock()
	}
}

func (m *memStore) reserve(_ context.Context, t *Ticket) error {
	now := t.at
	m.lock(t)
	var f failure
	var nreq, ntok [nScopes]gcra
	// Rates first, then budgets: the order admit.lua reports failures in.
	for i := 0; i < t.n; i++ {
		s, e := &t.subs[i], t.ents[i]
		if s.rpm > 0 {
			nreq[i] = e.req.add(now, s.rpm, 1)
			if nreq[i].over(now) {
				f.note(ReasonRequests, i, nreq[i].wait(now), false)
			}
		}
		if s.tpm > 0 {
			if t.est > s.tpm {
				f.note(ReasonTokens, i, 0, true)
				continue
			}
			ntok[i] = e.tok.add(now, s.tpm, t.est)
			if ntok[i].over(now) {
				f.note(ReasonTokens, i, ntok[i].wait(now), false)
			}
		}
	}
	for i := 0; i < t.n; i++ {
		if s := &t.subs[i]; s.budget > 0 {
			id, _ := periodOf(s.bkind, now)
			t.bper[i] = id
			t.checkBudget(&f, i, t.ents[i].spentIn(s.bkind, id))
		}
	}
	if f.reason != "" {
		m.unlock(t)
		return t.refusal(&f)
	}
	for i := 0; i < t.n; i++ {
		s, e := &t.subs[i], t.ents[i]
		if s.rpm > 0 {
			e.req = nreq[i]
			t.req.observe(e.req, now, s.rpm)
		}
		if s.tpm > 0 {
			e.tok = ntok[i]
			t.tok.observe(e.tok, now, s.tpm)
		}
		if s.budget > 0 && (e.bkind != s.bkind || e.period != t.bper[i]) {
			e.bkind, e.period, e.spent = s.bkind, t.bper[i], 0
		}
		e.inflight++
	}
	m.unlock(t)
	return nil
}

func (m *memStore) try(_ context.Context, t *Ticket, i int) (bool, error) {
	s := t.sems[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held < t.semLimit[i] {
		s.held++
		return true, nil
	}
	return false, nil
}

func (m *memStore) settle(_ context.Context, t *Ticket, actual, cost int64, served bool) {
	if t.n > 0 {
		now := t.c.nowUS()
		for i := 0; i < t.n; i++ {
			s, e := &t.subs[i], t.ents[i]
			e.mu.Lock()
			switch {
			case !served:
				if s.rpm > 0 {
					e.req = e.req.sub(now, s.rpm, 1)
				}
				if s.tpm > 0 {
					e.tok = e.tok.sub(now, s.tpm, t.est)
				}
			default:
				if s.tpm > 0 && actual >= 0 {
					e.tok = e.tok.adjust(now, s.tpm, clampDelta(actual-t.est))
				}
				// Spend belongs to the period the request started in; if that period
				// is over, the charge no longer matters for enforcement.
				if s.budget > 0 && e.bkind == s.bkind && e.period == t.bper[i] {
					e.spent += cost
				}
			}
			e.inflight--
			e.mu.Unlock()
		}
	}
	for i := 0; i < t.nsem; i++ {
		if t.held[i] {
			s := t.sems[i]
			s.mu.Lock()
			s.held--
			s.mu.Unlock()
		}
	}
}

// clampDelta bounds a token reconciliation so the arithmetic stays exact (and a
// bogus usage report cannot lock a caller out for years).
func clampDelta(d int64) int64 {
	return min(max(d, -MaxRate), MaxRate)
}
