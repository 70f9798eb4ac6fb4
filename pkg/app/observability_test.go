package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/config"
)

// TestAccessLogAndMetrics drives requests through the local data plane and checks the
// exact figures in the access log and on /metrics, and that neither the caller's key
// nor the prompt appears in any log line by default.
func TestAccessLogAndMetrics(t *testing.T) {
	const secret = "llmr-observability-secret-key"
	const prompt = "the quick brown fox jumps over the lazy dog"
	core, logs := observer.New(zap.DebugLevel)
	cfg := config.Default(func(string) string { return "" })
	l, err := StartLocal(cfg, RunOptions{DevKey: secret, Logger: zap.New(core)})
	require.NoError(t, err)
	defer l.Close()
	data := httptest.NewServer(l.Envoy)
	defer data.Close()
	admin := httptest.NewServer(l.Processor.AdminHandler())
	defer admin.Close()

	post := func(body string) int {
		req, _ := http.NewRequest("POST", data.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("authorization", "Bearer "+secret)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, post(`{"model":"mock","messages":[{"role":"user","content":"`+prompt+`"}]}`))
	require.Equal(t, 200, post(`{"model":"mock","stream":true,"messages":[{"role":"user","content":"`+prompt+`"}]}`))
	require.Equal(t, 429, post(`{"model":"mock","messages":[{"role":"user","content":"mock:error 429"}]}`))

	// The access line is written when Envoy closes the ext_proc stream, which may be
	// just after the client has its response.
	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() == 3 }, 5*time.Second, 5*time.Millisecond, "one access line per request")
	byKind := map[string]map[string]any{}
	for _, e := range logs.FilterMessage("request").All() {
		m := e.ContextMap()
		switch {
		case m["status"] == int64(429):
			byKind["error"] = m
		case m["stream"] == true:
			byKind["stream"] = m
		default:
			byKind["buffered"] = m
		}
	}
	first := byKind["buffered"]
	require.Equal(t, "dev", first["key_id"])
	require.Equal(t, "mock", first["model"])
	require.Equal(t, "mock.mock", first["backend"])
	require.Regexp(t, `^req_[0-9a-f]{32}$`, first["upstream_request_id"], "the provider's own id, for its support")
	require.EqualValues(t, 200, first["status"])
	require.EqualValues(t, 9, first["output_tokens"], "the echo of the prompt, counted by the tokenizer")
	require.EqualValues(t, 16, first["input_tokens"], "9 prompt tokens + OpenAI's per-message overhead (3 + 1 role) + 3 reply priming")
	require.Equal(t, false, first["tokens_estimated"])
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", first["trace_id"], "the caller's trace continues in the log line")
	require.EqualValues(t, 9, byKind["stream"]["output_tokens"], "streamed usage was requested upstream even though the caller did not ask")
	require.Equal(t, "rate_limit", byKind["error"]["error_type"])
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		require.NotContains(t, line, secret, "the caller's key never reaches a log line")
		require.NotContains(t, line, "quick brown fox", "prompts are not logged by default")
	}

	scrape := func() string {
		resp, err := http.Get(admin.URL + "/metrics")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(body)
	}
	// Observers run right after the access line; wait for the last one.
	var metrics string
	require.Eventually(t, func() bool {
		metrics = scrape()
		return strings.Contains(metrics, `status_class="4xx"} 1`) && strings.Contains(metrics, `status_class="2xx"} 2`)
	}, 5*time.Second, 5*time.Millisecond)
	require.Contains(t, metrics, `llm_router_requests_total{backend="mock.mock",endpoint="chat",error_type="",model="mock",status_class="2xx"} 2`)
	require.Contains(t, metrics, `llm_router_requests_total{backend="mock.mock",endpoint="chat",error_type="rate_limit",model="mock",status_class="4xx"} 1`)
	require.NotContains(t, metrics, secret)
	require.Contains(t, metrics, `gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="mock",gen_ai_request_model="mock",gen_ai_response_model="mock",gen_ai_token_type="output"} 18`)
}
