package cohere

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/cohere/coheretest"
)

func mockAdapter(t *testing.T, srv *coheretest.Server) *provider.Adapter {
	t.Helper()
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{Name: "co", Kind: Kind, BaseURL: srv.URL, APIKey: srv.APIKey(), Headers: map[string]string{"X-Client-Name": "llm-router"}})
	require.NoError(t, err)
	require.Nil(t, a.Signer)
	return a
}

func send(t *testing.T, a *provider.Adapter, up *provider.UpstreamRequest) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(up.Method, a.Settings.BaseURL+up.Path, bytes.NewReader(up.Body))
	require.NoError(t, err)
	req.Header = up.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func userText(s string) canonical.Message {
	return canonical.Message{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: s}}}
}

func TestRegistryDefaults(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{Kind: Kind, APIKey: "k"})
	require.NoError(t, err)
	require.Equal(t, DefaultBaseURL, a.Settings.BaseURL)
	require.Equal(t, provider.SchemaCohere, a.Backend.Schema())
	_, err = r.Build(provider.Settings{Kind: Kind, BaseURL: "ftp://x"})
	require.Error(t, err)
	// Keyless (behind an authenticating proxy): no Authorization header.
	a, err = r.Build(provider.Settings{Kind: Kind, BaseURL: "http://proxy:8080/cohere/"})
	require.NoError(t, err)
	up, err := a.Backend.BuildChatRequest(context.Background(), &canonical.Request{Messages: []canonical.Message{userText("x")}}, provider.Target{Model: "m"})
	require.NoError(t, err)
	require.Empty(t, up.Header.Get("Authorization"))
	require.Equal(t, "/cohere/v2/chat", up.Path)
}

func TestChatThroughMock(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		opts := []coheretest.Option{}
		if crlf {
			opts = append(opts, coheretest.WithCRLF())
		}
		srv := coheretest.NewServer(t, opts...)
		a := mockAdapter(t, srv)
		req := &canonical.Request{
			System:   []canonical.Part{{Type: canonical.PartText, Text: "Be brief."}},
			Messages: []canonical.Message{userText("Weather in Rome?")},
			Tools:    []canonical.Tool{{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}},
		}
		reply := coheretest.Reply{ToolPlan: "Look up Rome.", ToolCalls: []coheretest.ToolCall{{ID: "w1", Name: "get_weather", Arguments: `{"city":"Rome"}`}}, Usage: coheretest.Usage{InputTokens: 30, OutputTokens: 9}, ChunkSize: 11}

		srv.Enqueue(reply)
		up, err := a.Backend.BuildChatRequest(context.Background(), req, provider.Target{Model: "command-a-03-2025"})
		require.NoError(t, err)
		require.Equal(t, "llm-router", up.Header.Get("X-Client-Name"))
		status, _, body := send(t, a, up)
		require.Equal(t, 200, status, string(body))
		resp, err := a.Backend.DecodeChatResponse(body)
		require.NoError(t, err)
		require.Equal(t, canonical.FinishToolCalls, resp.Choices[0].FinishReason)
		require.Equal(t, 30, resp.Usage.InputTokens, "billed units, not prompt-template tokens")

		// The next turn sends the tool call and its result back.
		req.Messages = append(req.Messages, resp.Choices[0].Message,
			canonical.Message{Role: canonical.RoleTool, ToolCallID: "w1", Content: []canonical.Part{{Type: canonical.PartText, Text: "24C"}}})
		srv.Enqueue(coheretest.Reply{Text: "It is 24C in Rome.", Thinking: "Easy.", ChunkSize: 7})
		up, err = a.Backend.BuildChatRequest(context.Background(), req, provider.Target{Model: "command-a-03-2025", Stream: true})
		require.NoError(t, err)
		status, h, body := send(t, a, up)
		require.Equal(t, 200, status, string(body))
		require.Equal(t, "text/event-stream", h.Get("Content-Type"))
		res := decodeParts(t, a.Backend.NewChatStreamDecoder(), body)
		require.Empty(t, res.FinishError)
		var text, thinking string
		for _, ev := range res.Events {
			if ev.Type == canonical.EventTextDelta {
				text += ev.Text
			}
			if ev.Type == canonical.EventThinkingDelta {
				thinking += ev.Text
			}
		}
		require.Equal(t, "It is 24C in Rome.", text)
		require.Equal(t, "Easy.", thinking)
		require.Equal(t, canonical.EventDone, res.Events[len(res.Events)-1].Type)
		require.Empty(t, srv.Violations())
	}
}

