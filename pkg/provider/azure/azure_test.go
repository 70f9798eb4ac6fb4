package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestPaths(t *testing.T) {
	tests := []struct{ base, version, deployment, chat, emb string }{
		{"https://res.openai.azure.com", "", "gpt-4o", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "/openai/deployments/gpt-4o/embeddings?api-version=2024-10-21"},
		{"https://res.openai.azure.com/", "2025-01-01-preview", "d", "/openai/deployments/d/chat/completions?api-version=2025-01-01-preview", "/openai/deployments/d/embeddings?api-version=2025-01-01-preview"},
		{"https://res.openai.azure.com/openai", "", "d", "/openai/deployments/d/chat/completions?api-version=2024-10-21", "/openai/deployments/d/embeddings?api-version=2024-10-21"},
		{"https://apim.example.com/aoai/", "", "my dep/x", "/aoai/openai/deployments/my%20dep%2Fx/chat/completions?api-version=2024-10-21", "/aoai/openai/deployments/my%20dep%2Fx/embeddings?api-version=2024-10-21"},
	}
	for _, tt := range tests {
		b, err := NewBackend(Config{BaseURL: tt.base, APIVersion: tt.version})
		require.NoError(t, err)
		require.Equal(t, tt.chat, b.UpstreamPath(provider.OpChat, provider.Target{Model: tt.deployment}))
		require.Equal(t, tt.emb, b.UpstreamPath(provider.OpEmbeddings, provider.Target{Model: tt.deployment}))
	}
	_, err := NewBackend(Config{BaseURL: "res.openai.azure.com"})
	require.Error(t, err)
}

func TestBuildChatRequest(t *testing.T) {
	b, err := NewBackend(Config{BaseURL: "https://res.openai.azure.com", APIKey: "k", Headers: map[string]string{"x-ms-client-request-id": "r"}})
	require.NoError(t, err)
	require.Equal(t, DefaultAPIVersion, b.APIVersion())
	require.Equal(t, provider.SchemaOpenAI, b.Schema(), "OpenAI callers pass through")
	req := &canonical.Request{MaxTokens: 50, Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "hi"}}}}}
	for deployment, field := range map[string]string{"gpt-4o": "max_tokens", "gpt-35-turbo": "max_tokens", "o3-mini": "max_completion_tokens", "GPT-5-chat": "max_completion_tokens", "gpt-4.1": "max_completion_tokens"} {
		up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: deployment, Stream: true})
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(up.Body, &m))
		require.Contains(t, m, field, deployment)
		require.Equal(t, map[string]any{"include_usage": true}, m["stream_options"])
		require.Equal(t, "k", up.Header.Get("api-key"))
		require.Empty(t, up.Header.Get("Authorization"))
		require.Equal(t, "r", up.Header.Get("x-ms-client-request-id"))
		require.Equal(t, "text/event-stream", up.Header.Get("Accept"))
	}
	req.Messages[0].Role = "robot"
	_, err = b.BuildChatRequest(context.Background(), req, provider.Target{Model: "d"})
	require.Error(t, err)

	up, err := b.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"x"}}, provider.Target{Model: "emb", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "application/json", up.Header.Get("Accept"))
	require.JSONEq(t, `{"input":["x"],"model":"emb"}`, string(up.Body))

	// Entra ID: no api-key, a bearer token in headers.
	b, err = NewBackend(Config{BaseURL: "https://res.openai.azure.com", Headers: map[string]string{"Authorization": "Bearer eyJ"}})
	require.NoError(t, err)
	up, err = b.BuildChatRequest(context.Background(), &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser}}}, provider.Target{Model: "d"})
	require.NoError(t, err)
	require.Empty(t, up.Header.Get("api-key"))
	require.Equal(t, "Bearer eyJ", up.Header.Get("Authorization"))
}

