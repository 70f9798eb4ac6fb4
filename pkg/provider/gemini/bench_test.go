package gemini

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// benchChat is a ~2 KB conversation with two tools, the size of a typical agent turn.
func benchChat() *canonical.Request {
	text := func(s string) []canonical.Part { return []canonical.Part{{Type: canonical.PartText, Text: s}} }
	para := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 6)
	temp := 0.3
	return &canonical.Request{
		MaxTokens:   1024,
		Temperature: &temp,
		System:      text("You are a helpful assistant that answers with care. " + para),
		Messages: []canonical.Message{
			{Role: canonical.RoleUser, Content: text("First question. " + para)},
			{Role: canonical.RoleAssistant, Content: text("Let me look that up."), ToolCalls: []canonical.ToolCall{
				{ID: "call_1", Name: "search", Arguments: `{"query":"fox behaviour","limit":5}`},
			}},
			{Role: canonical.RoleTool, ToolCallID: "call_1", Content: text("Result: " + para)},
			{Role: canonical.RoleAssistant, Content: text("Here is what I found. " + para)},
			{Role: canonical.RoleUser, Content: text("Thanks. And the dog? " + para)},
		},
		Tools: []canonical.Tool{
			{Name: "search", Description: "Search the web", Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"what to search"},"limit":{"type":"integer","minimum":1,"maximum":20}},"required":["query"],"additionalProperties":false}`)},
			{Name: "fetch", Description: "Fetch a URL", Parameters: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string","format":"uri"}},"required":["url"]}`)},
		},
	}
}

func BenchmarkBuildChatRequest(b *testing.B) {
	be := newTestBackend(b)
	req := benchChat()
	up, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "gemini-2.5-flash"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(up.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "gemini-2.5-flash"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChatResponse(b *testing.B) {
	body, err := os.ReadFile("testdata/response/tools.json")
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

// BenchmarkStreamDecodeChunk measures one streamed chunk, the per-token-batch cost.
func BenchmarkStreamDecodeChunk(b *testing.B) {
	chunk := []byte("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello, world\"}],\"role\": \"model\"}}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-s1\"}\r\n\r\n")
	d := newStreamDecoder()
	var evs []canonical.StreamEvent
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		evs, _ = d.Decode(evs[:0], chunk)
	}
	if len(evs) != 1 {
		b.Fatalf("got %d events", len(evs))
	}
}
