package gateway_test

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/provider/anthropic/anthropictest"
	"github.com/llm-router/llm-router/pkg/provider/mock"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const key = "llmr-gateway-test"

type env struct {
	base      string
	anthropic *anthropictest.Server
	local     *app.Local
}

// newEnv starts the mock OpenAI-compatible provider and the Anthropic mock, and a
// local data plane whose config is built by mutate.
func newEnv(t *testing.T, mutate func(cfg *configv1.Config)) *env {
	t.Helper()
	mockSrv := httptest.NewServer(mock.NewServer(mock.Options{}))
	t.Cleanup(mockSrv.Close)
	am := anthropictest.NewServer(t)
	h := auth.HashSecret(key)
	limited := auth.HashSecret("limited-key")
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{
			{Name: "mock", Kind: "mock", BaseUrl: mockSrv.URL},
			{Name: "claude", Kind: "anthropic", BaseUrl: am.URL, ApiKey: anthropictest.DefaultAPIKey},
		},
		Models: []*configv1.Model{
			{Name: "mock", Backends: []*configv1.Backend{{Provider: "mock"}}},
			{Name: "mock-embed", Backends: []*configv1.Backend{{Provider: "mock"}}},
			{Name: "claude", Backends: []*configv1.Backend{{Provider: "claude", Model: "claude-sonnet-4-5"}}},
		},
		Auth: &configv1.Auth{Keys: []*configv1.StaticKey{
			{Id: "test", Sha256: hex.EncodeToString(h[:])},
			{Id: "limited", Sha256: hex.EncodeToString(limited[:]), Models: []string{"mock"}},
		}},
	}
	if mutate != nil {
		mutate(cfg)
	}
	config.ApplyDefaults(cfg)
	l, err := app.StartLocal(cfg, app.RunOptions{})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Envoy)
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return &env{base: srv.URL, anthropic: am, local: l}
}

func (e *env) openai(k string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(k), option.WithMaxRetries(0))
	return &c
}

func (e *env) claude() *anthropic.Client {
	c := anthropic.NewClient(aoption.WithBaseURL(e.base), aoption.WithAPIKey(key), aoption.WithMaxRetries(0))
	return &c
}

func TestOpenAICallerToAnthropicBackend(t *testing.T) {
	e := newEnv(t, nil)
	e.anthropic.Enqueue(anthropictest.Reply{
		Blocks: []anthropictest.Block{anthropictest.Text("Bonjour!")},
		Usage:  anthropictest.Usage{Input: 20, Output: 3, CacheRead: 100, CacheCreation: 10},
	})
	resp, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("Say hello in French"),
		},
	})
	require.NoError(t, err)
	require.Equal(t, "Bonjour!", resp.Choices[0].Message.Content)
	require.Equal(t, "stop", resp.Choices[0].FinishReason)
	require.Equal(t, int64(130), resp.Usage.PromptTokens, "cache read and creation are part of the input")
	require.Equal(t, int64(100), resp.Usage.PromptTokensDetails.CachedTokens)
	got := e.anthropic.LastRequest()
	require.Empty(t, got.Problems)
	require.Equal(t, "claude-sonnet-4-5", got.Model)
	require.Equal(t, "Be brief.", got.JSON()["system"], "system message moves to the top-level field")
	require.Empty(t, got.Header.Get("authorization"), "the caller's key never goes upstream")
	require.Equal(t, anthropictest.DefaultAPIKey, got.Header.Get("x-api-key"))
}