func TestSigner(t *testing.T) {
	b, err := NewBackend(Config{BaseURL: "https://res.openai.azure.com", APIKey: "secret-key"})
	require.NoError(t, err)
	up := &provider.UpstreamRequest{}
	require.NoError(t, b.Signer().Sign(context.Background(), up))
	require.Equal(t, "secret-key", up.Header.Get("api-key"))
	require.NotContains(t, fmt.Sprint(b.Signer()), "secret-key")
}

func TestDecodeError(t *testing.T) {
	b, err := NewBackend(Config{BaseURL: "https://res.openai.azure.com"})
	require.NoError(t, err)
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   canonical.Error
	}{
		{"deployment not found", 404, nil, `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`,
			canonical.Error{Status: 404, Kind: canonical.ErrNotFound, Code: "model_not_found", ProviderType: "DeploymentNotFound", Message: "The API deployment for this resource does not exist."}},
		{"rate limit hint in message", 429, nil, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 6 seconds."}}`,
			canonical.Error{Status: 429, Kind: canonical.ErrRateLimit, ProviderType: "429", RetryAfterSeconds: 6, Message: "Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 6 seconds."}},
		{"rate limit header wins", 429, http.Header{"Retry-After-Ms": {"2500"}}, `{"error":{"code":"429","message":"Please retry after 6 seconds."}}`,
			canonical.Error{Status: 429, Kind: canonical.ErrRateLimit, ProviderType: "429", RetryAfterSeconds: 3, Message: "Please retry after 6 seconds."}},
		{"content filter", 400, nil, `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}`,
			canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Code: "content_filter", Param: "prompt", ProviderType: "content_filter", Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}},
		{"apim 401", 401, nil, `{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}`,
			canonical.Error{Status: 502, Kind: canonical.ErrUpstream, Code: "upstream_authentication_failed", ProviderType: "upstream_authentication_failed", Message: "the upstream provider rejected the gateway's credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, *b.DecodeError(tt.status, tt.header, []byte(tt.body)))
		})
	}
	require.Equal(t, 0, retryAfterFromMessage("retry after soon"))
	require.Equal(t, 0, retryAfterFromMessage("retry after 5 minutes"))
	require.Equal(t, 12, retryAfterFromMessage("Retry After 12 seconds"))
}

func TestRegister(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	require.Equal(t, []string{Kind}, r.Kinds())
	_, err := r.Build(provider.Settings{Name: "az", Kind: Kind})
	require.Error(t, err)
	_, err = r.Build(provider.Settings{Name: "az", Kind: Kind, BaseURL: "::"})
	require.Error(t, err)
	a, err := r.Build(provider.Settings{Name: "az", Kind: Kind, BaseURL: "https://res.openai.azure.com", APIKey: "k",
		Config: &configv1.Provider{Azure: &configv1.Azure{ApiVersion: "2024-06-01"}}})
	require.NoError(t, err)
	b := a.Backend.(*Backend)
	require.Equal(t, "2024-06-01", b.APIVersion())
	_, ok := a.Backend.(provider.Passthrough)
	require.True(t, ok)
	require.NotNil(t, a.Signer)
	a, err = r.Build(provider.Settings{Name: "az", Kind: Kind, BaseURL: "https://res.openai.azure.com"})
	require.NoError(t, err)
	require.Equal(t, DefaultAPIVersion, a.Backend.(*Backend).APIVersion())
}

func FuzzDecodeError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"code":"429","message":"Please retry after 6 seconds."}}`))
	f.Add(404, []byte(`{"error":{"code":"DeploymentNotFound","message":"x"}}`))
	f.Add(401, []byte(`{"statusCode":401,"message":"Unauthorized"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		b, err := NewBackend(Config{BaseURL: "https://res.openai.azure.com"})
		if err != nil {
			t.Fatal(err)
		}
		e := b.DecodeError(status, nil, body)
		if e == nil || e.Message == "" || e.RetryAfterSeconds < 0 {
			t.Fatalf("bad error %#v", e)
		}
	})
}
