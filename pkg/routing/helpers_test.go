package routing

import (
	"fmt"
	"sync"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cands builds candidates named a, b, c, … with priority 0 and weight 1.
func cands(n int) []Candidate {
	out := make([]Candidate, n)
	for i := range out {
		out[i] = Candidate{Name: string(rune('a' + i)), Weight: 1}
	}
	return out
}

// names maps indices to candidate names.
func names(cs []Candidate, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = cs[j].Name
	}
	return out
}

// fail reports n failures on backend.
func fail(r *Router, backend string, n int) {
	for i := 0; i < n; i++ {
		r.Begin(backend)(Outcome{Status: 503})
	}
}

func succeed(r *Router, backend string, n int) {
	for i := 0; i < n; i++ {
		r.Begin(backend)(Outcome{Status: 200})
	}
}

func keyName(i int) string { return fmt.Sprintf("key-%06d", i) }
