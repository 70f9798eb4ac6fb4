package anthropic

import (
	"fmt"
	"io"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// NewChatStreamDecoder implements provider.Backend.
func (b *Backend) NewChatStreamDecoder() provider.StreamDecoder { return newStreamDecoder() }

// blockKind is what a stream content block carries.
type blockKind uint8

const (
	blockOther blockKind = iota
	blockText
	blockThinking
	blockToolUse
)

type blockState struct {
	kind blockKind
	tool int // tool call index among tool_use blocks only
}

// streamDecoder turns Messages SSE into canonical events. Tool call indexes count
// tool_use blocks only, so text or thinking blocks before a tool do not shift them.
type streamDecoder struct {
	r          sse.Reader
	blocks     map[int]blockState
	nextTool   int
	usage      Usage
	hasTools   bool
	finishSent bool
	done       bool        // message_stop or error seen; later input is ignored
	cur        streamEvent // the event being decoded, reused
	curDelta   streamDelta // its delta on the fast path
}

func newStreamDecoder() *streamDecoder {
	return &streamDecoder{blocks: make(map[int]blockState, 4)}
}

// Decode implements provider.StreamDecoder.
func (d *streamDecoder) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if d.done {
		return dst, nil
	}
	for _, ev := range d.r.Feed(chunk) {
		var err error
		if dst, err = d.event(dst, ev); err != nil || d.done {
			return dst, err
		}
	}
	return dst, nil
}

// Finish implements provider.StreamDecoder.
func (d *streamDecoder) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if !d.done {
		for _, ev := range d.r.Flush() {
			var err error
			if dst, err = d.event(dst, ev); err != nil {
				// An event completed only by the end of the body is a cut event.
				return dst, fmt.Errorf("anthropic: stream ended mid-event: %w (%v)", io.ErrUnexpectedEOF, err)
			}
			if d.done {
				break
			}
		}
	}
	if !d.done {
		return dst, fmt.Errorf("anthropic: stream ended before message_stop: %w", io.ErrUnexpectedEOF)
	}
	return dst, nil
}

func (d *streamDecoder) event(dst []canonical.StreamEvent, ev sse.Event) ([]canonical.StreamEvent, error) {
	se := &d.cur
	if err := decodeEvent(ev.Data, se, &d.curDelta); err != nil {
		return dst, fmt.Errorf("anthropic: invalid stream event %q: %w", ev.Event, err)
	}
	if se.Type == "" {
		se.Type = string(ev.Event)
	}
	switch se.Type {
	case "message_start":
		if se.Message == nil {
			return dst, fmt.Errorf("anthropic: message_start without message")
		}
		d.usage = se.Message.Usage
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventStart, ID: se.Message.ID, Model: se.Message.Model})
	case "content_block_start":
		if se.ContentBlock == nil {
			return dst, fmt.Errorf("anthropic: content_block_start without content_block")
		}
		dst = d.blockStart(dst, se.Index, se.ContentBlock)
	case "content_block_delta":
		if se.Delta == nil {
			return dst, fmt.Errorf("anthropic: content_block_delta without delta")
		}
		return d.blockDelta(dst, se.Index, se.Delta)
	case "message_delta":
		if se.Usage != nil {
			mergeUsage(&d.usage, se.Usage)
		}
		if se.Delta != nil && se.Delta.StopReason != nil && !d.finishSent {
			d.finishSent = true
			dst = append(dst, canonical.StreamEvent{
				Type:                 canonical.EventFinish,
				FinishReason:         finishReason(*se.Delta.StopReason, d.hasTools),
				ProviderFinishReason: *se.Delta.StopReason,
			})
		}
	case "message_stop":
		if !d.finishSent {
			d.finishSent = true
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: finishReason("", d.hasTools)})
		}
		dst = append(dst,
			canonical.StreamEvent{Type: canonical.EventUsage, Usage: toCanonicalUsage(d.usage)},
			canonical.StreamEvent{Type: canonical.EventDone})
		d.done = true
	case "error":
		detail := ErrorDetail{Type: "api_error", Message: "upstream stream error"}
		if se.Error != nil {
			detail = *se.Error
		}
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: errorFromDetail(0, nil, detail)})
		d.done = true
	}
	// ping, content_block_stop and event types added later carry nothing canonical.
	return dst, nil
}

func (d *streamDecoder) blockStart(dst []canonical.StreamEvent, index int, cb *ContentBlock) []canonical.StreamEvent {
	switch cb.Type {
	case "text":
		d.blocks[index] = blockState{kind: blockText}
		if cb.Text != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: cb.Text})
		}
	case "thinking":
		d.blocks[index] = blockState{kind: blockThinking}
		if cb.Thinking != "" || cb.Signature != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: cb.Thinking, Signature: cb.Signature})
		}
	case "tool_use":
		st := blockState{kind: blockToolUse, tool: d.nextTool}
		d.nextTool++
		d.hasTools = true
		d.blocks[index] = st
		dst = append(dst, canonical.StreamEvent{
			Type: canonical.EventToolCallStart, ToolIndex: st.tool,
			ToolCall: canonical.ToolCall{ID: cb.ID, Name: cb.Name},
		})
		// The API sends "input":{} here and the arguments as deltas; a non-empty input
		// (some proxies send it whole) becomes one delta.
		if args := argumentsJSON(cb.Input); args != "{}" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventToolCallDelta, ToolIndex: st.tool, ToolCall: canonical.ToolCall{Arguments: args}})
		}
	default:
		// redacted_thinking, server_tool_use, web_search_tool_result, …
		d.blocks[index] = blockState{kind: blockOther}
	}
	return dst
}

func (d *streamDecoder) blockDelta(dst []canonical.StreamEvent, index int, delta *streamDelta) ([]canonical.StreamEvent, error) {
	st, known := d.blocks[index]
	switch delta.Type {
	case "text_delta":
		if known && st.kind != blockText {
			return dst, fmt.Errorf("anthropic: text_delta for non-text content block %d", index)
		}
		if delta.Text != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Text: delta.Text})
		}
	case "thinking_delta":
		if delta.Thinking != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Text: delta.Thinking})
		}
	case "signature_delta":
		if delta.Signature != "" {
			dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Signature: delta.Signature})
		}
	case "input_json_delta":
		if !known {
			return dst, fmt.Errorf("anthropic: input_json_delta for unknown content block %d", index)
		}
		if st.kind == blockToolUse && delta.PartialJSON != "" {
			dst = append(dst, canonical.StreamEvent{
				Type: canonical.EventToolCallDelta, ToolIndex: st.tool,
				ToolCall: canonical.ToolCall{Arguments: delta.PartialJSON},
			})
		}
	}
	// citations_delta and unknown delta types are ignored.
	return dst, nil
}

// mergeUsage applies message_delta's cumulative counts over message_start's.
func mergeUsage(u *Usage, d *deltaUsage) {
	if d.InputTokens != nil {
		u.InputTokens = *d.InputTokens
	}
	if d.OutputTokens != nil {
		u.OutputTokens = *d.OutputTokens
	}
	if d.CacheCreationInputTokens != nil {
		u.CacheCreationInputTokens = *d.CacheCreationInputTokens
	}
	if d.CacheReadInputTokens != nil {
		u.CacheReadInputTokens = *d.CacheReadInputTokens
	}
	if d.OutputTokensDetails != nil {
		u.OutputTokensDetails = d.OutputTokensDetails
	}
}
