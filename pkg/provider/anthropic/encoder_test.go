package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func encodeEvents(req *canonical.Request, evs []canonical.StreamEvent) []byte {
	enc := NewFrontend().NewChatStreamEncoder(req)
	var out []byte
	for i := range evs {
		out = enc.Encode(out, &evs[i])
	}
	return out
}

// sdkAccumulate parses SSE with the official SDK and accumulates the message.
func sdkAccumulate(t *testing.T, sse []byte) (anthropic.Message, error) {
	t.Helper()
	res := &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       io.NopCloser(bytes.NewReader(sse)),
	}
	stream := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
	defer func() { _ = stream.Close() }()
	var msg anthropic.Message
	for stream.Next() {
		require.NoError(t, msg.Accumulate(stream.Current()))
	}
	return msg, stream.Err()
}

func TestStreamEncoderGoldenText(t *testing.T) {
	out := encodeEvents(&canonical.Request{Model: "claude-x"}, []canonical.StreamEvent{
		{Type: canonical.EventStart, ID: "msg_1"},
		{Type: canonical.EventTextDelta, Text: "Hi \"there\"\n"},
		{Type: canonical.EventFinish, FinishReason: canonical.FinishStop},
		{Type: canonical.EventUsage, Usage: canonical.Usage{InputTokens: 10, OutputTokens: 2}},
		{Type: canonical.EventDone},
		{Type: canonical.EventTextDelta, Text: "after done is ignored"},
	})
	want := "event: message_start\n" +
		`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}` + "\n\n" +
		"event: content_block_start\n" +
		`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
		"event: content_block_delta\n" +
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"there\"\n"}}` + "\n\n" +
		"event: content_block_stop\n" +
		`data: {"type":"content_block_stop","index":0}` + "\n\n" +
		"event: message_delta\n" +
		`data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}` + "\n\n" +
		"event: message_stop\n" +
		`data: {"type":"message_stop"}` + "\n\n"
	require.Equal(t, want, string(out))
}

// TestStreamEncoderToolsThroughSDK encodes what an OpenAI backend would produce —
// thinking, text, two parallel tool calls whose argument deltas interleave — and checks
// that both our decoder and the official SDK read it back intact.
func TestStreamEncoderToolsThroughSDK(t *testing.T) {
	evs := []canonical.StreamEvent{
		{Type: canonical.EventThinkingDelta, Text: "plan"}, // before Start: start is synthesised
		{Type: canonical.EventThinkingDelta, Signature: "sig-1"},
		{Type: canonical.EventThinkingDelta, Text: "second thought"},
		{Type: canonical.EventTextDelta, Text: "Calling tools."},
		{Type: canonical.EventTextDelta, Index: 1, Text: "choice 1 is ignored"},
		{Type: canonical.EventToolCallStart, ToolIndex: 0, ToolCall: canonical.ToolCall{ID: "call_a", Name: "weather"}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 0, ToolCall: canonical.ToolCall{Arguments: `{"city":`}},
		{Type: canonical.EventToolCallStart, ToolIndex: 1, ToolCall: canonical.ToolCall{ID: "call_b", Name: "time", Arguments: `{"tz":`}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 0, ToolCall: canonical.ToolCall{Arguments: `"Rome"}`}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 1, ToolCall: canonical.ToolCall{Arguments: `"CET"}`}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 2, ToolCall: canonical.ToolCall{Arguments: `{}`}}, // no start
		{Type: canonical.EventFinish, FinishReason: canonical.FinishToolCalls},
		{Type: canonical.EventUsage, Usage: canonical.Usage{InputTokens: 50, CachedInputTokens: 40, OutputTokens: 30, ReasoningTokens: 9}},
		{Type: canonical.EventDone},
	}
	sse := encodeEvents(&canonical.Request{Model: "gpt-5"}, evs)

	got, err := decodeAll(newStreamDecoder(), sse)
	require.NoError(t, err)
	require.Equal(t, []canonical.StreamEvent{
		{Type: canonical.EventStart, ID: "msg_llmrouter", Model: "gpt-5"},
		{Type: canonical.EventThinkingDelta, Text: "plan"},
		{Type: canonical.EventThinkingDelta, Signature: "sig-1"},
		{Type: canonical.EventThinkingDelta, Text: "second thought"},
		{Type: canonical.EventTextDelta, Text: "Calling tools."},
		{Type: canonical.EventToolCallStart, ToolIndex: 0, ToolCall: canonical.ToolCall{ID: "call_a", Name: "weather"}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 0, ToolCall: canonical.ToolCall{Arguments: `{"city":`}},
		{Type: canonical.EventToolCallStart, ToolIndex: 1, ToolCall: canonical.ToolCall{ID: "call_b", Name: "time"}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 1, ToolCall: canonical.ToolCall{Arguments: `{"tz":`}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 0, ToolCall: canonical.ToolCall{Arguments: `"Rome"}`}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 1, ToolCall: canonical.ToolCall{Arguments: `"CET"}`}},
		{Type: canonical.EventToolCallStart, ToolIndex: 2, ToolCall: canonical.ToolCall{ID: "toolu_llmrouter_2"}},
		{Type: canonical.EventToolCallDelta, ToolIndex: 2, ToolCall: canonical.ToolCall{Arguments: `{}`}},
		{Type: canonical.EventFinish, FinishReason: canonical.FinishToolCalls, ProviderFinishReason: "tool_use"},
		{Type: canonical.EventUsage, Usage: canonical.Usage{InputTokens: 50, CachedInputTokens: 40, OutputTokens: 30, ReasoningTokens: 9}},
		{Type: canonical.EventDone},
	}, got)

	msg, err := sdkAccumulate(t, sse)
	require.NoError(t, err)
	require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
	require.Len(t, msg.Content, 6)
	require.Equal(t, "plan", msg.Content[0].AsThinking().Thinking)
	require.Equal(t, "sig-1", msg.Content[0].AsThinking().Signature)
	require.Equal(t, "second thought", msg.Content[1].AsThinking().Thinking)
	require.Equal(t, "Calling tools.", msg.Content[2].AsText().Text)
	require.JSONEq(t, `{"city":"Rome"}`, string(msg.Content[3].AsToolUse().Input))
	require.JSONEq(t, `{"tz":"CET"}`, string(msg.Content[4].AsToolUse().Input))
	require.Equal(t, "call_b", msg.Content[4].AsToolUse().ID)
	require.EqualValues(t, 10, msg.Usage.InputTokens)
	require.EqualValues(t, 40, msg.Usage.CacheReadInputTokens)
	require.EqualValues(t, 9, msg.Usage.OutputTokensDetails.ThinkingTokens)
}

