package mock

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/openai"
	"github.com/llm-router/llm-router/pkg/sse"
	"github.com/llm-router/llm-router/pkg/tokens"
)

// sharedCounter avoids loading the vocabularies once per test.
var sharedCounter = sync.OnceValue(tokens.NewCounter)

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	if opts.Counter == nil {
		opts.Counter = sharedCounter()
	}
	srv := httptest.NewServer(NewServer(opts))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func chunks(t *testing.T, body []byte) ([]openai.ChatChunk, bool) {
	t.Helper()
	var r sse.Reader
	var out []openai.ChatChunk
	done := false
	for _, ev := range append(r.Feed(body), r.Flush()...) {
		if sse.IsDone(ev.Data) {
			done = true
			continue
		}
		var c openai.ChatChunk
		require.NoError(t, json.Unmarshal(ev.Data, &c), "%s", ev.Data)
		out = append(out, c)
	}
	return out, done
}

func TestChatEcho(t *testing.T) {
	var seen []byte
	srv := newServer(t, Options{OnRequest: func(_ *http.Request, b []byte) { seen = b }})
	body := `{"model":"mock-gpt","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"Hello there, world"}]}`
	resp, b := post(t, srv.URL+"/v1/chat/completions", body)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, body, string(seen))

	var cr openai.ChatResponse
	require.NoError(t, json.Unmarshal(b, &cr))
	require.Equal(t, "chat.completion", cr.Object)
	require.Equal(t, "mock-gpt", cr.Model)
	require.EqualValues(t, 1700000000, cr.Created)
	require.Equal(t, "Hello there, world", cr.Choices[0].Message.Content.String())
	require.Equal(t, "stop", *cr.Choices[0].FinishReason)

	c := sharedCounter()
	req, err := openai.ParseChatRequest([]byte(body))
	require.NoError(t, err)
	require.Equal(t, c.EstimateRequest("mock-gpt", req), cr.Usage.PromptTokens)
	require.Equal(t, c.CountText("mock-gpt", "Hello there, world"), cr.Usage.CompletionTokens)
	require.Equal(t, cr.Usage.PromptTokens+cr.Usage.CompletionTokens, cr.Usage.TotalTokens)

	// Deterministic: the same request gives the same bytes.
	_, again := post(t, srv.URL+"/v1/chat/completions", body)
	require.Equal(t, string(b), string(again))
}

func TestChatStream(t *testing.T) {
	srv := newServer(t, Options{})
	for _, includeUsage := range []bool{false, true} {
		body := `{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"one two  three"}]}`
		if includeUsage {
			body = `{"model":"mock-gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two  three"}]}`
		}
		resp, b := post(t, srv.URL+"/v1/chat/completions", body)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		cs, done := chunks(t, b)
		require.True(t, done)
		var words []string
		for _, c := range cs {
			require.Equal(t, "chat.completion.chunk", c.Object)
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil && *ch.Delta.Content != "" {
					words = append(words, *ch.Delta.Content)
				}
			}
		}
		require.Equal(t, []string{"one", " two", "  three"}, words)
		require.Equal(t, "assistant", cs[0].Choices[0].Delta.Role)
		last := cs[len(cs)-1]
		if includeUsage {
			require.Empty(t, last.Choices)
			require.NotNil(t, last.Usage)
			require.Equal(t, sharedCounter().CountText("mock-gpt", "one two  three"), last.Usage.CompletionTokens)
			require.Contains(t, string(b), `"usage":null`)
		} else {
			require.Equal(t, "stop", *last.Choices[0].FinishReason)
			require.NotContains(t, string(b), "usage")
		}
	}
}