func TestStreamErrorThroughMock(t *testing.T) {
	srv := coheretest.NewServer(t)
	a := mockAdapter(t, srv)
	srv.Enqueue(coheretest.Reply{Text: "partial text", StreamError: "model crashed"})
	up, err := a.Backend.BuildChatRequest(context.Background(), &canonical.Request{Messages: []canonical.Message{userText("x")}}, provider.Target{Model: "m", Stream: true})
	require.NoError(t, err)
	_, _, body := send(t, a, up)
	res := decodeParts(t, a.Backend.NewChatStreamDecoder(), body)
	last := res.Events[len(res.Events)-1]
	require.Equal(t, canonical.EventError, last.Type)
	require.Equal(t, "model crashed", last.Err.Message)
}

func TestEmbeddings(t *testing.T) {
	srv := coheretest.NewServer(t)
	a := mockAdapter(t, srv)
	eb := a.Backend.(provider.EmbeddingBackend)
	up, err := eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"one two", "three"}, Dimensions: 512}, provider.Target{Model: "embed-v4.0"})
	require.NoError(t, err)
	require.Equal(t, "/v2/embed", up.Path)
	require.JSONEq(t, `{"model":"embed-v4.0","texts":["one two","three"],"input_type":"search_document","embedding_types":["float"],"output_dimension":512}`, string(up.Body))
	status, _, body := send(t, a, up)
	require.Equal(t, 200, status, string(body))
	resp, err := eb.DecodeEmbeddingResponse(body)
	require.NoError(t, err)
	require.Len(t, resp.Embeddings, 2)
	require.Len(t, resp.Embeddings[0], 512)
	require.Equal(t, 3, resp.Usage.InputTokens)

	up, err = eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"q"}, InputType: "search_query"}, provider.Target{Model: "embed-english-v3.0"})
	require.NoError(t, err)
	require.Contains(t, string(up.Body), `"input_type":"search_query"`)
	require.NotContains(t, string(up.Body), "output_dimension")

	_, err = eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{}, provider.Target{Model: "m"})
	require.Error(t, err)
	_, err = eb.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"x"}}, provider.Target{})
	require.Error(t, err)
	for _, bad := range []string{`x`, `{"embeddings":{}}`, `{"embeddings":{"float":"x"}}`} {
		_, err := eb.DecodeEmbeddingResponse([]byte(bad))
		require.Error(t, err, bad)
	}
	r, err := eb.DecodeEmbeddingResponse([]byte(`{"embeddings":{"float":[[1]]}}`))
	require.NoError(t, err)
	require.Zero(t, r.Usage.InputTokens)
	require.Empty(t, srv.Violations())
}

func TestDecodeErrorTable(t *testing.T) {
	tests := []struct {
		status     int
		body       string
		kind       canonical.ErrorKind
		wantStatus int
		code       string
		msg        string
	}{
		{400, `{"message":"invalid request: message must not be empty"}`, canonical.ErrInvalidRequest, 400, "", "invalid request: message must not be empty"},
		{400, `{"message":"too many tokens: total number of tokens in the prompt cannot exceed 128000"}`, canonical.ErrInvalidRequest, 400, "context_length_exceeded", ""},
		{422, `{"message":"unprocessable"}`, canonical.ErrInvalidRequest, 400, "", ""},
		{401, `{"message":"invalid api token"}`, canonical.ErrAuthentication, 401, "invalid_upstream_credentials", ""},
		{498, `{"message":"invalid token"}`, canonical.ErrAuthentication, 401, "invalid_upstream_credentials", ""},
		{402, `{"message":"Please add a payment method"}`, canonical.ErrUpstream, 502, "upstream_payment_required", ""},
		{403, `{"message":"forbidden"}`, canonical.ErrPermission, 403, "", ""},
		{404, `{"message":"model 'x' not found"}`, canonical.ErrNotFound, 404, "model_not_found", ""},
		{429, `{"message":"You are using a Trial key"}`, canonical.ErrRateLimit, 429, "rate_limit_exceeded", ""},
		{499, `{"message":"request cancelled"}`, canonical.ErrUpstream, 502, "request_cancelled", ""},
		{500, `{"message":"internal server error"}`, canonical.ErrUpstream, 502, "", ""},
		{501, `{"message":"not implemented"}`, canonical.ErrInvalidRequest, 400, "", ""},
		{503, `{"message":"service unavailable"}`, canonical.ErrUnavailable, 503, "", ""},
		{504, `{"message":"gateway timeout"}`, canonical.ErrUpstreamTimeout, 504, "", ""},
		{502, `<html>bad gateway</html>`, canonical.ErrUpstream, 502, "", "<html>bad gateway</html>"},
		{413, ``, canonical.ErrRequestTooLarge, 413, "", "Cohere returned HTTP 413"},
	}
	for _, tt := range tests {
		e := NewBackend("", "").DecodeError(tt.status, http.Header{}, []byte(tt.body))
		require.Equal(t, tt.kind, e.Kind, tt.status)
		require.Equal(t, tt.wantStatus, e.Status, tt.status)
		require.Equal(t, tt.code, e.Code, tt.status)
		if tt.msg != "" {
			require.Equal(t, tt.msg, e.Message)
		}
	}
	e := NewBackend("", "").DecodeError(429, http.Header{"Retry-After": {"3"}}, []byte(`{"message":"x"}`))
	require.Equal(t, 3, e.RetryAfterSeconds)
}

