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
	l, err := StartLocal(cfg, RunOptions{})
	require.NoError(t, err)
	defer l.Close()
	srv := httptest.NewServer(l.Envoy)
	defer srv.Close()
	r := NewReloader(path, l.Processor.Components)

	var ok, failed atomic.Int64
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
				resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
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
	require.Zero(t, failed.Load(), "no request fails because of a reload")
	require.GreaterOrEqual(t, ok.Load(), int64(200))
	require.Greater(t, reloads, 1)
	_, found := l.Processor.Components.Gateway.Runtime().Model(fmt.Sprintf("alias-%d", reloads))
	require.True(t, found, "the last config is active")
}
