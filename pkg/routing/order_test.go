package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStrategiesValid(t *testing.T) {
	for _, s := range Strategies() {
		require.True(t, ValidStrategy(s), s)
	}
	require.True(t, ValidStrategy(""))
	require.False(t, ValidStrategy("fastest"))
	// Strategies returns a copy.
	s := Strategies()
	s[0] = "x"
	require.Equal(t, StrategyPriority, Strategies()[0])
}

func TestOrderPriorityAndContext(t *testing.T) {
	tests := []struct {
		name  string
		cands []Candidate
		info  Info
		want  []string
	}{
		{
			name:  "config order within a priority",
			cands: []Candidate{{Name: "a"}, {Name: "b"}, {Name: "c"}},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "lower priority first, stable",
			cands: []Candidate{{Name: "a", Priority: 2}, {Name: "b", Priority: 0}, {Name: "c", Priority: 1}, {Name: "d", Priority: 0}},
			want:  []string{"b", "d", "c", "a"},
		},
		{
			name:  "context window too small is removed",
			cands: []Candidate{{Name: "small", ContextWindow: 8000}, {Name: "big", ContextWindow: 128000, Priority: 1}, {Name: "unknown", Priority: 2}},
			info:  Info{EstimatedTokens: 10000},
			want:  []string{"big", "unknown"},
		},
		{
			name:  "exact fit is kept",
			cands: []Candidate{{Name: "a", ContextWindow: 10000}},
			info:  Info{EstimatedTokens: 10000},
			want:  []string{"a"},
		},
		{
			name:  "max output tokens count against the window",
			cands: []Candidate{{Name: "a", ContextWindow: 10000}, {Name: "b", ContextWindow: 20000}},
			info:  Info{EstimatedTokens: 9000, MaxOutputTokens: 4096},
			want:  []string{"b"},
		},
		{
			name:  "nothing fits",
			cands: []Candidate{{Name: "a", ContextWindow: 100}, {Name: "b", ContextWindow: 200}},
			info:  Info{EstimatedTokens: 1000},
			want:  []string{},
		},
		{
			name:  "no candidates",
			cands: nil,
			want:  []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []string{"", StrategyPriority, "unknown-strategy"} {
				r := New(Options{})
				got := r.Order(s, "m", tc.cands, tc.info, nil)
				require.Equal(t, tc.want, names(tc.cands, got), "strategy %q", s)
			}
		})
	}
}

func TestOrderAppendsToDst(t *testing.T) {
	r := New(Options{})
	cs := cands(3)
	dst := []int{42}
	got := r.Order(StrategyPriority, "m", cs, Info{}, dst)
	require.Equal(t, []int{42, 0, 1, 2}, got)
}

func TestOrderEveryStrategyReturnsPermutation(t *testing.T) {
	cs := []Candidate{
		{Name: "a", Weight: 1, Priority: 1, InputPricePerMTok: 3, OutputPricePerMTok: 15},
		{Name: "b", Weight: 0, InputPricePerMTok: 1, OutputPricePerMTok: 2},
		{Name: "c", Weight: 5, InputPricePerMTok: math.NaN()},
		{Name: "d", Weight: 2, Priority: 1},
		{Name: "e", Weight: 1},
	}
	for _, s := range Strategies() {
		r := New(Options{})
		for i := 0; i < 200; i++ {
			got := r.Order(s, "m", cs, Info{Stream: i%2 == 0}, nil)
			require.Len(t, got, len(cs), s)
			seen := map[int]bool{}
			for p, j := range got {
				require.False(t, seen[j], "%s: duplicate %d", s, j)
				seen[j] = true
				if p < 3 {
					require.Equal(t, uint32(0), cs[j].Priority, "%s: priority 0 first: %v", s, got)
				}
			}
		}
	}
}

func TestWeightedDistribution(t *testing.T) {
	r := New(Options{})
	cs := []Candidate{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}}
	const n = 20000
	first := map[string]int{}
	var dst []int
	for i := 0; i < n; i++ {
		dst = r.Order(StrategyWeighted, "m", cs, Info{}, dst[:0])
		require.Len(t, dst, 2)
		first[cs[dst[0]].Name]++
	}
	share := float64(first["a"]) / n
	require.InDelta(t, 0.75, share, 0.03, "a first %d of %d", first["a"], n)
}

