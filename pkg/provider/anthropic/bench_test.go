package anthropic

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/openai"
)

// benchChat is a ~2 KB conversation with two tools, the size of a typical agent turn.
func benchChat() *canonical.Request {
	text := func(s string) []canonical.Part { return []canonical.Part{{Type: canonical.PartText, Text: s}} }
	para := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 6)
	temp := 0.3
	return &canonical.Request{
		Model:       "claude-sonnet-4-5",
		MaxTokens:   1024,
		Temperature: &temp,
		System:      text("You are a helpful assistant that answers with care. " + para),
		Messages: []canonical.Message{
			{Role: canonical.RoleUser, Content: text("First question. " + para)},
			{Role: canonical.RoleAssistant, Content: text("Let me look that up."), ToolCalls: []canonical.ToolCall{
				{ID: "toolu_1", Name: "search", Arguments: `{"query":"fox behaviour","limit":5}`},
			}},
			{Role: canonical.RoleTool, ToolCallID: "toolu_1", Content: text("Result: " + para)},
			{Role: canonical.RoleAssistant, Content: text("Here is what I found. " + para)},
			{Role: canonical.RoleUser, Content: text("Thanks. And the dog? " + para)},
		},
		Tools: []canonical.Tool{
			{Name: "search", Description: "Search the web", Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"what to search"},"limit":{"type":"integer","minimum":1,"maximum":20}},"required":["query"]}`)},
			{Name: "fetch", Description: "Fetch a URL", Parameters: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string","format":"uri"}},"required":["url"]}`)},
		},
	}
}

func BenchmarkBuildChatRequest(b *testing.B) {
	be := newTestBackend(b)
	req := benchChat()
	up, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-sonnet-4-5"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(up.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-sonnet-4-5"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseChatRequest(b *testing.B) {
	up, err := newTestBackend(b).BuildChatRequest(context.Background(), benchChat(), provider.Target{Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	fe := NewFrontend()
	b.SetBytes(int64(len(up.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fe.ParseChatRequest(up.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChatResponse(b *testing.B) {
	body, err := os.ReadFile("testdata/response/tools_thinking.json")
	if err != nil {
		b.Fatal(err)
	}
	be := &Backend{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.DecodeChatResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamDecodeChunk measures one streamed text delta: the per-token cost.
func BenchmarkStreamDecodeChunk(b *testing.B) {
	chunk := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello, world\"}}\n\n")
	d := newStreamDecoder()
	evs, _ := d.Decode(nil, []byte("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"))
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		evs, _ = d.Decode(evs[:0], chunk)
	}
	if len(evs) != 1 {
		b.Fatalf("got %d events", len(evs))
	}
}

// BenchmarkStreamEncodeTextDelta measures rendering one text delta for the caller.
func BenchmarkStreamEncodeTextDelta(b *testing.B) {
	enc := NewFrontend().NewChatStreamEncoder(&canonical.Request{Model: "m"})
	out := enc.Encode(nil, &canonical.StreamEvent{Type: canonical.EventStart, ID: "x"})
	ev := &canonical.StreamEvent{Type: canonical.EventTextDelta, Text: "Hello, world"}
	b.ReportAllocs()
	for b.Loop() {
		out = enc.Encode(out[:0], ev)
	}
}

// BenchmarkTranslateFromOpenAI measures the request translation for an OpenAI caller
// routed to Anthropic (OpenAI parse plus Messages build) next to the passthrough
// rewrite of the same body, the baseline of the "within 3×" target.
func BenchmarkTranslateFromOpenAI(b *testing.B) {
	body, err := openai.EncodeChatRequest(benchChat(), "gpt-4o", openai.Dialect{})
	if err != nil {
		b.Fatal(err)
	}
	be := newTestBackend(b)
	b.Run("translate", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			req, err := openai.ParseChatRequest(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-sonnet-4-5"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("passthrough", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := openai.RewriteChatRequest(body, "gpt-4o-2024-08-06", false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
