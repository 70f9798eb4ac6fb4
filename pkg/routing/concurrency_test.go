package routing

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUse drives every entry point from many goroutines; run with -race. At
// the end every request has finished, so in-flight counts must be back to zero.
func TestConcurrentUse(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := New(Options{Registerer: reg, Breaker: BreakerOptions{ConsecutiveFailures: 3, Cooldown: time.Millisecond, HalfOpenProbes: 2}})
	cs := []Candidate{{Name: "a", Weight: 2}, {Name: "b", Weight: 1}, {Name: "c", Priority: 1}, {Name: "d", Priority: 1}}
	splits := []Split{{Percent: 20, Target: "b"}}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dst := make([]int, 0, 8)
			strategy := Strategies()[g%len(Strategies())]
			for i := 0; i < 2000; i++ {
				var arm Arm
				dst, arm = r.OrderWithArm(strategy, "m", cs, splits, Info{KeyID: keyName(i)}, dst[:0])
				if len(dst) == 0 || arm.Name == "" {
					t.Errorf("empty order or arm")
					return
				}
				done := r.Begin(cs[dst[0]].Name)
				status := 200
				if i%7 == g%7 {
					status = 503
				}
				done(Outcome{Status: status, TimeToFirstByte: time.Millisecond, Duration: 2 * time.Millisecond})
				_ = r.State(cs[dst[0]].Name)
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			_, _ = reg.Gather()
			_ = r.Snapshot()
			if i%50 == 0 {
				r.Retain([]string{"a", "b", "c", "d"}, []string{"m"})
			}
		}
	}()
	wg.Wait()
	for _, s := range r.Snapshot() {
		require.Zero(t, s.InFlight, s.Name)
	}
}
