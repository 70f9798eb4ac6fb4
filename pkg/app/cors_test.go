package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/app"
)

// TestCORSLocalDataPlane drives `llm-router run`'s data plane like a browser on another
// origin: a preflight (answered by the emulated envoy.filters.http.cors, no key needed),
// then the actual request and a request without a key, whose CORS headers decide whether
// the page may read the answer.
func TestCORSLocalDataPlane(t *testing.T) {
	const page = "https://app.example.com"
	tests := []struct {
		name    string
		origins []string // server.cors.allowed_origins
		origin  string   // the page's Origin
		allowed bool
	}{
		{"default allows any origin", nil, page, true},
		{"listed origin", []string{page}, page, true},
		{"origin not listed", []string{page}, "https://other.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := app.LoadConfig("", true)
			require.NoError(t, err)
			cfg.Server.Cors.AllowedOrigins = tt.origins
			l, err := app.StartLocal(cfg, app.RunOptions{DevKey: "k"})
			require.NoError(t, err)
			srv := httptest.NewServer(l.Envoy)
			t.Cleanup(func() { srv.Close(); l.Close() })

			call := func(method, key string, hdr ...string) *http.Response {
				t.Helper()
				var body io.Reader
				if method == http.MethodPost {
					body = strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`)
				}
				req, err := http.NewRequest(method, srv.URL+"/v1/chat/completions", body)
				require.NoError(t, err)
				req.Header.Set("Origin", tt.origin)
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				return resp
			}

			// The preflight carries no key.
			pre := call(http.MethodOptions, "",
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization, content-type")
			if tt.allowed {
				require.Equal(t, http.StatusOK, pre.StatusCode)
				require.Equal(t, tt.origin, pre.Header.Get("Access-Control-Allow-Origin"))
				require.Equal(t, "GET, POST, OPTIONS", pre.Header.Get("Access-Control-Allow-Methods"))
				require.Equal(t, "authorization, x-api-key, content-type, *", pre.Header.Get("Access-Control-Allow-Headers"))
				require.Equal(t, "86400", pre.Header.Get("Access-Control-Max-Age"))
				require.Empty(t, pre.Header.Values("Access-Control-Allow-Credentials"), "no credentials by default")
			} else {
				// Forwarded down the chain: the gateway answers, without CORS headers, so
				// the browser refuses the actual request.
				require.Empty(t, pre.Header.Values("Access-Control-Allow-Origin"))
				require.Empty(t, pre.Header.Values("Access-Control-Allow-Methods"))
			}

			for _, c := range []struct {
				key    string
				status int
			}{{"k", http.StatusOK}, {"", http.StatusUnauthorized}} {
				resp := call(http.MethodPost, c.key)
				require.Equal(t, c.status, resp.StatusCode, "key %q", c.key)
				if !tt.allowed {
					require.Empty(t, resp.Header.Values("Access-Control-Allow-Origin"))
					require.Empty(t, resp.Header.Values("Access-Control-Expose-Headers"))
					continue
				}
				// The 401 is the processor's immediate response: Envoy's CORS filter, ahead
				// of ext_proc, decorates local replies too, so the page can read the error.
				require.Equal(t, tt.origin, resp.Header.Get("Access-Control-Allow-Origin"), "key %q", c.key)
				exposed := resp.Header.Get("Access-Control-Expose-Headers")
				for _, h := range []string{"x-request-id", "retry-after", "x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"} {
					require.Contains(t, exposed, h)
				}
			}
		})
	}
}
