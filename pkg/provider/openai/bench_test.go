package openai

import (
	"os"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func BenchmarkParseChatRequest(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeChatRequest(b *testing.B) {
	req, err := ParseChatRequest(benchBody())
	if err != nil {
		b.Fatal(err)
	}
	d := Dialect{MaxTokensField: "max_completion_tokens"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChatRequest(req, "gpt-4o", d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeChatResponse(b *testing.B) {
	raw, err := os.ReadFile("testdata/responses/openai_tools.json")
	if err != nil {
		b.Fatal(err)
	}
	resp, err := DecodeChatResponse(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChatResponse(resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChatResponse(b *testing.B) {
	raw, err := os.ReadFile("testdata/responses/openai_text.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChatResponse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk decodes one upstream content chunk and encodes it for the
// caller: the per-token cost of a translated OpenAI→OpenAI-shaped stream.
func BenchmarkStreamChunk(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	b.Run("decode", func(b *testing.B) {
		d := NewStreamDecoder()
		evs := make([]canonical.StreamEvent, 0, 4)
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if evs, err = d.Decode(evs[:0], chunk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		enc := NewChatStreamEncoder(&canonical.Request{Model: "gpt-4o-mini", IncludeUsage: true})
		ev := canonical.StreamEvent{Type: canonical.EventTextDelta, Text: " world"}
		out := make([]byte, 0, 512)
		enc.Encode(out, &canonical.StreamEvent{Type: canonical.EventStart, ID: "chatcmpl-123", Model: "gpt-4o-mini", Created: 1694268190})
		b.ReportAllocs()
		for b.Loop() {
			out = enc.Encode(out[:0], &ev)
		}
	})
	b.Run("decode+encode", func(b *testing.B) {
		d := NewStreamDecoder()
		enc := NewChatStreamEncoder(&canonical.Request{Model: "gpt-4o-mini", IncludeUsage: true})
		evs := make([]canonical.StreamEvent, 0, 4)
		out := make([]byte, 0, 512)
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if evs, err = d.Decode(evs[:0], chunk); err != nil {
				b.Fatal(err)
			}
			out = out[:0]
			for i := range evs {
				out = enc.Encode(out, &evs[i])
			}
		}
	})
}
