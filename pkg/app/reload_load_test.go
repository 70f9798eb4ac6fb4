package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider/mock"
)

// TestReloadUnderLoad reloads the config repeatedly while requests are in flight: no
// request may fail because of a reload.
func TestReloadUnderLoad(t *testing.T) {
	mockSrv := httptest.NewServer(mock.NewServer(mock.Options{}))
	defer mockSrv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "llm-router.yaml")
	write := func(alias string) {
		yaml := fmt.Sprintf(`
providers:
  - name: mock
    kind: mock
    base_url: %s
models:
  - name: mock
    aliases: [%s]
    backends: [{provider: mock}]
auth:
  allow_unauthenticated: true
`, mockSrv.URL, alias)
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	}
	write("alias-0")
	cfg, err := LoadConfig(path, true)
	require.NoError(t, err)
	// run adds its dev key to the first config; the reloaded file allows callers without
	// a key. Sending the key works with both, so every failure would be the reload's.
	l, err := StartLocal(cfg, RunOptions{DevKey: "k"})
	require.NoError(t, err)
	defer l.Close()
	srv := httptest.NewServer(l.Envoy)
	defer srv.Close()
	r := NewReloader(path, l.Processor.Components)

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("authorization", "Bearer k")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		}()
	}
	reloads := 0
	for ok.Load() < 200 && reloads < 5000 {
		reloads++
		write(fmt.Sprintf("alias-%d", reloads))
		require.NoError(t, r.Reload())
	}
	close(stop)
	wg.Wait()
	require.Zero(t, failed.Load(), "no request fails because of a reload; first failure: %v", firstFailure.Load())
	require.GreaterOrEqual(t, ok.Load(), int64(200))
	require.Greater(t, reloads, 1)
	_, found := l.Processor.Components.Gateway.Runtime().Model(fmt.Sprintf("alias-%d", reloads))
	require.True(t, found, "the last config is active")
}
