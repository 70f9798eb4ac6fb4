package openai

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func decodeString(t *testing.T, s string) ([]canonical.StreamEvent, error) {
	t.Helper()
	return decodeAll(t, []byte(s), whole)
}

func types(evs []canonical.StreamEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = typeName(e.Type)
	}
	return out
}

const chunkHead = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":`

func TestStreamDecoderEdgeCases(t *testing.T) {
	t.Run("no DONE after finish ends normally", func(t *testing.T) {
		evs, err := decodeString(t, chunkHead+`[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`+"\n\n")
		require.NoError(t, err)
		require.Equal(t, []string{"start", "text", "finish", "usage", "done"}, types(evs))
	})
	t.Run("DONE without trailing blank line", func(t *testing.T) {
		evs, err := decodeString(t, chunkHead+`[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`+"\n\ndata: [DONE]")
		require.NoError(t, err)
		require.Equal(t, []string{"start", "text", "done"}, types(evs))
	})
	t.Run("truncated stream", func(t *testing.T) {
		evs, err := decodeString(t, chunkHead+`[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`+"\n\n")
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Equal(t, []string{"start", "text"}, types(evs))
	})
	t.Run("cut mid event", func(t *testing.T) {
		_, err := decodeString(t, chunkHead+`[{"index":0,"delta":{"content":"a"`)
		require.Error(t, err)
	})
	t.Run("malformed chunk", func(t *testing.T) {
		d := NewStreamDecoder()
		_, err := d.Decode(nil, []byte("data: {nope}\n\n"))
		require.Error(t, err)
		// The decoder is finished: more input and Finish add nothing.
		evs, err := d.Decode(nil, []byte(chunkHead+`[]}`+"\n\n"))
		require.NoError(t, err)
		require.Empty(t, evs)
		evs, err = d.Finish(nil)
		require.NoError(t, err)
		require.Empty(t, evs)
	})
	t.Run("input after DONE ignored", func(t *testing.T) {
		evs, err := decodeString(t, "data: [DONE]\n\n"+chunkHead+`[{"index":0,"delta":{"content":"late"}}]}`+"\n\n")
		require.NoError(t, err)
		require.Equal(t, []string{"done"}, types(evs))
	})
	t.Run("error as string", func(t *testing.T) {
		evs, err := decodeString(t, `data: {"error":"Request failed"}`+"\n\n")
		require.NoError(t, err)
		require.Equal(t, []string{"error"}, types(evs))
		require.Equal(t, "Request failed", evs[0].Err.Message)
	})
	t.Run("rate limit inside stream", func(t *testing.T) {
		evs, err := decodeString(t, `data: {"error":{"message":"slow","type":"tokens","code":"rate_limit_exceeded"}}`+"\n\n")
		require.NoError(t, err)
		require.Equal(t, 429, evs[0].Err.Status)
		require.Equal(t, canonical.ErrRateLimit, evs[0].Err.Kind)
	})
	t.Run("tool call fragments without index and without id", func(t *testing.T) {
		evs, err := decodeString(t, strings.Join([]string{
			chunkHead + `[{"index":0,"delta":{"tool_calls":[{"id":"call_1","function":{"name":"f","arguments":"{\"a\""}}]}}]}`,
			chunkHead + `[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}`,
			chunkHead + `[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"name":"g"}}]}}]}`,
			chunkHead + `[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"{}"}}]},"finish_reason":"function_call"}]}`,
			"data: [DONE]", ""}, "\n\n"))
		require.NoError(t, err)
		require.Equal(t, []string{"start", "tool_start", "tool_delta", "tool_delta", "tool_start", "tool_delta", "finish", "done"}, types(evs))
		require.Equal(t, canonical.ToolCall{ID: "call_1", Name: "f", Arguments: ":1}"}, evs[3].ToolCall)
		require.Equal(t, 1, evs[4].ToolIndex, "canonical tool indexes are dense")
		require.Equal(t, "call_c1_0_1", evs[4].ToolCall.ID, "a missing id is generated")
		require.Equal(t, canonical.FinishToolCalls, evs[6].FinishReason)
		require.Equal(t, "function_call", evs[6].ProviderFinishReason)
	})
	t.Run("refusal and out of range choice", func(t *testing.T) {
		evs, err := decodeString(t, chunkHead+`[{"index":0,"delta":{"refusal":"no"}},{"index":100000,"delta":{"content":"x"}}]}`+"\n\ndata: [DONE]\n\n")
		require.NoError(t, err)
		require.Equal(t, []string{"start", "text", "done"}, types(evs))
		require.Equal(t, "no", evs[1].Text)
	})
	t.Run("usage without choices before any content", func(t *testing.T) {
		evs, err := decodeString(t, `data: {"choices":[],"id":"","usage":{"prompt_tokens":4,"completion_tokens":0,"total_tokens":4}}`+"\n\ndata: [DONE]\n\n")
		require.NoError(t, err)
		require.Equal(t, []string{"usage", "done"}, types(evs))
	})
	t.Run("reused choices do not leak fields", func(t *testing.T) {
		evs, err := decodeString(t, strings.Join([]string{
			chunkHead + `[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
			chunkHead + `[{"index":0,"delta":{"content":"b"}}]}`,
			"data: [DONE]", ""}, "\n\n"))
		require.NoError(t, err)
		require.Equal(t, []string{"start", "text", "text", "done"}, types(evs))
	})
	t.Run("many tool calls are bounded", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < maxToolCalls+10; i++ {
			b.WriteString(chunkHead + `[{"index":0,"delta":{"tool_calls":[{"index":` + strconv.Itoa(i) + `,"id":"c` + strconv.Itoa(i) + `","function":{"name":"f","arguments":"{}"}}]}}]}` + "\n\n")
		}
		b.WriteString("data: [DONE]\n\n")
		evs, err := decodeString(t, b.String())
		require.NoError(t, err)
		require.Len(t, evs, 2+2*maxToolCalls)
	})
}

func encodeEvents(req *canonical.Request, evs ...canonical.StreamEvent) string {
	enc := Frontend{}.NewChatStreamEncoder(req)
	var out []byte
	for i := range evs {
		out = enc.Encode(out, &evs[i])
	}
	return string(out)
}

func TestStreamEncoderEdgeCases(t *testing.T) {
	t.Run("without include_usage", func(t *testing.T) {
		out := encodeEvents(&canonical.Request{Model: "m"},
			canonical.StreamEvent{Type: canonical.EventStart, ID: "x", Created: 5},
			canonical.StreamEvent{Type: canonical.EventTextDelta, Text: "hi"},
			canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: canonical.FinishError},
			canonical.StreamEvent{Type: canonical.EventUsage, Usage: canonical.Usage{InputTokens: 1}},
			canonical.StreamEvent{Type: canonical.EventDone},
			canonical.StreamEvent{Type: canonical.EventTextDelta, Text: "after done"},
		)
		require.Equal(t, ""+
			`data: {"id":"x","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"+
			`data: {"id":"x","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null}]}`+"\n\n"+
			`data: {"id":"x","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`+"\n\n"+
			"data: [DONE]\n\n", out)
		require.NotContains(t, out, "usage")
	})
	t.Run("no start event and empty deltas", func(t *testing.T) {
		out := encodeEvents(nil,
			canonical.StreamEvent{Type: canonical.EventTextDelta, Index: 2, Text: ""},
			canonical.StreamEvent{Type: canonical.EventThinkingDelta, Signature: "sig"},
			canonical.StreamEvent{Type: canonical.EventToolCallDelta},
			canonical.StreamEvent{Type: canonical.EventType(99)},
		)
		require.Empty(t, out)
		require.Empty(t, encodeEvents(nil, canonical.StreamEvent{}))
		enc := NewChatStreamEncoder(nil)
		require.Empty(t, enc.Encode(nil, nil))
	})
	t.Run("error without details", func(t *testing.T) {
		out := encodeEvents(&canonical.Request{Model: "m", IncludeUsage: true},
			canonical.StreamEvent{Type: canonical.EventError},
			canonical.StreamEvent{Type: canonical.EventDone})
		require.Equal(t, `data: {"error":{"message":"upstream stream failed","type":"server_error","param":null,"code":"upstream_error"}}`+"\n\n", out)
	})
	t.Run("second choice gets its own role chunk", func(t *testing.T) {
		out := encodeEvents(&canonical.Request{Model: "m"},
			canonical.StreamEvent{Type: canonical.EventToolCallStart, Index: 1, ToolCall: canonical.ToolCall{ID: "c", Name: "f"}})
		require.Equal(t, 2, strings.Count(out, "data: "))
		require.Contains(t, out, `"index":1,"delta":{"role":"assistant"`)
	})
}

// TestStreamErrorIsOpenAIShaped checks the rule openai-go relies on: any chunk with a
// top-level "error" key is an error, so normal chunks must never contain one.
func TestStreamErrorIsOpenAIShaped(t *testing.T) {
	raw, err := os.ReadFile("testdata/streams/tools.encoded.sse")
	require.NoError(t, err)
	require.NotContains(t, string(raw), `"error"`)
}

func TestDecoderFinishErrors(t *testing.T) {
	d := NewStreamDecoder()
	_, err := d.Finish(nil)
	require.True(t, errors.Is(err, io.ErrUnexpectedEOF))
	_, err = d.Finish(nil)
	require.NoError(t, err, "a finished decoder stays quiet")
	d = NewStreamDecoder()
	_, err = d.Decode(nil, []byte("data: {bad"))
	require.NoError(t, err)
	_, err = d.Finish(nil)
	require.Error(t, err)
}
