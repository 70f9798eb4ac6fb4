package routing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func newBreakerRouter(clk *fakeClock, b BreakerOptions) *Router {
	return New(Options{Clock: clk.Now, Breaker: b})
}

func TestBreakerStateString(t *testing.T) {
	require.Equal(t, "closed", Closed.String())
	require.Equal(t, "half_open", HalfOpen.String())
	require.Equal(t, "open", Open.String())
	require.Equal(t, "unknown", BreakerState(7).String())
}

func TestBreakerConsecutiveOpenHalfOpenClose(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 3, FailureRate: -1, Cooldown: 10 * time.Second})
	cs := []Candidate{{Name: "primary"}, {Name: "fallback", Priority: 1}}
	order := func() []string { return names(cs, r.Order(StrategyPriority, "m", cs, Info{}, nil)) }

	fail(r, "primary", 2)
	succeed(r, "primary", 1) // resets the run
	fail(r, "primary", 2)
	require.Equal(t, Closed, r.State("primary"))
	fail(r, "primary", 1)
	require.Equal(t, Open, r.State("primary"))
	require.Equal(t, []string{"fallback"}, order())

	clk.Advance(10*time.Second - time.Nanosecond)
	require.Equal(t, Open, r.State("primary"))
	require.Equal(t, []string{"fallback"}, order())

	clk.Advance(time.Nanosecond)
	require.Equal(t, HalfOpen, r.State("primary"))
	// The first request gets the single probe slot; the next one, while the probe is
	// pending, does not see primary at all.
	require.Equal(t, []string{"primary", "fallback"}, order())
	require.Equal(t, []string{"fallback"}, order())
	probe := r.Begin("primary")
	require.Equal(t, []string{"fallback"}, order())
	probe(Outcome{Status: 200, Duration: time.Second})
	require.Equal(t, Closed, r.State("primary"))
	require.Equal(t, []string{"primary", "fallback"}, order())
	require.Equal(t, []string{"primary", "fallback"}, order())
}

func TestBreakerProbeFailureReopensWithBackoff(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: 10 * time.Second, MaxCooldown: 25 * time.Second})
	fail(r, "a", 1)
	require.Equal(t, Open, r.State("a"))
	openFor := func() time.Duration { return snapshotOf(t, r, "a").OpenUntil.Sub(clk.Now()) }
	require.Equal(t, 10*time.Second, openFor())

	clk.Advance(10 * time.Second)
	fail(r, "a", 1) // the probe fails
	require.Equal(t, Open, r.State("a"))
	require.Equal(t, 20*time.Second, openFor())

	clk.Advance(20 * time.Second)
	fail(r, "a", 1)
	require.Equal(t, 25*time.Second, openFor(), "capped by MaxCooldown")

	clk.Advance(25 * time.Second)
	succeed(r, "a", 1)
	require.Equal(t, Closed, r.State("a"))
	require.True(t, snapshotOf(t, r, "a").OpenUntil.IsZero())

	// Closing resets the backoff.
	fail(r, "a", 1)
	require.Equal(t, 10*time.Second, openFor())
}

func TestBreakerErrorRate(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: -1, FailureRate: 0.5, MinRequests: 10, Window: 10 * time.Second})
	// Old failures leave the window.
	fail(r, "a", 4)
	succeed(r, "a", 5)
	clk.Advance(11 * time.Second)
	for i := 0; i < 9; i++ {
		if i%2 == 1 {
			fail(r, "a", 1)
		} else {
			succeed(r, "a", 1)
		}
		clk.Advance(100 * time.Millisecond)
	}
	st := snapshotOf(t, r, "a")
	require.Equal(t, 9, st.WindowRequests)
	require.Equal(t, 4, st.WindowFailures)
	require.Equal(t, Closed, st.State)
	fail(r, "a", 1) // 5 of 10
	require.Equal(t, Open, r.State("a"))

	// Below MinRequests, even 100% failures do not trip the rate trigger.
	r2 := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: -1, MinRequests: 10})
	fail(r2, "a", 9)
	require.Equal(t, Closed, r2.State("a"))
	require.Equal(t, 9, snapshotOf(t, r2, "a").ConsecutiveFailures)
	fail(r2, "a", 1)
	require.Equal(t, Open, r2.State("a"))
}

