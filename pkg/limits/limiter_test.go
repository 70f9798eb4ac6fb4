package limits

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/auth"
)

// hammer drives callers goroutines, each admitting until its first refusal with a
// frozen clock, and returns how many were admitted. Every admitted ticket is Done
// with its estimate.
func hammer(t *testing.T, ls []Limiter, callers int, req Request) int64 {
	t.Helper()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func(l Limiter) {
			defer wg.Done()
			<-start
			for {
				r := req
				tk, err := l.Admit(context.Background(), &r)
				if err != nil {
					ref := refusal(t, err)
					require.Equal(t, 429, ref.Status)
					return
				}
				if admitted.Add(1) > 100_000 {
					t.Error("no refusal after 100000 admissions: limits not enforced")
					return
				}
				tk.Done(context.Background(), -1, 0)
			}
		}(ls[g%len(ls)])
	}
	close(start)
	wg.Wait()
	return admitted.Load()
}

// TestExactness: many goroutines hammering one limit admit exactly the limit in a
// window, then exactly the refill after the clock moves.
func TestExactness(t *testing.T) {
	cases := []struct {
		name string
		opts func(o *Options)
		req  Request
		want int64 // per full window
		half int64 // after half a window (leftovers of the first window included)
	}{
		{"key requests", nil, Request{KeyID: "k1", Key: auth.Limits{RequestsPerMinute: 100}}, 100, 50},
		{"key tokens", nil, Request{KeyID: "k1", EstimatedTokens: 7, Key: auth.Limits{TokensPerMinute: 700}}, 100, 50},
		{"key tokens uneven", nil, Request{KeyID: "k1", EstimatedTokens: 3, Key: auth.Limits{TokensPerMinute: 1000}}, 333, 167},
		{"tokens at the largest limit", nil, Request{KeyID: "k1", EstimatedTokens: MaxRate / 4, Key: auth.Limits{TokensPerMinute: MaxRate}}, 4, 2},
		{"team requests", func(o *Options) {
			o.Teams = map[string]TeamLimits{"red": {Rate: Rate{RequestsPerMinute: 77}}}
		}, Request{KeyID: "k1", Team: "red"}, 77, 38},
		{"model tokens", func(o *Options) {
			o.Models = map[string]Rate{"gpt": {TokensPerMinute: 1000}}
		}, Request{Model: "gpt", EstimatedTokens: 10}, 100, 50},
		{"tightest wins", func(o *Options) {
			o.Models = map[string]Rate{"gpt": {RequestsPerMinute: 50}}
		}, Request{KeyID: "k1", Model: "gpt", Key: auth.Limits{RequestsPerMinute: 90}}, 50, 25},
	}
	for _, im := range impls() {
		for _, tc := range cases {
			t.Run(im.name+"/"+tc.name, func(t *testing.T) {
				clk := newFakeClock()
				o := Options{Now: clk.Now}
				if tc.opts != nil {
					tc.opts(&o)
				}
				l := im.new(t, o)
				require.Equal(t, tc.want, hammer(t, []Limiter{l}, 64, tc.req))
				clk.Add(30 * time.Second) // half a window refills half the bucket
				require.Equal(t, tc.half, hammer(t, []Limiter{l}, 64, tc.req))
				clk.Add(10 * time.Minute)
				require.Equal(t, tc.want, hammer(t, []Limiter{l}, 64, tc.req))
			})
		}
	}
}

