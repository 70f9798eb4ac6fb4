package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

func TestUpstreamPath(t *testing.T) {
	tests := []struct{ base, chat, emb string }{
		{"https://api.openai.com", "/v1/chat/completions", "/v1/embeddings"},
		{"https://api.openai.com/", "/v1/chat/completions", "/v1/embeddings"},
		{"https://api.openai.com/v1", "/v1/chat/completions", "/v1/embeddings"},
		{"https://api.openai.com/v1/", "/v1/chat/completions", "/v1/embeddings"},
		{"https://api.groq.com/openai/v1", "/openai/v1/chat/completions", "/openai/v1/embeddings"},
		{"https://openrouter.ai/api/v1", "/api/v1/chat/completions", "/api/v1/embeddings"},
		{"https://gateway.example.com/llm", "/llm/v1/chat/completions", "/llm/v1/embeddings"},
		{"https://generativelanguage.googleapis.com/v1beta", "/v1beta/chat/completions", "/v1beta/embeddings"},
		{"http://localhost:8000/v2alpha1", "/v2alpha1/chat/completions", "/v2alpha1/embeddings"},
		{"http://localhost:8000/vendor", "/vendor/v1/chat/completions", "/vendor/v1/embeddings"},
		{"http://localhost:8000/v1x-", "/v1x-/v1/chat/completions", "/v1x-/v1/embeddings"},
		{"https://proxy.example.com/v1?tenant=a", "/v1/chat/completions?tenant=a", "/v1/embeddings?tenant=a"},
	}
	for _, tt := range tests {
		b, err := NewBackend(Config{BaseURL: tt.base})
		require.NoError(t, err, tt.base)
		require.Equal(t, tt.chat, b.UpstreamPath(provider.OpChat, provider.Target{}), tt.base)
		require.Equal(t, tt.emb, b.UpstreamPath(provider.OpEmbeddings, provider.Target{}), tt.base)
	}
	for _, bad := range []string{"", "api.openai.com", "ftp://x", "https://", "https://user:pw@x.com", "http://[::1"} {
		_, err := NewBackend(Config{BaseURL: bad})
		require.Error(t, err, bad)
	}
}

