package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

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

// bodyEntry returns an entry whose size (with a 1-byte key) is exactly n bytes.
func bodyEntry(n int) *Entry {
	return &Entry{Status: 200, Body: make([]byte, n-entryOverhead-1)}
}

func TestMemoryEvictsBySize(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	c := NewMemory(MemoryOptions{MaxBytes: 4000, MaxEntryBytes: 4000, Metrics: m})
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Set(ctx, k, bodyEntry(1000), time.Hour))
	}
	require.Equal(t, int64(3000), c.Bytes())
	// Touch a: b becomes the least recently used.
	_, ok, _ := c.Get(ctx, "a")
	require.True(t, ok)
	require.NoError(t, c.Set(ctx, "d", bodyEntry(1500), time.Hour))
	require.Equal(t, 3, c.Len())
	require.Equal(t, int64(3500), c.Bytes())
	for _, k := range []string{"a", "b", "c", "d"} {
		_, ok, err := c.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, k != "b", ok, k)
	}
	// Recency is now d, c, a: a 2000-byte entry evicts a then c, and keeps d.
	require.NoError(t, c.Set(ctx, "e", bodyEntry(2000), time.Hour))
	require.Equal(t, 2, c.Len())
	require.Equal(t, int64(3500), c.Bytes())
	for k, want := range map[string]bool{"a": false, "c": false, "d": true, "e": true} {
		_, ok, _ = c.Get(ctx, k)
		require.Equal(t, want, ok, k)
	}

	require.Equal(t, 1.0+2.0, testutil.ToFloat64(m.evictions.WithLabelValues("memory", "size")))
	require.Equal(t, float64(c.Bytes()), testutil.ToFloat64(m.bytes.WithLabelValues("memory")))
	require.Equal(t, float64(c.Len()), testutil.ToFloat64(m.entries.WithLabelValues("memory")))
	require.Equal(t, 5.0, testutil.ToFloat64(m.stores.WithLabelValues("memory")))
}

func TestMemoryEntryLimits(t *testing.T) {
	ctx := context.Background()
	c := NewMemory(MemoryOptions{MaxBytes: 8000})
	require.ErrorIs(t, c.Set(ctx, "k", bodyEntry(1001), 0), ErrTooLarge, "default limit is MaxBytes/8")
	require.NoError(t, c.Set(ctx, "k", bodyEntry(1000), 0))
	require.Error(t, c.Set(ctx, "k", nil, 0))
	// A replaced key does not count twice.
	require.NoError(t, c.Set(ctx, "k", bodyEntry(500), 0))
	require.Equal(t, int64(500), c.Bytes())
	require.Equal(t, 1, c.Len())
	require.True(t, c.Delete(ctx, "k"))
	require.False(t, c.Delete(ctx, "k"))
	require.Zero(t, c.Bytes())

	d := NewMemory(MemoryOptions{})
	require.Equal(t, int64(64<<20), d.maxBytes)
	require.Equal(t, int64(8<<20), d.maxEntry)
	require.Equal(t, time.Hour, d.defaultTTL)
}

func TestMemoryTTL(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c := NewMemory(MemoryOptions{Clock: clk.Now, DefaultTTL: time.Minute, Metrics: m})
	require.NoError(t, c.Set(ctx, "short", &Entry{Body: []byte("s")}, 10*time.Second))
	require.NoError(t, c.Set(ctx, "default", &Entry{Body: []byte("d")}, 0))

	clk.Advance(10*time.Second - time.Nanosecond)
	e, ok, _ := c.Get(ctx, "short")
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(-10*time.Second+time.Nanosecond), e.CreatedAt, "CreatedAt filled in at Set")
	clk.Advance(time.Nanosecond)
	_, ok, _ = c.Get(ctx, "short")
	require.False(t, ok)
	require.Equal(t, 1, c.Len(), "expired entry dropped on read")

	clk.Advance(50*time.Second - time.Nanosecond)
	_, ok, _ = c.Get(ctx, "default")
	require.True(t, ok)
	clk.Advance(time.Nanosecond)
	// Storing reclaims expired entries at the cold end.
	require.NoError(t, c.Set(ctx, "new", &Entry{}, time.Hour))
	require.Equal(t, 1, c.Len())
	require.Equal(t, 2.0, testutil.ToFloat64(m.evictions.WithLabelValues("memory", "expired")))
	require.Equal(t, 2.0, testutil.ToFloat64(m.hits.WithLabelValues("memory")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.misses.WithLabelValues("memory")))
}

func TestMemoryStoresACopy(t *testing.T) {
	ctx := context.Background()
	c := NewMemory(MemoryOptions{})
	created := time.Unix(1700000000, 0)
	in := &Entry{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`), Stream: true,
		Usage: canonical.Usage{InputTokens: 10, OutputTokens: 5}, Model: "gpt-4o", CreatedAt: created}
	require.NoError(t, c.Set(ctx, "k", in, time.Hour))
	in.Body[0] = 'X'
	in.Status = 500
	got, ok, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, `{"ok":true}`, string(got.Body))
	require.Equal(t, 200, got.Status)
	require.Equal(t, created, got.CreatedAt)
	require.Equal(t, "gpt-4o", got.Model)
	require.True(t, got.Stream)
	_, ok, err = c.Get(ctx, "missing")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	c := NewMemory(MemoryOptions{MaxBytes: 50 * 1024})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprintf("k%d", (i*7+g)%300)
				if i%3 == 0 {
					if err := c.Set(ctx, k, &Entry{Body: []byte(strings.Repeat("x", i%700))}, time.Minute); err != nil {
						t.Error(err)
						return
					}
				} else if e, ok, _ := c.Get(ctx, k); ok && len(e.Body) > 700 {
					t.Errorf("corrupt entry")
					return
				}
				if i%500 == 0 {
					c.Delete(ctx, k)
				}
			}
		}(g)
	}
	wg.Wait()
	require.LessOrEqual(t, c.Bytes(), int64(50*1024))
	// Bytes matches the entries actually held.
	var sum int64
	c.mu.Lock()
	for k, n := range c.items {
		sum += entrySize(k, n.e)
	}
	c.mu.Unlock()
	require.Equal(t, sum, c.Bytes())
}

func TestMetricsRegistrationAndBypass(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	_, err = NewMetrics(reg)
	require.Error(t, err, "double registration")
	m.Bypass(ReasonNoStore)
	m.Bypass(ReasonNoStore)
	m.Bypass(ReasonNondeterministic)
	require.Equal(t, 2.0, testutil.ToFloat64(m.bypasses.WithLabelValues(ReasonNoStore)))
	var nilM *Metrics
	nilM.Bypass("x") // no-op
	require.Equal(t, storeMetrics{}, nilM.forStore("memory"))
}
