package limits

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// FailMode says what the Redis limiter does when Redis is unreachable.
type FailMode string

const (
	// FailOpen admits requests unchecked (counted in MetricStoreErrors with action
	// fail_open and logged at error level). It is the default: limits protect cost
	// and fairness, not security, and an outage of the limits store should not
	// become an outage of all LLM traffic — the same default as Envoy's own rate
	// limit filter (failure_mode_deny: false). Overspend is bounded by the outage's
	// duration, and the loud metric is what an alert should watch.
	FailOpen FailMode = "open"
	// FailClosed refuses requests with 503 while Redis is unreachable: for
	// deployments where an unenforced budget is worse than downtime.
	FailClosed FailMode = "closed"
)

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	Options
	// Prefix starts every key. The default, "llm-router:{limits}:", carries a hash
	// tag so that in Redis Cluster all keys live in one slot and one script can check
	// a key, its team, its model and the backend atomically.
	Prefix string
	// FailMode is "open" (default) or "closed"; see FailOpen.
	FailMode FailMode
	// Timeout bounds one Redis call (default 250ms); a slower Redis counts as down.
	Timeout time.Duration
	// RetryInterval is how long the limiter stops calling Redis after
	// breakerFailures consecutive failures (default 1s), so an outage costs no
	// latency per request while one slow call does not suspend enforcement.
	RetryInterval time.Duration
	// LeaseTTL is how long a concurrency slot outlives its replica: leases are renewed
	// every LeaseTTL/3 while held and expire after a crash (default 30s).
	LeaseTTL time.Duration
	// PollInterval is how often the head of a local queue re-checks a shared
	// semaphore, for slots freed by other replicas (default 20ms). Slots freed on
	// this replica wake the queue at once.
	PollInterval time.Duration
}

var (
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/settle.lua
	settleLua string
	//go:embed lua/acquire.lua
	acquireLua string
	//go:embed lua/renew.lua
	renewLua string
)

// Scripts are loaded once per process; Run uses EVALSHA (one round trip) and falls
// back to EVAL when the server does not have the script yet.
var (
	admitScript   = redis.NewScript(admitLua)
	settleScript  = redis.NewScript(settleLua)
	acquireScript = redis.NewScript(acquireLua)
	renewScript   = redis.NewScript(renewLua)
)

// Redis is the Limiter for replicated deployments: every replica shares the limits
// through Redis, so N replicas together admit exactly the configured limits. A
// decision is one round trip (one Lua script checks and takes requests, tokens and
// budgets, and free concurrency slots); Done is one round trip. Close stops lease
// renewal.
//
// Keys, under Prefix:
//   - r:<scope>:<name>: a hash with the GCRA state of requests and tokens; it expires
//     when both buckets are full again.
//   - b:<scope>:<d<day>|m<month>|t>:<name>: spend in nano-USD; a day or month counter
//     expires a day after its period ends, a "total" counter never expires (it is
//     the only record of that spend).
//   - s:<scope>:<name>: a sorted set of concurrency leases scored by expiry; it
//     expires 2×LeaseTTL after its last change.
//
// Waiting for a concurrency slot happens in this replica's priority queue; the head
// of the queue polls Redis (PollInterval) for slots freed elsewhere and is woken at
// once by slots freed here. Priority order is therefore exact within a replica and
// approximate across replicas, while the limit itself is exact.
type Redis struct {
	c  *core
	st *redisStore
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter over client. The caller keeps ownership of client.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, errors.New("limits: nil Redis client")
	}
	switch opts.FailMode {
	case "":
		opts.FailMode = FailOpen
	case FailOpen, FailClosed:
	default:
		return nil, fmt.Errorf("limits: unknown Redis fail mode %q (want open or closed)", opts.FailMode)
	}
	if opts.Prefix == "" {
		opts.Prefix = "llm-router:{limits}:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	st := &redisStore{rdb: client, opts: opts, replica: hex.EncodeToString(id[:]),
		leases: make(map[string]string), stop: make(chan struct{})}
	c, err := newCore(opts.Options, st)
	if err != nil {
		return nil, err
	}
	c.poll = opts.PollInterval
	st.c, st.log = c, c.opts.Logger
	st.wg.Add(1)
	go st.renewLoop()
	return &Redis{c: c, st: st}, nil
}

// Admit implements Limiter.
func (r *Redis) Admit(ctx context.Context, req *Request) (*Ticket, error) {
	return r.c.admit(ctx, req)
}

