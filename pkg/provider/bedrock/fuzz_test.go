package bedrock

import (
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// fuzzStream checks a stream decoder never panics, never returns a Decode error
// (faults are EventError events) and gives the same events however input is split.
func fuzzStream(t *testing.T, newDecoder func() provider.StreamDecoder, data []byte, cut uint16) {
	whole := decodeForFuzz(t, newDecoder(), data)
	i := int(cut) % (len(data) + 1)
	split := decodeForFuzz(t, newDecoder(), data[:i], data[i:])
	if len(whole) != len(split) {
		t.Fatalf("split at %d changed the event count: %d vs %d", i, len(whole), len(split))
	}
	for k := range whole {
		if whole[k].Type != split[k].Type || whole[k].Text != split[k].Text || whole[k].ToolCall != split[k].ToolCall {
			t.Fatalf("split at %d changed event %d", i, k)
		}
	}
	for k, ev := range whole {
		if ev.Type == canonical.EventError && (ev.Err == nil || k != len(whole)-1) {
			t.Fatalf("an error event must carry Err and end the stream")
		}
	}
}

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

func FuzzConverseStream(f *testing.F) {
	for _, name := range []string{"text_usage", "tools_reasoning", "throttled"} {
		f.Add(encodeFrames(f, readFile(f, "testdata/converse_stream/"+name+".frames.json")), uint16(37))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		fuzzStream(t, NewConverseBackend("").NewChatStreamDecoder, data, cut)
	})
}

func FuzzAnthropicStream(f *testing.F) {
	for _, name := range []string{"tools_thinking", "overloaded_event"} {
		f.Add(encodeFrames(f, readFile(f, "testdata/anthropic_stream/"+name+".frames.json")), uint16(101))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		fuzzStream(t, NewAnthropicBackend("", 0).NewChatStreamDecoder, data, cut)
	})
}

// FuzzDecodeResponses feeds arbitrary bodies to every body decoder of the package:
// they may fail but must not panic.
func FuzzDecodeResponses(f *testing.F) {
	f.Add(readFile(f, "testdata/converse_response/tools_reasoning.body.json"))
	f.Add(readFile(f, "testdata/anthropic_response/tool_use.body.json"))
	f.Add([]byte(`{"embeddings":{"float":[[1,2]]}}`))
	f.Add([]byte(`{"message":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, a := NewConverseBackend(""), NewAnthropicBackend("", 0)
		_, _ = c.DecodeChatResponse(body)
		_, _ = a.DecodeChatResponse(body)
		_, _ = c.DecodeEmbeddingResponse(body)
		if e := c.DecodeError(400, nil, body); e == nil || e.Status == 0 {
			t.Fatal("DecodeError must always return an error with a status")
		}
	})
}
