package anthropictest

import (
	"bytes"
	"encoding/json"
	"time"
)

// Reply scripts one response. The zero value is an empty end_turn message. The same
// Reply renders as a JSON message or as an SSE stream, depending on the request.
type Reply struct {
	// Status overrides the HTTP status (default 200, or the error type's status).
	Status int
	// Header adds response headers (e.g. "retry-after").
	Header map[string]string
	// ErrorType/ErrorMessage, when set, make this an error reply
	// {"type":"error","error":{"type","message"}}.
	ErrorType    string
	ErrorMessage string
	// RawBody, when non-nil, is sent verbatim (a JSON body, or SSE bytes for streams).
	RawBody []byte

	// ID and Model of the message (Model defaults to the requested model).
	ID    string
	Model string
	// Blocks are the content blocks.
	Blocks []Block
	// StopReason defaults to "tool_use" when a tool_use block is present, else
	// "end_turn".
	StopReason   string
	StopSequence string
	Usage        Usage

	// StreamError, when set, sends an error event after AfterEvents events (inside the
	// 200 stream) and ends the stream there, as the API does. AfterEvents counts every
	// event from message_start on (pings excluded); a value past the end of the stream
	// sends no error.
	StreamError *StreamError
	// Pings adds ping events.
	Pings bool
	// ChunkSize overrides the server's write size for this stream; CRLF forces CRLF.
	ChunkSize int
	CRLF      bool
	// ChunkDelay sleeps between writes.
	ChunkDelay time.Duration
	// CutAfterBytes truncates the stream (no message_stop) after that many bytes.
	CutAfterBytes int
	// DeltaSize is how many characters each text/thinking/input delta carries (default 4).
	DeltaSize int
}

// StreamError is an error event inside a stream.
type StreamError struct {
	AfterEvents int
	Type        string
	Message     string
}

// Usage is the token accounting the reply reports.
type Usage struct {
	Input, Output, CacheRead, CacheCreation, Thinking int
}

// Block is one content block.
type Block struct {
	// Type is text, thinking, redacted_thinking or tool_use.
	Type      string
	Text      string // text, thinking
	Signature string // thinking
	Data      string // redacted_thinking
	ID, Name  string // tool_use
	Input     string // tool_use input JSON object ("{}" when empty)
}

// Text is a text block.
func Text(s string) Block { return Block{Type: "text", Text: s} }

// Thinking is a thinking block with its signature.
func Thinking(text, signature string) Block {
	return Block{Type: "thinking", Text: text, Signature: signature}
}

// RedactedThinking is a redacted_thinking block.
func RedactedThinking(data string) Block { return Block{Type: "redacted_thinking", Data: data} }

// ToolUse is a tool_use block; input is a JSON object.
func ToolUse(id, name, input string) Block {
	return Block{Type: "tool_use", ID: id, Name: name, Input: input}
}

// TextReply is a one-text-block end_turn reply.
func TextReply(s string) Reply {
	return Reply{Blocks: []Block{Text(s)}, Usage: Usage{Input: 12, Output: 7}}
}

// ErrorReply is an HTTP error reply; status 0 uses the type's documented status
// (overloaded_error → 529, rate_limit_error → 429, …).
func ErrorReply(status int, typ, msg string) Reply {
	return Reply{Status: status, ErrorType: typ, ErrorMessage: msg}
}

func (rp *Reply) stopReason() string {
	if rp.StopReason != "" {
		return rp.StopReason
	}
	for _, b := range rp.Blocks {
		if b.Type == "tool_use" {
			return "tool_use"
		}
	}
	return "end_turn"
}

func (rp *Reply) id() string {
	if rp.ID != "" {
		return rp.ID
	}
	return "msg_mock01"
}

func (b Block) json() map[string]any {
	switch b.Type {
	case "text":
		return map[string]any{"type": "text", "text": b.Text}
	case "thinking":
		return map[string]any{"type": "thinking", "thinking": b.Text, "signature": b.Signature}
	case "redacted_thinking":
		return map[string]any{"type": "redacted_thinking", "data": b.Data}
	case "tool_use":
		return map[string]any{"type": "tool_use", "id": b.ID, "name": b.Name, "input": json.RawMessage(b.input())}
	}
	return map[string]any{"type": b.Type}
}