func TestTranslationRejects(t *testing.T) {
	text := canonical.Part{Type: canonical.PartText, Text: "hi"}
	user := func(parts ...canonical.Part) canonical.Message {
		return canonical.Message{Role: canonical.RoleUser, Content: parts}
	}
	tests := []struct {
		name  string
		req   canonical.Request
		t     provider.Target
		param string
	}{
		{"no model", canonical.Request{Messages: []canonical.Message{user(text)}}, provider.Target{}, "model"},
		{"n > 1", canonical.Request{N: 3, Messages: []canonical.Message{user(text)}}, provider.Target{Model: "m"}, "n"},
		{"no messages", canonical.Request{}, provider.Target{Model: "m"}, "messages"},
		{"non-text system", canonical.Request{System: []canonical.Part{{Type: canonical.PartImage}}, Messages: []canonical.Message{user(text)}}, provider.Target{Model: "m"}, "messages"},
		{"image without image", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage})}}, provider.Target{Model: "m"}, "messages[0].content[0]"},
		{"image without data", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{}})}}, provider.Target{Model: "m"}, "messages[0].content[0]"},
		{"unknown part", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: "audio"})}}, provider.Target{Model: "m"}, "messages[0].content[0]"},
		{"tool_result without result", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartToolResult})}}, provider.Target{Model: "m"}, "messages[0].content[0]"},
		{"image tool result", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool, ToolCallID: "1", Content: []canonical.Part{{Type: canonical.PartImage}}}}}, provider.Target{Model: "m"}, "messages[1].content[0]"},
		{"assistant image", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleAssistant, Content: []canonical.Part{{Type: canonical.PartImage}}}}}, provider.Target{Model: "m"}, "messages[1].content[0]"},
		{"bad tool args", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{{ID: "1", Name: "f", Arguments: "{"}}}}}, provider.Target{Model: "m"}, "messages[1].tool_calls[0].function.arguments"},
		{"bad role", canonical.Request{Messages: []canonical.Message{{Role: "narrator"}}}, provider.Target{Model: "m"}, "messages[0].role"},
		{"unnamed tool", canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{}}}, provider.Target{Model: "m"}, "tools[0].function.name"},
		{"named choice not a tool", canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f"}}, ToolChoice: &canonical.ToolChoice{Mode: canonical.ToolChoiceNamed, Name: "g"}}, provider.Target{Model: "m"}, "tool_choice"},
		{"unknown choice", canonical.Request{Messages: []canonical.Message{user(text)}, ToolChoice: &canonical.ToolChoice{Mode: "x"}}, provider.Target{Model: "m"}, "tool_choice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBackend("", "").BuildChatRequest(context.Background(), &tt.req, tt.t)
			var ce *canonical.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 400, ce.Status)
			require.Equal(t, tt.param, ce.Param)
		})
	}
}

func TestSmallMappings(t *testing.T) {
	// A choice without tools is dropped; system messages mid-conversation survive;
	// reasoning with only an effort enables thinking without a budget.
	req := &canonical.Request{
		Messages: []canonical.Message{
			{Role: canonical.RoleSystem, Content: []canonical.Part{{Type: canonical.PartText, Text: "late system"}, {Type: canonical.PartImage}}},
			{Role: canonical.RoleSystem},
			userText("hi"),
			{Role: canonical.RoleAssistant, Content: []canonical.Part{{Type: canonical.PartRedactedThinking}}},
			{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartThinking, Text: "x"}, {Type: canonical.PartText, Text: "again"}}},
		},
		ToolChoice:     &canonical.ToolChoice{Mode: canonical.ToolChoiceRequired},
		Reasoning:      &canonical.Reasoning{Effort: "high"},
		ResponseFormat: &canonical.ResponseFormat{Type: "text"},
	}
	up, err := NewBackend("", "k").BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
	require.NoError(t, err)
	require.JSONEq(t, `{"model":"m","messages":[
		{"role":"system","content":[{"type":"text","text":"late system"}]},
		{"role":"user","content":[{"type":"text","text":"hi"}]},
		{"role":"user","content":[{"type":"text","text":"again"}]}],
		"thinking":{"type":"enabled"}}`, string(up.Body))
	for reason, want := range map[string]canonical.FinishReason{"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls", "ERROR": "error", "ERROR_TOXIC": "content_filter", "NEW": "error"} {
		require.Equal(t, want, finishReason(reason), reason)
	}
	_, err = NewBackend("", "").DecodeChatResponse([]byte(`[`))
	require.Error(t, err)
}
