// Package e2e drives `llm-router run` (the processor behind the built-in Envoy
// emulator) with the official provider SDKs as clients.
package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const testKey = "llmr-e2e-key"

// startLocal runs the default config (mock provider) behind the emulator and returns
// the base URL of the local gateway.
func startLocal(t *testing.T, cfg *configv1.Config) string {
	t.Helper()
	if cfg == nil {
		cfg = config.Default(func(string) string { return "" })
	}
	l, err := app.StartLocal(cfg, app.RunOptions{DevKey: testKey})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Envoy)
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return srv.URL
}

func openaiClient(base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func TestOpenAIChat(t *testing.T) {
	base := startLocal(t, nil)
	client := openaiClient(base, testKey)
	ctx := context.Background()

	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "mock",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the SDK")},
	})
	require.NoError(t, err)
	require.Equal(t, "hello from the SDK", resp.Choices[0].Message.Content)
	require.Greater(t, resp.Usage.PromptTokens, int64(0))
	require.Equal(t, int64(4), resp.Usage.CompletionTokens, "real tokenizer counts of the echo")
}

func TestOpenAIStreamWithUsage(t *testing.T) {
	base := startLocal(t, nil)
	client := openaiClient(base, testKey)
	tests := []struct {
		name      string
		wantUsage bool
	}{{"usage requested", true}, {"usage not requested", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    "mock",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three four five")},
			}
			if tc.wantUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := client.Chat.Completions.NewStreaming(context.Background(), params)
			var acc openai.ChatCompletionAccumulator
			var sawUsage bool
			for stream.Next() {
				chunk := stream.Current()
				acc.AddChunk(chunk)
				if chunk.Usage.TotalTokens > 0 {
					sawUsage = true
				}
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "one two three four five", acc.Choices[0].Message.Content)
			require.Equal(t, tc.wantUsage, sawUsage, "the usage chunk reaches the caller only when asked for")
		})
	}
}

func TestOpenAIStreamingToolCallsIntact(t *testing.T) {
	base := startLocal(t, nil)
	client := openaiClient(base, testKey)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "mock",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("call get_weather for Paris")},
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}),
		},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	require.NoError(t, stream.Err())
	calls := acc.Choices[0].Message.ToolCalls
	require.Len(t, calls, 1)
	require.Equal(t, "get_weather", calls[0].Function.Name)
	require.NotEmpty(t, calls[0].ID)
	require.JSONEq(t, `{"text":"call get_weather for Paris"}`, calls[0].Function.Arguments)
	require.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
}

func TestOpenAIEmbeddingsAndModels(t *testing.T) {
	base := startLocal(t, nil)
	client := openaiClient(base, testKey)
	ctx := context.Background()
	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "mock-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	require.NoError(t, err)
	require.Len(t, emb.Data, 2)
	require.NotEmpty(t, emb.Data[0].Embedding)

	page, err := client.Models.List(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	require.ElementsMatch(t, []string{"mock", "mock-embed"}, ids)
}

func TestOpenAIErrors(t *testing.T) {
	base := startLocal(t, nil)
	tests := []struct {
		name       string
		key        string
		model      string
		prompt     string
		wantStatus int
		wantCode   string
	}{
		{"wrong key", "nope", "mock", "hi", http.StatusUnauthorized, "invalid_api_key"},
		{"unknown model", testKey, "gpt-17", "hi", http.StatusNotFound, "model_not_found"},
		{"provider rate limit keeps its status", testKey, "mock", "mock:error 429", http.StatusTooManyRequests, "rate_limit_exceeded"},
		{"provider server error", testKey, "mock", "mock:error 500", http.StatusInternalServerError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := openaiClient(base, tc.key)
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(tc.prompt)},
			})
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "got %v", err)
			require.Equal(t, tc.wantStatus, apiErr.StatusCode)
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, apiErr.Code)
			}
		})
	}
}

func TestRawHTTPErrors(t *testing.T) {
	base := startLocal(t, nil)
	tests := []struct {
		name, method, path, body string
		headers                  map[string]string
		wantStatus               int
		wantInBody               string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", `{"model":`, nil, 400, "not valid JSON"},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[]}`, nil, 400, "model"},
		{"wrong method", "GET", "/v1/chat/completions", ``, nil, 405, "not allowed"},
		{"unknown path", "POST", "/v1/nope", `{}`, nil, 404, "unknown path"},
		{"body over the limit", "POST", "/v1/chat/completions", `{"model":"mock","messages":[{"role":"user","content":"` + strings.Repeat("x", 5<<20) + `"}]}`, nil, 413, "exceeds"},
		{"x-api-key accepted", "GET", "/v1/models", ``, map[string]string{"x-api-key": testKey, "authorization": ""}, 200, "mock-embed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("authorization", "Bearer "+testKey)
			for k, v := range tc.headers {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			var sb strings.Builder
			_, _ = readBody(&sb, resp)
			require.Equal(t, tc.wantStatus, resp.StatusCode, sb.String())
			require.Contains(t, sb.String(), tc.wantInBody)
			if tc.wantStatus >= 400 {
				require.Contains(t, sb.String(), `"error"`)
			}
		})
	}
}
