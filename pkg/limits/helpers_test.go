package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// fakeClock is a settable clock: windows move only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// redisAddr is the test Redis: LLM_ROUTER_TEST_REDIS_ADDR or 127.0.0.1:6379.
func redisAddr() string {
	if v := os.Getenv("LLM_ROUTER_TEST_REDIS_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

// rtCounter counts commands sent to Redis (a pipeline counts once): round trips.
type rtCounter struct{ n atomic.Int64 }

func (h *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// testRedis returns a client for the test Redis, with a round-trip counter. When
// Redis is unreachable the test fails in CI (CI=true) and is skipped otherwise.
func testRedis(t testing.TB) (*redis.Client, *rtCounter) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), PoolSize: 64, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is required in CI but unreachable: %v", redisAddr(), err)
		}
		t.Skipf("Redis at %s unreachable (%v); skipping. Start it with: redis-server --daemonize yes "+
			"--bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no, or set LLM_ROUTER_TEST_REDIS_ADDR",
			redisAddr(), err)
	}
	rt := &rtCounter{}
	c.AddHook(rt)
	t.Cleanup(func() { _ = c.Close() })
	return c, rt
}

// testPrefix returns a key prefix unique to the test, deleted at cleanup.
func testPrefix(t testing.TB, c *redis.Client) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "llm-router-test:{" + hex.EncodeToString(b[:]) + "}:"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

// impl builds a limiter under test; replicas > 1 asks for independent limiters
// sharing state (only Redis can).
type impl struct {
	name string
	new  func(t *testing.T, o Options) Limiter
}

func memoryImpl() impl {
	return impl{name: "memory", new: func(t *testing.T, o Options) Limiter {
		m, err := NewMemory(o)
		require.NoError(t, err)
		return m
	}}
}

func redisImpl() impl {
	return impl{name: "redis", new: func(t *testing.T, o Options) Limiter {
		c, _ := testRedis(t)
		if o.Logger == nil {
			o.Logger = zaptest.NewLogger(t)
		}
		// Fail closed with a generous timeout: a slow shared test machine must show
		// up as an error, never as a limit silently not enforced.
		r, err := NewRedis(c, RedisOptions{Options: o, Prefix: testPrefix(t, c), PollInterval: 5 * time.Millisecond,
			FailMode: FailClosed, Timeout: 5 * time.Second})
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		return r
	}}
}

func impls() []impl { return []impl{memoryImpl(), redisImpl()} }

// refusal asserts err is a *Refusal and returns it.
func refusal(t *testing.T, err error) *Refusal {
	t.Helper()
	require.Error(t, err)
	var r *Refusal
	require.True(t, errors.As(err, &r), "want *Refusal, got %T: %v", err, err)
	return r
}

// headerMap turns headers into a map.
func headerMap(h []Header) map[string]string {
	m := make(map[string]string, len(h))
	for _, x := range h {
		m[x.Name] = x.Value
	}
	return m
}

// registry returns a fresh Prometheus registry.
func registry() *prometheus.Registry { return prometheus.NewRegistry() }

// metricFor finds the series of a metric family with exactly the given labels.
func metricFor(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	if m := metricFor(t, reg, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	if m := metricFor(t, reg, name, labels); m != nil {
		return m.GetGauge().GetValue()
	}
	return 0
}

func histCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	if m := metricFor(t, reg, name, labels); m != nil {
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}
