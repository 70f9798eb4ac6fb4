package coheretest

import "strings"

// promptTemplateTokens is what Cohere's "tokens" figures add to the billed input
// (its own prompt template), so tests can tell the two apart.
const promptTemplateTokens = 200

func (r *Reply) finishReason() string {
	if r.FinishReason != "" {
		return r.FinishReason
	}
	if len(r.ToolCalls) > 0 {
		return "TOOL_CALL"
	}
	return "COMPLETE"
}

func (r *Reply) usage() map[string]any {
	u := r.Usage
	if u == (Usage{}) {
		u = Usage{InputTokens: 11, OutputTokens: 6}
	}
	return map[string]any{
		"billed_units": map[string]int{"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens},
		"tokens":       map[string]int{"input_tokens": u.InputTokens + promptTemplateTokens, "output_tokens": u.OutputTokens},
	}
}

func orEmptyObject(s string) string {
	if strings.TrimSpace(s) == "" {
		return "{}"
	}
	return s
}

// ChatResponse renders r as a /v2/chat JSON response body.
func ChatResponse(r Reply) []byte {
	msg := map[string]any{"role": "assistant"}
	var content []any
	if r.Thinking != "" {
		content = append(content, map[string]string{"type": "thinking", "thinking": r.Thinking})
	}
	if r.Text != "" {
		content = append(content, map[string]string{"type": "text", "text": r.Text})
	}
	if content != nil {
		msg["content"] = content
	}
	if r.ToolPlan != "" {
		msg["tool_plan"] = r.ToolPlan
	}
	if len(r.ToolCalls) > 0 {
		var calls []any
		for _, tc := range r.ToolCalls {
			calls = append(calls, map[string]any{"id": tc.ID, "type": "function", "function": map[string]string{"name": tc.Name, "arguments": orEmptyObject(tc.Arguments)}})
		}
		msg["tool_calls"] = calls
	}
	return mustJSON(map[string]any{
		"id":            "mock-chat-id",
		"finish_reason": r.finishReason(),
		"message":       msg,
		"usage":         r.usage(),
	})
}

// pieces splits s into chunks of about n bytes without splitting UTF-8 sequences.
func pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut < len(s) && s[cut]&0xC0 == 0x80 {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// StreamBody renders r as the /v2/chat SSE stream ("event: <type>" and "data:
// <json>" per event, then "data: [DONE]" as the API ends its streams), with CRLF
// line ends when crlf is set.
func StreamBody(r Reply, crlf bool) []byte {
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	var b strings.Builder
	add := func(v map[string]any) {
		b.WriteString("event: " + v["type"].(string) + nl)
		b.WriteString("data: " + string(mustJSON(v)) + nl + nl)
	}
	done := func() []byte {
		b.WriteString("data: [DONE]" + nl + nl)
		return []byte(b.String())
	}
	add(map[string]any{"id": "mock-chat-id", "type": "message-start", "delta": map[string]any{"message": map[string]any{
		"role": "assistant", "content": []any{}, "tool_plan": "", "tool_calls": []any{}, "citations": []any{}}}})
	index := 0
	if r.Thinking != "" {
		add(map[string]any{"type": "content-start", "index": index, "delta": map[string]any{"message": map[string]any{"content": map[string]string{"type": "thinking", "thinking": ""}}}})
		for _, p := range pieces(r.Thinking, 6) {
			add(map[string]any{"type": "content-delta", "index": index, "delta": map[string]any{"message": map[string]any{"content": map[string]string{"thinking": p}}}})
		}
		add(map[string]any{"type": "content-end", "index": index})
		index++
	}
	for _, p := range pieces(r.ToolPlan, 8) {
		add(map[string]any{"type": "tool-plan-delta", "delta": map[string]any{"message": map[string]string{"tool_plan": p}}})
	}
	for i, tc := range r.ToolCalls {
		add(map[string]any{"type": "tool-call-start", "index": i, "delta": map[string]any{"message": map[string]any{"tool_calls": map[string]any{
			"id": tc.ID, "type": "function", "function": map[string]string{"name": tc.Name, "arguments": ""}}}}})
		for _, p := range pieces(orEmptyObject(tc.Arguments), 7) {
			add(map[string]any{"type": "tool-call-delta", "index": i, "delta": map[string]any{"message": map[string]any{"tool_calls": map[string]any{
				"function": map[string]string{"arguments": p}}}}})
		}
		add(map[string]any{"type": "tool-call-end", "index": i})
	}
	if r.Text != "" {
		add(map[string]any{"type": "content-start", "index": index, "delta": map[string]any{"message": map[string]any{"content": map[string]string{"type": "text", "text": ""}}}})
		for i, p := range pieces(r.Text, 5) {
			add(map[string]any{"type": "content-delta", "index": index, "delta": map[string]any{"message": map[string]any{"content": map[string]string{"text": p}}}})
			if i == 0 && r.StreamError != "" {
				add(map[string]any{"type": "message-end", "delta": map[string]any{"finish_reason": "ERROR", "error": r.StreamError}})
				return done()
			}
		}
		add(map[string]any{"type": "content-end", "index": index})
	} else if r.StreamError != "" {
		add(map[string]any{"type": "message-end", "delta": map[string]any{"finish_reason": "ERROR", "error": r.StreamError}})
		return done()
	}
	add(map[string]any{"type": "message-end", "delta": map[string]any{"finish_reason": r.finishReason(), "usage": r.usage()}})
	return done()
}
