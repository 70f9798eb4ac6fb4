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

// TestRequestIDOnEveryResponse: `llm-router run` emulates the bootstrap's
// always_set_request_id_in_response, so a completion, a stream and the gateway's own
// 401 all carry the request's x-request-id: the caller's when it sent one, else the one
// the data plane generated.
func TestRequestIDOnEveryResponse(t *testing.T) {
	cfg, err := app.LoadConfig("", true)
	require.NoError(t, err)
	l, err := app.StartLocal(cfg, app.RunOptions{DevKey: "k"})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Envoy)
	t.Cleanup(func() { srv.Close(); l.Close() })

	const chat = `{"model":"mock","messages":[{"role":"user","content":"hi"}]}`
	const stream = `{"model":"mock","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, key, body, id string // id: the caller's x-request-id, "" for none
		status              int
		contentType         string
	}{
		{"completion", "k", chat, "caller-completion", http.StatusOK, "application/json"},
		{"completion without an id", "k", chat, "", http.StatusOK, "application/json"},
		{"stream", "k", stream, "caller-stream", http.StatusOK, "text/event-stream"},
		{"stream without an id", "k", stream, "", http.StatusOK, "text/event-stream"},
		{"no key", "", chat, "caller-401", http.StatusUnauthorized, "application/json"},
		{"no key without an id", "", chat, "", http.StatusUnauthorized, "application/json"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			if tt.id != "" {
				req.Header.Set("X-Request-Id", tt.id)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType), resp.Header.Get("Content-Type"))
			if tt.contentType == "text/event-stream" {
				require.Contains(t, string(body), "data: [DONE]")
			}
			ids := resp.Header.Values("X-Request-Id")
			require.Len(t, ids, 1, "one x-request-id")
			// The provider's own id (the mock names its answers as OpenAI does) is kept in
			// x-upstream-request-id; a local reply has none.
			if tt.status == http.StatusOK {
				require.Regexp(t, `^req_[0-9a-f]{32}$`, resp.Header.Get("X-Upstream-Request-Id"))
			} else {
				require.Empty(t, resp.Header.Get("X-Upstream-Request-Id"))
			}
			if tt.id != "" {
				require.Equal(t, tt.id, ids[0], "the caller's id")
				return
			}
			require.NotEmpty(t, ids[0], "a generated id")
			if prev, dup := seen[ids[0]]; dup {
				t.Fatalf("id %s given to both %q and %q", ids[0], prev, tt.name)
			}
			seen[ids[0]] = tt.name
		})
	}
}