// Close stops lease renewal; leases still held expire after LeaseTTL. It does not
// close the Redis client.
func (r *Redis) Close() error {
	r.st.closeOnce.Do(func() { close(r.st.stop) })
	r.st.wg.Wait()
	return nil
}

type redisStore struct {
	c       *core
	rdb     redis.UniversalClient
	opts    RedisOptions
	log     *zap.Logger
	replica string
	seq     atomic.Uint64

	downUntil atomic.Int64 // unix nanos: skip Redis until then
	failures  atomic.Int64 // consecutive failed calls

	leaseMu sync.Mutex
	leases  map[string]string // lease id → semaphore key, for renewal

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var errDown = errors.New("Redis marked down after a recent failure")

// clock is the time passed to scripts: the injected clock, or -1 for Redis's own.
func (r *redisStore) clock() int64 {
	if r.c.opts.Now != nil {
		return r.c.opts.Now().UnixMicro()
	}
	return -1
}

func (r *redisStore) rateKey(s *subject) string {
	return r.opts.Prefix + "r:" + scopeNames[s.scope] + ":" + s.name
}

func (r *redisStore) budgetKey(s *subject, id int64) string {
	switch s.bkind {
	case periodDay:
		return r.opts.Prefix + "b:" + scopeNames[s.scope] + ":d" + strconv.FormatInt(id, 10) + ":" + s.name
	case periodMonth:
		return r.opts.Prefix + "b:" + scopeNames[s.scope] + ":m" + strconv.FormatInt(id, 10) + ":" + s.name
	}
	return r.opts.Prefix + "b:" + scopeNames[s.scope] + ":t:" + s.name
}

func (r *redisStore) semKey(s *semaphore) string {
	return r.opts.Prefix + "s:" + s.scope + ":" + s.name
}

func (r *redisStore) newLease() string {
	return r.replica + ":" + strconv.FormatUint(r.seq.Add(1), 10)
}

func (r *redisStore) down() bool {
	return time.Now().UnixNano() < r.downUntil.Load()
}

// breakerFailures consecutive failed calls mark Redis down for RetryInterval.
const breakerFailures = 3

// succeeded records a successful call (without writing a shared cache line when
// nothing failed).
func (r *redisStore) succeeded() {
	if r.failures.Load() != 0 {
		r.failures.Store(0)
	}
}

// failed records a failed call.
func (r *redisStore) failed() {
	if r.failures.Add(1) >= breakerFailures {
		r.failures.Store(0)
		r.downUntil.Store(time.Now().Add(r.opts.RetryInterval).UnixNano())
	}
}

// fail handles a failed call for an admission decision: it returns nil when the
// request may proceed unchecked (fail open), a *Refusal (fail closed), or the
// caller's own context error when the caller went away.
func (r *redisStore) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("limits: %s: %w", op, ctx.Err())
	}
	if !errors.Is(err, errDown) {
		r.failed()
	}
	if r.opts.FailMode == FailClosed {
		r.c.m.storeErrors.WithLabelValues(op, "fail_closed").Inc()
		r.logFailure(op, "refusing requests (fail mode closed)", err)
		return &Refusal{Status: 503, Reason: ReasonUnavailable, RetryAfter: time.Second,
			Message: "Rate limiting is temporarily unavailable; the request was not admitted. Retry after 1s."}
	}
	r.c.m.storeErrors.WithLabelValues(op, "fail_open").Inc()
	r.logFailure(op, "admitting requests WITHOUT limits (fail mode open)", err)
	return nil
}

// logFailure logs at error level, at most once per 5s per replica, with the number
// of failures not logged in between, so an outage is loud but does not flood.
func (r *redisStore) logFailure(op, action string, err error) {
	r.logMu.Lock()
	if time.Since(r.lastLog) < 5*time.Second {
		r.suppressed++
		r.logMu.Unlock()
		return
	}
	n := r.suppressed
	r.lastLog, r.suppressed = time.Now(), 0
	r.logMu.Unlock()
	r.log.Error("limits: Redis unreachable; "+action, zap.String("op", op),
		zap.Int("failures_not_logged", n), zap.Error(err))
}