func TestBreakerProbeLimit(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second, HalfOpenProbes: 2, HalfOpenSuccesses: 2})
	cs := []Candidate{{Name: "a"}, {Name: "b", Priority: 1}}
	head := func() string { return cs[r.Order(StrategyPriority, "m", cs, Info{}, nil)[0]].Name }
	fail(r, "a", 1)
	clk.Advance(time.Second)
	require.Equal(t, "a", head())
	require.Equal(t, "a", head())
	require.Equal(t, "b", head(), "two probe slots taken")
	p1, p2 := r.Begin("a"), r.Begin("a")
	require.Equal(t, "b", head())
	p1(Outcome{Status: 200})
	require.Equal(t, HalfOpen, r.State("a"), "needs two successes")
	require.Equal(t, "a", head(), "a slot was freed")
	p2(Outcome{Err: context.Canceled}) // neutral: frees the slot, decides nothing
	require.Equal(t, HalfOpen, r.State("a"))
	p3 := r.Begin("a")
	p3(Outcome{Status: 204})
	require.Equal(t, Closed, r.State("a"))
}

func TestBreakerReservationExpires(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second, ProbeTimeout: 5 * time.Second})
	cs := []Candidate{{Name: "a"}, {Name: "b", Priority: 1}}
	head := func() string { return cs[r.Order(StrategyPriority, "m", cs, Info{}, nil)[0]].Name }
	fail(r, "a", 1)
	clk.Advance(time.Second)
	require.Equal(t, "a", head()) // reserved, but the request never begins
	require.Equal(t, "b", head())
	clk.Advance(5 * time.Second)
	require.Equal(t, "b", head())
	clk.Advance(time.Nanosecond)
	require.Equal(t, "a", head(), "the slot was reclaimed")
}

func TestBreakerFallbackAttemptCountsAsProbe(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second})
	cs := []Candidate{{Name: "a"}, {Name: "b", Priority: 1}}
	fail(r, "a", 1)
	clk.Advance(time.Second)
	// A request begun without Order's slot (e.g. an Envoy retry) is a probe.
	done := r.Begin("a")
	require.Equal(t, []string{"b"}, names(cs, r.Order(StrategyPriority, "m", cs, Info{}, nil)))
	done(Outcome{Status: 502})
	require.Equal(t, Open, r.State("a"))
}

func TestBreakerIgnoresStaleOutcomes(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 2, Cooldown: time.Second})
	slow := r.Begin("a") // begun while closed
	fail(r, "a", 2)
	require.Equal(t, Open, r.State("a"))
	slow(Outcome{Status: 200})
	require.Equal(t, Open, r.State("a"), "a success from before the outage does not close")

	slow2 := r.Begin("a") // begun while open (fail-open traffic): not a probe
	clk.Advance(time.Second)
	require.Equal(t, HalfOpen, r.State("a"))
	slow2(Outcome{Status: 200})
	require.Equal(t, HalfOpen, r.State("a"))

	probe := r.Begin("a")
	probe(Outcome{Status: 200})
	require.Equal(t, Closed, r.State("a"))
	old := r.Begin("a")
	fail(r, "a", 1)
	old(Outcome{Status: 500}) // same generation: counts
	require.Equal(t, Open, r.State("a"))
}

func TestBreakerFailOpenWhenAllOpen(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Minute})
	cs := []Candidate{{Name: "a", Priority: 1}, {Name: "b"}, {Name: "c", ContextWindow: 10}}
	fail(r, "a", 1)
	fail(r, "b", 1)
	fail(r, "c", 1)
	// All open: returned anyway, in priority order, still filtered by context.
	require.Equal(t, []string{"b", "a"}, names(cs, r.Order(StrategyPriority, "m", cs, Info{EstimatedTokens: 100}, nil)))
	// Cooldowns end: both half-open; each request takes the head's only probe slot.
	clk.Advance(time.Minute)
	order := func() []string { return names(cs, r.Order(StrategyPriority, "m", cs, Info{EstimatedTokens: 100}, nil)) }
	require.Equal(t, []string{"b", "a"}, order())
	require.Equal(t, []string{"a"}, order(), "b's slot is taken")
	require.Equal(t, []string{"b", "a"}, order(), "every slot taken: fail open again")
	require.Equal(t, HalfOpen, r.State("a"))
}

