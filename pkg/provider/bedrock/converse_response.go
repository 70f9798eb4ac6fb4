package bedrock

import (
	"encoding/json"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// fromConverse decodes a Converse response body. Converse returns neither an id nor
// the model name; the caller (which knows both) fills them in.
func fromConverse(body []byte) (*canonical.Response, error) {
	var r converseResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamError("decode Bedrock Converse response: %v", err)
	}
	if r.Output.Message == nil {
		return nil, upstreamError("Bedrock Converse response has no output.message")
	}
	msg := canonical.Message{Role: canonical.RoleAssistant}
	for _, b := range r.Output.Message.Content {
		switch {
		case b.Text != nil:
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: *b.Text})
		case b.ToolUse != nil:
			msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{
				ID:        b.ToolUse.ToolUseID,
				Name:      b.ToolUse.Name,
				Arguments: compactJSON(b.ToolUse.Input),
			})
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			rt := b.ReasoningContent.ReasoningText
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: rt.Text, Signature: rt.Signature})
		case b.ReasoningContent != nil && b.ReasoningContent.RedactedContent != "":
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartRedactedThinking, Data: b.ReasoningContent.RedactedContent})
		}
	}
	return &canonical.Response{
		Choices:              []canonical.Choice{{Message: msg, FinishReason: finishReason(r.StopReason)}},
		Usage:                converseUsage(&r.Usage),
		ProviderFinishReason: r.StopReason,
	}, nil
}

// converseUsage converts TokenUsage. Bedrock's inputTokens excludes cache reads and
// writes (as Anthropic's does); canonical InputTokens includes them.
func converseUsage(u *cvUsage) canonical.Usage {
	return canonical.Usage{
		InputTokens:         u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		OutputTokens:        u.OutputTokens,
		CachedInputTokens:   u.CacheReadInputTokens,
		CacheCreationTokens: u.CacheWriteInputTokens,
	}
}

func upstreamError(format string, args ...any) *canonical.Error {
	e := canonical.NewError(canonical.ErrUpstream, format, args...)
	return e
}

// converseStream decodes a ConverseStream body (event-stream frames) into canonical
// events.
type converseStream struct {
	frames    frameReader
	started   bool
	stopped   bool // messageStop seen
	done      bool // metadata seen or error emitted
	toolIndex map[int]int
	nextTool  int
}

func newConverseStream() *converseStream {
	return &converseStream{toolIndex: map[int]int{}}
}

// Decode implements provider.StreamDecoder.
func (s *converseStream) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if s.done {
		return dst, nil
	}
	return s.frames.feed(dst, chunk, s)
}

// Finish implements provider.StreamDecoder.
func (s *converseStream) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if s.done {
		return dst, nil
	}
	if s.stopped && s.frames.dec.Buffered() == 0 {
		// Usage metadata never came; end the stream cleanly without it.
		s.done = true
		return append(dst, canonical.StreamEvent{Type: canonical.EventDone}), nil
	}
	return dst, s.frames.truncated("messageStop")
}

func (s *converseStream) finished() bool { return s.done }

func (s *converseStream) fail(dst []canonical.StreamEvent, err *canonical.Error) []canonical.StreamEvent {
	s.done = true
	return append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: err})
}

func (s *converseStream) start(dst []canonical.StreamEvent) []canonical.StreamEvent {
	if !s.started {
		s.started = true
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventStart})
	}
	return dst
}

// event handles one event frame; it returns a non-nil error for a payload it
// cannot parse.
func (s *converseStream) event(dst []canonical.StreamEvent, eventType, payload []byte) ([]canonical.StreamEvent, error) {
	switch string(eventType) {
	case "messageStart":
		return s.start(dst), nil
	case "contentBlockStart":
		var ev cvContentBlockStart
		if err := json.Unmarshal(payload, &ev); err != nil {
			return dst, err
		}
		dst = s.start(dst)
		if tu := ev.Start.ToolUse; tu != nil {
			idx := s.nextTool
			s.nextTool++
			s.toolIndex[ev.ContentBlockIndex] = idx
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallStart, ToolIndex: idx, ToolCall: canonical.ToolCall{ID: tu.ToolUseID, Name: tu.Name}})
		}
		return dst, nil
	case "contentBlockDelta":
		var ev cvContentBlockDelta
		if err := json.Unmarshal(payload, &ev); err != nil {
			return dst, err
		}
		dst = s.start(dst)
		d := &ev.Delta
		switch {
		case d.Text != nil:
			if *d.Text != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: *d.Text})
			}
		case d.ToolUse != nil:
			idx, ok := s.toolIndex[ev.ContentBlockIndex]
			if !ok {
				// A tool delta without its start: open the call so arguments are not lost.
				idx = s.nextTool
				s.nextTool++
				s.toolIndex[ev.ContentBlockIndex] = idx
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallStart, ToolIndex: idx})
			}
			if d.ToolUse.Input != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallDelta, ToolIndex: idx, ToolCall: canonical.ToolCall{Arguments: d.ToolUse.Input}})
			}
		case d.ReasoningContent != nil:
			rc := d.ReasoningContent
			if rc.Text != nil && *rc.Text != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: *rc.Text})
			}
			if rc.Signature != nil && *rc.Signature != "" {
				dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Signature: *rc.Signature})
			}
			// redactedContent has no canonical stream event; it is dropped.
		}
		return dst, nil
	case "contentBlockStop":
		return dst, nil
	case "messageStop":
		var ev cvMessageStop
		if err := json.Unmarshal(payload, &ev); err != nil {
			return dst, err
		}
		dst = s.start(dst)
		s.stopped = true
		return append(dst, canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: finishReason(ev.StopReason), ProviderFinishReason: ev.StopReason}), nil
	case "metadata":
		var ev cvMetadata
		if err := json.Unmarshal(payload, &ev); err != nil {
			return dst, err
		}
		if ev.Usage != nil {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventUsage, Usage: converseUsage(ev.Usage)})
		}
		if s.stopped {
			s.done = true
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventDone})
		}
		return dst, nil
	}
	// Unknown event types (new API additions) are skipped.
	return dst, nil
}