func toolCall(t *testing.T, srv *httptest.Server, extra, userText string, stream bool) (name, args, finish string) {
	t.Helper()
	body := `{"model":"mock-gpt","messages":[{"role":"user","content":` + string(mustJSON(userText)) + `}],
		"tools":[{"type":"function","function":{"name":"first","parameters":{"type":"object"}}},{"type":"function","function":{"name":"second"}}]` + extra
	if stream {
		body += `,"stream":true`
	}
	body += "}"
	resp, b := post(t, srv.URL+"/v1/chat/completions", body)
	require.Equal(t, 200, resp.StatusCode, "%s", b)
	if !stream {
		var cr openai.ChatResponse
		require.NoError(t, json.Unmarshal(b, &cr))
		m := cr.Choices[0].Message
		if len(m.ToolCalls) == 0 {
			return "", m.Content.String(), *cr.Choices[0].FinishReason
		}
		require.Nil(t, m.Content.Text, "content is null with tool calls")
		require.True(t, strings.HasPrefix(m.ToolCalls[0].ID, "call_mock_"))
		return m.ToolCalls[0].Function.Name, m.ToolCalls[0].Function.Arguments, *cr.Choices[0].FinishReason
	}
	cs, done := chunks(t, b)
	require.True(t, done)
	fragments := 0
	for _, c := range cs {
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				require.NotNil(t, tc.Index)
				require.Equal(t, 0, *tc.Index)
				if tc.Function.Name != "" {
					require.Empty(t, name, "name only on the first fragment")
					require.NotEmpty(t, tc.ID)
					name = tc.Function.Name
				}
				if tc.Function.Arguments != "" {
					fragments++
					args += tc.Function.Arguments
				}
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	if name != "" {
		require.Greater(t, fragments, 1, "arguments stream in several fragments")
	}
	return name, args, finish
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestToolCalls(t *testing.T) {
	srv := newServer(t, Options{})
	for _, stream := range []bool{false, true} {
		name, args, finish := toolCall(t, srv, `,"tool_choice":"required"`, "weather in Paris", stream)
		require.Equal(t, "first", name)
		require.JSONEq(t, `{"text":"weather in Paris"}`, args)
		require.Equal(t, "tool_calls", finish)

		name, _, _ = toolCall(t, srv, `,"tool_choice":{"type":"function","function":{"name":"second"}}`, "x", stream)
		require.Equal(t, "second", name)

		name, args, _ = toolCall(t, srv, ``, `call second with "quotes"`, stream)
		require.Equal(t, "second", name)
		require.JSONEq(t, `{"text":"call second with \"quotes\""}`, args)

		name, _, _ = toolCall(t, srv, ``, "call something", stream)
		require.Equal(t, "first", name)

		name, text, finish := toolCall(t, srv, `,"tool_choice":"none"`, "call first", stream)
		require.Empty(t, name)
		require.Equal(t, "stop", finish)
		if !stream {
			require.Equal(t, "call first", text)
		}

		name, _, finish = toolCall(t, srv, ``, "no call here", stream)
		require.Empty(t, name)
		require.Equal(t, "stop", finish)
	}
}

func TestSpecialPrompts(t *testing.T) {
	srv := newServer(t, Options{})
	ask := func(text string, stream bool) (*http.Response, []byte) {
		body := `{"model":"mock-gpt","messages":[{"role":"user","content":"` + text + `"}],"stream":` + map[bool]string{true: "true", false: "false"}[stream] + `}`
		return post(t, srv.URL+"/v1/chat/completions", body)
	}
	for _, status := range []int{400, 401, 403, 404, 429, 500, 503, 418} {
		resp, b := ask("mock:error "+itoa(status), false)
		require.Equal(t, status, resp.StatusCode)
		var eb openai.ErrorBody
		require.NoError(t, json.Unmarshal(b, &eb), "%s", b)
		require.NotEmpty(t, eb.Error.Message)
		require.NotEmpty(t, eb.Error.Type)
		require.Contains(t, string(b), `"param":`, "param is present, null or not")
		require.Contains(t, string(b), `"code":`)
		if status == 429 {
			require.Equal(t, "7", resp.Header.Get("Retry-After"))
			require.Equal(t, "rate_limit_exceeded", eb.Error.Code.Value)
		} else {
			require.Empty(t, resp.Header.Get("Retry-After"))
		}
	}
	resp, _ := ask("mock:error 200", false)
	require.Equal(t, 400, resp.StatusCode)
	resp, _ = ask("mock:slow forever", false)
	require.Equal(t, 400, resp.StatusCode)

	start := time.Now()
	resp, b := ask("mock:slow 60ms", false)
	require.Equal(t, 200, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	require.Contains(t, string(b), "mock:slow 60ms")

	resp, _ = ask("mock:stream-error", false)
	require.Equal(t, 500, resp.StatusCode)
	resp, b = ask("mock:stream-error", true)
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, string(b), "[DONE]")
	events := strings.Split(strings.TrimSpace(string(b)), "\n\n")
	require.Len(t, events, 3, "two chunks then the error")
	require.True(t, strings.HasPrefix(events[2], `data: {"error":{`), events[2])

	// The slow prompt gives up when the client does.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"mock:slow 10s"}]}`))
	_, err := http.DefaultClient.Do(req)
	require.Error(t, err)
}

func itoa(i int) string { return string(mustJSON(i)) }

func TestMaxTokensAndN(t *testing.T) {
	srv := newServer(t, Options{})
	_, b := post(t, srv.URL+"/v1/chat/completions", `{"model":"mock-gpt","max_tokens":3,"n":2,"messages":[{"role":"user","content":"alpha beta gamma delta epsilon zeta"}]}`)
	var cr openai.ChatResponse
	require.NoError(t, json.Unmarshal(b, &cr))
	require.Len(t, cr.Choices, 2)
	require.Equal(t, 1, cr.Choices[1].Index)
	require.Equal(t, "length", *cr.Choices[0].FinishReason)
	text := cr.Choices[0].Message.Content.String()
	require.True(t, strings.HasPrefix("alpha beta gamma delta epsilon zeta", text))
	require.LessOrEqual(t, sharedCounter().CountText("mock-gpt", text), 3)
	require.Equal(t, 2*sharedCounter().CountText("mock-gpt", text), cr.Usage.CompletionTokens)

	_, b = post(t, srv.URL+"/v1/chat/completions", `{"model":"mock-gpt","n":2,"stream":true,"messages":[{"role":"user","content":"hi you"}]}`)
	cs, _ := chunks(t, b)
	seen := map[int]string{}
	for _, c := range cs {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				seen[ch.Index] += *ch.Delta.Content
			}
		}
	}
	require.Equal(t, map[int]string{0: "hi you", 1: "hi you"}, seen)
}