func TestBreakerHalfOpenOnlyCandidateKeepsList(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second})
	cs := []Candidate{{Name: "a"}}
	fail(r, "a", 1)
	clk.Advance(time.Second)
	require.Equal(t, []int{0}, r.Order(StrategyPriority, "m", cs, Info{}, nil))
	// The slot is taken; the breaker refuses, every candidate is unavailable: fail open.
	require.Equal(t, []int{0}, r.Order(StrategyPriority, "m", cs, Info{}, nil))
}

func TestBreakerDisabled(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{Disabled: true})
	cs := cands(2)
	fail(r, "a", 100)
	require.Equal(t, Closed, r.State("a"))
	require.Equal(t, []string{"a", "b"}, names(cs, r.Order(StrategyPriority, "m", cs, Info{}, nil)))
	require.Equal(t, Closed, r.State("never-seen"))
}

func TestBreakerNeutralOutcomes(t *testing.T) {
	clk := newFakeClock()
	r := newBreakerRouter(clk, BreakerOptions{ConsecutiveFailures: 2})
	fail(r, "a", 1)
	r.Begin("a")(Outcome{Err: context.Canceled})
	r.Begin("a")(Outcome{})
	require.Equal(t, 1, snapshotOf(t, r, "a").ConsecutiveFailures)
	fail(r, "a", 1)
	require.Equal(t, Open, r.State("a"))
}

func TestBreakerMetrics(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	r := New(Options{Clock: clk.Now, Registerer: reg, Breaker: BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second}})
	succeed(r, "ok", 1)
	r.Begin("ok")(Outcome{Status: 200, TimeToFirstByte: 250 * time.Millisecond, Duration: time.Second})
	fail(r, "bad", 1)
	hold := r.Begin("ok")
	defer hold(Outcome{})

	want := `
# HELP llm_router_backend_breaker_state Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.
# TYPE llm_router_backend_breaker_state gauge
llm_router_backend_breaker_state{backend="bad"} 2
llm_router_backend_breaker_state{backend="ok"} 0
# HELP llm_router_backend_inflight_requests Requests in flight per backend.
# TYPE llm_router_backend_inflight_requests gauge
llm_router_backend_inflight_requests{backend="bad"} 0
llm_router_backend_inflight_requests{backend="ok"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricBreakerState, MetricInflight))

	clk.Advance(time.Second) // the scrape itself half-opens "bad"
	require.Equal(t, 1.0, gaugeValue(t, reg, MetricBreakerState, "bad"))
	require.Equal(t, 1.0, counterValue(t, reg, MetricBreakerTransitions, "bad", "half_open"))
	require.Equal(t, 1.0, counterValue(t, reg, MetricBreakerTransitions, "bad", "open"))
	require.Equal(t, 0.0, counterValue(t, reg, MetricBreakerTransitions, "bad", "closed"))
	require.Equal(t, 0.25, gaugeValueKind(t, reg, "ok", "ttft"))
	require.Equal(t, 1.0, gaugeValueKind(t, reg, "ok", "duration"))

	require.Panics(t, func() { New(Options{Registerer: reg}) }, "double registration is a programming error")
}

func gather(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s %v not found", name, labels)
	return 0
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, backend string) float64 {
	return gather(t, reg, name, "backend", backend)
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, backend, state string) float64 {
	return gather(t, reg, name, "backend", backend, "state", state)
}

func gaugeValueKind(t *testing.T, reg *prometheus.Registry, backend, kind string) float64 {
	return gather(t, reg, MetricLatencyEWMA, "backend", backend, "kind", kind)
}