func TestStreamEncoderErrorEvent(t *testing.T) {
	sse := encodeEvents(nil, []canonical.StreamEvent{
		{Type: canonical.EventStart, ID: "m", Model: "x"},
		{Type: canonical.EventTextDelta, Text: "par"},
		{Type: canonical.EventError, Err: &canonical.Error{Status: 503, Kind: canonical.ErrOverloaded, Message: "Overloaded"}},
		{Type: canonical.EventDone},
	})
	require.Contains(t, string(sse), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
	require.NotContains(t, string(sse), "message_stop")

	_, err := sdkAccumulate(t, sse)
	require.Error(t, err, "the SDK surfaces the in-stream error")
	require.Contains(t, err.Error(), "overloaded_error")

	got, err := decodeAll(newStreamDecoder(), sse)
	require.NoError(t, err)
	require.Equal(t, canonical.EventError, got[len(got)-1].Type)
	require.Equal(t, canonical.ErrOverloaded, got[len(got)-1].Err.Kind)
}

func TestStreamEncoderEdgeCases(t *testing.T) {
	// Done with nothing else: a complete empty message; nil event ignored.
	enc := NewFrontend().NewChatStreamEncoder(&canonical.Request{Model: "m"})
	out := enc.Encode(nil, nil)
	require.Empty(t, out)
	out = enc.Encode(out, &canonical.StreamEvent{Type: canonical.EventDone})
	msg, err := sdkAccumulate(t, out)
	require.NoError(t, err)
	require.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
	require.Empty(t, msg.Content)

	// Tool calls without a Finish event default to tool_use; a second start for the
	// same tool index keeps one block; provider reasons pass through.
	out = encodeEvents(nil, []canonical.StreamEvent{
		{Type: canonical.EventStart},
		{Type: canonical.EventToolCallStart, ToolIndex: 0, ToolCall: canonical.ToolCall{ID: "t", Name: "f"}},
		{Type: canonical.EventToolCallStart, ToolIndex: 0, ToolCall: canonical.ToolCall{ID: "t", Name: "f"}},
		{Type: canonical.EventToolCallDelta, Index: 1, ToolCall: canonical.ToolCall{Arguments: "{}"}},
		{Type: canonical.EventToolCallStart, Index: 1},
		{Type: canonical.EventFinish, Index: 1, FinishReason: canonical.FinishLength},
		{Type: canonical.EventThinkingDelta, Index: 1, Text: "x"},
		{Type: canonical.EventStart, ID: "ignored second start"},
		{Type: canonical.EventDone},
	})
	msg, err = sdkAccumulate(t, out)
	require.NoError(t, err)
	require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
	require.Len(t, msg.Content, 1)

	out = encodeEvents(nil, []canonical.StreamEvent{
		{Type: canonical.EventTextDelta, Text: "x"},
		{Type: canonical.EventFinish, FinishReason: canonical.FinishStop, ProviderFinishReason: "pause_turn"},
		{Type: canonical.EventDone},
	})
	require.Contains(t, string(out), `"stop_reason":"pause_turn"`)
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x01\x1f\t\r\n", "é€😀", "\u2028\u2029", "bad \xff utf8", "<tag>&amp;"} {
		got := appendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		want := s
		if !utf8.ValidString(s) {
			want = string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
		}
		require.Equal(t, want, back)
	}
}
