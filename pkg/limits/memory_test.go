package limits

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/auth"
)

func TestGCRA(t *testing.T) {
	const now = int64(1_000_000_000)
	cases := []struct {
		name          string
		limit, cost   int64
		times         int
		wantOver      bool
		wantRemaining int64
	}{
		{"one of three", 3, 1, 1, false, 2},
		{"exactly full", 3, 1, 3, false, 0},
		{"one too many", 3, 1, 4, true, 0},
		{"uneven units stay exact", 7, 1, 7, false, 0},
		{"uneven units, one more", 7, 1, 8, true, 0},
		{"large limit", MaxRate, 1000, MaxRate / 1000, false, 0},
		{"large limit over", MaxRate, 1000, MaxRate/1000 + 1, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g gcra
			for i := 0; i < tc.times; i++ {
				g = g.add(now, tc.limit, tc.cost)
			}
			require.Equal(t, tc.wantOver, g.over(now))
			if !tc.wantOver {
				require.Equal(t, tc.wantRemaining, g.remaining(now, tc.limit)/tc.cost)
			}
		})
	}
}

func TestGCRASubAndWait(t *testing.T) {
	const now = int64(5_000_000)
	var g gcra
	g = g.add(now, 7, 5)
	require.Equal(t, g, g.add(now, 7, 3).sub(now, 7, 3), "give back what was taken")
	require.Equal(t, gcra{tat: now}, g.sub(now, 7, 100), "never more than a full bucket")
	require.Equal(t, gcra{tat: now}, gcra{tat: now - 10}.sub(now, 7, 1))
	require.Equal(t, g.add(now, 7, 2), g.adjust(now, 7, 2))
	require.Equal(t, g.sub(now, 7, 2), g.adjust(now, 7, -2))

	full := gcra{}.add(now, 3, 3)
	over := full.add(now, 3, 1)
	require.Equal(t, int64(20_000_000), over.wait(now))
	require.Equal(t, int64(0), full.wait(now))
	require.Equal(t, period, full.reset(now))
	require.Equal(t, int64(0), gcra{}.reset(now))
	require.Equal(t, int64(3), gcra{}.remaining(now, 3))
	require.Equal(t, int64(0), over.remaining(now, 3))
	frac := gcra{}.add(now, 7, 1) // 60s/7 is not a whole number of µs
	require.NotZero(t, frac.frac)
	require.Equal(t, frac.tat-now+1, frac.reset(now))
}