func TestWeightedFullOrderAndZeroWeight(t *testing.T) {
	r := New(Options{})
	// Weights 2:1:1 plus a zero-weight candidate that must always be last.
	cs := []Candidate{{Name: "z", Weight: 0}, {Name: "a", Weight: 2}, {Name: "b", Weight: 1}, {Name: "c", Weight: 1}}
	const n = 20000
	first, second := map[string]int{}, map[string]int{}
	for i := 0; i < n; i++ {
		got := names(cs, r.Order(StrategyWeighted, "m", cs, Info{}, nil))
		require.Equal(t, "z", got[3])
		first[got[0]]++
		second[got[1]]++
	}
	require.InDelta(t, 0.50, float64(first["a"])/n, 0.03)
	require.InDelta(t, 0.25, float64(first["b"])/n, 0.03)
	// Without replacement: P(a second) = P(b first)*2/3 + P(c first)*2/3 = 1/3.
	require.InDelta(t, 1.0/3, float64(second["a"])/n, 0.03)

	// All weights zero: config order.
	zero := []Candidate{{Name: "x"}, {Name: "y"}}
	for i := 0; i < 10; i++ {
		require.Equal(t, []string{"x", "y"}, names(zero, r.Order(StrategyWeighted, "m", zero, Info{}, nil)))
	}
}

func TestRoundRobinExact(t *testing.T) {
	r := New(Options{})
	cs := cands(4)
	const n = 20000
	count := map[string]int{}
	var dst []int
	for i := 0; i < n; i++ {
		dst = r.Order(StrategyRoundRobin, "m", cs, Info{}, dst[:0])
		// The whole order is a rotation.
		for k := range dst {
			require.Equal(t, (i+k)%4, dst[k])
		}
		count[cs[dst[0]].Name]++
	}
	require.Equal(t, map[string]int{"a": n / 4, "b": n / 4, "c": n / 4, "d": n / 4}, count)

	// Models have their own positions.
	r2 := New(Options{})
	require.Equal(t, 0, r2.Order(StrategyRoundRobin, "x", cs, Info{}, nil)[0])
	require.Equal(t, 0, r2.Order(StrategyRoundRobin, "y", cs, Info{}, nil)[0])
	require.Equal(t, 1, r2.Order(StrategyRoundRobin, "x", cs, Info{}, nil)[0])
}

func TestRoundRobinWithinPriority(t *testing.T) {
	r := New(Options{})
	cs := []Candidate{{Name: "a"}, {Name: "b"}, {Name: "fallback", Priority: 1}}
	for i := 0; i < 10; i++ {
		got := names(cs, r.Order(StrategyRoundRobin, "m", cs, Info{}, nil))
		require.Equal(t, []string{[]string{"a", "b"}[i%2], []string{"b", "a"}[i%2], "fallback"}, got)
	}
}

func TestLeastInflight(t *testing.T) {
	r := New(Options{})
	cs := cands(3)
	var dones []func(Outcome)
	for i := 0; i < 3; i++ {
		dones = append(dones, r.Begin("a"))
	}
	dones = append(dones, r.Begin("b"))
	require.Equal(t, int64(3), r.InFlight("a"))
	require.Equal(t, int64(0), r.InFlight("nope"))
	for i := 0; i < 50; i++ {
		require.Equal(t, []string{"c", "b", "a"}, names(cs, r.Order(StrategyLeastInflight, "m", cs, Info{}, nil)))
	}
	for _, d := range dones {
		d(Outcome{Status: 200})
	}
	require.Equal(t, int64(0), r.InFlight("a"))

	// Weight scales capacity: (2+1)/4 < (0+1)/1.
	w := []Candidate{{Name: "small", Weight: 1}, {Name: "large", Weight: 4}}
	d1, d2 := r.Begin("large"), r.Begin("large")
	require.Equal(t, "large", w[r.Order(StrategyLeastInflight, "m", w, Info{}, nil)[0]].Name)
	d1(Outcome{})
	d2(Outcome{})

	// Ties are broken at random, not always in config order.
	first := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		first[cs[r.Order(StrategyLeastInflight, "m", cs, Info{}, nil)[0]].Name]++
	}
	for _, name := range []string{"a", "b", "c"} {
		require.InDelta(t, 1.0/3, float64(first[name])/n, 0.03, name)
	}
}