func (r *redisStore) reserve(ctx context.Context, t *Ticket) error {
	if r.down() {
		return r.open(t, r.fail(ctx, "admit", errDown))
	}
	keys := make([]string, 0, 2*t.n+t.nsem)
	args := make([]any, 0, 6+5*t.n+3*t.nsem)
	args = append(args, r.clock(), period, 0, 0, 0, t.est)
	var rateSubj [nScopes]int
	nr := 0
	for i := 0; i < t.n; i++ {
		if s := &t.subs[i]; s.rpm > 0 || s.tpm > 0 {
			t.keys[i] = r.rateKey(s)
			keys = append(keys, t.keys[i])
			args = append(args, i, s.rpm, s.tpm)
			rateSubj[nr] = i
			nr++
		}
	}
	nb := 0
	for i := 0; i < t.n; i++ {
		if s := &t.subs[i]; s.budget > 0 {
			id, _ := periodOf(s.bkind, t.at)
			t.bper[i], t.bkey[i] = id, r.budgetKey(s, id)
			keys = append(keys, t.bkey[i])
			args = append(args, i, s.budget)
			nb++
		}
	}
	// Take free slots in the same round trip, unless local waiters are ahead.
	for i := 0; i < t.nsem; i++ {
		s := t.sems[i]
		s.mu.Lock()
		limit := t.semLimit[i]
		if len(s.waiters) > 0 {
			limit = 0
		}
		s.mu.Unlock()
		t.tried[i] = limit > 0
		t.lease[i] = r.newLease()
		keys = append(keys, r.semKey(s))
		args = append(args, limit, t.lease[i], r.opts.LeaseTTL.Microseconds())
	}
	args[2], args[3], args[4] = nr, nb, t.nsem

	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	res, err := admitScript.Run(cctx, r.rdb, keys, args...).Int64Slice()
	cancel()
	if err == nil {
		err = checkAdmitReply(res, t.nsem, nr)
	}
	if err != nil {
		for i := 0; i < t.nsem; i++ {
			t.lease[i], t.tried[i] = "", false
		}
		return r.open(t, r.fail(ctx, "admit", err))
	}
	r.succeeded()
	now := res[0]
	if k := int(res[1]); k > 0 {
		var f failure
		for j := 0; j < k; j++ {
			v := res[2+4*j : 6+4*j]
			idx := int(v[1])
			if idx < 0 || idx >= t.n {
				continue
			}
			switch v[0] {
			case 1:
				f.note(ReasonRequests, idx, v[2], false)
			case 2:
				f.note(ReasonTokens, idx, v[2], false)
			case 3:
				t.checkBudget(&f, idx, v[3])
			case 4:
				f.note(ReasonTokens, idx, 0, true)
			}
		}
		if f.reason == "" {
			return fmt.Errorf("limits: admit refused without a known reason")
		}
		return t.refusal(&f)
	}
	for i := 0; i < t.nsem; i++ {
		if res[2+i] == 1 {
			t.held[i] = true
			r.track(t.lease[i], keys[nr+nb+i])
		} else {
			t.lease[i] = ""
		}
	}
	base := 2 + t.nsem
	for j := 0; j < nr; j++ {
		s := &t.subs[rateSubj[j]]
		v := res[base+4*j : base+4*j+4]
		if s.rpm > 0 {
			t.req.observe(gcra{v[0], v[1]}, now, s.rpm)
		}
		if s.tpm > 0 {
			t.tok.observe(gcra{v[2], v[3]}, now, s.tpm)
		}
	}
	return nil
}

// checkAdmitReply validates the shape of admit.lua's reply.
func checkAdmitReply(res []int64, nsem, nr int) error {
	switch {
	case len(res) < 2:
	case res[1] > 0 && int64(len(res)) == 2+4*res[1]:
		return nil
	case res[1] == 0 && len(res) == 2+nsem+4*nr:
		return nil
	}
	return fmt.Errorf("limits: malformed admit reply of %d values", len(res))
}

// open marks t as admitted without the store when err is nil (fail open).
func (r *redisStore) open(t *Ticket, err error) error {
	if err == nil {
		t.open = true
	}
	return err
}

func (r *redisStore) try(ctx context.Context, t *Ticket, i int) (bool, error) {
	if t.open {
		return true, nil
	}
	if r.down() {
		return r.tryFailed(ctx, t, errDown)
	}
	s := t.sems[i]
	key, lease := r.semKey(s), r.newLease()
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	got, err := acquireScript.Run(cctx, r.rdb, []string{key}, r.clock(), t.semLimit[i], lease,
		r.opts.LeaseTTL.Microseconds()).Int64()
	cancel()
	if err != nil {
		return r.tryFailed(ctx, t, err)
	}
	r.succeeded()
	if got != 1 {
		return false, nil
	}
	t.lease[i] = lease
	r.track(lease, key)
	return true, nil
}

