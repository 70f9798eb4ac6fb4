package cohere

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/cohere/coheretest"
)

// benchChat is a ~2 KB chat with two tools and a tool round trip.
func benchChat() *canonical.Request {
	para := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 8)
	temp := 0.3
	return &canonical.Request{
		System: []canonical.Part{{Type: canonical.PartText, Text: "You are a helpful travel assistant. " + para}},
		Messages: []canonical.Message{
			{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: para + "What's the weather in Paris and the time in Tokyo?"}}},
			{Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{
				{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris","units":"metric"}`},
				{ID: "call_2", Name: "get_time", Arguments: `{"tz":"Asia/Tokyo"}`},
			}},
			{Role: canonical.RoleTool, ToolCallID: "call_1", Content: []canonical.Part{{Type: canonical.PartText, Text: `{"temp":18,"sky":"clear"}`}}},
			{Role: canonical.RoleTool, ToolCallID: "call_2", Content: []canonical.Part{{Type: canonical.PartText, Text: `{"time":"21:04"}`}}},
			{Role: canonical.RoleAssistant, Content: []canonical.Part{{Type: canonical.PartText, Text: "Paris is 18C and clear; it is 21:04 in Tokyo. " + para}}},
			{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "Thanks! And tomorrow? " + para}}},
		},
		Tools: []canonical.Tool{
			{Name: "get_weather", Description: "Get the current weather for a city", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"City name"},"units":{"type":"string","enum":["metric","imperial"]}},"required":["city"]}`)},
			{Name: "get_time", Description: "Get the local time in a time zone", Parameters: json.RawMessage(`{"type":"object","properties":{"tz":{"type":"string","description":"IANA time zone"}},"required":["tz"]}`)},
		},
		MaxTokens:   512,
		Temperature: &temp,
	}
}

func BenchmarkBuildChatRequest(b *testing.B) {
	be := NewBackend("", "sk")
	req := benchChat()
	up, _ := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "command-a-03-2025"})
	b.SetBytes(int64(len(up.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "command-a-03-2025"}); err != nil {
			b.Fatal(err)
		}
	}
}

// Per-chunk stream decode: each op feeds one SSE event (one network chunk).
func BenchmarkStreamDecodeChunk(b *testing.B) {
	body := string(coheretest.StreamBody(coheretest.Reply{Text: strings.Repeat("Streaming tokens one by one. ", 40)}, false))
	var chunks [][]byte
	for _, ev := range strings.SplitAfter(body, "\n\n") {
		if ev != "" {
			chunks = append(chunks, []byte(ev))
		}
	}
	b.SetBytes(int64(len(body) / len(chunks)))
	b.ReportAllocs()
	be := NewBackend("", "")
	d := be.NewChatStreamDecoder()
	evs := make([]canonical.StreamEvent, 0, 8)
	i := 0
	for b.Loop() {
		if i == len(chunks) {
			d, i = be.NewChatStreamDecoder(), 0
		}
		var err error
		if evs, err = d.Decode(evs[:0], chunks[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