func TestLeastInflightSpreadsConcurrentRequests(t *testing.T) {
	r := New(Options{})
	cs := cands(4)
	// Begin on the chosen backend without finishing: the load must spread evenly.
	for i := 0; i < 40; i++ {
		idx := r.Order(StrategyLeastInflight, "m", cs, Info{}, nil)
		r.Begin(cs[idx[0]].Name)
	}
	for _, c := range cs {
		require.Equal(t, int64(10), r.InFlight(c.Name), c.Name)
	}
}

func TestLowestLatency(t *testing.T) {
	r := New(Options{Explore: -1, LatencyAlpha: 0.5})
	cs := cands(3)
	// a: fast first byte, slow total; b: slow first byte, fast total; c: unmeasured.
	r.Begin("a")(Outcome{Status: 200, TimeToFirstByte: 100 * time.Millisecond, Duration: 5 * time.Second})
	r.Begin("b")(Outcome{Status: 200, TimeToFirstByte: 400 * time.Millisecond, Duration: 1 * time.Second})
	// Unmeasured backends go first so they get measured.
	require.Equal(t, "c", cs[r.Order(StrategyLowestLatency, "m", cs, Info{}, nil)[0]].Name)
	r.Begin("c")(Outcome{Status: 200, TimeToFirstByte: 200 * time.Millisecond, Duration: 3 * time.Second})

	require.Equal(t, []string{"a", "c", "b"}, names(cs, r.Order(StrategyLowestLatency, "m", cs, Info{Stream: true}, nil)))
	require.Equal(t, []string{"b", "c", "a"}, names(cs, r.Order(StrategyLowestLatency, "m", cs, Info{}, nil)))

	// The EWMA moves: a gets slower first bytes, c becomes the fastest.
	for i := 0; i < 5; i++ {
		r.Begin("a")(Outcome{Status: 200, TimeToFirstByte: time.Second, Duration: 5 * time.Second})
	}
	require.Equal(t, []string{"c", "b", "a"}, names(cs, r.Order(StrategyLowestLatency, "m", cs, Info{Stream: true}, nil)))

	// Failures do not make a backend look fast; timeouts make it look slow.
	r.Begin("a")(Outcome{Status: 500, TimeToFirstByte: time.Microsecond, Duration: time.Microsecond})
	st := snapshotOf(t, r, "a")
	require.Greater(t, st.TTFT, 500*time.Millisecond)
	before := snapshotOf(t, r, "b").Duration
	r.Begin("b")(Outcome{Err: context.DeadlineExceeded, Duration: 30 * time.Second})
	after := snapshotOf(t, r, "b")
	require.Greater(t, after.Duration, before)
	require.Greater(t, after.TTFT, 400*time.Millisecond)
}

func snapshotOf(t *testing.T, r *Router, name string) BackendStatus {
	t.Helper()
	for _, s := range r.Snapshot() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("backend %s not in snapshot", name)
	return BackendStatus{}
}

func TestLowestLatencyExplore(t *testing.T) {
	r := New(Options{Explore: 0.1})
	cs := cands(3)
	r.Begin("a")(Outcome{Status: 200, Duration: 100 * time.Millisecond})
	r.Begin("b")(Outcome{Status: 200, Duration: 200 * time.Millisecond})
	r.Begin("c")(Outcome{Status: 200, Duration: 300 * time.Millisecond})
	const n = 20000
	notBest := 0
	for i := 0; i < n; i++ {
		if cs[r.Order(StrategyLowestLatency, "m", cs, Info{}, nil)[0]].Name != "a" {
			notBest++
		}
	}
	require.InDelta(t, 0.1, float64(notBest)/n, 0.015)
}

func TestLowestCost(t *testing.T) {
	cs := []Candidate{
		{Name: "premium", InputPricePerMTok: 15, OutputPricePerMTok: 75, ContextWindow: 200000},
		{Name: "cheap-small", InputPricePerMTok: 0.1, OutputPricePerMTok: 0.4, ContextWindow: 16000},
		{Name: "mid", InputPricePerMTok: 3, OutputPricePerMTok: 15, ContextWindow: 200000},
		{Name: "unpriced", InputPricePerMTok: math.Inf(1), OutputPricePerMTok: math.Inf(1)},
		{Name: "out-heavy", InputPricePerMTok: 1, OutputPricePerMTok: 100, ContextWindow: 200000},
	}
	r := New(Options{})
	require.Equal(t, []string{"cheap-small", "mid", "premium", "out-heavy", "unpriced"},
		names(cs, r.Order(StrategyLowestCost, "m", cs, Info{EstimatedTokens: 1000}, nil)))
	// A long prompt with a short answer: out-heavy is cheaper than mid; cheap-small does
	// not fit.
	require.Equal(t, []string{"out-heavy", "mid", "premium", "unpriced"},
		names(cs, r.Order(StrategyLowestCost, "m", cs, Info{EstimatedTokens: 100000, MaxOutputTokens: 100}, nil)))
	// Open breakers are skipped.
	fail(r, "cheap-small", 5)
	require.Equal(t, Open, r.State("cheap-small"))
	require.Equal(t, "mid", cs[r.Order(StrategyLowestCost, "m", cs, Info{EstimatedTokens: 1000}, nil)[0]].Name)
}

