package bedrock

import (
	"encoding/json"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// anthropicStream decodes an InvokeModelWithResponseStream body for Claude: event
// frames of type "chunk" whose payload {"bytes": base64} holds one Anthropic
// streaming event (message_start, content_block_*, message_delta, message_stop, …).
type anthropicStream struct {
	frames    frameReader
	started   bool
	stopped   bool // message_delta with a stop reason seen
	done      bool
	usage     anUsage
	toolIndex map[int]int
	nextTool  int
}

func newAnthropicStream() *anthropicStream { return &anthropicStream{toolIndex: map[int]int{}} }

// Decode implements provider.StreamDecoder.
func (s *anthropicStream) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if s.done {
		return dst, nil
	}
	return s.frames.feed(dst, chunk, s)
}

// Finish implements provider.StreamDecoder.
func (s *anthropicStream) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if s.done {
		return dst, nil
	}
	if s.stopped && s.frames.dec.Buffered() == 0 {
		s.done = true
		return append(dst,
			canonical.StreamEvent{Type: canonical.EventUsage, Usage: anthropicUsage(s.usage)},
			canonical.StreamEvent{Type: canonical.EventDone}), nil
	}
	return dst, s.frames.truncated("message_stop")
}

func (s *anthropicStream) finished() bool { return s.done }

func (s *anthropicStream) fail(dst []canonical.StreamEvent, err *canonical.Error) []canonical.StreamEvent {
	s.done = true
	return append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: err})
}

func (s *anthropicStream) start(dst []canonical.StreamEvent, id, model string) []canonical.StreamEvent {
	if s.started {
		return dst
	}
	s.started = true
	return append(dst, canonical.StreamEvent{Type: canonical.EventStart, ID: id, Model: model})
}

func (s *anthropicStream) tool(dst []canonical.StreamEvent, block int, id, name string) ([]canonical.StreamEvent, int) {
	if idx, ok := s.toolIndex[block]; ok {
		return dst, idx
	}
	idx := s.nextTool
	s.nextTool++
	s.toolIndex[block] = idx
	return append(dst, canonical.StreamEvent{Type: canonical.EventToolCallStart, ToolIndex: idx, ToolCall: canonical.ToolCall{ID: id, Name: name}}), idx
}

func (s *anthropicStream) event(dst []canonical.StreamEvent, eventType, payload []byte) ([]canonical.StreamEvent, error) {
	if string(eventType) != "chunk" {
		return dst, nil
	}
	var c anChunk
	if err := json.Unmarshal(payload, &c); err != nil {
		return dst, err
	}
	var ev anStreamEvent
	if err := json.Unmarshal(c.Bytes, &ev); err != nil {
		return dst, err
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			s.usage = ev.Message.Usage
			return s.start(dst, ev.Message.ID, ev.Message.Model), nil
		}
		return s.start(dst, "", ""), nil
	case "content_block_start":
		dst = s.start(dst, "", "")
		cb := ev.ContentBlock
		if cb == nil {
			return dst, nil
		}
		switch cb.Type {
		case "tool_use", "server_tool_use":
			dst, _ = s.tool(dst, ev.Index, cb.ID, cb.Name)
		case "text":
			if cb.Text != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: cb.Text})
			}
		}
		return dst, nil
	case "content_block_delta":
		dst = s.start(dst, "", "")
		d := ev.Delta
		if d == nil {
			return dst, nil
		}
		switch d.Type {
		case "text_delta":
			if d.Text != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: d.Text})
			}
		case "input_json_delta":
			var idx int
			dst, idx = s.tool(dst, ev.Index, "", "")
			if d.PartialJSON != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallDelta, ToolIndex: idx, ToolCall: canonical.ToolCall{Arguments: d.PartialJSON}})
			}
		case "thinking_delta":
			if d.Thinking != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: d.Thinking})
			}
		case "signature_delta":
			if d.Signature != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Signature: d.Signature})
			}
		}
		return dst, nil
	case "message_delta":
		dst = s.start(dst, "", "")
		if u := ev.Usage; u != nil {
			setIf(&s.usage.OutputTokens, u.OutputTokens)
			setIf(&s.usage.InputTokens, u.InputTokens)
			setIf(&s.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
			setIf(&s.usage.CacheReadInputTokens, u.CacheReadInputTokens)
		}
		if d := ev.Delta; d != nil && d.StopReason != "" && !s.stopped {
			s.stopped = true
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: finishReason(d.StopReason), ProviderFinishReason: d.StopReason})
		}
		return dst, nil
	case "message_stop":
		dst = s.start(dst, "", "")
		if m := ev.Metrics; m != nil && s.usage.InputTokens == 0 && s.usage.OutputTokens == 0 {
			// Bedrock's own counts, used only if Anthropic's usage never arrived.
			s.usage.InputTokens, s.usage.OutputTokens = m.InputTokenCount, m.OutputTokenCount
		}
		if !s.stopped {
			s.stopped = true
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: canonical.FinishStop})
		}
		s.done = true
		return append(dst,
			canonical.StreamEvent{Type: canonical.EventUsage, Usage: anthropicUsage(s.usage)},
			canonical.StreamEvent{Type: canonical.EventDone}), nil
	case "error":
		typ, msg := "", ""
		if ev.Error != nil {
			typ, msg = ev.Error.Type, ev.Error.Message
		}
		return s.fail(dst, anthropicError(typ, msg)), nil
	}
	// ping and future event types carry nothing for the canonical stream.
	return dst, nil
}

func setIf(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

// anthropicError maps an Anthropic in-stream error type to a canonical error.
func anthropicError(typ, msg string) *canonical.Error {
	kind := canonical.ErrUpstream
	switch typ {
	case "overloaded_error":
		kind = canonical.ErrOverloaded
	case "rate_limit_error":
		kind = canonical.ErrRateLimit
	case "invalid_request_error":
		kind = canonical.ErrInvalidRequest
	case "authentication_error":
		kind = canonical.ErrAuthentication
	case "permission_error":
		kind = canonical.ErrPermission
	case "not_found_error":
		kind = canonical.ErrNotFound
	case "request_too_large":
		kind = canonical.ErrRequestTooLarge
	case "timeout_error":
		kind = canonical.ErrUpstreamTimeout
	}
	if msg == "" {
		msg = "Claude stream error " + firstNonEmpty(typ, "(untyped)")
	}
	return &canonical.Error{Status: canonical.StatusFor(kind), Kind: kind, Message: msg, ProviderType: typ}
}