func TestRefusalAndHeaders(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newFakeClock()
			l := im.new(t, Options{Now: clk.Now})
			ctx := context.Background()
			req := Request{KeyID: "key-1", EstimatedTokens: 100, Key: auth.Limits{RequestsPerMinute: 60, TokensPerMinute: 1000}}

			tk, err := l.Admit(ctx, &req)
			require.NoError(t, err)
			require.Equal(t, map[string]string{
				HeaderLimitRequests: "60", HeaderRemainingRequests: "59", HeaderResetRequests: "1s",
				HeaderLimitTokens: "1000", HeaderRemainingTokens: "900", HeaderResetTokens: "6s",
			}, headerMap(tk.Headers()))
			tk.Done(ctx, -1, 0)

			for i := 0; i < 9; i++ {
				tk, err = l.Admit(ctx, &req)
				require.NoError(t, err)
				tk.Done(ctx, -1, 0)
			}
			// Tokens are spent: the next request waits for 100 tokens = 6s.
			_, err = l.Admit(ctx, &req)
			r := refusal(t, err)
			require.Equal(t, ReasonTokens, r.Reason)
			require.Equal(t, ScopeKey, r.Scope)
			require.Equal(t, 6*time.Second, r.RetryAfter)
			require.Contains(t, r.Message, `key "key-1"`)
			require.Contains(t, r.Message, "1000 tokens per minute")
			require.Equal(t, map[string]string{HeaderLimitTokens: "1000", HeaderRemainingTokens: "0", HeaderResetTokens: "6s"}, headerMap(r.Headers))

			clk.Add(6 * time.Second)
			tk, err = l.Admit(ctx, &req)
			require.NoError(t, err)
			h := headerMap(tk.Headers())
			require.Equal(t, "0", h[HeaderRemainingTokens])
			require.Equal(t, "1m0s", h[HeaderResetTokens])
			require.Equal(t, "55", h[HeaderRemainingRequests])
			tk.Done(ctx, -1, 0)
		})
	}
}

func TestRequestsRetryAfter(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newFakeClock()
			l := im.new(t, Options{Now: clk.Now})
			ctx := context.Background()
			req := Request{KeyID: "k", Key: auth.Limits{RequestsPerMinute: 3}}
			for i := 0; i < 3; i++ {
				tk, err := l.Admit(ctx, &req)
				require.NoError(t, err)
				tk.Done(ctx, -1, 0)
			}
			clk.Add(5 * time.Second)
			_, err := l.Admit(ctx, &req)
			r := refusal(t, err)
			require.Equal(t, ReasonRequests, r.Reason)
			require.Equal(t, 15*time.Second, r.RetryAfter)
			require.Contains(t, r.Message, "3 requests per minute")
			require.Equal(t, map[string]string{HeaderLimitRequests: "3", HeaderRemainingRequests: "0", HeaderResetRequests: "15s"}, headerMap(r.Headers))
			clk.Add(15 * time.Second)
			tk, err := l.Admit(ctx, &req)
			require.NoError(t, err)
			tk.Done(ctx, -1, 0)
		})
	}
}

func TestLimitClamped(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			l := im.new(t, Options{})
			tk, err := l.Admit(context.Background(), &Request{KeyID: "k", EstimatedTokens: 1, Key: auth.Limits{RequestsPerMinute: 1 << 40, TokensPerMinute: 1 << 50}})
			require.NoError(t, err)
			h := headerMap(tk.Headers())
			require.Equal(t, "150000000", h[HeaderLimitRequests])
			require.Equal(t, "149999999", h[HeaderRemainingRequests])
			require.Equal(t, "149999999", h[HeaderRemainingTokens])
			tk.Done(context.Background(), -1, 0)
		})
	}
}

func TestTokensTooLarge(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			l := im.new(t, Options{Models: map[string]Rate{"m": {TokensPerMinute: 500}}})
			_, err := l.Admit(context.Background(), &Request{Model: "m", EstimatedTokens: 501})
			r := refusal(t, err)
			require.Equal(t, ReasonTokens, r.Reason)
			require.Equal(t, ScopeModel, r.Scope)
			require.Zero(t, r.RetryAfter, "waiting cannot help")
			require.Contains(t, r.Message, "Request too large")
			require.Empty(t, r.Headers, "no reset to announce")
		})
	}
}

