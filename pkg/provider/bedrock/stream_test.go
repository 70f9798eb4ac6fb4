package bedrock

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/eventstream"
	"github.com/llm-router/llm-router/pkg/provider"
)

// frameFixture is one frame of a testdata/*_stream/*.frames.json file.
type frameFixture struct {
	Event        string          `json:"event"`
	Payload      json.RawMessage `json:"payload"`
	RawPayload   *string         `json:"raw_payload"`
	Chunk        json.RawMessage `json:"chunk"`
	Exception    string          `json:"exception"`
	ErrorCode    string          `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
	Corrupt      bool            `json:"corrupt"`
	Cut          int             `json:"cut"`
}

func encodeFrames(t testing.TB, fixture []byte) []byte {
	t.Helper()
	var frames []frameFixture
	require.NoError(t, json.Unmarshal(fixture, &frames))
	var out []byte
	for _, f := range frames {
		var headers []eventstream.Header
		payload := []byte(f.Payload)
		switch {
		case f.Chunk != nil:
			b, err := json.Marshal(map[string]any{"bytes": []byte(f.Chunk), "p": "abcdefgh"})
			require.NoError(t, err)
			payload = b
			headers = eventHeaders("chunk")
		case f.Exception != "":
			headers = []eventstream.Header{
				eventstream.StringHeader(":exception-type", f.Exception),
				eventstream.StringHeader(":content-type", "application/json"),
				eventstream.StringHeader(":message-type", "exception"),
			}
		case f.ErrorCode != "":
			headers = []eventstream.Header{
				eventstream.StringHeader(":error-code", f.ErrorCode),
				eventstream.StringHeader(":error-message", f.ErrorMessage),
				eventstream.StringHeader(":message-type", "error"),
			}
			payload = nil
		default:
			headers = eventHeaders(f.Event)
		}
		if f.RawPayload != nil {
			payload = []byte(*f.RawPayload)
		}
		frame, err := eventstream.AppendMessage(nil, headers, payload)
		require.NoError(t, err)
		if f.Corrupt {
			frame[len(frame)-6] ^= 0x20
		}
		frame = frame[:len(frame)-f.Cut]
		out = append(out, frame...)
	}
	return out
}

func eventHeaders(eventType string) []eventstream.Header {
	return []eventstream.Header{
		eventstream.StringHeader(":event-type", eventType),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}
}

type streamResult struct {
	Events      []canonical.StreamEvent `json:"events"`
	FinishError string                  `json:"finish_error"`
}

func decodeParts(t testing.TB, d provider.StreamDecoder, parts ...[]byte) streamResult {
	var res streamResult
	var err error
	for _, p := range parts {
		res.Events, err = d.Decode(res.Events, p)
		require.NoError(t, err, "Decode reports stream faults as EventError, not as errors")
	}
	res.Events, err = d.Finish(res.Events)
	if err != nil {
		res.FinishError = err.Error()
	}
	return res
}

// runStreamGoldens decodes every fixture whole, split at every byte boundary and
// byte by byte; all must give the golden result.
func runStreamGoldens(t *testing.T, dir string, newDecoder func() provider.StreamDecoder) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.frames.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body := encodeFrames(t, readFile(t, f))
			whole := decodeParts(t, newDecoder(), body)
			golden(t, strings.TrimSuffix(f, ".frames.json")+".want.json", []byte(toJSON(t, whole)))
			want := toJSON(t, whole)
			for i := 0; i <= len(body); i++ {
				got := decodeParts(t, newDecoder(), body[:i], body[i:])
				if toJSON(t, got) != want {
					require.Equal(t, want, toJSON(t, got), "split at %d", i)
				}
			}
			parts := make([][]byte, len(body))
			for i := range body {
				parts[i] = body[i : i+1]
			}
			require.Equal(t, want, toJSON(t, decodeParts(t, newDecoder(), parts...)), "byte by byte")
		})
	}
}

func TestConverseStreamGolden(t *testing.T) {
	runStreamGoldens(t, "converse_stream", NewConverseBackend("").NewChatStreamDecoder)
}

func TestAnthropicStreamGolden(t *testing.T) {
	runStreamGoldens(t, "anthropic_stream", NewAnthropicBackend("", 0).NewChatStreamDecoder)
}

func TestStreamDecoderIgnoresInputAfterEnd(t *testing.T) {
	body := encodeFrames(t, readFile(t, "testdata/converse_stream/text_usage.frames.json"))
	d := NewConverseBackend("").NewChatStreamDecoder()
	evs, err := d.Decode(nil, body)
	require.NoError(t, err)
	n := len(evs)
	evs, err = d.Decode(evs, body)
	require.NoError(t, err)
	require.Len(t, evs, n)
	evs, err = d.Finish(evs)
	require.NoError(t, err)
	require.Len(t, evs, n)
}
