package limits

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/auth"
)

// replicas returns n independent Redis limiters (own client, own metrics, own
// local queues) sharing one key prefix: n replicas of the gateway.
func replicas(t *testing.T, n int, o RedisOptions) []*Redis {
	t.Helper()
	first, _ := testRedis(t)
	o.Prefix = testPrefix(t, first)
	out := make([]*Redis, n)
	for i := range out {
		c, _ := testRedis(t)
		o.FailMode, o.Timeout, o.Logger = FailClosed, 5*time.Second, zaptest.NewLogger(t)
		r, err := NewRedis(c, o)
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		out[i] = r
	}
	return out
}

func asLimiters(rs []*Redis) []Limiter {
	out := make([]Limiter, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// TestRedisReplicasExact: two replicas driven by 48 concurrent callers admit exactly
// the limit per window, for requests and for tokens.
func TestRedisReplicasExact(t *testing.T) {
	cases := []struct {
		name string
		req  Request
		want int64
	}{
		{"requests", Request{KeyID: "k", Key: auth.Limits{RequestsPerMinute: 250}}, 250},
		{"tokens", Request{KeyID: "k", EstimatedTokens: 40, Key: auth.Limits{TokensPerMinute: 10000}}, 250},
		{"both", Request{KeyID: "k", EstimatedTokens: 10, Key: auth.Limits{RequestsPerMinute: 120, TokensPerMinute: 1000}}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			ls := asLimiters(replicas(t, 2, RedisOptions{Options: Options{Now: clk.Now}}))
			require.Equal(t, tc.want, hammer(t, ls, 48, tc.req))
			clk.Add(time.Minute)
			require.Equal(t, tc.want, hammer(t, ls, 48, tc.req))
		})
	}
}

// TestRedisBudgetOverspend: with two replicas and 32 callers, the spend stops within
// the cost of the requests in flight when the budget ran out.
func TestRedisBudgetOverspend(t *testing.T) {
	clk := newFakeClock()
	rs := replicas(t, 2, RedisOptions{Options: Options{Now: clk.Now}})
	const callers, cost, budget = 32, 0.07, 5.0
	req := Request{KeyID: "k", Budget: auth.Budget{USD: budget, Period: "month"}}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func(l Limiter) {
			defer wg.Done()
			for {
				r := req
				tk, err := l.Admit(context.Background(), &r)
				if err != nil {
					require.Equal(t, ReasonBudget, refusal(t, err).Reason)
					return
				}
				admitted.Add(1)
				time.Sleep(time.Millisecond) // the request runs
				tk.Done(context.Background(), 10, cost)
			}
		}(rs[g%2])
	}
	wg.Wait()
	spent := float64(admitted.Load()) * cost
	require.GreaterOrEqual(t, spent, budget, "the budget was used")
	// At most one request per caller is in flight when the budget runs out.
	require.LessOrEqual(t, spent-budget, callers*cost+1e-9, "overspend is bounded by the requests in flight")
	t.Logf("admitted %d requests: $%.2f spent of $%.2f", admitted.Load(), spent, budget)
	// The store agrees with what was charged.
	st := rs[0].st
	id, _ := periodOf(periodMonth, clk.Now().UnixMicro())
	got, err := st.rdb.Get(context.Background(), st.budgetKey(&subject{scope: scopeKey, name: "k", bkind: periodMonth}, id)).Int64()
	require.NoError(t, err)
	require.Equal(t, admitted.Load()*nanoUSD(cost), got)
	ttl, err := st.rdb.PTTL(context.Background(), st.budgetKey(&subject{scope: scopeKey, name: "k", bkind: periodMonth}, id)).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 17*24*time.Hour, "budget counters expire after their period")
}

// TestRedisRoundTrips: a decision is one round trip, and so is Done.
func TestRedisRoundTrips(t *testing.T) {
	c, rt := testRedis(t)
	clk := newFakeClock()
	r, err := NewRedis(c, RedisOptions{Prefix: testPrefix(t, c), FailMode: FailClosed, Options: Options{Now: clk.Now,
		Teams:    map[string]TeamLimits{"t": {Rate: Rate{TokensPerMinute: 1e6}, Budget: auth.Budget{USD: 10, Period: "day"}}},
		Models:   map[string]Rate{"m": {RequestsPerMinute: 1e5}},
		Backends: map[string]BackendLimits{"b": {MaxParallel: 10}},
	}})
	require.NoError(t, err)
	defer func() { _ = r.Close() }()
	req := Request{KeyID: "k", Team: "t", Model: "m", Backend: "b", EstimatedTokens: 100,
		Key: auth.Limits{RequestsPerMinute: 1000, TokensPerMinute: 1e5, MaxParallel: 5}, Budget: auth.Budget{USD: 1, Period: "month"}}
	ctx := context.Background()
	tk, err := r.Admit(ctx, &req) // loads the scripts
	require.NoError(t, err)
	tk.Done(ctx, 50, 0.01)

	before := rt.n.Load()
	tk, err = r.Admit(ctx, &req)
	require.NoError(t, err)
	require.Equal(t, int64(1), rt.n.Load()-before, "admit: key+team+model rates, two budgets, two semaphores in one round trip")
	require.True(t, tk.held[0] && tk.held[1])
	h := headerMap(tk.Headers())
	require.Equal(t, "1000", h[HeaderLimitRequests])
	require.Equal(t, "998", h[HeaderRemainingRequests])
	require.Equal(t, "100000", h[HeaderLimitTokens]) // the key's limit binds, not the team's 1e6
	require.Equal(t, "99850", h[HeaderRemainingTokens])
	before = rt.n.Load()
	tk.Done(ctx, 120, 0.02)
	require.Equal(t, int64(1), rt.n.Load()-before, "done: one round trip")
}