// TestReconcile: a response that used more tokens than estimated is paid for by
// later callers; one that used fewer gives the difference back.
func TestReconcile(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newFakeClock()
			l := im.new(t, Options{Now: clk.Now})
			ctx := context.Background()
			req := Request{KeyID: "k", EstimatedTokens: 100, Key: auth.Limits{TokensPerMinute: 1000}}
			remaining := func() string {
				tk, err := l.Admit(ctx, &Request{KeyID: "k", EstimatedTokens: 0, Key: req.Key})
				require.NoError(t, err)
				defer tk.Done(ctx, 0, 0)
				return headerMap(tk.Headers())[HeaderRemainingTokens]
			}
			tk, err := l.Admit(ctx, &req)
			require.NoError(t, err)
			tk.Done(ctx, 400, 0) // a long stream: 300 more than reserved
			require.Equal(t, "600", remaining())

			tk, err = l.Admit(ctx, &req)
			require.NoError(t, err)
			tk.Done(ctx, 10, 0) // 90 fewer
			require.Equal(t, "590", remaining())

			// A debt beyond the bucket refuses until paid off.
			tk, err = l.Admit(ctx, &req)
			require.NoError(t, err)
			tk.Done(ctx, 1990, 0)
			_, err = l.Admit(ctx, &req)
			r := refusal(t, err)
			require.Equal(t, ReasonTokens, r.Reason)
			require.Equal(t, 90*time.Second, r.RetryAfter) // 2400 tokens ahead: 1.5 windows too many
		})
	}
}

// TestAllOrNothing: when one subject refuses, the others keep their units.
func TestAllOrNothing(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newFakeClock()
			l := im.new(t, Options{Now: clk.Now, Models: map[string]Rate{"m": {RequestsPerMinute: 1}}})
			ctx := context.Background()
			req := Request{KeyID: "k", Model: "m", Key: auth.Limits{RequestsPerMinute: 10}}
			tk, err := l.Admit(ctx, &req)
			require.NoError(t, err)
			tk.Done(ctx, -1, 0)
			for i := 0; i < 5; i++ {
				_, err = l.Admit(ctx, &req)
				r := refusal(t, err)
				require.Equal(t, ScopeModel, r.Scope)
			}
			tk, err = l.Admit(ctx, &Request{KeyID: "k", Key: req.Key})
			require.NoError(t, err)
			require.Equal(t, "8", headerMap(tk.Headers())[HeaderRemainingRequests], "model refusals took nothing from the key")
			tk.Done(ctx, -1, 0)
		})
	}
}

func TestBudgets(t *testing.T) {
	cases := []struct {
		name   string
		period string
		team   bool
		retry  time.Duration // from the fake clock's 10:00 UTC
	}{
		{"key day", "day", false, 14 * time.Hour},
		{"key month", "month", false, 17*24*time.Hour + 14*time.Hour},
		{"key total", "total", false, 0},
		{"team day", "day", true, 14 * time.Hour},
	}
	for _, im := range impls() {
		for _, tc := range cases {
			t.Run(im.name+"/"+tc.name, func(t *testing.T) {
				clk := newFakeClock()
				o := Options{Now: clk.Now}
				req := Request{KeyID: "k", Team: "t"}
				b := auth.Budget{USD: 1, Period: tc.period}
				if tc.team {
					o.Teams = map[string]TeamLimits{"t": {Budget: b}}
				} else {
					req.Budget = b
				}
				l := im.new(t, o)
				ctx := context.Background()
				for i := 0; i < 3; i++ { // 0, 0.4, 0.8 spent: each starts under budget
					tk, err := l.Admit(ctx, &req)
					require.NoError(t, err, "request %d", i)
					tk.Done(ctx, 10, 0.4)
				}
				_, err := l.Admit(ctx, &req)
				r := refusal(t, err)
				require.Equal(t, 429, r.Status)
				require.Equal(t, ReasonBudget, r.Reason)
				require.Equal(t, tc.retry, r.RetryAfter)
				require.Contains(t, r.Message, "$1.20 spent")

				clk.Add(40 * 24 * time.Hour)
				tk, err := l.Admit(ctx, &req)
				if tc.period == "total" {
					require.Error(t, err)
					return
				}
				require.NoError(t, err, "a new period starts from zero")
				tk.Done(ctx, 0, 0)
			})
		}
	}
}