func (b Block) input() string {
	if b.Input == "" {
		return "{}"
	}
	return b.Input
}

func (u Usage) json(full bool) map[string]any {
	m := map[string]any{
		"input_tokens":                u.Input,
		"output_tokens":               u.Output,
		"cache_creation_input_tokens": u.CacheCreation,
		"cache_read_input_tokens":     u.CacheRead,
	}
	if full {
		m["service_tier"] = "standard"
	}
	if u.Thinking > 0 {
		m["output_tokens_details"] = map[string]int{"thinking_tokens": u.Thinking}
	}
	return m
}

func (rp *Reply) messageJSON(model string) []byte {
	content := make([]map[string]any, 0, len(rp.Blocks))
	for _, b := range rp.Blocks {
		content = append(content, b.json())
	}
	var seq any
	if rp.StopSequence != "" {
		seq = rp.StopSequence
	}
	out, _ := json.Marshal(map[string]any{
		"id":            rp.id(),
		"type":          "message",
		"role":          "assistant",
		"model":         model,
		"content":       content,
		"stop_reason":   rp.stopReason(),
		"stop_sequence": seq,
		"usage":         rp.Usage.json(true),
	})
	return out
}

// streamBytes renders the reply as the API's SSE stream.
func (rp *Reply) streamBytes(model string) []byte {
	var buf bytes.Buffer
	size := rp.DeltaSize
	if size <= 0 {
		size = 4
	}
	events := 0
	emit := func(name string, v any) bool {
		if rp.StreamError != nil && events == rp.StreamError.AfterEvents {
			writeEvent(&buf, "error", map[string]any{
				"type":  "error",
				"error": map[string]string{"type": rp.StreamError.Type, "message": rp.StreamError.Message},
			})
			return false
		}
		events++
		writeEvent(&buf, name, v)
		return true
	}
	startUsage := rp.Usage.json(false)
	startUsage["output_tokens"] = 1
	delete(startUsage, "output_tokens_details")
	if !emit("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": rp.id(), "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": startUsage,
	}}) {
		return buf.Bytes()
	}
	for i, b := range rp.Blocks {
		start := b.json()
		switch b.Type {
		case "text":
			start["text"] = ""
		case "thinking":
			start["thinking"] = ""
			start["signature"] = ""
		case "tool_use":
			start["input"] = json.RawMessage("{}")
		}
		if !emit("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": start}) {
			return buf.Bytes()
		}
		if i == 0 && rp.Pings {
			writeEvent(&buf, "ping", map[string]string{"type": "ping"})
		}
		var deltas []map[string]any
		switch b.Type {
		case "text":
			for _, p := range split(b.Text, size) {
				deltas = append(deltas, map[string]any{"type": "text_delta", "text": p})
			}
		case "thinking":
			for _, p := range split(b.Text, size) {
				deltas = append(deltas, map[string]any{"type": "thinking_delta", "thinking": p})
			}
			deltas = append(deltas, map[string]any{"type": "signature_delta", "signature": b.Signature})
		case "tool_use":
			for _, p := range split(b.input(), size) {
				deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": p})
			}
		}
		for _, d := range deltas {
			if !emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": d}) {
				return buf.Bytes()
			}
		}
		if !emit("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}) {
			return buf.Bytes()
		}
	}
	var seq any
	if rp.StopSequence != "" {
		seq = rp.StopSequence
	}
	if !emit("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": rp.stopReason(), "stop_sequence": seq},
		"usage": rp.Usage.json(false),
	}) {
		return buf.Bytes()
	}
	if !emit("message_stop", map[string]string{"type": "message_stop"}) {
		return buf.Bytes()
	}
	return buf.Bytes()
}

func writeEvent(buf *bytes.Buffer, name string, v any) {
	data, _ := json.Marshal(v)
	buf.WriteString("event: " + name + "\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

// split cuts s into pieces of n runes.
func split(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}
