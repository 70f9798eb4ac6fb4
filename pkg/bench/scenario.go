package bench

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ChatScenario is a non-streamed exchange: a chat request of about 2 KB (a system
// prompt, a conversation and two tools) and an OpenAI response of about 1 KB with usage.
func ChatScenario(model, key string) Scenario {
	return Scenario{
		Path:     "/v1/chat/completions",
		Headers:  map[string]string{"authorization": "Bearer " + key},
		Body:     chatRequest(model, false),
		Response: chatResponse(model),
	}
}

// StreamScenario is a streamed exchange: the same request with "stream": true and an SSE
// response of n chunks (content deltas, a finish chunk, a usage chunk, [DONE]).
func StreamScenario(model, key string, n int) Scenario {
	return Scenario{
		Path:        "/v1/chat/completions",
		Headers:     map[string]string{"authorization": "Bearer " + key},
		Body:        chatRequest(model, true),
		Chunks:      sseChunks(model, n),
		ContentType: "text/event-stream",
	}
}

func chatRequest(model string, stream bool) []byte {
	tool := func(name, desc string) map[string]any {
		return map[string]any{"type": "function", "function": map[string]any{
			"name": name, "description": desc,
			"parameters": map[string]any{"type": "object", "properties": map[string]any{
				"city": map[string]any{"type": "string", "description": "City name, e.g. Paris"},
				"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			}, "required": []string{"city"}},
		}}
	}
	filler := strings.Repeat("The gateway routes requests to providers and counts tokens carefully. ", 14)
	req := map[string]any{
		"model":  model,
		"stream": stream,
		"messages": []map[string]any{
			{"role": "system", "content": "You are a concise assistant for a platform team. " + filler[:300]},
			{"role": "user", "content": "Summarise the following notes: " + filler},
			{"role": "assistant", "content": "Here is a summary of the notes you sent."},
			{"role": "user", "content": "What is the weather in Paris and in Berlin?"},
		},
		"tools":       []any{tool("get_weather", "Current weather for a city"), tool("get_forecast", "Five-day forecast for a city")},
		"temperature": 0.2,
	}
	b, _ := json.Marshal(req)
	return b
}

func chatResponse(model string) []byte {
	content := strings.Repeat("Paris is sunny and 21 degrees; Berlin is cloudy and 17 degrees. ", 12)
	resp := map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": 480, "completion_tokens": 190, "total_tokens": 670},
	}
	b, _ := json.Marshal(resp)
	return b
}

func sseChunks(model string, n int) [][]byte {
	if n < 4 {
		n = 4
	}
	chunks := make([][]byte, 0, n)
	for i := 0; i < n-3; i++ {
		chunks = append(chunks, []byte(fmt.Sprintf(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[{"index":0,"delta":{"content":"token%d "},"finish_reason":null}]}`+"\n\n", model, i)))
	}
	chunks = append(chunks,
		[]byte(fmt.Sprintf(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n", model)),
		[]byte(fmt.Sprintf(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[],"usage":{"prompt_tokens":480,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n", model, n-3, 480+n-3)),
		[]byte("data: [DONE]\n\n"))
	return chunks
}