// TestConcurrencyRefund: a request refused for concurrency gives back its request.
func TestConcurrencyRefund(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newFakeClock()
			l := im.new(t, Options{Now: clk.Now, Queue: QueueOptions{MaxWait: -1}})
			ctx := context.Background()
			req := Request{KeyID: "k", EstimatedTokens: 10, Key: auth.Limits{RequestsPerMinute: 2, TokensPerMinute: 20, MaxParallel: 1}}
			first, err := l.Admit(ctx, &req)
			require.NoError(t, err)
			_, err = l.Admit(ctx, &req)
			r := refusal(t, err)
			require.Equal(t, ReasonConcurrency, r.Reason)
			require.Equal(t, 429, r.Status)
			require.Equal(t, time.Second, r.RetryAfter)
			first.Done(ctx, -1, 0)
			second, err := l.Admit(ctx, &req)
			require.NoError(t, err, "the refused request took no rate units")
			second.Done(ctx, -1, 0)
			_, err = l.Admit(ctx, &req)
			require.Equal(t, ReasonRequests, refusal(t, err).Reason)
		})
	}
}

// TestConcurrencyLimit: with many callers, no more than MaxParallel run at once and
// every caller gets through the queue.
func TestConcurrencyLimit(t *testing.T) {
	for _, im := range impls() {
		for _, scope := range []string{ScopeKey, ScopeBackend} {
			t.Run(im.name+"/"+scope, func(t *testing.T) {
				o := Options{Queue: QueueOptions{MaxWait: 20 * time.Second}, Backends: map[string]BackendLimits{"b": {MaxParallel: 3}}}
				req := Request{KeyID: "k", Backend: "b"}
				if scope == ScopeKey {
					o.Backends = nil
					req.Key.MaxParallel = 3
				}
				l := im.new(t, o)
				var cur, peak, done atomic.Int64
				var wg sync.WaitGroup
				for g := 0; g < 32; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 4; i++ {
							r := req
							tk, err := l.Admit(context.Background(), &r)
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
					}()
				}
				wg.Wait()
				require.Equal(t, int64(128), done.Load())
				require.LessOrEqual(t, peak.Load(), int64(3))
				require.Equal(t, int64(3), peak.Load(), "the limit was reached")
			})
		}
	}
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestQueuePriority: waiters get slots by priority, FIFO within a priority.
func TestQueuePriority(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			l := im.new(t, Options{Queue: QueueOptions{MaxWait: 20 * time.Second}, Backends: map[string]BackendLimits{"b": {MaxParallel: 1}}})
			ctx := context.Background()
			holder, err := l.Admit(ctx, &Request{Backend: "b"})
			require.NoError(t, err)
			sem := coreOf(l).backends["b"]

			prios := []int{1, 5, 3, 5, 0, 3, 9}
			order := make(chan int, len(prios))
			tickets := make(chan *Ticket, len(prios))
			for i, p := range prios {
				go func() {
					tk, err := l.Admit(ctx, &Request{Backend: "b", Priority: p})
					if assertNoError(t, err) {
						order <- i
						tickets <- tk
					}
				}()
				require.Eventually(t, func() bool { return queueLen(sem) == i+1 }, 5*time.Second, time.Millisecond)
			}
			holder.Done(ctx, -1, 0)
			var got []int
			for range prios {
				got = append(got, <-order)
				(<-tickets).Done(ctx, -1, 0) // the next waiter starts only now
			}
			require.Equal(t, []int{6, 1, 3, 2, 5, 0, 4}, got)
			require.Equal(t, 0, queueLen(sem))
		})
	}
}

