package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// redisAddr is the test server: LLM_ROUTER_TEST_REDIS_ADDR or 127.0.0.1:6379.
func redisAddr() string {
	if v := os.Getenv("LLM_ROUTER_TEST_REDIS_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

// testRedis connects to the test server and returns a client plus a key prefix unique
// to this test; the test's keys are deleted at cleanup. An unreachable server fails the
// test when CI=true and skips it otherwise.
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), DialTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is required in CI but unreachable: %v", redisAddr(), err)
		}
		t.Skipf("Redis at %s unreachable (%v); skipping. Start it or set LLM_ROUTER_TEST_REDIS_ADDR; CI=true makes this a failure", redisAddr(), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "llm-router-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
		_ = c.Close()
	})
	return c, prefix
}

func TestRedisRoundTrip(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c, err := NewRedis(RedisOptions{Client: client, Prefix: prefix, Metrics: m})
	require.NoError(t, err)

	in := &Entry{Status: 200, ContentType: "text/event-stream", Body: []byte("data: {\"x\":1}\n\ndata: [DONE]\n\n"), Stream: true,
		Usage: canonical.Usage{InputTokens: 1200, OutputTokens: 300, CachedInputTokens: 1024, ReasoningTokens: 100, Estimated: true},
		Model: "gpt-4o-2024-08-06", CreatedAt: time.Unix(1700000000, 123456789)}
	key := Key("gpt-4o", []byte(`{"temperature":0}`), "")
	require.NoError(t, c.Set(ctx, key, in, 90*time.Second))

	got, ok, err := c.Get(ctx, key)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, in.Status, got.Status)
	require.Equal(t, in.ContentType, got.ContentType)
	require.Equal(t, in.Body, got.Body)
	require.Equal(t, in.Stream, got.Stream)
	require.Equal(t, in.Usage, got.Usage)
	require.Equal(t, in.Model, got.Model)
	require.True(t, in.CreatedAt.Equal(got.CreatedAt))

	// Stored under the prefix, with a whole-second TTL set by SET … EX.
	ttl, err := client.TTL(ctx, prefix+key).Result()
	require.NoError(t, err)
	require.InDelta(t, 90, ttl.Seconds(), 2)
	raw, err := client.Get(ctx, prefix+key).Bytes()
	require.NoError(t, err)
	require.LessOrEqual(t, len(raw), len(in.Body)+len(in.Model)+len(in.ContentType)+32, "compact envelope: at most 32 bytes of framing")

	_, ok, err = c.Get(ctx, "missing")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 1.0, testutil.ToFloat64(m.hits.WithLabelValues("redis")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.misses.WithLabelValues("redis")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.stores.WithLabelValues("redis")))

	require.NoError(t, c.Delete(ctx, key))
	_, ok, _ = c.Get(ctx, key)
	require.False(t, ok)
}

func TestRedisTTL(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	c, err := NewRedis(RedisOptions{Client: client, Prefix: prefix, DefaultTTL: 5 * time.Minute, Clock: func() time.Time { return time.Unix(1700000000, 0) }})
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "default", &Entry{Status: 200}, 0))
	ttl, err := client.TTL(ctx, prefix+"default").Result()
	require.NoError(t, err)
	require.InDelta(t, 300, ttl.Seconds(), 2)
	got, ok, err := c.Get(ctx, "default")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, time.Unix(1700000000, 0), got.CreatedAt, "CreatedAt filled in at Set")

	// Sub-second TTLs round up to one second (EX granularity), and the entry expires.
	require.NoError(t, c.Set(ctx, "short", &Entry{Status: 200}, 200*time.Millisecond))
	ttl, err = client.TTL(ctx, prefix+"short").Result()
	require.NoError(t, err)
	require.Equal(t, time.Second, ttl)
	require.Eventually(t, func() bool {
		_, ok, err := c.Get(ctx, "short")
		return err == nil && !ok
	}, 5*time.Second, 100*time.Millisecond)
}

func TestRedisErrors(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c, err := NewRedis(RedisOptions{Client: client, Prefix: prefix, MaxEntryBytes: 100, Metrics: m})
	require.NoError(t, err)

	require.ErrorIs(t, c.Set(ctx, "big", &Entry{Body: make([]byte, 200)}, time.Minute), ErrTooLarge)
	require.Error(t, c.Set(ctx, "nil", nil, time.Minute))

	// A value written by something else (or a future version) is an error and a miss.
	require.NoError(t, client.Set(ctx, prefix+"corrupt", "\x09garbage", time.Minute).Err())
	_, ok, err := c.Get(ctx, "corrupt")
	require.ErrorIs(t, err, ErrCorrupt)
	require.False(t, ok)
	require.Equal(t, 1.0, testutil.ToFloat64(m.errors.WithLabelValues("redis", "decode")))

	_, err = NewRedis(RedisOptions{})
	require.Error(t, err)
	d, err := NewRedis(RedisOptions{Client: client})
	require.NoError(t, err)
	require.Equal(t, DefaultRedisPrefix, d.prefix)
	require.Equal(t, 4<<20, d.maxEntry)
}

func TestRedisUnreachable(t *testing.T) {
	// A closed port: every operation fails with a wrapped error, counted per operation.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = client.Close() }()
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c, err := NewRedis(RedisOptions{Client: client, Metrics: m})
	require.NoError(t, err)
	ctx := context.Background()
	_, ok, err := c.Get(ctx, "k")
	require.Error(t, err)
	require.False(t, ok)
	require.False(t, errors.Is(err, ErrCorrupt))
	require.Error(t, c.Set(ctx, "k", &Entry{}, time.Second))
	require.Error(t, c.Delete(ctx, "k"))
	require.Equal(t, 1.0, testutil.ToFloat64(m.errors.WithLabelValues("redis", "get")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.errors.WithLabelValues("redis", "set")))
}

// Both stores satisfy the interface.
var (
	_ Cache = (*Memory)(nil)
	_ Cache = (*Redis)(nil)
)

func TestRedisHugeTTL(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	c, err := NewRedis(RedisOptions{Client: client, Prefix: prefix})
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "k", &Entry{}, time.Duration(1<<63-1)))
	ttl, err := client.TTL(ctx, prefix+"k").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 99*365*24*time.Hour)
}
