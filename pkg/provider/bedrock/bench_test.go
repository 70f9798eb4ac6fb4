package bedrock

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
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

func BenchmarkBuildConverseRequest(b *testing.B) {
	be := NewConverseBackend("")
	req := benchChat()
	up, _ := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"})
	b.SetBytes(int64(len(up.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildAnthropicRequest(b *testing.B) {
	be := NewAnthropicBackend("", 0)
	req := benchChat()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.BuildChatRequest(context.Background(), req, provider.Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFrames is a realistic text stream: one frame per text delta.
func benchFrames(anthropic bool) ([][]byte, int) {
	r := bedrocktest.Reply{Text: strings.Repeat("Streaming tokens one by one. ", 40)}
	frames := bedrocktest.ConverseStreamFrames(r)
	if anthropic {
		frames = bedrocktest.AnthropicStreamFrames(r, "claude")
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return frames, n
}

// Per-chunk stream decode: each op decodes one event-stream frame (one network
// chunk) into canonical events.
func benchStream(b *testing.B, anthropic bool, newDecoder func() provider.StreamDecoder) {
	frames, total := benchFrames(anthropic)
	b.SetBytes(int64(total / len(frames)))
	b.ReportAllocs()
	evs := make([]canonical.StreamEvent, 0, 8)
	d := newDecoder()
	i := 0
	for b.Loop() {
		if i == len(frames) {
			d, i = newDecoder(), 0
		}
		var err error
		evs, err = d.Decode(evs[:0], frames[i])
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkConverseStreamDecodeChunk(b *testing.B) {
	benchStream(b, false, NewConverseBackend("").NewChatStreamDecoder)
}

func BenchmarkAnthropicStreamDecodeChunk(b *testing.B) {
	benchStream(b, true, NewAnthropicBackend("", 0).NewChatStreamDecoder)
}