func TestQueueTimeoutAndFull(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			reg := registry()
			l := im.new(t, Options{Registerer: reg, Queue: QueueOptions{MaxWait: 50 * time.Millisecond, MaxDepth: 1},
				Backends: map[string]BackendLimits{"b": {MaxParallel: 1}}})
			ctx := context.Background()
			holder, err := l.Admit(ctx, &Request{Backend: "b"})
			require.NoError(t, err)
			sem := coreOf(l).backends["b"]

			res := make(chan error, 1)
			go func() {
				_, err := l.Admit(ctx, &Request{Backend: "b"})
				res <- err
			}()
			require.Eventually(t, func() bool { return queueLen(sem) == 1 }, 5*time.Second, time.Millisecond)
			_, err = l.Admit(ctx, &Request{Backend: "b"})
			r := refusal(t, err)
			require.Equal(t, 503, r.Status)
			require.Equal(t, ScopeBackend, r.Scope)
			require.Contains(t, r.Message, "queue is full")

			r = refusal(t, <-res)
			require.Equal(t, 503, r.Status)
			require.Equal(t, ReasonConcurrency, r.Reason)
			require.Contains(t, r.Message, "no slot freed within")
			require.Equal(t, 0, queueLen(sem))
			holder.Done(ctx, -1, 0)

			require.Equal(t, 1.0, histCount(t, reg, MetricQueueWait, map[string]string{"scope": "backend", "outcome": "timeout"}))
			require.Equal(t, 1.0, histCount(t, reg, MetricQueueWait, map[string]string{"scope": "backend", "outcome": "full"}))
			require.Equal(t, 2.0, counterValue(t, reg, MetricRefusals, map[string]string{"reason": "concurrency", "scope": "backend"}))
		})
	}
}

// TestQueueDisconnect: a caller whose context ends leaves the queue at once.
func TestQueueDisconnect(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			reg := registry()
			l := im.new(t, Options{Registerer: reg, Queue: QueueOptions{MaxWait: time.Minute}})
			req := Request{KeyID: "k", Key: auth.Limits{MaxParallel: 1, RequestsPerMinute: 1000}}
			holder, err := l.Admit(context.Background(), &req)
			require.NoError(t, err)
			sem := holder.sems[0]

			ctx, cancel := context.WithCancel(context.Background())
			res := make(chan error, 1)
			go func() {
				_, err := l.Admit(ctx, &req)
				res <- err
			}()
			require.Eventually(t, func() bool { return queueLen(sem) == 1 }, 5*time.Second, time.Millisecond)
			require.Equal(t, 1.0, gaugeValue(t, reg, MetricQueueDepth, map[string]string{"scope": "key", "backend": ""}))
			cancel()
			select {
			case err := <-res:
				require.ErrorIs(t, err, context.Canceled)
				var r *Refusal
				require.NotErrorAs(t, err, &r)
			case <-time.After(5 * time.Second):
				t.Fatal("a canceled waiter did not leave the queue")
			}
			require.Equal(t, 0, queueLen(sem))
			require.Equal(t, 0.0, gaugeValue(t, reg, MetricQueueDepth, map[string]string{"scope": "key", "backend": ""}))
			require.Equal(t, 1.0, histCount(t, reg, MetricQueueWait, map[string]string{"scope": "key", "outcome": "canceled"}))

			// The slot is still the holder's; once it is done the next caller gets it.
			holder.Done(context.Background(), -1, 0)
			tk, err := l.Admit(context.Background(), &req)
			require.NoError(t, err)
			tk.Done(context.Background(), -1, 0)
		})
	}
}

func TestNoLimits(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			l := im.new(t, Options{})
			tk, err := l.Admit(context.Background(), &Request{KeyID: "k", Model: "m", Backend: "b", EstimatedTokens: 1 << 40})
			require.NoError(t, err)
			require.Nil(t, tk.Headers())
			tk.Done(context.Background(), 5, 1)
		})
	}
}

func coreOf(l Limiter) *core {
	switch l := l.(type) {
	case *Memory:
		return l.c
	case *Redis:
		return l.c
	}
	panic("unknown limiter")
}

func queueLen(s *semaphore) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

func TestRefusalError(t *testing.T) {
	r := &Refusal{Message: "no"}
	require.Equal(t, "no", r.Error())
	var nilTicket *Ticket
	require.Nil(t, nilTicket.Headers())
	nilTicket.Done(context.Background(), 1, 1) // no panic
	m, err := NewMemory(Options{})
	require.NoError(t, err)
	tk, err := m.Admit(context.Background(), nil)
	require.NoError(t, err, "a nil request has no limits")
	tk.Done(context.Background(), 0, 0)
	require.NoError(t, m.Close())
}