// TestRedisServerClock: without an injected clock the scripts use Redis's TIME.
func TestRedisServerClock(t *testing.T) {
	c, _ := testRedis(t)
	r, err := NewRedis(c, RedisOptions{Prefix: testPrefix(t, c)})
	require.NoError(t, err)
	defer func() { _ = r.Close() }()
	ctx := context.Background()
	req := Request{KeyID: "k", Key: auth.Limits{RequestsPerMinute: 2}}
	for i := 0; i < 2; i++ {
		tk, err := r.Admit(ctx, &req)
		require.NoError(t, err)
		tk.Done(ctx, -1, 0)
	}
	_, err = r.Admit(ctx, &req)
	ref := refusal(t, err)
	require.InDelta(t, float64(30*time.Second), float64(ref.RetryAfter), float64(2*time.Second))
	ttl, err := c.PTTL(ctx, r.st.rateKey(&subject{scope: scopeKey, name: "k"})).Result()
	require.NoError(t, err)
	require.InDelta(t, float64(time.Minute), float64(ttl), float64(2*time.Second), "state expires when the bucket is full again")
}

// TestRedisLeases: a crashed replica's slots come back when its leases expire;
// renewal keeps a live replica's slots.
func TestRedisLeases(t *testing.T) {
	clk := newFakeClock()
	rs := replicas(t, 2, RedisOptions{LeaseTTL: 30 * time.Second, Options: Options{Now: clk.Now,
		Queue: QueueOptions{MaxWait: -1}, Backends: map[string]BackendLimits{"b": {MaxParallel: 1}}}})
	a, b := rs[0], rs[1]
	ctx := context.Background()
	req := Request{Backend: "b"}
	held, err := a.Admit(ctx, &req)
	require.NoError(t, err)
	_, err = b.Admit(ctx, &req)
	require.Equal(t, ReasonConcurrency, refusal(t, err).Reason)

	// A live replica renews: the slot stays taken past the first TTL.
	clk.Add(20 * time.Second)
	require.NoError(t, a.st.renew(ctx))
	clk.Add(20 * time.Second)
	_, err = b.Admit(ctx, &req)
	require.Equal(t, 503, refusal(t, err).Status)

	// Replica a "crashes": no more renewals, no Done.
	require.NoError(t, a.Close())
	clk.Add(31 * time.Second)
	tk, err := b.Admit(ctx, &req)
	require.NoError(t, err, "the crashed replica's slot expired")
	tk.Done(ctx, -1, 0)
	_ = held // never settled: the crash
}

// TestRedisCrossReplicaConcurrency: replicas share one backend semaphore.
func TestRedisCrossReplicaConcurrency(t *testing.T) {
	rs := replicas(t, 2, RedisOptions{PollInterval: 2 * time.Millisecond, Options: Options{
		Queue: QueueOptions{MaxWait: 20 * time.Second}, Backends: map[string]BackendLimits{"b": {MaxParallel: 3}}}})
	var cur, peak, done atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(l Limiter) {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				tk, err := l.Admit(context.Background(), &Request{Backend: "b", Priority: i})
				if !assertNoError(t, err) {
					return
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(2 * time.Millisecond)
				cur.Add(-1)
				tk.Done(context.Background(), -1, 0)
				done.Add(1)
			}
		}(rs[g%2])
	}
	wg.Wait()
	require.Equal(t, int64(96), done.Load())
	require.Equal(t, int64(3), peak.Load())
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestRedisDown: with Redis unreachable, fail open admits (loudly) and fail closed
// refuses with 503.
func TestRedisDown(t *testing.T) {
	cases := []struct {
		mode   FailMode
		action string
	}{
		{"", "fail_open"}, // the default
		{FailOpen, "fail_open"},
		{FailClosed, "fail_closed"},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialTimeout: time.Second})
			defer func() { _ = c.Close() }()
			rt := &rtCounter{}
			c.AddHook(rt)
			reg := registry()
			core, logs := observer.New(zap.ErrorLevel)
			r, err := NewRedis(c, RedisOptions{FailMode: tc.mode, RetryInterval: time.Hour, Options: Options{
				Registerer: reg, Logger: zap.New(core), Backends: map[string]BackendLimits{"b": {MaxParallel: 1}}}})
			require.NoError(t, err)
			defer func() { _ = r.Close() }()
			ctx := context.Background()
			req := Request{KeyID: "k", Backend: "b", Key: auth.Limits{RequestsPerMinute: 1, MaxParallel: 1}}
			for i := 0; i < 3; i++ { // over every limit, were they enforced
				tk, err := r.Admit(ctx, &req)
				if tc.action == "fail_closed" {
					ref := refusal(t, err)
					require.Equal(t, 503, ref.Status)
					require.Equal(t, ReasonUnavailable, ref.Reason)
					require.Equal(t, time.Second, ref.RetryAfter)
					continue
				}
				require.NoError(t, err)
				require.Nil(t, tk.Headers())
				defer tk.Done(ctx, 5, 0.1)
			}
			require.Equal(t, 3.0, counterValue(t, reg, MetricStoreErrors, map[string]string{"op": "admit", "action": tc.action}))
			// Three failures in a row mark Redis down: the next decision does not wait
			// for it.
			tried := rt.n.Load()
			tk, err := r.Admit(ctx, &req)
			require.Equal(t, tried, rt.n.Load(), "no call while marked down")
			if err == nil {
				tk.Done(ctx, -1, 0)
			}
			require.Equal(t, tc.action == "fail_closed", err != nil)
			require.Equal(t, 4.0, counterValue(t, reg, MetricStoreErrors, map[string]string{"op": "admit", "action": tc.action}))
			require.Equal(t, 1, logs.Len(), "loud but not flooding")
			require.Contains(t, logs.All()[0].Message, "Redis unreachable")
		})
	}
}