func TestManyCandidates(t *testing.T) {
	cs := cands(20)
	cs[19].Priority = 0
	for i := 0; i < 19; i++ {
		cs[i].Priority = 1
	}
	r := New(Options{})
	got := r.Order(StrategyPriority, "m", cs, Info{}, nil)
	require.Len(t, got, 20)
	require.Equal(t, 19, got[0])
	require.Equal(t, 0, got[1])
}

func TestClassify(t *testing.T) {
	var netErr net.Error = &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	tests := []struct {
		o    Outcome
		want Result
	}{
		{Outcome{Status: 200}, Success},
		{Outcome{Status: 400}, Success},
		{Outcome{Status: 404}, Success},
		{Outcome{Status: 429}, Failure},
		{Outcome{Status: 500}, Failure},
		{Outcome{Status: 503}, Failure},
		{Outcome{Status: 529}, Failure},
		{Outcome{Err: netErr}, Failure},
		{Outcome{Err: context.DeadlineExceeded}, Failure},
		{Outcome{Err: fmt.Errorf("stream: %w", context.Canceled)}, Neutral},
		{Outcome{}, Neutral},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, Classify(tc.o), "%+v", tc.o)
	}
	require.True(t, isTimeout(fmt.Errorf("x: %w", context.DeadlineExceeded)))
	require.True(t, isTimeout(&net.DNSError{IsTimeout: true}))
	require.False(t, isTimeout(netErr))
}

func TestBeginReportsOnce(t *testing.T) {
	r := New(Options{})
	done := r.Begin("a")
	require.Equal(t, int64(1), r.InFlight("a"))
	done(Outcome{Status: 200})
	done(Outcome{Status: 200})
	require.Equal(t, int64(0), r.InFlight("a"))
}

func TestRetain(t *testing.T) {
	r := New(Options{})
	cs := cands(3)
	r.Order(StrategyRoundRobin, "m1", cs, Info{}, nil)
	r.Order(StrategyRoundRobin, "m2", cs, Info{}, nil)
	fail(r, "a", 5)
	done := r.Begin("b")
	r.Retain([]string{"a", "c"}, []string{"m2"})
	require.Equal(t, []string{"a", "c"}, []string{r.Snapshot()[0].Name, r.Snapshot()[1].Name})
	require.Equal(t, Open, r.State("a"), "a kept its breaker")
	require.Equal(t, Closed, r.State("b"))
	done(Outcome{Status: 500}) // safe on a dropped backend
	// m1's position was dropped and restarts; m2 continues.
	require.Equal(t, 0, r.Order(StrategyRoundRobin, "m1", cs[1:], Info{}, nil)[0])
	require.Equal(t, 1, r.Order(StrategyRoundRobin, "m2", cs[1:], Info{}, nil)[0])
}

func TestEWMAIgnoresBadSamples(t *testing.T) {
	var e ewma
	e.observe(0, 0.5)
	e.observe(-1, 0.5)
	e.observe(math.NaN(), 0.5)
	e.observe(math.Inf(1), 0.5)
	require.Zero(t, e.value())
	e.observe(2, 0.5)
	e.observe(4, 0.5)
	require.InDelta(t, 3, e.value(), 1e-12)
}

func TestOptionsDefaults(t *testing.T) {
	r := New(Options{Explore: 5, LatencyAlpha: 7})
	require.Equal(t, 1.0, r.explore)
	require.Equal(t, 0.3, r.alpha)
	require.Equal(t, 0.02, New(Options{}).explore)
	require.Zero(t, New(Options{Explore: -1}).explore)
}