func TestBuildChatRequest(t *testing.T) {
	b, err := NewBackend(Config{BaseURL: "https://api.openai.com/v1", APIKey: "sk-secret", Headers: map[string]string{"OpenAI-Organization": "org-1", "Authorization": "Bearer wrong"}})
	require.NoError(t, err)
	require.Equal(t, provider.SchemaOpenAI, b.Schema())
	req := &canonical.Request{Model: "public", Stream: false, Messages: []canonical.Message{{Role: canonical.RoleUser, Content: text("hi")}}}
	up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "gpt-4o", Stream: true})
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, up.Method)
	require.Equal(t, "/v1/chat/completions", up.Path)
	require.Equal(t, "Bearer sk-secret", up.Header.Get("Authorization"), "the API key wins over a configured header")
	require.Equal(t, "org-1", up.Header.Get("OpenAI-Organization"))
	require.Equal(t, "application/json", up.Header.Get("Content-Type"))
	require.Equal(t, "text/event-stream", up.Header.Get("Accept"))
	require.JSONEq(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`, string(up.Body))
	require.False(t, req.Stream, "the caller's request is not modified")

	// Keyless local servers send no Authorization header.
	b, err = NewBackend(Config{BaseURL: "http://localhost:11434"})
	require.NoError(t, err)
	up, err = b.BuildChatRequest(context.Background(), req, provider.Target{Model: "llama3"})
	require.NoError(t, err)
	require.Empty(t, up.Header.Get("Authorization"))
	require.Equal(t, "application/json", up.Header.Get("Accept"))

	req.Messages[0].Role = "robot"
	_, err = b.BuildChatRequest(context.Background(), req, provider.Target{Model: "llama3"})
	require.Error(t, err)
}

func TestSigner(t *testing.T) {
	b, err := NewBackend(Config{BaseURL: "https://api.openai.com", APIKey: "sk-secret", Headers: map[string]string{"X-Tenant": "t"}})
	require.NoError(t, err)
	s := b.Signer()
	up := &provider.UpstreamRequest{Path: b.UpstreamPath(provider.OpChat, provider.Target{})}
	require.NoError(t, s.Sign(context.Background(), up))
	require.Equal(t, "Bearer sk-secret", up.Header.Get("Authorization"))
	require.Equal(t, "t", up.Header.Get("X-Tenant"))
	require.NotContains(t, fmt.Sprint(s), "sk-secret")
	require.NotContains(t, fmt.Sprintf("%v %s", s, s), "sk-secret")
}

func TestEmbeddingBackend(t *testing.T) {
	b := testBackend(t, Dialect{})
	up, err := b.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Model: "x", Input: []string{"a"}, Dimensions: 256, EncodingFormat: "base64", User: "u", InputType: "search_query"}, provider.Target{Model: "text-embedding-3-small", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/embeddings", up.Path)
	require.Equal(t, "application/json", up.Header.Get("Accept"))
	require.JSONEq(t, `{"input":["a"],"model":"text-embedding-3-small","dimensions":256,"encoding_format":"base64","user":"u"}`, string(up.Body))

	body, err := EncodeEmbeddingRequest(&canonical.EmbeddingRequest{Model: "m", EncodingFormat: "int8"}, "")
	require.NoError(t, err)
	require.JSONEq(t, `{"input":[],"model":"m"}`, string(body))

	resp, err := b.DecodeEmbeddingResponse([]byte(`{"object":"list","model":"m","data":[
		{"object":"embedding","index":1,"embedding":"AACAPw=="},{"object":"embedding","index":0,"embedding":[0.5,0.25]}],
		"usage":{"prompt_tokens":4,"total_tokens":4}}`))
	require.NoError(t, err)
	require.Equal(t, [][]float32{{0.5, 0.25}, {1}}, resp.Embeddings)
	require.Equal(t, canonical.Usage{InputTokens: 4}, resp.Usage)

	_, err = DecodeEmbeddingResponse([]byte(`{"data":[{"embedding":"!!"}]}`))
	require.Error(t, err)
	_, err = DecodeEmbeddingResponse([]byte(`[`))
	require.Error(t, err)
}

func TestBackendDelegates(t *testing.T) {
	b := testBackend(t, Dialect{})
	_, err := b.DecodeChatResponse([]byte(`{`))
	require.Error(t, err)
	require.NotNil(t, b.NewChatStreamDecoder())
	require.Equal(t, 429, b.DecodeError(429, nil, nil).Status)
	out, wants, err := b.RewriteChatRequest([]byte(`{"model":"a","stream_options":{"include_usage":true}}`), "b", true)
	require.NoError(t, err)
	require.True(t, wants)
	require.JSONEq(t, `{"model":"b","stream_options":{"include_usage":true}}`, string(out))
	require.NotNil(t, b.NewUsageScanner(true, false))
}

func TestPresetsAndRegister(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	kinds := r.Kinds()
	for _, k := range []string{"openai", "groq", "mistral", "deepseek", "together", "xai", "openrouter", "vllm", "ollama", "lmstudio", "tgi", "huggingface"} {
		require.Contains(t, kinds, k)
	}
	wantPaths := map[string]string{
		"openai":      "https://api.openai.com/v1/chat/completions",
		"groq":        "https://api.groq.com/openai/v1/chat/completions",
		"mistral":     "https://api.mistral.ai/v1/chat/completions",
		"deepseek":    "https://api.deepseek.com/v1/chat/completions",
		"together":    "https://api.together.xyz/v1/chat/completions",
		"xai":         "https://api.x.ai/v1/chat/completions",
		"openrouter":  "https://openrouter.ai/api/v1/chat/completions",
		"ollama":      "http://localhost:11434/v1/chat/completions",
		"lmstudio":    "http://localhost:1234/v1/chat/completions",
		"huggingface": "https://router.huggingface.co/v1/chat/completions",
	}
	for kind, want := range wantPaths {
		a, err := r.Build(provider.Settings{Name: kind, Kind: kind, APIKey: "k"})
		require.NoError(t, err, kind)
		b := a.Backend.(*Backend)
		require.Equal(t, want, a.Settings.BaseURL[:len(a.Settings.BaseURL)-len(trimVersion(a.Settings.BaseURL))]+b.UpstreamPath(provider.OpChat, provider.Target{}), kind)
		require.NotNil(t, a.Signer)
		_, ok := a.Backend.(provider.Passthrough)
		require.True(t, ok)
		_, ok = a.Backend.(provider.EmbeddingBackend)
		require.True(t, ok)
	}
	for _, kind := range []string{"vllm", "tgi"} {
		_, err := r.Build(provider.Settings{Name: kind, Kind: kind})
		require.Error(t, err, "%s needs base_url", kind)
		a, err := r.Build(provider.Settings{Name: kind, Kind: kind, BaseURL: "http://10.0.0.5:8000"})
		require.NoError(t, err)
		require.Equal(t, "/v1/chat/completions", a.Backend.(*Backend).UpstreamPath(provider.OpChat, provider.Target{}))
	}
	_, err := r.Build(provider.Settings{Name: "bad", Kind: "openai", BaseURL: "not a url"})
	require.Error(t, err)

	// Dialects: OpenAI asks for max_completion_tokens, others for max_tokens; top_k only where accepted.
	req := &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser, Content: text("x")}}, MaxTokens: 5, TopK: intPtr(3)}
	for kind, want := range map[string][]string{
		"openai": {"max_completion_tokens"}, "mistral": {"max_tokens"}, "vllm": {"max_tokens", "top_k"}, "together": {"max_tokens", "top_k"},
	} {
		s := provider.Settings{Kind: kind}
		if kind == "vllm" {
			s.BaseURL = "http://vllm:8000"
		}
		a, err := r.Build(s)
		require.NoError(t, err)
		up, err := a.Backend.BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(up.Body, &m))
		for _, k := range want {
			require.Contains(t, m, k, kind)
		}
		if len(want) == 1 {
			require.NotContains(t, m, "top_k", kind)
		}
	}
}

// trimVersion returns the path of a base URL (what UpstreamPath already includes).
func trimVersion(base string) string {
	for i := len("https://"); i < len(base); i++ {
		if base[i] == '/' {
			return base[i:]
		}
	}
	return ""
}

func intPtr(i int) *int { return &i }
