package cache

import (
	"context"
	"os"
	"testing"
	"time"
)

// BenchmarkKeyCanonicalize is the per-request cost of computing the cache key of a
// 2.7 KB (pretty-printed) chat request.
func BenchmarkKeyCanonicalize(b *testing.B) {
	body, err := os.ReadFile("testdata/request_2k.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Canonicalize(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = Key("gpt-4o-mini", c, "")
	}
}

func BenchmarkDecide(b *testing.B) {
	body, err := os.ReadFile("testdata/request_2k.json")
	if err != nil {
		b.Fatal(err)
	}
	h := func(string) string { return "" }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := Decide(body, h, false); !d.Lookup {
			b.Fatal(d)
		}
	}
}

// BenchmarkMemoryGetHit is a cache hit in the in-memory LRU.
func BenchmarkMemoryGetHit(b *testing.B) {
	m, err := NewMetrics(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := NewMemory(MemoryOptions{Metrics: m})
	ctx := context.Background()
	key := Key("m", []byte(`{"temperature":0}`), "")
	if err := c.Set(ctx, key, &Entry{Status: 200, Body: make([]byte, 4096)}, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, _ := c.Get(ctx, key); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkMemoryGetHitParallel(b *testing.B) {
	c := NewMemory(MemoryOptions{})
	ctx := context.Background()
	key := Key("m", []byte(`{"temperature":0}`), "")
	if err := c.Set(ctx, key, &Entry{Status: 200, Body: make([]byte, 4096)}, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, _ := c.Get(ctx, key); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkRedisGetHit needs the test Redis (skipped when unreachable outside CI).
func BenchmarkRedisGetHit(b *testing.B) {
	client, prefix := testRedis(b)
	c, err := NewRedis(RedisOptions{Client: client, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Set(ctx, "k", &Entry{Status: 200, Body: make([]byte, 4096)}, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := c.Get(ctx, "k"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
