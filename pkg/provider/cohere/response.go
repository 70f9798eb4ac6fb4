package cohere

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/sse"
)

// finishReason maps Cohere's finish_reason to the canonical one.
func finishReason(r string) canonical.FinishReason {
	switch r {
	case "COMPLETE", "STOP_SEQUENCE", "":
		return canonical.FinishStop
	case "MAX_TOKENS":
		return canonical.FinishLength
	case "TOOL_CALL":
		return canonical.FinishToolCalls
	case "ERROR_TOXIC":
		return canonical.FinishContentFilter
	}
	return canonical.FinishError
}

// usageOf prefers billed_units (what Cohere charges, so what cost accounting must
// use) and falls back to tokens.
func usageOf(u *usage) canonical.Usage {
	if u == nil {
		return canonical.Usage{}
	}
	c := u.BilledUnits
	if c == nil || (c.InputTokens == 0 && c.OutputTokens == 0) {
		c = u.Tokens
	}
	if c == nil {
		return canonical.Usage{}
	}
	return canonical.Usage{InputTokens: int(c.InputTokens), OutputTokens: int(c.OutputTokens)}
}

func fromChat(body []byte) (*canonical.Response, error) {
	var r chatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamError("decode Cohere chat response: %v", err)
	}
	msg := canonical.Message{Role: canonical.RoleAssistant}
	if r.Message.ToolPlan != "" {
		msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: r.Message.ToolPlan})
	}
	for _, c := range r.Message.Content {
		switch {
		case c.Type == "text" && c.Text != nil:
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: *c.Text})
		case c.Type == "thinking" && c.Thinking != nil:
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: *c.Thinking})
		}
	}
	for _, tc := range r.Message.ToolCalls {
		msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return &canonical.Response{
		ID:                   r.ID,
		Choices:              []canonical.Choice{{Message: msg, FinishReason: finishReason(r.FinishReason)}},
		Usage:                usageOf(r.Usage),
		ProviderFinishReason: r.FinishReason,
	}, nil
}

// streamDecoder decodes the v2 chat SSE stream: message-start, content-start /
// -delta / -end, tool-plan-delta, tool-call-start / -delta / -end, citation events
// and message-end (finish_reason and usage).
type streamDecoder struct {
	r         sse.Reader
	started   bool
	done      bool
	toolIndex map[int]int
	nextTool  int
}

// Decode implements provider.StreamDecoder.
func (d *streamDecoder) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if d.done {
		return dst, nil
	}
	for _, ev := range d.r.Feed(chunk) {
		if d.done {
			break
		}
		dst = d.event(dst, ev)
	}
	return dst, nil
}

// Finish implements provider.StreamDecoder.
func (d *streamDecoder) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if !d.done {
		// Servers may omit the blank line after the last event.
		for _, ev := range d.r.Flush() {
			if d.done {
				break
			}
			dst = d.event(dst, ev)
		}
	}
	if d.done {
		return dst, nil
	}
	return dst, fmt.Errorf("cohere stream ended before message-end: %w", io.ErrUnexpectedEOF)
}

func (d *streamDecoder) fail(dst []canonical.StreamEvent, e *canonical.Error) []canonical.StreamEvent {
	d.done = true
	return append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: e})
}

func (d *streamDecoder) start(dst []canonical.StreamEvent, id string) []canonical.StreamEvent {
	if d.started {
		return dst
	}
	d.started = true
	return append(dst, canonical.StreamEvent{Type: canonical.EventStart, ID: id})
}

func (d *streamDecoder) tool(dst []canonical.StreamEvent, index int, id, name string) ([]canonical.StreamEvent, int) {
	if idx, ok := d.toolIndex[index]; ok {
		return dst, idx
	}
	idx := d.nextTool
	d.nextTool++
	d.toolIndex[index] = idx
	return append(dst, canonical.StreamEvent{Type: canonical.EventToolCallStart, ToolIndex: idx, ToolCall: canonical.ToolCall{ID: id, Name: name}}), idx
}

func (d *streamDecoder) event(dst []canonical.StreamEvent, raw sse.Event) []canonical.StreamEvent {
	if sse.IsDone(raw.Data) {
		return dst
	}
	var ev streamEvent
	if err := json.Unmarshal(raw.Data, &ev); err != nil {
		return d.fail(dst, upstreamError("malformed Cohere stream event: %v", err))
	}
	typ := ev.Type
	if typ == "" {
		typ = string(raw.Event)
	}
	var msg = ev.Delta
	switch typ {
	case "message-start":
		return d.start(dst, ev.ID)
	case "content-start", "content-delta":
		dst = d.start(dst, "")
		if msg == nil || msg.Message == nil || len(msg.Message.Content) == 0 {
			return dst
		}
		var c streamContent
		if err := json.Unmarshal(msg.Message.Content, &c); err != nil {
			return d.fail(dst, upstreamError("malformed Cohere %s event: %v", typ, err))
		}
		if c.Text != nil && *c.Text != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: *c.Text})
		}
		if c.Thinking != nil && *c.Thinking != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: *c.Thinking})
		}
		return dst
	case "tool-plan-delta":
		dst = d.start(dst, "")
		if msg != nil && msg.Message != nil && msg.Message.ToolPlan != nil && *msg.Message.ToolPlan != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: *msg.Message.ToolPlan})
		}
		return dst
	case "tool-call-start", "tool-call-delta":
		dst = d.start(dst, "")
		var id, name, args string
		if msg != nil && msg.Message != nil && len(msg.Message.ToolCalls) > 0 {
			var tc streamToolCall
			if err := json.Unmarshal(msg.Message.ToolCalls, &tc); err != nil {
				return d.fail(dst, upstreamError("malformed Cohere %s event: %v", typ, err))
			}
			id = tc.ID
			if tc.Function != nil {
				name, args = tc.Function.Name, tc.Function.Arguments
			}
		}
		var idx int
		dst, idx = d.tool(dst, ev.Index, id, name)
		if args != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallDelta, ToolIndex: idx, ToolCall: canonical.ToolCall{Arguments: args}})
		}
		return dst
	case "message-end":
		dst = d.start(dst, "")
		if msg == nil {
			return d.fail(dst, upstreamError("Cohere message-end without delta"))
		}
		if msg.FinishReason == "ERROR" || msg.Error != "" {
			m := msg.Error
			if m == "" {
				m = "Cohere ended the generation with an error"
			}
			e := upstreamError("%s", m)
			e.ProviderType = "ERROR"
			return d.fail(dst, e)
		}
		d.done = true
		return append(dst,
			canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: finishReason(msg.FinishReason), ProviderFinishReason: msg.FinishReason},
			canonical.StreamEvent{Type: canonical.EventUsage, Usage: usageOf(msg.Usage)},
			canonical.StreamEvent{Type: canonical.EventDone})
	case "content-end", "tool-call-end", "citation-start", "citation-end", "debug":
		return dst
	}
	if ev.Message != "" {
		// An error object sent in place of an event.
		return d.fail(dst, upstreamError("%s", ev.Message))
	}
	return dst
}
