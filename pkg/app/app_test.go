package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const adminToken = "admin-secret-token"

func writeConfig(t *testing.T, dir, models string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(adminToken))
	yaml := `
server:
  extproc_address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
providers:
  - name: local
    kind: ollama
    base_url: http://127.0.0.1:11434
models:
` + models + `
auth:
  allow_unauthenticated: true
admin:
  tokens:
    - id: ops
      sha256: ` + hex.EncodeToString(sum[:]) + "\n"
	path := filepath.Join(dir, "llm-router.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

func get(t *testing.T, h http.Handler, method, path, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestAdminEndpointsAndHotReload(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "  - name: llama\n    backends: [{provider: local, model: llama3}]")
	cfg, err := LoadConfig(path, true)
	require.NoError(t, err)
	c, err := Build(cfg, BuildOptions{Logger: zap.NewNop()})
	require.NoError(t, err)
	defer c.Close(context.Background())
	p := NewProcessor(c)
	p.Reloader = NewReloader(path, c)
	h := p.AdminHandler()

	code, body := get(t, h, "GET", "/healthz", "")
	require.Equal(t, 200, code)
	require.Equal(t, "ok\n", body)
	code, _ = get(t, h, "GET", "/readyz", "")
	require.Equal(t, 200, code)
	code, body = get(t, h, "GET", "/metrics", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, "llm_router_extproc_streams_active")

	var status struct {
		ConfigHash      string `json:"config_hash"`
		LastReloadError string `json:"last_reload_error"`
		Models          []struct {
			Name     string `json:"name"`
			Backends []struct {
				Name, Breaker string
			} `json:"backends"`
		} `json:"models"`
	}
	_, body = get(t, h, "GET", "/statusz", "")
	require.NoError(t, json.Unmarshal([]byte(body), &status))
	first := status.ConfigHash
	require.Equal(t, "llama", status.Models[0].Name)
	require.Equal(t, "closed", status.Models[0].Backends[0].Breaker)

	// A good change is applied atomically.
	writeConfig(t, dir, "  - name: llama\n    backends: [{provider: local, model: llama3}]\n  - name: qwen\n    backends: [{provider: local, model: qwen3}]")
	code, body = get(t, h, "POST", "/v1/admin/reload", adminToken)
	require.Equal(t, 200, code, body)
	_, ok := c.Gateway.Runtime().Model("qwen")
	require.True(t, ok)
	_, body = get(t, h, "GET", "/statusz", "")
	require.NoError(t, json.Unmarshal([]byte(body), &status))
	require.NotEqual(t, first, status.ConfigHash)

	// A bad file keeps the old config and says why.
	require.NoError(t, os.WriteFile(path, []byte("models: [{name: x, backends: [{provider: nope}]}]\n"), 0o600))
	code, body = get(t, h, "POST", "/v1/admin/reload", adminToken)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "nope")
	_, ok = c.Gateway.Runtime().Model("qwen")
	require.True(t, ok, "the previous config keeps running")
	_, body = get(t, h, "GET", "/statusz", "")
	require.NoError(t, json.Unmarshal([]byte(body), &status))
	require.NotEmpty(t, status.LastReloadError)

	code, _ = get(t, h, "POST", "/v1/admin/reload", "wrong")
	require.Equal(t, http.StatusUnauthorized, code)

	// Draining flips readiness.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p.Server.Drain(ctx)
	code, _ = get(t, h, "GET", "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
}

func TestReloaderPollsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "  - name: llama\n    backends: [{provider: local, model: llama3}]")
	cfg, err := LoadConfig(path, true)
	require.NoError(t, err)
	c, err := Build(cfg, BuildOptions{})
	require.NoError(t, err)
	r := NewReloader(path, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, 10*time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	writeConfig(t, dir, "  - name: phi\n    backends: [{provider: local, model: phi4}]")
	future := time.Now().Add(time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
	require.Eventually(t, func() bool { _, ok := c.Gateway.Runtime().Model("phi"); return ok }, 5*time.Second, 10*time.Millisecond)
}

func TestServeAndRunStopOnContext(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "  - name: llama\n    backends: [{provider: local, model: llama3}]")
	cfg, err := LoadConfig(path, true)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, path, cfg, zap.NewNop(), nil) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}

	dcfg := config.Default(func(string) string { return "" })
	ctx2, cancel2 := context.WithCancel(context.Background())
	var out strings.Builder
	ready := make(chan string, 1)
	go func() {
		done <- Run(ctx2, dcfg, RunOptions{Listen: "127.0.0.1:0", Admin: "-", Out: &out, DevKey: "k", Ready: func(a string) { ready <- a }})
	}()
	addr := <-ready
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"ping"}]}`))
	req.Header.Set("authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.Contains(t, string(b), "ping")
	cancel2()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "API key: k")
}

func TestEnvoyYAMLAndListen(t *testing.T) {
	cfg := config.Default(func(string) string { return "" })
	cfg.Providers[0].BaseUrl = "http://127.0.0.1:1"
	out, err := EnvoyYAML(cfg, "", false)
	require.NoError(t, err)
	require.Contains(t, string(out), "llm_router_extproc")
	out, err = EnvoyYAML(cfg, "", true)
	require.NoError(t, err)
	require.Contains(t, string(out), "EnvoyFilter")
	lis, err := Listen("unix://" + filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	require.NoError(t, lis.Close())
	_, _, err = NewLogger(cfg)
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, drainTimeout(cfg))
}

func TestBuildCache(t *testing.T) {
	cfg := config.Default(func(string) string { return "" })
	c, m, err := buildCache(cfg, nil)
	require.NoError(t, err)
	require.Nil(t, c, "off unless enabled")
	require.Nil(t, m)
	cfg.Cache = &configv1.Cache{Enabled: true}
	c, _, err = buildCache(cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NotNil(t, c)
	cfg.Cache.Backend = "redis"
	cfg.Redis = &configv1.Redis{Address: "127.0.0.1:6379", Password: "${LLM_ROUTER_TEST_UNSET_VAR}"}
	_, _, err = buildCache(cfg, prometheus.NewRegistry())
	require.ErrorContains(t, err, "redis.password")
	cfg.Redis.Password = ""
	c, _, err = buildCache(cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NotNil(t, c)
}

func TestLogLevelAtRuntime(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "  - name: llama\n    backends: [{provider: local, model: llama3}]")
	cfg, err := LoadConfig(path, true)
	require.NoError(t, err)
	_, level, err := NewLogger(cfg)
	require.NoError(t, err)
	c, err := Build(cfg, BuildOptions{LogLevel: &level})
	require.NoError(t, err)
	h := NewProcessor(c).AdminHandler()
	code, _ := get(t, h, "GET", "/v1/admin/log-level", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get(t, h, "GET", "/v1/admin/log-level", adminToken)
	require.Equal(t, 200, code)
	require.Contains(t, body, `"info"`)
	req := httptest.NewRequest("PUT", "/v1/admin/log-level", strings.NewReader(`{"level":"debug"}`))
	req.Header.Set("authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Equal(t, "debug", level.Level().String())
}