func TestOpenAIStreamFromAnthropicWithToolCall(t *testing.T) {
	e := newEnv(t, nil)
	e.anthropic.Enqueue(anthropictest.Reply{
		Blocks: []anthropictest.Block{
			anthropictest.Text("Checking."),
			{Type: "tool_use", ID: "toolu_1", Name: "get_weather", Input: `{"city":"Paris","unit":"celsius"}`},
		},
		Usage: anthropictest.Usage{Input: 50, Output: 20},
	})
	stream := e.openai(key).Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})},
	})
	var acc openai.ChatCompletionAccumulator
	var usage int64
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		if c.Usage.TotalTokens > 0 {
			usage = c.Usage.TotalTokens
		}
	}
	require.NoError(t, stream.Err())
	msg := acc.Choices[0].Message
	require.Equal(t, "Checking.", msg.Content)
	require.Len(t, msg.ToolCalls, 1)
	require.Equal(t, "toolu_1", msg.ToolCalls[0].ID)
	require.Equal(t, "get_weather", msg.ToolCalls[0].Function.Name)
	require.JSONEq(t, `{"city":"Paris","unit":"celsius"}`, msg.ToolCalls[0].Function.Arguments)
	require.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
	require.Equal(t, int64(70), usage)
}

func TestAnthropicErrorsInOpenAISchema(t *testing.T) {
	tests := []struct {
		name       string
		reply      anthropictest.Reply
		wantStatus int
	}{
		{"overloaded", anthropictest.Reply{ErrorType: "overloaded_error", ErrorMessage: "Overloaded"}, 503},
		{"rate limit keeps retry-after", anthropictest.Reply{ErrorType: "rate_limit_error", ErrorMessage: "slow down", Header: map[string]string{"retry-after": "12"}}, 429},
		{"invalid request", anthropictest.Reply{ErrorType: "invalid_request_error", ErrorMessage: "bad"}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.anthropic.Enqueue(tc.reply)
			var raw *http.Response
			_, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    "claude",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			}, option.WithResponseInto(&raw))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "got %v", err)
			require.Equal(t, tc.wantStatus, apiErr.StatusCode)
			require.Equal(t, tc.reply.ErrorMessage, apiErr.Message)
			if ra := tc.reply.Header["retry-after"]; ra != "" {
				require.Equal(t, ra, raw.Header.Get("retry-after"))
			}
		})
	}
}

