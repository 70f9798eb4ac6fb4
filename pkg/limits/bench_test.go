package limits

import (
	"context"
	"fmt"
	"testing"

	"github.com/llm-router/llm-router/pkg/auth"
)

// benchKeys spreads load over many keys so limits (at MaxRate) are never reached
// with the real clock.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
	}
	return keys
}

// benchOptions has 16 teams and 16 models: a shared limit of MaxRate per minute
// (2.5M/s) would otherwise be reached by a fast benchmark on the real clock.
func benchOptions() Options {
	o := Options{Models: map[string]Rate{}, Teams: map[string]TeamLimits{}}
	for i := 0; i < 16; i++ {
		o.Models[benchModels[i]] = Rate{RequestsPerMinute: MaxRate, TokensPerMinute: MaxRate}
		o.Teams[benchTeams[i]] = TeamLimits{Rate: Rate{TokensPerMinute: MaxRate}, Budget: auth.Budget{USD: 1e9, Period: "month"}}
	}
	return o
}

var (
	benchModels = benchNames("model", 16)
	benchTeams  = benchNames("team", 16)
)

func benchNames(p string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", p, i)
	}
	return out
}

// next rotates the request over keys, teams and models (when it has them).
func next(req *Request, keys []string, i int) {
	req.KeyID = keys[i&1023]
	if req.Team != "" {
		req.Team = benchTeams[i&15]
	}
	if req.Model != "" && req.Model != "other" {
		req.Model = benchModels[(i>>4)&15]
	}
}

var benchLimits = auth.Limits{RequestsPerMinute: MaxRate, TokensPerMinute: MaxRate}

// BenchmarkMemoryAdmit is the in-memory decision plus its Done (a Ticket is pooled,
// so the pair is the unit of work); target < 1µs, 0 allocs.
func BenchmarkMemoryAdmit(b *testing.B) {
	cases := []struct {
		name string
		req  Request
	}{
		{"unlimited", Request{KeyID: "k", Model: "other"}},
		{"key rpm+tpm+budget", Request{KeyID: "k", EstimatedTokens: 100, Key: benchLimits, Budget: auth.Budget{USD: 1e9, Period: "day"}}},
		{"key+team+model", Request{KeyID: "k", Team: "team", Model: "gpt", EstimatedTokens: 1, Key: benchLimits, Budget: auth.Budget{USD: 1e9, Period: "day"}}},
		{"key+team+model+concurrency", Request{KeyID: "k", Team: "team", Model: "gpt", EstimatedTokens: 1,
			Key: auth.Limits{RequestsPerMinute: MaxRate, TokensPerMinute: MaxRate, MaxParallel: 1000}}},
	}
	keys := benchKeys(1024)
	for _, tc := range cases {
		m, err := NewMemory(benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := tc.req
			i := 0
			for b.Loop() {
				next(&req, keys, i)
				i++
				tk, err := m.Admit(ctx, &req)
				if err != nil {
					b.Fatal(err)
				}
				tk.Done(ctx, 1, 1e-5)
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := tc.req
				i := 0
				for pb.Next() {
					next(&req, keys, i)
					i++
					tk, err := m.Admit(ctx, &req)
					if err != nil {
						b.Error(err)
						return
					}
					tk.Done(ctx, 1, 1e-5)
				}
			})
		})
	}
}

// BenchmarkMemoryDone times Done alone: reconciliation, charge, release.
func BenchmarkMemoryDone(b *testing.B) {
	m, err := NewMemory(benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	keys := benchKeys(1024)
	req := Request{Team: "team", Model: "gpt", EstimatedTokens: 1, Key: benchLimits, Budget: auth.Budget{USD: 1e9, Period: "day"}}
	tickets := make([]*Ticket, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if len(tickets) == 0 {
			b.StopTimer()
			for i := 0; i < 1024; i++ {
				next(&req, keys, i)
				tk, err := m.Admit(ctx, &req)
				if err != nil {
					b.Fatal(err)
				}
				tickets = append(tickets, tk)
			}
			b.StartTimer()
		}
		tickets[len(tickets)-1].Done(ctx, 2, 1e-5)
		tickets = tickets[:len(tickets)-1]
	}
	for _, tk := range tickets {
		tk.Done(ctx, -1, 0)
	}
}

// BenchmarkRedisAdmit times one Redis decision (key, team, model rates, two budgets
// and a backend slot) and reports round trips per decision; Done is excluded.
func BenchmarkRedisAdmit(b *testing.B) {
	c, rt := testRedis(b)
	o := benchOptions()
	o.Backends = map[string]BackendLimits{"b": {MaxParallel: 1 << 30}}
	r, err := NewRedis(c, RedisOptions{Options: o, Prefix: testPrefix(b, c)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	ctx := context.Background()
	keys := benchKeys(1024)
	req := Request{Team: "team-00", Model: "model-00", Backend: "b", EstimatedTokens: 100, Key: benchLimits, Budget: auth.Budget{USD: 1e9, Period: "day"}}
	warm, _ := r.Admit(ctx, &req) // load the scripts
	warm.Done(ctx, -1, 0)
	var trips int64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		req.KeyID = keys[i&1023]
		i++
		before := rt.n.Load()
		tk, err := r.Admit(ctx, &req)
		trips += rt.n.Load() - before
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tk.Done(ctx, 90, 1e-5)
		b.StartTimer()
	}
	b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
}

// BenchmarkRedisDone times Done with Redis (reconcile, charge, release a lease) and
// reports its round trips.
func BenchmarkRedisDone(b *testing.B) {
	c, rt := testRedis(b)
	o := benchOptions()
	o.Backends = map[string]BackendLimits{"b": {MaxParallel: 1 << 30}}
	r, err := NewRedis(c, RedisOptions{Options: o, Prefix: testPrefix(b, c)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	ctx := context.Background()
	keys := benchKeys(1024)
	req := Request{Team: "team-00", Model: "model-00", Backend: "b", EstimatedTokens: 100, Key: benchLimits, Budget: auth.Budget{USD: 1e9, Period: "day"}}
	warm, _ := r.Admit(ctx, &req)
	warm.Done(ctx, 90, 1e-5)
	var trips int64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		req.KeyID = keys[i&1023]
		i++
		tk, err := r.Admit(ctx, &req)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := rt.n.Load()
		tk.Done(ctx, 90, 1e-5)
		trips += rt.n.Load() - before
	}
	b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
}
