package mock_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/azure"
	"github.com/llm-router/llm-router/pkg/provider/mock"
	"github.com/llm-router/llm-router/pkg/provider/openai"
	"github.com/llm-router/llm-router/pkg/tokens"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// These tests drive the openai and azure backends against the mock over real HTTP,
// the way the gateway does: build the request, send it, decode the answer.

type upstream struct {
	t      *testing.T
	srv    *httptest.Server
	seen   *http.Request
	body   []byte
	counts *tokens.Counter
}

func newUpstream(t *testing.T, apiKey string) *upstream {
	u := &upstream{t: t, counts: tokens.NewCounter()}
	u.srv = httptest.NewServer(mock.NewServer(mock.Options{Counter: u.counts, APIKey: apiKey, OnRequest: func(r *http.Request, b []byte) {
		u.seen, u.body = r, b
	}}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) send(up *provider.UpstreamRequest) (*http.Response, []byte) {
	u.t.Helper()
	req, err := http.NewRequest(up.Method, u.srv.URL+up.Path, bytes.NewReader(up.Body))
	require.NoError(u.t, err)
	req.Header = up.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(u.t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(u.t, err)
	return resp, b
}

func adapter(t *testing.T, kind string, s provider.Settings) *provider.Adapter {
	t.Helper()
	r := provider.NewRegistry()
	openai.Register(r)
	mock.Register(r)
	azure.Register(r)
	s.Kind = kind
	a, err := r.Build(s)
	require.NoError(t, err)
	return a
}

func userRequest(text string) *canonical.Request {
	return &canonical.Request{Model: "public-name", Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: text}}}}}
}

// decodeStream feeds body to the decoder in 7-byte pieces.
func decodeStream(t *testing.T, d provider.StreamDecoder, body []byte) []canonical.StreamEvent {
	t.Helper()
	var evs []canonical.StreamEvent
	var err error
	for i := 0; i < len(body); i += 7 {
		evs, err = d.Decode(evs, body[i:min(i+7, len(body))])
		require.NoError(t, err)
	}
	evs, err = d.Finish(evs)
	require.NoError(t, err)
	return evs
}

func TestBackendAgainstMock(t *testing.T) {
	u := newUpstream(t, "sk-upstream")
	a := adapter(t, "mock", provider.Settings{Name: "m", BaseURL: u.srv.URL, APIKey: "sk-upstream"})
	ctx := context.Background()

	up, err := a.Backend.BuildChatRequest(ctx, userRequest("hello mock"), provider.Target{Model: "mock-gpt"})
	require.NoError(t, err)
	resp, body := u.send(up)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	require.Equal(t, "Bearer sk-upstream", u.seen.Header.Get("Authorization"))
	out, err := a.Backend.DecodeChatResponse(body)
	require.NoError(t, err)
	require.Equal(t, "mock-gpt", out.Model)
	require.Equal(t, "hello mock", out.Choices[0].Message.Content[0].Text)
	require.Equal(t, u.counts.CountText("mock-gpt", "hello mock"), out.Usage.OutputTokens)

	// Streams always ask for usage, so the decoder always reports it.
	req := userRequest("call get_weather please")
	req.Tools = []canonical.Tool{{Name: "get_weather"}}
	up, err = a.Backend.BuildChatRequest(ctx, req, provider.Target{Model: "mock-gpt", Stream: true})
	require.NoError(t, err)
	_, body = u.send(up)
	evs := decodeStream(t, a.Backend.NewChatStreamDecoder(), body)
	var args string
	var kinds []canonical.EventType
	for _, e := range evs {
		kinds = append(kinds, e.Type)
		if e.Type == canonical.EventToolCallDelta {
			args += e.ToolCall.Arguments
			require.Equal(t, "get_weather", e.ToolCall.Name)
		}
	}
	require.JSONEq(t, `{"text":"call get_weather please"}`, args)
	require.Equal(t, canonical.EventStart, kinds[0])
	require.Equal(t, []canonical.EventType{canonical.EventFinish, canonical.EventUsage, canonical.EventDone}, kinds[len(kinds)-3:])
	require.Equal(t, canonical.FinishToolCalls, evs[len(evs)-3].FinishReason)
	require.Positive(t, evs[len(evs)-2].Usage.InputTokens)

	// Errors keep their retry hint; errors inside a stream become EventError.
	up, err = a.Backend.BuildChatRequest(ctx, userRequest("mock:error 429"), provider.Target{Model: "mock-gpt"})
	require.NoError(t, err)
	resp, body = u.send(up)
	ce := a.Backend.DecodeError(resp.StatusCode, resp.Header, body)
	require.Equal(t, canonical.ErrRateLimit, ce.Kind)
	require.Equal(t, 7, ce.RetryAfterSeconds)

	up, err = a.Backend.BuildChatRequest(ctx, userRequest("mock:stream-error"), provider.Target{Model: "mock-gpt", Stream: true})
	require.NoError(t, err)
	_, body = u.send(up)
	d := a.Backend.NewChatStreamDecoder()
	evs, err = d.Decode(nil, body)
	require.NoError(t, err)
	require.Equal(t, canonical.EventError, evs[len(evs)-1].Type)
	evs, err = d.Finish(nil)
	require.NoError(t, err)
	require.Empty(t, evs)

	// A wrong upstream key is the gateway's problem, not the caller's.
	bad := adapter(t, "mock", provider.Settings{Name: "m", BaseURL: u.srv.URL, APIKey: "wrong"})
	up, err = bad.Backend.BuildChatRequest(ctx, userRequest("x"), provider.Target{Model: "mock-gpt"})
	require.NoError(t, err)
	resp, body = u.send(up)
	require.Equal(t, 401, resp.StatusCode)
	ce = bad.Backend.DecodeError(resp.StatusCode, resp.Header, body)
	require.Equal(t, 502, ce.Status)
}

