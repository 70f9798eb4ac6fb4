package bedrocktest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llm-router/llm-router/pkg/eventstream"
)

// Reply scripts one response of the mock.
type Reply struct {
	// Text is the assistant's answer.
	Text string
	// Reasoning and ReasoningSignature produce a reasoning (thinking) block first.
	Reasoning          string
	ReasoningSignature string
	// ToolCalls are tool uses after the text; Input is the JSON object text.
	ToolCalls []ToolCall
	// StopReason defaults to end_turn, or tool_use when there are tool calls.
	StopReason string
	Usage      Usage
	// Error makes the mock answer with an HTTP error in Bedrock's format.
	Error *Error
	// StreamError makes a stream end with an exception frame after its first text
	// delta (Type in Bedrock's stream spelling, e.g. "throttlingException").
	StreamError *Error
	// ChunkSize, when > 0, writes a streamed body in pieces of this many bytes
	// (flushed one by one) so frames straddle writes; 0 writes frame by frame.
	ChunkSize int
	// Embedding is returned by embedding models (default: a deterministic vector).
	Embedding []float32
}

// ToolCall is a scripted tool use.
type ToolCall struct {
	ID, Name, Input string
}

// Usage is scripted token usage.
type Usage struct {
	InputTokens, OutputTokens, CacheReadInputTokens, CacheWriteInputTokens int
}

// Error is a scripted error: HTTP Status, AWS error Type, Message.
type Error struct {
	Status  int
	Type    string
	Message string
}

// DefaultText is the answer when no reply is scripted.
const DefaultText = "Hello from the Bedrock mock."

func (r *Reply) stopReason() string {
	if r.StopReason != "" {
		return r.StopReason
	}
	if len(r.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func (r *Reply) usage() Usage {
	u := r.Usage
	if u == (Usage{}) {
		u = Usage{InputTokens: 12, OutputTokens: 7}
	}
	return u
}

// pieces splits s into chunks of about n bytes (at least one piece), as a model
// would stream tokens.
func pieces(s string, n int) []string {
	if s == "" {
		return nil
	}
	var out []string
	for len(s) > n {
		cut := n
		for cut < len(s) && !utf8Start(s[cut]) {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bedrocktest: marshal %T: %v", v, err))
	}
	return b
}

// padding mimics the "p" field Bedrock adds to stream payloads to hide token
// lengths; decoders must ignore it.
func padding(n int) string { return strings.Repeat("abcdefghijklmnopqrstuvwxyz", 2)[:10+n%40] }

func eventFrame(eventType string, payload []byte) []byte {
	b, err := eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", eventType),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, payload)
	if err != nil {
		panic(err)
	}
	return b
}

// ExceptionFrame encodes a Bedrock stream exception frame.
func ExceptionFrame(exceptionType, message string) []byte {
	b, err := eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":exception-type", exceptionType),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "exception"),
	}, mustJSON(map[string]string{"message": message}))
	if err != nil {
		panic(err)
	}
	return b
}

func usageJSON(u Usage) map[string]int {
	m := map[string]int{
		"inputTokens":  u.InputTokens,
		"outputTokens": u.OutputTokens,
		"totalTokens":  u.InputTokens + u.OutputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
	}
	if u.CacheReadInputTokens > 0 || u.CacheWriteInputTokens > 0 {
		m["cacheReadInputTokens"] = u.CacheReadInputTokens
		m["cacheWriteInputTokens"] = u.CacheWriteInputTokens
	}
	return m
}

// ConverseResponse renders r as a Converse response body.
func ConverseResponse(r Reply) []byte {
	var content []any
	if r.Reasoning != "" {
		content = append(content, map[string]any{"reasoningContent": map[string]any{
			"reasoningText": map[string]string{"text": r.Reasoning, "signature": r.ReasoningSignature}}})
	}
	if r.Text != "" {
		content = append(content, map[string]string{"text": r.Text})
	}
	for _, tc := range r.ToolCalls {
		content = append(content, map[string]any{"toolUse": map[string]any{
			"toolUseId": tc.ID, "name": tc.Name, "input": json.RawMessage(orEmptyObject(tc.Input))}})
	}
	return mustJSON(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": r.stopReason(),
		"usage":      usageJSON(r.usage()),
		"metrics":    map[string]int{"latencyMs": 42},
	})
}

func orEmptyObject(s string) string {
	if strings.TrimSpace(s) == "" {
		return "{}"
	}
	return s
}

