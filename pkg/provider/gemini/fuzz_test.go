package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Seeds live in testdata/fuzz/<FuzzName>/.

func FuzzDecodeChatResponse(f *testing.F) {
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"text":"x"},{"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP"}]}`))
	b := &Backend{}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := b.DecodeChatResponse(body)
		if err != nil {
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce), "errors are canonical: %v", err)
			return
		}
		require.NotEmpty(t, resp.Choices)
		for _, c := range resp.Choices {
			for _, tc := range c.Message.ToolCalls {
				require.True(t, json.Valid([]byte(tc.Arguments)))
				require.NotEmpty(t, tc.ID, "every tool call gets an id")
			}
		}
	})
}

// FuzzStreamDecoder: no panics, and the split point never changes the result.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n"), uint(9))
	f.Fuzz(func(t *testing.T, data []byte, split uint) {
		whole, errWhole := decodeAll(newStreamDecoder(), data)
		at := int(split % uint(len(data)+1))
		parts, errParts := decodeAll(newStreamDecoder(), data[:at], data[at:])
		require.Equal(t, errWhole == nil, errParts == nil, "split at %d changes the outcome", at)
		if errWhole == nil {
			require.Equal(t, whole, parts, "split at %d changes the events", at)
		}
	})
}

// FuzzConvertSchema: any JSON Schema converts without panicking into something the
// Gemini mock's schema rules would accept structurally (valid JSON object).
func FuzzConvertSchema(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"a":{"$ref":"#"}},"$defs":{}}`))
	f.Fuzz(func(t *testing.T, schema []byte) {
		out, err := convertSchema(schema)
		if err != nil || out == nil {
			return
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m))
		require.NotContains(t, m, "additionalProperties")
		require.NotContains(t, m, "$ref")
	})
}

func FuzzBuildChatRequest(f *testing.F) {
	f.Add("call_1__ts__CiQB-_90aG91Z2h0LXNpZw", `{"a":1}`, `{"x":2}`, []byte(`{"type":"object","properties":{"q":{"type":"string"}}}`))
	b := &Backend{}
	f.Fuzz(func(t *testing.T, id, args, result string, schema []byte) {
		req := &canonical.Request{
			Messages: []canonical.Message{
				{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "hi"}}},
				{Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{{ID: id, Name: "f", Arguments: args}}},
				{Role: canonical.RoleTool, ToolCallID: id, Content: []canonical.Part{{Type: canonical.PartText, Text: result}}},
			},
			Tools: []canonical.Tool{{Name: "f", Parameters: schema}},
		}
		up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "gemini-3-pro"})
		if err != nil {
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce), "%v", err)
			return
		}
		var gr GenerateContentRequest
		require.NoError(t, json.Unmarshal(up.Body, &gr))
		resp := gr.Contents[len(gr.Contents)-1].Parts[0].FunctionResponse
		require.NotNil(t, resp)
		var obj map[string]any
		require.NoError(t, json.Unmarshal(resp.Response, &obj), "function responses are always objects")
		require.NotEmpty(t, gr.Contents[1].Parts[0].ThoughtSignature, "Gemini 3 calls always carry a signature")
	})
}

func FuzzDecodeError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}}`), "")
	b := &Backend{}
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		e := b.DecodeError(status, http.Header{"Retry-After": {retry}}, body)
		require.NotNil(t, e)
		require.NotEmpty(t, e.Kind)
		require.GreaterOrEqual(t, e.RetryAfterSeconds, 0)
	})
}

func FuzzDecodeEmbeddingResponse(f *testing.F) {
	f.Add([]byte(`{"embeddings":[{"values":[0.1]}]}`), false)
	f.Add([]byte(`{"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":2}}}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, vertex bool) {
		b := &Backend{vertex: vertex}
		resp, err := b.DecodeEmbeddingResponse(body)
		if err == nil {
			require.GreaterOrEqual(t, resp.Usage.InputTokens, 0)
		}
	})
}