func TestPeriods(t *testing.T) {
	at := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC).UnixMicro()
	id, end := periodOf(periodDay, at)
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), end)
	id2, _ := periodOf(periodDay, end)
	require.Equal(t, id+1, id2)
	id, end = periodOf(periodMonth, at)
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), end)
	id2, _ = periodOf(periodMonth, end)
	require.Equal(t, id+1, id2)
	id, end = periodOf(periodTotal, at)
	require.Zero(t, id)
	require.Zero(t, end)

	for in, want := range map[string]int{"": periodTotal, "total": periodTotal, "day": periodDay, "daily": periodDay, "month": periodMonth, "monthly": periodMonth} {
		got, err := parsePeriod(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	_, err := parsePeriod("week")
	require.Error(t, err)
}

func TestSmallHelpers(t *testing.T) {
	require.Equal(t, int64(0), nanoUSD(-1))
	require.Equal(t, int64(1), nanoUSD(1e-9))
	require.Equal(t, int64(1_500_000_000), nanoUSD(1.5))
	require.Equal(t, int64(9e18), nanoUSD(1e12))
	require.Equal(t, "1s", formatReset(1_000_000))
	require.Equal(t, "1ms", formatReset(1))
	require.Equal(t, "6m0s", formatReset(360_000_000))
	require.Equal(t, "0s", formatReset(0))
	require.Equal(t, int64(0), clampRate(-5))
	require.Equal(t, int64(MaxRate), clampRate(MaxRate+1))
	require.Equal(t, int64(-MaxRate), clampDelta(-MaxRate*2))
	require.Equal(t, "1.25", usd(1_250_000_000))
}

func TestOptionsValidation(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		err  string
	}{
		{"model", Options{Models: map[string]Rate{"m": {TokensPerMinute: -1}}}, `model "m"`},
		{"team rate", Options{Teams: map[string]TeamLimits{"t": {Rate: Rate{RequestsPerMinute: -1}}}}, `team "t"`},
		{"team budget", Options{Teams: map[string]TeamLimits{"t": {Budget: auth.Budget{USD: -1}}}}, `team "t"`},
		{"team period", Options{Teams: map[string]TeamLimits{"t": {Budget: auth.Budget{USD: 1, Period: "week"}}}}, "week"},
		{"backend", Options{Backends: map[string]BackendLimits{"b": {MaxParallel: -1}}}, `backend "b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMemory(tc.o)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := registry()
	_, err := NewMemory(Options{Registerer: reg})
	require.NoError(t, err)
	_, err = NewMemory(Options{Registerer: reg})
	require.ErrorContains(t, err, "already registered")
}

// TestSweep: idle window state expires; spend of a live period and state in use stay.
func TestSweep(t *testing.T) {
	clk := newFakeClock()
	m, err := NewMemory(Options{Now: clk.Now})
	require.NoError(t, err)
	ctx := context.Background()
	admit := func(req Request) *Ticket {
		tk, err := m.Admit(ctx, &req)
		require.NoError(t, err)
		return tk
	}
	for i := 0; i < 500; i++ {
		admit(Request{KeyID: fmt.Sprint("idle-", i), Key: auth.Limits{RequestsPerMinute: 10, MaxParallel: 2}}).Done(ctx, -1, 0)
	}
	admit(Request{KeyID: "spender", Budget: auth.Budget{USD: 10, Period: "day"}}).Done(ctx, 1, 0.5)
	admit(Request{KeyID: "forever", Budget: auth.Budget{USD: 10}}).Done(ctx, 1, 0.5)
	busy := admit(Request{KeyID: "busy", Key: auth.Limits{RequestsPerMinute: 10}})
	keys := &m.st.tables[scopeKey]
	require.Equal(t, 503, keys.len())
	require.Equal(t, 500, m.c.keySems.len())

	clk.Add(2 * time.Minute) // every bucket is full again
	// Enough new keys that every shard gets one and is swept.
	for i := 0; i < 2000; i++ {
		admit(Request{KeyID: fmt.Sprint("new-", i), Key: auth.Limits{RequestsPerMinute: 10, MaxParallel: 1}}).Done(ctx, -1, 0)
	}
	require.Equal(t, 2003, keys.len(), "idle keys swept; spender, forever and busy kept")
	require.Equal(t, 2000, m.c.keySems.len())
	_, err = m.Admit(ctx, &Request{KeyID: "spender", Budget: auth.Budget{USD: 0.5, Period: "day"}})
	require.Equal(t, ReasonBudget, refusal(t, err).Reason, "the day's spend survived the sweep")

	clk.Add(48 * time.Hour) // the spender's day is over; forever's total is not
	busy.Done(ctx, -1, 0)
	for i := 0; i < 2000; i++ {
		admit(Request{KeyID: fmt.Sprint("newer-", i), Key: auth.Limits{RequestsPerMinute: 10}}).Done(ctx, -1, 0)
	}
	require.Equal(t, 2001, keys.len(), "only the total budget's spend is kept")
}

// TestAdmitAllocs: the decision for a key without concurrency limits does not
// allocate.
func TestAdmitAllocs(t *testing.T) {
	m, err := NewMemory(Options{Models: map[string]Rate{"m": {RequestsPerMinute: MaxRate}},
		Teams: map[string]TeamLimits{"t": {Rate: Rate{TokensPerMinute: MaxRate}, Budget: auth.Budget{USD: 1e6, Period: "month"}}}})
	require.NoError(t, err)
	ctx := context.Background()
	req := Request{KeyID: "k", Team: "t", Model: "m", EstimatedTokens: 1,
		Key: auth.Limits{RequestsPerMinute: MaxRate, TokensPerMinute: MaxRate}, Budget: auth.Budget{USD: 1e6, Period: "day"}}
	allocs := testing.AllocsPerRun(1000, func() {
		tk, err := m.Admit(ctx, &req)
		if err != nil {
			panic(err)
		}
		tk.Done(ctx, 1, 1e-6)
	})
	require.Zero(t, allocs)
}

// TestDifferential runs one random sequence through the in-memory and the Redis
// limiter and requires identical decisions and headers: the Lua scripts and the Go
// code implement the same arithmetic.
func TestDifferential(t *testing.T) {
	clk := newFakeClock()
	o := Options{Now: clk.Now, Models: map[string]Rate{"m": {RequestsPerMinute: 13, TokensPerMinute: 997}},
		Teams: map[string]TeamLimits{"t": {Rate: Rate{TokensPerMinute: 1499}, Budget: auth.Budget{USD: 3, Period: "day"}}}}
	mem := memoryImpl().new(t, o)
	red := redisImpl().new(t, o)
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	var memOpen, redOpen []*Ticket
	reasons := map[string]int{}
	for step := 0; step < 1000; step++ {
		switch op := rng.IntN(10); {
		case op < 6:
			req := Request{KeyID: fmt.Sprint("k", rng.IntN(3)), Team: "t", Model: "m", EstimatedTokens: rng.Int64N(120),
				Key: auth.Limits{RequestsPerMinute: 7, TokensPerMinute: 541}, Budget: auth.Budget{USD: 1.5, Period: "month"}}
			if rng.IntN(4) == 0 {
				req.Team = ""
			}
			r2 := req
			a, errA := mem.Admit(ctx, &req)
			b, errB := red.Admit(ctx, &r2)
			require.Equal(t, errA, errB, "step %d", step)
			if errA != nil {
				reasons[refusal(t, errA).Reason]++
			} else {
				reasons["admitted"]++
				require.Equal(t, a.Headers(), b.Headers(), "step %d", step)
				memOpen, redOpen = append(memOpen, a), append(redOpen, b)
			}
		case op < 9 && len(memOpen) > 0:
			i := rng.IntN(len(memOpen))
			actual, cost := rng.Int64N(300)-20, rng.Float64()*0.08
			memOpen[i].Done(ctx, actual, cost)
			redOpen[i].Done(ctx, actual, cost)
			memOpen = append(memOpen[:i], memOpen[i+1:]...)
			redOpen = append(redOpen[:i], redOpen[i+1:]...)
		default:
			clk.Add(time.Duration(rng.Int64N(int64(20 * time.Second))))
		}
	}
	t.Logf("decisions: %v", reasons)
	for _, r := range []string{"admitted", ReasonRequests, ReasonTokens, ReasonBudget} {
		require.Positive(t, reasons[r], "the sequence exercised %s", r)
	}
}