// ConverseStreamFrames renders r as the event-stream frames of a ConverseStream
// response (messageStart, content block starts/deltas/stops, messageStop,
// metadata), or ending in an exception frame when r.StreamError is set.
func ConverseStreamFrames(r Reply) [][]byte {
	var frames [][]byte
	add := func(eventType string, v map[string]any) {
		v["p"] = padding(len(frames))
		frames = append(frames, eventFrame(eventType, mustJSON(v)))
	}
	add("messageStart", map[string]any{"role": "assistant"})
	block := 0
	if r.Reasoning != "" {
		for _, p := range pieces(r.Reasoning, 6) {
			add("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"reasoningContent": map[string]any{"text": p}}})
		}
		if r.ReasoningSignature != "" {
			add("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"reasoningContent": map[string]any{"signature": r.ReasoningSignature}}})
		}
		add("contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	if r.Text != "" {
		for i, p := range pieces(r.Text, 5) {
			add("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"text": p}})
			if i == 0 && r.StreamError != nil {
				return append(frames, ExceptionFrame(r.StreamError.Type, r.StreamError.Message))
			}
		}
		add("contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	} else if r.StreamError != nil {
		return append(frames, ExceptionFrame(r.StreamError.Type, r.StreamError.Message))
	}
	for _, tc := range r.ToolCalls {
		add("contentBlockStart", map[string]any{"contentBlockIndex": block, "start": map[string]any{"toolUse": map[string]string{"toolUseId": tc.ID, "name": tc.Name}}})
		for _, p := range pieces(orEmptyObject(tc.Input), 7) {
			add("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"toolUse": map[string]string{"input": p}}})
		}
		add("contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	add("messageStop", map[string]any{"stopReason": r.stopReason()})
	add("metadata", map[string]any{"usage": usageJSON(r.usage()), "metrics": map[string]int{"latencyMs": 42}})
	return frames
}

func anthropicUsage(u Usage) map[string]int {
	return map[string]int{
		"input_tokens":                u.InputTokens,
		"output_tokens":               u.OutputTokens,
		"cache_creation_input_tokens": u.CacheWriteInputTokens,
		"cache_read_input_tokens":     u.CacheReadInputTokens,
	}
}

// AnthropicResponse renders r as Claude's InvokeModel response body.
func AnthropicResponse(r Reply, model string) []byte {
	var content []any
	if r.Reasoning != "" {
		content = append(content, map[string]string{"type": "thinking", "thinking": r.Reasoning, "signature": r.ReasoningSignature})
	}
	if r.Text != "" {
		content = append(content, map[string]string{"type": "text", "text": r.Text})
	}
	for _, tc := range r.ToolCalls {
		content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": json.RawMessage(orEmptyObject(tc.Input))})
	}
	return mustJSON(map[string]any{
		"id": "msg_bdrk_01MockMessage", "type": "message", "role": "assistant", "model": model,
		"content": content, "stop_reason": r.stopReason(), "stop_sequence": nil,
		"usage": anthropicUsage(r.usage()),
	})
}

// AnthropicStreamFrames renders r as the "chunk" frames of an
// InvokeModelWithResponseStream response for Claude: each payload is
// {"bytes": base64(Anthropic event JSON)}.
func AnthropicStreamFrames(r Reply, model string) [][]byte {
	var frames [][]byte
	add := func(ev map[string]any) {
		payload := mustJSON(map[string]any{"bytes": mustJSON(ev), "p": padding(len(frames))})
		frames = append(frames, eventFrame("chunk", payload))
	}
	u := r.usage()
	startUsage := anthropicUsage(u)
	startUsage["output_tokens"] = 1
	add(map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_bdrk_01MockMessage", "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": startUsage}})
	block := 0
	if r.Reasoning != "" {
		add(map[string]any{"type": "content_block_start", "index": block, "content_block": map[string]string{"type": "thinking", "thinking": ""}})
		for _, p := range pieces(r.Reasoning, 6) {
			add(map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]string{"type": "thinking_delta", "thinking": p}})
		}
		add(map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]string{"type": "signature_delta", "signature": r.ReasoningSignature}})
		add(map[string]any{"type": "content_block_stop", "index": block})
		block++
	}
	if r.Text != "" {
		add(map[string]any{"type": "content_block_start", "index": block, "content_block": map[string]string{"type": "text", "text": ""}})
		add(map[string]any{"type": "ping"})
		for i, p := range pieces(r.Text, 5) {
			add(map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]string{"type": "text_delta", "text": p}})
			if i == 0 && r.StreamError != nil {
				return append(frames, ExceptionFrame(r.StreamError.Type, r.StreamError.Message))
			}
		}
		add(map[string]any{"type": "content_block_stop", "index": block})
		block++
	} else if r.StreamError != nil {
		return append(frames, ExceptionFrame(r.StreamError.Type, r.StreamError.Message))
	}
	for _, tc := range r.ToolCalls {
		add(map[string]any{"type": "content_block_start", "index": block, "content_block": map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}}})
		for _, p := range pieces(orEmptyObject(tc.Input), 7) {
			add(map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]string{"type": "input_json_delta", "partial_json": p}})
		}
		add(map[string]any{"type": "content_block_stop", "index": block})
		block++
	}
	add(map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": r.stopReason(), "stop_sequence": nil}, "usage": map[string]int{"output_tokens": u.OutputTokens}})
	add(map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]int{
		"inputTokenCount": u.InputTokens, "outputTokenCount": u.OutputTokens, "invocationLatency": 120, "firstByteLatency": 40}})
	return frames
}

// vector returns r.Embedding or a deterministic vector of n floats.
func (r *Reply) vector(n, seed int) []float32 {
	if r.Embedding != nil {
		return r.Embedding
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((seed*31+i*7)%97) / 97
	}
	return v
}
