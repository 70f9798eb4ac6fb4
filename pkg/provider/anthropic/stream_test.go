package anthropic

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// decodeAll feeds chunks to a fresh decoder and finishes it.
func decodeAll(dec provider.StreamDecoder, chunks ...[]byte) ([]canonical.StreamEvent, error) {
	var evs []canonical.StreamEvent
	for _, c := range chunks {
		var err error
		if evs, err = dec.Decode(evs, c); err != nil {
			return evs, err
		}
	}
	return dec.Finish(evs)
}

func TestStreamDecoderGolden(t *testing.T) {
	b := newTestBackend(t)
	for _, name := range goldenCases(t, "testdata/stream", ".sse") {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/stream", name+".sse"))
			require.NoError(t, err)
			var want []canonical.StreamEvent
			readInto(t, filepath.Join("testdata/stream", name+".events.json"), &want)

			got, err := decodeAll(b.NewChatStreamDecoder(), data)
			require.NoError(t, err)
			require.Equal(t, want, got)

			crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			for _, input := range [][]byte{data, crlf} {
				// Every split point.
				for i := 0; i <= len(input); i++ {
					got, err := decodeAll(b.NewChatStreamDecoder(), input[:i], input[i:])
					require.NoError(t, err, "split at %d", i)
					require.Equal(t, want, got, "split at %d", i)
				}
				// Byte by byte.
				chunks := make([][]byte, len(input))
				for i := range input {
					chunks[i] = input[i : i+1]
				}
				got, err := decodeAll(b.NewChatStreamDecoder(), chunks...)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
		})
	}
}

func TestStreamDecoderTruncatedAtEveryPoint(t *testing.T) {
	data, err := os.ReadFile("testdata/stream/tools.sse")
	require.NoError(t, err)
	end := bytes.LastIndex(data, []byte(`"message_stop"}`)) + len(`"message_stop"`)
	for i := 0; i < end; i++ {
		_, err := decodeAll(newStreamDecoder(), data[:i])
		require.Error(t, err, "cut at %d must not look complete", i)
	}
	_, err = decodeAll(newStreamDecoder(), data[:end+1]) // closing brace, no newline
	require.NoError(t, err)
	_, err = decodeAll(newStreamDecoder(), []byte{})
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestStreamDecoderMalformed(t *testing.T) {
	cases := map[string]string{
		"bad json":                "event: message_start\ndata: {nope\n\n",
		"start without message":   "data: {\"type\":\"message_start\"}\n\n",
		"block without block":     "data: {\"type\":\"content_block_start\",\"index\":0}\n\n",
		"delta without delta":     "data: {\"type\":\"content_block_delta\",\"index\":0}\n\n",
		"json delta unknown":      "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
		"text delta to tool":      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		"flushed malformed event": "data: {\"type\":\"message_start\"}",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeAll(newStreamDecoder(), []byte(in))
			require.Error(t, err)
		})
	}
}

func TestStreamDecoderLenientShapes(t *testing.T) {
	// Event name only in the SSE field, whole tool input in content_block_start, text
	// in the block start, message_stop without message_delta, unknown events, error
	// without detail.
	in := "event: message_start\ndata: {\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n" +
		"data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"pre\"}}\n\n" +
		"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}\n\n" +
		"data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"}}\n\n" +
		"data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"a\":1}}}\n\n" +
		"data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"s1\",\"name\":\"web_search\",\"input\":{}}}\n\n" +
		"data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":1}\"}}\n\n" +
		"data: {\"type\":\"future_event\"}\n\n" +
		"data: {\"type\":\"message_stop\"}\n\n"
	got, err := decodeAll(newStreamDecoder(), []byte(in))
	require.NoError(t, err)
	require.Equal(t, []canonical.StreamEvent{
		{Type: canonical.EventStart, ID: "m", Model: "x"},
		{Type: canonical.EventTextDelta, Text: "pre"},
		{Type: canonical.EventThinkingDelta, Text: "t", Signature: "s"},
		{Type: canonical.EventToolCallStart, ToolCall: canonical.ToolCall{ID: "t1", Name: "f"}},
		{Type: canonical.EventToolCallDelta, ToolCall: canonical.ToolCall{Arguments: `{"a":1}`}},
		{Type: canonical.EventFinish, FinishReason: canonical.FinishToolCalls},
		{Type: canonical.EventUsage, Usage: canonical.Usage{InputTokens: 1, OutputTokens: 1}},
		{Type: canonical.EventDone},
	}, got)

	got, err = decodeAll(newStreamDecoder(), []byte("event: error\ndata: {}\n\n"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, canonical.ErrUpstream, got[0].Err.Kind)
	require.Equal(t, 502, got[0].Err.Status)
}
