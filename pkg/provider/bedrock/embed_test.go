package bedrock

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
)

func TestEmbeddingRequests(t *testing.T) {
	e := NewConverseBackend("/p")
	tests := []struct {
		name  string
		model string
		req   canonical.EmbeddingRequest
		want  string
	}{
		{"titan v2", "amazon.titan-embed-text-v2:0", canonical.EmbeddingRequest{Input: []string{"hello"}, Dimensions: 256}, `{"inputText":"hello","dimensions":256,"normalize":true}`},
		{"titan v2 default dims", "amazon.titan-embed-text-v2:0", canonical.EmbeddingRequest{Input: []string{"hello"}}, `{"inputText":"hello","normalize":true}`},
		{"titan v1 takes inputText only", "amazon.titan-embed-text-v1", canonical.EmbeddingRequest{Input: []string{"hello"}, Dimensions: 256}, `{"inputText":"hello"}`},
		{"cohere default input type", "cohere.embed-english-v3", canonical.EmbeddingRequest{Input: []string{"a", "b"}}, `{"texts":["a","b"],"input_type":"search_document","embedding_types":["float"]}`},
		{"cohere v4 dims and query", "cohere.embed-v4:0", canonical.EmbeddingRequest{Input: []string{"q"}, InputType: "search_query", Dimensions: 512}, `{"texts":["q"],"input_type":"search_query","embedding_types":["float"],"output_dimension":512}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, err := e.BuildEmbeddingRequest(context.Background(), &tt.req, provider.Target{Model: tt.model})
			require.NoError(t, err)
			require.Equal(t, "/p/model/"+escapeLabel(tt.model)+"/invoke", up.Path)
			require.JSONEq(t, tt.want, string(up.Body))
		})
	}
	_, err := e.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"a", "b"}}, provider.Target{Model: "amazon.titan-embed-text-v2:0"})
	var ce *canonical.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "input", ce.Param)
	_, err = e.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{}, provider.Target{Model: "cohere.embed-v4:0"})
	require.ErrorAs(t, err, &ce)
}

func TestEmbeddingResponses(t *testing.T) {
	e := NewAnthropicBackend("", 0)
	tests := []struct {
		name   string
		body   string
		vecs   [][]float32
		tokens int
	}{
		{"titan", `{"embedding":[0.1,-0.2],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.1,-0.2]}}`, [][]float32{{0.1, -0.2}}, 3},
		{"cohere floats", `{"id":"x","embeddings":[[1,2],[3,4]],"texts":["a","b"],"response_type":"embeddings_floats"}`, [][]float32{{1, 2}, {3, 4}}, 0},
		{"cohere by type", `{"id":"x","embeddings":{"float":[[0.5]]},"texts":["a"],"response_type":"embeddings_by_type"}`, [][]float32{{0.5}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.DecodeEmbeddingResponse([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.vecs, r.Embeddings)
			require.Equal(t, tt.tokens, r.Usage.InputTokens)
		})
	}
	for _, bad := range []string{`nope`, `{}`, `{"embeddings":{"int8":[[1]]}}`, `{"embeddings":[["x"]]}`, `{"embeddings":{"float":"x"}}`, `{"embeddings":7}`} {
		_, err := e.DecodeEmbeddingResponse([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestEmbeddingsThroughMock(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	a := mockAdapter(t, srv, Kind)
	eb := a.Backend.(provider.EmbeddingBackend)
	for _, tc := range []struct {
		model string
		req   canonical.EmbeddingRequest
		n     int
		dims  int
	}{
		{"amazon.titan-embed-text-v2:0", canonical.EmbeddingRequest{Input: []string{"hello world"}, Dimensions: 256}, 1, 256},
		{"cohere.embed-multilingual-v3", canonical.EmbeddingRequest{Input: []string{"a", "b", "c"}}, 3, 1024},
	} {
		up, err := eb.BuildEmbeddingRequest(context.Background(), &tc.req, provider.Target{Model: tc.model})
		require.NoError(t, err)
		status, _, body := roundTrip(t, a, up)
		require.Equal(t, 200, status, string(body))
		resp, err := eb.DecodeEmbeddingResponse(body)
		require.NoError(t, err)
		require.Len(t, resp.Embeddings, tc.n)
		require.Len(t, resp.Embeddings[0], tc.dims)
	}
	require.Empty(t, srv.Violations())
}

func TestClaudeInvokeThroughMock(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	a := mockAdapter(t, srv, KindAnthropic)
	reply := bedrocktest.Reply{
		Reasoning: "Plan.", ReasoningSignature: "sig==",
		Text:      "Calling the tool now.",
		ToolCalls: []bedrocktest.ToolCall{{ID: "toolu_1", Name: "lookup", Input: `{"q":"bedrock event stream"}`}},
		Usage:     bedrocktest.Usage{InputTokens: 30, OutputTokens: 12, CacheReadInputTokens: 5},
		ChunkSize: 13,
	}
	req := simpleRequest("use the tool")
	req.Tools = []canonical.Tool{{Name: "lookup", Parameters: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}}

	srv.Enqueue(reply)
	up, err := a.Backend.BuildChatRequest(context.Background(), req, provider.Target{Model: "anthropic.claude-3-5-sonnet-20241022-v2:0"})
	require.NoError(t, err)
	status, _, body := roundTrip(t, a, up)
	require.Equal(t, 200, status, string(body))
	resp, err := a.Backend.DecodeChatResponse(body)
	require.NoError(t, err)
	require.Equal(t, canonical.FinishToolCalls, resp.Choices[0].FinishReason)
	require.Equal(t, `{"q":"bedrock event stream"}`, resp.Choices[0].Message.ToolCalls[0].Arguments)
	require.Equal(t, 35, resp.Usage.InputTokens)

	srv.Enqueue(reply)
	up, err = a.Backend.BuildChatRequest(context.Background(), req, provider.Target{Model: "anthropic.claude-3-5-sonnet-20241022-v2:0", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "application/json", up.Header.Get("X-Amzn-Bedrock-Accept"))
	status, _, body = roundTrip(t, a, up)
	require.Equal(t, 200, status, string(body))
	res := decodeParts(t, a.Backend.NewChatStreamDecoder(), body)
	require.Empty(t, res.FinishError)
	var text, args, thinking string
	for _, ev := range res.Events {
		switch ev.Type {
		case canonical.EventTextDelta:
			text += ev.Text
		case canonical.EventToolCallDelta:
			args += ev.ToolCall.Arguments
		case canonical.EventThinkingDelta:
			thinking += ev.Text
		}
	}
	require.Equal(t, "Calling the tool now.", text)
	require.Equal(t, "Plan.", thinking)
	require.JSONEq(t, `{"q":"bedrock event stream"}`, args)
	last := res.Events[len(res.Events)-2]
	require.Equal(t, canonical.EventUsage, last.Type)
	require.Equal(t, 35, last.Usage.InputTokens)
	require.Empty(t, srv.Violations())
}

// A multi-turn conversation with tools, images, thinking and cache markers must
// pass the mock's schema validation through both backends.
func TestComplexConversationAcceptedByMock(t *testing.T) {
	var fx requestFixture
	require.NoError(t, json.Unmarshal(readFile(t, "testdata/converse_request/tools.json"), &fx))
	for _, kind := range []string{Kind, KindAnthropic} {
		t.Run(kind, func(t *testing.T) {
			srv := bedrocktest.NewServer(t)
			a := mockAdapter(t, srv, kind)
			for _, stream := range []bool{false, true} {
				up, err := a.Backend.BuildChatRequest(context.Background(), &fx.Request, provider.Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0", Stream: stream})
				require.NoError(t, err)
				status, _, body := roundTrip(t, a, up)
				require.Equal(t, 200, status, string(body))
			}
			require.Empty(t, srv.Violations())
		})
	}
}
