package cohere

import (
	"bytes"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

func decodeForFuzz(t *testing.T, d provider.StreamDecoder, parts ...[]byte) []canonical.StreamEvent {
	var evs []canonical.StreamEvent
	var err error
	for _, p := range parts {
		if evs, err = d.Decode(evs, p); err != nil {
			t.Fatalf("Decode returned %v", err)
		}
	}
	evs, _ = d.Finish(evs)
	return evs
}

// FuzzStream checks the SSE stream decoder never panics or returns a Decode error,
// gives the same events however the input is split, and treats LF and CRLF alike.
func FuzzStream(f *testing.F) {
	for _, name := range []string{"text", "tools", "finish_error", "thinking_no_final_blank"} {
		f.Add(readFile(f, "testdata/stream/"+name+".sse"), uint16(50))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		newDecoder := NewBackend("", "").NewChatStreamDecoder
		whole := decodeForFuzz(t, newDecoder(), data)
		i := int(cut) % (len(data) + 1)
		split := decodeForFuzz(t, newDecoder(), data[:i], data[i:])
		if len(whole) != len(split) {
			t.Fatalf("split at %d changed the event count", i)
		}
		for k := range whole {
			if whole[k].Type != split[k].Type || whole[k].Text != split[k].Text || whole[k].ToolCall != split[k].ToolCall {
				t.Fatalf("split at %d changed event %d", i, k)
			}
		}
		if !bytes.Contains(data, []byte("\r")) {
			crlf := decodeForFuzz(t, newDecoder(), bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
			if len(crlf) != len(whole) {
				t.Fatalf("CRLF changed the event count")
			}
		}
		for k, ev := range whole {
			if ev.Type == canonical.EventError && (ev.Err == nil || k != len(whole)-1) {
				t.Fatalf("an error event must carry Err and end the stream")
			}
		}
	})
}

// FuzzDecodeResponses: body decoders may fail but must not panic.
func FuzzDecodeResponses(f *testing.F) {
	f.Add(readFile(f, "testdata/chat_response/tool_call.body.json"))
	f.Add([]byte(`{"embeddings":{"float":[[1,2]]},"meta":{"billed_units":{"input_tokens":2}}}`))
	f.Add([]byte(`{"message":"invalid api token"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := NewBackend("", "")
		_, _ = b.DecodeChatResponse(body)
		_, _ = b.DecodeEmbeddingResponse(body)
		if e := b.DecodeError(500, nil, body); e == nil || e.Status == 0 {
			t.Fatal("DecodeError must always return an error with a status")
		}
	})
}