// tryFailed applies the fail mode to a semaphore: open takes the slot without a
// lease (settle then has nothing to release).
func (r *redisStore) tryFailed(ctx context.Context, t *Ticket, err error) (bool, error) {
	if err := r.fail(ctx, "acquire", err); err != nil {
		return false, err
	}
	return true, nil
}

func (r *redisStore) settle(ctx context.Context, t *Ticket, actual, cost int64, served bool) {
	if t.open {
		return
	}
	keys := make([]string, 0, 2*t.n+t.nsem)
	args := make([]any, 0, 5+4*t.n+2*t.n+t.nsem)
	args = append(args, r.clock(), period, 0, 0, 0)
	nr, nb, ns := 0, 0, 0
	for i := 0; i < t.n; i++ {
		s := &t.subs[i]
		if t.keys[i] == "" {
			continue
		}
		var dr, dt int64
		switch {
		case !served:
			dr, dt = -1, -t.est
		case actual >= 0:
			dt = clampDelta(actual - t.est)
		}
		if (s.rpm > 0 && dr != 0) || (s.tpm > 0 && dt != 0) {
			keys = append(keys, t.keys[i])
			args = append(args, s.rpm, dr, s.tpm, dt)
			nr++
		}
	}
	if served && cost > 0 {
		for i := 0; i < t.n; i++ {
			if t.bkey[i] == "" {
				continue
			}
			var exp int64
			if _, end := periodOf(t.subs[i].bkind, t.at); end > 0 {
				exp = end + int64(24*time.Hour/time.Microsecond)
			}
			keys = append(keys, t.bkey[i])
			args = append(args, cost, exp)
			nb++
		}
	}
	for i := 0; i < t.nsem; i++ {
		if t.held[i] && t.lease[i] != "" {
			keys = append(keys, r.semKey(t.sems[i]))
			args = append(args, t.lease[i])
			r.untrack(t.lease[i])
			ns++
		}
	}
	if len(keys) == 0 {
		return
	}
	args[2], args[3], args[4] = nr, nb, ns
	if r.down() {
		r.lost(t, errDown)
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
	err := settleScript.Run(cctx, r.rdb, keys, args...).Err()
	cancel()
	if err != nil {
		r.failed()
		r.lost(t, err)
		return
	}
	r.succeeded()
}

// lost records a settlement that could not be written: the token estimate stays
// charged, the cost is not charged, and leases are freed by expiry.
func (r *redisStore) lost(t *Ticket, err error) {
	r.c.m.storeErrors.WithLabelValues("settle", "lost").Inc()
	r.logFailure("settle", "usage not reconciled and cost not charged", err)
}

func (r *redisStore) track(lease, key string) {
	r.leaseMu.Lock()
	r.leases[lease] = key
	r.leaseMu.Unlock()
}

func (r *redisStore) untrack(lease string) {
	r.leaseMu.Lock()
	delete(r.leases, lease)
	r.leaseMu.Unlock()
}

func (r *redisStore) renewLoop() {
	defer r.wg.Done()
	tk := time.NewTicker(r.opts.LeaseTTL / 3)
	defer tk.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tk.C:
			if err := r.renew(context.Background()); err != nil {
				r.c.m.storeErrors.WithLabelValues("renew", "retry").Inc()
				r.logFailure("renew", "leases not renewed; they expire unless a later renewal succeeds", err)
			}
		}
	}
}

// renew extends every lease this replica holds, in batches of one script call.
func (r *redisStore) renew(ctx context.Context) error {
	r.leaseMu.Lock()
	keys := make([]string, 0, len(r.leases))
	args := make([]any, 0, len(r.leases)+2)
	args = append(args, r.clock(), r.opts.LeaseTTL.Microseconds())
	for lease, key := range r.leases {
		keys = append(keys, key)
		args = append(args, lease)
	}
	r.leaseMu.Unlock()
	const batch = 512
	for len(keys) > 0 {
		n := min(batch, len(keys))
		a := append([]any{args[0], args[1]}, args[2:2+n]...)
		cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		err := renewScript.Run(cctx, r.rdb, keys[:n], a...).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("limits: renew leases: %w", err)
		}
		keys, args = keys[n:], append(args[:2], args[2+n:]...)
	}
	return nil
}