// TestRedisDownMidway: Redis failing while a request waits for a slot, and while
// settling.
func TestRedisDownMidway(t *testing.T) {
	for _, mode := range []FailMode{FailOpen, FailClosed} {
		t.Run(string(mode), func(t *testing.T) {
			c, _ := testRedis(t)
			reg := registry()
			r, err := NewRedis(c, RedisOptions{FailMode: mode, Prefix: testPrefix(t, c), RetryInterval: time.Hour,
				PollInterval: time.Millisecond, Options: Options{Registerer: reg,
					Queue: QueueOptions{MaxWait: 10 * time.Second}, Backends: map[string]BackendLimits{"b": {MaxParallel: 1}}}})
			require.NoError(t, err)
			defer func() { _ = r.Close() }()
			ctx := context.Background()
			holder, err := r.Admit(ctx, &Request{Backend: "b"})
			require.NoError(t, err)
			res := make(chan error, 1)
			var tk *Ticket
			go func() {
				var err error
				tk, err = r.Admit(ctx, &Request{Backend: "b"})
				res <- err
			}()
			sem := r.c.backends["b"]
			require.Eventually(t, func() bool { return queueLen(sem) == 1 }, 5*time.Second, time.Millisecond)
			r.st.downUntil.Store(time.Now().Add(time.Hour).UnixNano()) // Redis "goes down"
			err = <-res
			if mode == FailClosed {
				require.Equal(t, 503, refusal(t, err).Status)
			} else {
				require.NoError(t, err)
				tk.Done(ctx, -1, 0)
			}
			holder.Done(ctx, -1, 0) // cannot be written: counted as lost
			require.Equal(t, 1.0, counterValue(t, reg, MetricStoreErrors, map[string]string{"op": "settle", "action": "lost"}))
		})
	}
}

// TestRedisCallerGone: a caller whose context ended is not a Redis failure.
func TestRedisCallerGone(t *testing.T) {
	c, _ := testRedis(t)
	reg := registry()
	r, err := NewRedis(c, RedisOptions{FailMode: FailClosed, Prefix: testPrefix(t, c), Options: Options{Registerer: reg}})
	require.NoError(t, err)
	defer func() { _ = r.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Admit(ctx, &Request{KeyID: "k", Key: auth.Limits{RequestsPerMinute: 5}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0.0, counterValue(t, reg, MetricStoreErrors, map[string]string{"op": "admit", "action": "fail_closed"}))
	require.False(t, r.st.down())
}

func TestNewRedisErrors(t *testing.T) {
	_, err := NewRedis(nil, RedisOptions{})
	require.ErrorContains(t, err, "nil Redis client")
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	defer func() { _ = c.Close() }()
	_, err = NewRedis(c, RedisOptions{FailMode: "sideways"})
	require.ErrorContains(t, err, "fail mode")
	_, err = NewRedis(c, RedisOptions{Options: Options{Models: map[string]Rate{"m": {RequestsPerMinute: -1}}}})
	require.ErrorContains(t, err, "negative")
}

func TestCheckAdmitReply(t *testing.T) {
	cases := []struct {
		res      []int64
		nsem, nr int
		ok       bool
	}{
		{nil, 0, 0, false},
		{[]int64{1, 0}, 0, 0, true},
		{[]int64{1, 0, 1}, 1, 0, true},
		{[]int64{1, 0, 1}, 1, 1, false},
		{[]int64{1, 1, 1, 0, 5, 0}, 0, 1, true},
		{[]int64{1, 2, 1, 0, 5, 0}, 0, 1, false},
	}
	for _, tc := range cases {
		err := checkAdmitReply(tc.res, tc.nsem, tc.nr)
		require.Equal(t, tc.ok, err == nil, "%v", tc.res)
	}
}