func TestValidation(t *testing.T) {
	srv := newServer(t, Options{APIKey: "secret"})
	auth := []string{"Authorization", "Bearer secret"}
	tests := []struct {
		name, path, body string
		header           []string
		status           int
	}{
		{"no key", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, nil, 401},
		{"wrong key", "/v1/chat/completions", `{}`, []string{"Authorization", "Bearer nope"}, 401},
		{"bad json", "/v1/chat/completions", `{"model":`, auth, 400},
		{"missing model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, auth, 400},
		{"missing messages", "/v1/chat/completions", `{"model":"m"}`, auth, 400},
		{"bad role", "/v1/chat/completions", `{"model":"m","messages":[{"role":"x","content":"x"}]}`, auth, 400},
		{"content type", "/v1/chat/completions", `{}`, append([]string{"Content-Type", "text/plain"}, auth...), 400},
		{"unknown path", "/v1/completions", `{}`, auth, 404},
		{"azure needs api-version", "/openai/deployments/d/chat/completions", `{}`, auth, 404},
		{"embeddings bad json", "/v1/embeddings", `[`, auth, 400},
		{"embeddings no model", "/v1/embeddings", `{"input":"x"}`, auth, 400},
		{"embeddings empty input", "/v1/embeddings", `{"model":"m","input":[]}`, auth, 400},
		{"embeddings empty string", "/v1/embeddings", `{"model":"m","input":["a",""]}`, auth, 400},
		{"embeddings empty tokens", "/v1/embeddings", `{"model":"m","input":[[1],[]]}`, auth, 400},
		{"embeddings dims", "/v1/embeddings", `{"model":"m","input":"x","dimensions":0}`, auth, 400},
		{"embeddings format", "/v1/embeddings", `{"model":"m","input":"x","encoding_format":"int8"}`, auth, 400},
		{"api-key header works", "/v1/embeddings", `{"model":"m","input":"x"}`, []string{"api-key", "secret"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := post(t, srv.URL+tt.path, tt.body, tt.header...)
			require.Equal(t, tt.status, resp.StatusCode, "%s", b)
			if tt.status != 200 {
				var eb openai.ErrorBody
				require.NoError(t, json.Unmarshal(b, &eb), "%s", b)
				require.NotNil(t, eb.Error)
				require.NotEmpty(t, eb.Error.Message)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/v1/chat/completions")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)
	require.Equal(t, "POST", resp.Header.Get("Allow"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/models", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)
}

func TestBodyTooLarge(t *testing.T) {
	srv := newServer(t, Options{})
	resp, _ := post(t, srv.URL+"/v1/chat/completions", `{"model":"m","x":"`+strings.Repeat("a", maxBody)+`"}`)
	require.Equal(t, 413, resp.StatusCode)
}

func TestEmbeddings(t *testing.T) {
	srv := newServer(t, Options{})
	embed := func(body string) openai.EmbeddingResponse {
		resp, b := post(t, srv.URL+"/v1/embeddings", body)
		require.Equal(t, 200, resp.StatusCode, "%s", b)
		var er openai.EmbeddingResponse
		require.NoError(t, json.Unmarshal(b, &er))
		return er
	}
	er := embed(`{"model":"mock-embedding","input":["hello world","other"]}`)
	require.Equal(t, "list", er.Object)
	require.Len(t, er.Data, 2)
	for i, d := range er.Data {
		require.Equal(t, i, d.Index)
		require.Equal(t, "embedding", d.Object)
		require.Len(t, d.Embedding.Floats, 8)
		norm := 0.0
		for _, x := range d.Embedding.Floats {
			norm += float64(x) * float64(x)
		}
		require.InDelta(t, 1, math.Sqrt(norm), 1e-5)
	}
	require.NotEqual(t, er.Data[0].Embedding.Floats, er.Data[1].Embedding.Floats)
	require.Equal(t, sharedCounter().EstimateText("mock-embedding", []string{"hello world", "other"}), er.Usage.PromptTokens)

	single := embed(`{"model":"mock-embedding","input":"hello world"}`)
	require.Equal(t, er.Data[0].Embedding.Floats, single.Data[0].Embedding.Floats, "deterministic per model and text")
	other := embed(`{"model":"other-model","input":"hello world"}`)
	require.NotEqual(t, er.Data[0].Embedding.Floats, other.Data[0].Embedding.Floats)

	b64 := embed(`{"model":"mock-embedding","input":"hello world","encoding_format":"base64","dimensions":16}`)
	require.NotEmpty(t, b64.Data[0].Embedding.Base64)
	v, err := b64.Data[0].Embedding.Values()
	require.NoError(t, err)
	require.Len(t, v, 16)

	tok := embed(`{"model":"mock-embedding","input":[[1,2,3],[4]]}`)
	require.Len(t, tok.Data, 2)
	require.Equal(t, 4, tok.Usage.PromptTokens)
	tok1 := embed(`{"model":"mock-embedding","input":[1,2,3]}`)
	require.Equal(t, tok.Data[0].Embedding.Floats, tok1.Data[0].Embedding.Floats)

	require.Len(t, UnitVector(1, 1), 1)
}

func TestModels(t *testing.T) {
	srv := newServer(t, Options{Models: []string{"a", "b"}})
	resp, err := http.Get(srv.URL + "/v1/models")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.JSONEq(t, `{"object":"list","data":[{"id":"a","object":"model","created":1700000000,"owned_by":"mock"},{"id":"b","object":"model","created":1700000000,"owned_by":"mock"}]}`, string(b))
	resp, err = http.Get(srv.URL + "/v1/models/b")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.JSONEq(t, `{"id":"b","object":"model","created":1700000000,"owned_by":"mock"}`, string(b))
	resp, err = http.Get(srv.URL + "/v1/models/zzz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
	require.Equal(t, []string{"mock-gpt", "mock-embedding"}, DefaultModels())
}

func TestAzurePaths(t *testing.T) {
	srv := newServer(t, Options{})
	resp, b := post(t, srv.URL+"/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21", `{"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 200, resp.StatusCode, "%s", b)
	var cr openai.ChatResponse
	require.NoError(t, json.Unmarshal(b, &cr))
	require.Equal(t, "my-gpt", cr.Model, "the deployment stands in for the model")
	resp, b = post(t, srv.URL+"/openai/deployments/emb/embeddings?api-version=2024-10-21", `{"input":"hi"}`)
	require.Equal(t, 200, resp.StatusCode, "%s", b)
}

func TestRegister(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	require.True(t, r.Has("mock"))
	_, err := r.Build(provider.Settings{Name: "m", Kind: "mock"})
	require.Error(t, err, "base_url is required")
	a, err := r.Build(provider.Settings{Name: "m", Kind: "mock", BaseURL: "http://127.0.0.1:9"})
	require.NoError(t, err)
	require.Equal(t, provider.SchemaOpenAI, a.Backend.Schema())
}

func TestHelpers(t *testing.T) {
	require.Equal(t, []string{"a", " b", "  c"}, splitWords("a b  c"))
	require.Equal(t, []string{" lead"}, splitWords(" lead"))
	require.Nil(t, splitWords(""))
	require.Equal(t, []string{"ab"}, splitFragments("ab", 4))
	require.Equal(t, []string{"abc", "def", "gh"}, splitFragments("abcdefgh", 3))
	frags := splitFragments("ééééé", 4)
	require.Equal(t, "ééééé", strings.Join(frags, ""))
	for _, f := range frags {
		require.True(t, strings.ToValidUTF8(f, "?") == f, "fragment %q splits a rune", f)
	}
	require.Equal(t, "", lastUserText(&canonical.Request{}))
}