func TestPassthroughAgainstMock(t *testing.T) {
	u := newUpstream(t, "")
	a := adapter(t, "mock", provider.Settings{Name: "m", BaseURL: u.srv.URL})
	pt := a.Backend.(provider.Passthrough)
	caller := []byte(`{"model":"public","stream":true,"messages":[{"role":"user","content":"pass me through"}]}`)
	for _, callerWants := range []bool{false, true} {
		body := caller
		if callerWants {
			body = []byte(`{"model":"public","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"pass me through"}]}`)
		}
		out, wants, err := pt.RewriteChatRequest(body, "mock-gpt", true)
		require.NoError(t, err)
		require.Equal(t, callerWants, wants)
		b := a.Backend.(interface {
			UpstreamPath(provider.Operation, provider.Target) string
		})
		up := &provider.UpstreamRequest{Method: http.MethodPost, Path: b.UpstreamPath(provider.OpChat, provider.Target{Model: "mock-gpt"}), Header: http.Header{"Content-Type": {"application/json"}}, Body: out}
		require.NoError(t, a.Signer.Sign(context.Background(), up))
		_, raw := u.send(up)
		require.Contains(t, string(u.body), `"model":"mock-gpt"`)
		require.Contains(t, string(raw), `"choices":[],"usage":{`, "upstream sent usage")

		scan := pt.NewUsageScanner(true, !wants)
		var forwarded []byte
		for i := 0; i < len(raw); i += 5 {
			end := min(i+5, len(raw))
			forwarded = append(forwarded, scan.Scan(raw[i:end], end == len(raw))...)
		}
		require.Equal(t, u.counts.CountText("mock-gpt", "pass me through"), scan.Usage().OutputTokens)
		require.Positive(t, scan.Usage().InputTokens)
		require.Equal(t, callerWants, bytes.Contains(forwarded, []byte(`"choices":[],"usage":{`)))
		require.True(t, bytes.HasSuffix(forwarded, []byte("data: [DONE]\n\n")))
	}
}

func TestEmbeddingsAgainstMock(t *testing.T) {
	u := newUpstream(t, "")
	a := adapter(t, "mock", provider.Settings{Name: "m", BaseURL: u.srv.URL + "/v1"})
	eb := a.Backend.(provider.EmbeddingBackend)
	up, err := eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"a", "b"}, Dimensions: 4, EncodingFormat: "base64"}, provider.Target{Model: "mock-embedding"})
	require.NoError(t, err)
	require.Equal(t, "/v1/embeddings", up.Path)
	_, body := u.send(up)
	resp, err := eb.DecodeEmbeddingResponse(body)
	require.NoError(t, err)
	require.Len(t, resp.Embeddings, 2)
	require.Len(t, resp.Embeddings[1], 4)
	require.Equal(t, u.counts.EstimateText("mock-embedding", []string{"a", "b"}), resp.Usage.InputTokens)
}

func TestAzureAgainstMock(t *testing.T) {
	u := newUpstream(t, "azure-key")
	a := adapter(t, "azure-openai", provider.Settings{Name: "az", BaseURL: u.srv.URL, APIKey: "azure-key",
		Config: &configv1.Provider{Azure: &configv1.Azure{ApiVersion: "2025-01-01-preview"}}})
	up, err := a.Backend.BuildChatRequest(context.Background(), userRequest("hi azure"), provider.Target{Model: "gpt4o-prod", Stream: true})
	require.NoError(t, err)
	resp, body := u.send(up)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	require.Equal(t, "/openai/deployments/gpt4o-prod/chat/completions", u.seen.URL.Path)
	require.Equal(t, "2025-01-01-preview", u.seen.URL.Query().Get("api-version"))
	require.Equal(t, "azure-key", u.seen.Header.Get("api-key"))
	require.Empty(t, u.seen.Header.Get("Authorization"))
	evs := decodeStream(t, a.Backend.NewChatStreamDecoder(), body)
	require.Equal(t, canonical.EventDone, evs[len(evs)-1].Type)

	eb := a.Backend.(provider.EmbeddingBackend)
	up, err = eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"x"}}, provider.Target{Model: "emb"})
	require.NoError(t, err)
	resp, body = u.send(up)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	require.Equal(t, "/openai/deployments/emb/embeddings", u.seen.URL.Path)
}