func TestAnthropicStreamErrorBecomesErrorChunk(t *testing.T) {
	e := newEnv(t, nil)
	e.anthropic.Enqueue(anthropictest.Reply{
		Blocks:      []anthropictest.Block{anthropictest.Text("partial answer that goes on")},
		StreamError: &anthropictest.StreamError{AfterEvents: 3, Type: "overloaded_error", Message: "Overloaded"},
	})
	req, err := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(`{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(body), `"error"`)
	require.Contains(t, string(body), "Overloaded")
}

func TestAnthropicCallerToOpenAIBackend(t *testing.T) {
	e := newEnv(t, nil)
	client := e.claude()
	msg, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     "mock",
		MaxTokens: 100,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello claude code"))},
	})
	require.NoError(t, err)
	require.Len(t, msg.Content, 1)
	require.Equal(t, "hello claude code", msg.Content[0].Text)
	require.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
	require.Greater(t, msg.Usage.InputTokens, int64(0))

	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model:     "mock",
		MaxTokens: 100,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("streamed words here"))},
	})
	var acc anthropic.Message
	for stream.Next() {
		require.NoError(t, acc.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	require.Equal(t, "streamed words here", acc.Content[0].Text)
}

func TestAnthropicCallerToAnthropicBackendPassesThrough(t *testing.T) {
	e := newEnv(t, nil)
	e.anthropic.Enqueue(anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("native")}, Usage: anthropictest.Usage{Input: 5, Output: 1}})
	msg, err := e.claude().Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     "claude",
		MaxTokens: 50,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	require.NoError(t, err)
	require.Equal(t, "native", msg.Content[0].Text)
	got := e.anthropic.LastRequest()
	require.Empty(t, got.Problems)
	require.Equal(t, "claude-sonnet-4-5", got.Model, "model rewritten to the upstream name")
	require.Equal(t, anthropictest.DefaultAPIKey, got.Header.Get("x-api-key"), "provider key replaces the caller's")
}

func TestScopeAndCountTokens(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.openai("limited-key").Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, 403, apiErr.StatusCode)
	require.Contains(t, apiErr.Message, "claude")

	models, err := e.openai("limited-key").Models.List(context.Background())
	require.NoError(t, err)
	require.Len(t, models.Data, 1, "/v1/models lists only what the key may use")

	n, err := e.claude().Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    "claude",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count these tokens please"))},
	})
	require.NoError(t, err)
	require.Greater(t, n.InputTokens, int64(3))
}

func TestUpstreamFilterFallsBackAcrossSchemas(t *testing.T) {
	e := newEnv(t, func(cfg *configv1.Config) {
		cfg.Server = &configv1.Server{UpstreamFilter: true}
		cfg.Models = append(cfg.Models, &configv1.Model{Name: "resilient", Backends: []*configv1.Backend{
			{Provider: "mock", Model: "mock", Priority: 0, Name: "resilient-primary"},
			{Provider: "claude", Model: "claude-sonnet-4-5", Priority: 1, Name: "resilient-fallback"},
		}})
	})
	e.anthropic.Enqueue(anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("from the fallback")}, Usage: anthropictest.Usage{Input: 9, Output: 3}})
	// The mock provider answers 503 to this prompt; Envoy retries on the next priority,
	// and the upstream-level processor translates the attempt for Anthropic.
	resp, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "resilient",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("mock:error 503")},
	})
	require.NoError(t, err)
	require.Equal(t, "from the fallback", resp.Choices[0].Message.Content)
	got := e.anthropic.LastRequest()
	require.Empty(t, got.Problems)
	require.Equal(t, "claude-sonnet-4-5", got.Model)

	// Without a failure the first priority serves, passed through.
	resp, err = e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "resilient",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("primary works")},
	})
	require.NoError(t, err)
	require.Equal(t, "primary works", resp.Choices[0].Message.Content)
}

func TestLocalAnswersAndErrors(t *testing.T) {
	e := newEnv(t, func(cfg *configv1.Config) { cfg.Server = &configv1.Server{MaxRequestBodyBytes: 1024} })
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantInBody               string
	}{
		{"model by id", "GET", "/v1/models/claude", "", 200, `"id":"claude"`},
		{"unknown model by id", "GET", "/v1/models/nope", "", 404, "model_not_found"},
		{"unknown path", "POST", "/v1/completions", "{}", 404, "unknown path"},
		{"unknown anthropic path", "POST", "/v1/messages/batches", "{}", 404, `"type":"error"`},
		{"wrong method", "PUT", "/v1/embeddings", "{}", 405, "not allowed"},
		{"too large", "POST", "/v1/chat/completions", `{"model":"mock","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, 413, "exceeds"},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[]}`, 400, "model"},
		{"not an object", "POST", "/v1/chat/completions", `[1,2]`, 400, "JSON object"},
		{"no body", "POST", "/v1/chat/completions", ``, 400, "body is required"},
		{"embeddings passthrough", "POST", "/v1/embeddings", `{"model":"mock-embed","input":["a","b","c"]}`, 200, `"index":2`},
		{"anthropic schema error for /v1/messages", "POST", "/v1/messages", `{"model":"nope","max_tokens":5,"messages":[]}`, 404, `"type":"error"`},
		{"embeddings for a chat-only backend", "POST", "/v1/embeddings", `{"model":"claude","input":"a"}`, 400, "embeddings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, e.base+tc.path, body)
			require.NoError(t, err)
			req.Header.Set("authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			require.Equal(t, tc.wantStatus, resp.StatusCode, string(b))
			require.Contains(t, string(b), tc.wantInBody)
		})
	}
}

func TestResponseCache(t *testing.T) {
	e := newEnv(t, func(cfg *configv1.Config) { cfg.Cache = &configv1.Cache{Enabled: true} })
	e.anthropic.SetDefault(anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("cached answer")}, Usage: anthropictest.Usage{Input: 11, Output: 2}})
	send := func(body string, hdr map[string]string) (string, string) {
		req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("authorization", "Bearer "+key)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, 200, resp.StatusCode, string(b))
		return resp.Header.Get("x-llm-router-cache"), string(b)
	}
	det := `{"model":"claude","temperature":0,"messages":[{"role":"user","content":"deterministic"}]}`
	status, first := send(det, nil)
	require.Empty(t, status, "first request is a miss")
	// Same request, keys in another order: a hit, and the provider is not called again.
	status, second := send(`{"messages":[{"content":"deterministic","role":"user"}],"temperature":0,"model":"claude"}`, nil)
	require.Equal(t, "hit", status)
	require.JSONEq(t, first, second)
	require.Len(t, e.anthropic.Requests(), 1)

	// no-cache skips the lookup; non-deterministic requests bypass; streams replay.
	status, _ = send(det, map[string]string{"cache-control": "no-cache"})
	require.Empty(t, status)
	status, _ = send(`{"model":"claude","messages":[{"role":"user","content":"creative"}]}`, nil)
	require.Empty(t, status)
	stream := `{"model":"claude","temperature":0,"stream":true,"messages":[{"role":"user","content":"streamed"}]}`
	_, live := send(stream, nil)
	status, replay := send(stream, nil)
	require.Equal(t, "hit", status)
	require.Equal(t, live, replay, "a streamed hit replays the same SSE bytes")
	require.Contains(t, replay, "data: [DONE]")
	require.Len(t, e.anthropic.Requests(), 4)
}

