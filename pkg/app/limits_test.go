package app

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func redisAddr(t *testing.T) string {
	addr := os.Getenv("LLM_ROUTER_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	if err := c.Ping(t.Context()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is required in CI: %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable: %v", addr, err)
	}
	return addr
}

// TestLimitsExactAcrossReplicas runs two complete gateways (two processors, each
// behind its own Envoy emulator) sharing one Redis, drives them with 32 concurrent
// callers, and checks that exactly the key's limit is admitted in the window.
func TestLimitsExactAcrossReplicas(t *testing.T) {
	addr := redisAddr(t)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	keyID := "exact-" + hex.EncodeToString(rnd[:]) // fresh limiter state per run
	secret := "llmr-" + keyID
	sum := auth.HashSecret(secret)
	const limit = 20

	var bases []string
	for i := 0; i < 2; i++ {
		cfg := config.Default(func(string) string { return "" })
		cfg.Auth = &configv1.Auth{Keys: []*configv1.StaticKey{{Id: keyID, Sha256: hex.EncodeToString(sum[:]), RequestsPerMinute: limit}}}
		cfg.Redis = &configv1.Redis{Address: addr}
		cfg.Limits = &configv1.Limits{Backend: "redis", RedisFailMode: "closed"}
		l, err := StartLocal(cfg, RunOptions{})
		require.NoError(t, err)
		srv := httptest.NewServer(l.Envoy)
		t.Cleanup(func() { srv.Close(); l.Close() })
		bases = append(bases, srv.URL)
	}

	var ok, limited, other atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 3; i++ { // 96 attempts in all, far over the limit
				req, _ := http.NewRequest("POST", bases[(c+i)%2]+"/v1/chat/completions", strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("authorization", "Bearer "+secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	require.Zero(t, other.Load())
	require.EqualValues(t, limit, ok.Load(), "two replicas together admit exactly the key's requests per minute")
	require.EqualValues(t, 96-limit, limited.Load())
}