func TestRateLimitsPerKey(t *testing.T) {
	limitedKey := "rpm-key"
	e := newEnv(t, func(cfg *configv1.Config) {
		h := auth.HashSecret(limitedKey)
		cfg.Auth.Keys = append(cfg.Auth.Keys, &configv1.StaticKey{Id: "rpm", Sha256: hex.EncodeToString(h[:]), RequestsPerMinute: 2})
	})
	call := func() *http.Response {
		req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("authorization", "Bearer "+limitedKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	first := call()
	require.Equal(t, 200, first.StatusCode)
	require.Equal(t, "2", first.Header.Get("x-ratelimit-limit-requests"))
	require.Equal(t, "1", first.Header.Get("x-ratelimit-remaining-requests"))
	require.Equal(t, 200, call().StatusCode)
	third := call()
	require.Equal(t, 429, third.StatusCode)
	require.NotEmpty(t, third.Header.Get("retry-after"))
	// As OpenAI does, the 429 names the limit that refused.
	require.Equal(t, "2", third.Header.Get("x-ratelimit-limit-requests"))
	require.Equal(t, "0", third.Header.Get("x-ratelimit-remaining-requests"))
	require.NotEmpty(t, third.Header.Get("x-ratelimit-reset-requests"))
	// Other keys are not affected.
	_, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "mock", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.NoError(t, err)
}

func TestABSplits(t *testing.T) {
	e := newEnv(t, func(cfg *configv1.Config) {
		cfg.Models = append(cfg.Models,
			&configv1.Model{Name: "ab-backend", Backends: []*configv1.Backend{
				{Provider: "mock", Model: "mock", Name: "ab-control"},
				{Provider: "claude", Model: "claude-sonnet-4-5", Name: "ab-treatment"},
			}, Splits: []*configv1.Split{{Percent: 100, Target: "ab-treatment"}}},
			&configv1.Model{Name: "ab-model", Backends: []*configv1.Backend{{Provider: "mock", Model: "mock", Name: "ab-model-control"}},
				Splits: []*configv1.Split{{Percent: 100, Target: "claude"}}},
			&configv1.Model{Name: "ab-none", Backends: []*configv1.Backend{{Provider: "mock", Model: "mock", Name: "ab-none-control"}},
				Splits: []*configv1.Split{{Percent: 0, Target: "claude"}}},
		)
	})
	e.anthropic.SetDefault(anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("treatment")}, Usage: anthropictest.Usage{Input: 3, Output: 1}})
	ask := func(model string) string {
		resp, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("control")},
		})
		require.NoError(t, err)
		return resp.Choices[0].Message.Content
	}
	require.Equal(t, "treatment", ask("ab-backend"), "100% of keys go to the treatment backend")
	require.Equal(t, "treatment", ask("ab-model"), "a split may name another model")
	require.Equal(t, "control", ask("ab-none"), "0% leaves every key on control (the mock echoes)")
}
