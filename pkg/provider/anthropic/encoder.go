package anthropic

import (
	"encoding/json"
	"github.com/llm-router/llm-router/pkg/jsonscan"
	"strconv"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// NewChatStreamEncoder implements provider.Frontend.
func (f *Frontend) NewChatStreamEncoder(req *canonical.Request) provider.StreamEncoder {
	e := &streamEncoder{tools: map[int]int{}}
	if req != nil {
		e.model = req.Model
	}
	return e
}

// streamEncoder renders canonical events as Messages SSE. Only choice 0 is rendered
// (Anthropic has no n). Text and thinking blocks are closed as soon as another block
// starts; tool_use blocks stay open until text, thinking or the end, so argument
// deltas of parallel tool calls that arrive interleaved still reach their block.
type streamEncoder struct {
	model   string
	started bool
	done    bool

	next      int       // next content block index
	cur       int       // open text/thinking block index, -1 when none
	curKind   blockKind // kind of cur
	curSigned bool      // cur (thinking) already got its signature
	tools     map[int]int
	openTools []int // open tool_use block indexes, in order

	stop     string
	usage    canonical.Usage
	hasTools bool
}

// Encode implements provider.StreamEncoder.
func (e *streamEncoder) Encode(dst []byte, ev *canonical.StreamEvent) []byte {
	if e.done || ev == nil {
		return dst
	}
	switch ev.Type {
	case canonical.EventStart:
		if !e.started {
			dst = e.start(dst, ev.ID, ev.Model)
		}
	case canonical.EventTextDelta:
		if ev.Index != 0 || ev.Text == "" {
			return dst
		}
		dst = e.ensureStarted(dst)
		dst = e.openKind(dst, blockText)
		dst = appendDelta(dst, e.cur, "text_delta", "text", ev.Text)
	case canonical.EventThinkingDelta:
		if ev.Index != 0 || (ev.Text == "" && ev.Signature == "") {
			return dst
		}
		dst = e.ensureStarted(dst)
		if e.curKind == blockThinking && e.curSigned && ev.Text != "" {
			dst = e.closeCur(dst) // a signed block is complete; new thought, new block
		}
		dst = e.openKind(dst, blockThinking)
		if ev.Text != "" {
			dst = appendDelta(dst, e.cur, "thinking_delta", "thinking", ev.Text)
		}
		if ev.Signature != "" {
			dst = appendDelta(dst, e.cur, "signature_delta", "signature", ev.Signature)
			e.curSigned = true
		}
	case canonical.EventToolCallStart:
		if ev.Index != 0 {
			return dst
		}
		dst = e.ensureStarted(dst)
		dst = e.closeCur(dst)
		dst = e.openTool(dst, ev.ToolIndex, ev.ToolCall.ID, ev.ToolCall.Name)
		if ev.ToolCall.Arguments != "" {
			dst = appendDelta(dst, e.tools[ev.ToolIndex], "input_json_delta", "partial_json", ev.ToolCall.Arguments)
		}
	case canonical.EventToolCallDelta:
		if ev.Index != 0 || ev.ToolCall.Arguments == "" {
			return dst
		}
		dst = e.ensureStarted(dst)
		idx, ok := e.tools[ev.ToolIndex]
		if !ok {
			// Arguments without a start (or after the block closed): open one so they
			// are not lost.
			dst = e.closeCur(dst)
			dst = e.openTool(dst, ev.ToolIndex, ev.ToolCall.ID, ev.ToolCall.Name)
			idx = e.tools[ev.ToolIndex]
		}
		dst = appendDelta(dst, idx, "input_json_delta", "partial_json", ev.ToolCall.Arguments)
	case canonical.EventFinish:
		if ev.Index != 0 {
			return dst
		}
		e.stop = stopReason(ev.FinishReason, ev.ProviderFinishReason, "")
	case canonical.EventUsage:
		e.usage = ev.Usage
	case canonical.EventDone:
		dst = e.ensureStarted(dst)
		dst = e.closeAll(dst)
		dst = e.finish(dst)
		e.done = true
	case canonical.EventError:
		dst = sse.AppendEvent(dst, "error", encodeError(ev.Err))
		e.done = true
	}
	return dst
}

func (e *streamEncoder) ensureStarted(dst []byte) []byte {
	if e.started {
		return dst
	}
	return e.start(dst, "", "")
}

func (e *streamEncoder) start(dst []byte, id, model string) []byte {
	e.started = true
	e.cur = -1
	if model == "" {
		model = e.model
	}
	if id == "" {
		id = "msg_llmrouter"
	}
	msg := MessagesResponse{ID: id, Type: "message", Role: "assistant", Model: model, Content: []ContentBlock{}}
	body, _ := json.Marshal(struct {
		Type    string           `json:"type"`
		Message MessagesResponse `json:"message"`
	}{"message_start", msg})
	return sse.AppendEvent(dst, "message_start", body)
}

// openKind makes sure a text or thinking block is the current one.
func (e *streamEncoder) openKind(dst []byte, kind blockKind) []byte {
	if e.cur >= 0 && e.curKind == kind {
		return dst
	}
	dst = e.closeCur(dst)
	dst = e.closeTools(dst)
	e.cur, e.curKind, e.curSigned = e.next, kind, false
	e.next++
	block := `{"type":"text","text":""}`
	if kind == blockThinking {
		block = `{"type":"thinking","thinking":"","signature":""}`
	}
	return appendBlockStart(dst, e.cur, []byte(block))
}

func (e *streamEncoder) openTool(dst []byte, toolIndex int, id, name string) []byte {
	if _, ok := e.tools[toolIndex]; ok {
		// A repeated start for a known tool call: keep its block.
		return dst
	}
	if id == "" {
		id = "toolu_llmrouter_" + strconv.Itoa(toolIndex)
	}
	idx := e.next
	e.next++
	e.tools[toolIndex] = idx
	e.openTools = append(e.openTools, idx)
	e.hasTools = true
	block, _ := json.Marshal(struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}{"tool_use", id, name, json.RawMessage("{}")})
	return appendBlockStart(dst, idx, block)
}

func (e *streamEncoder) closeCur(dst []byte) []byte {
	if e.cur < 0 {
		return dst
	}
	dst = appendBlockStop(dst, e.cur)
	e.cur = -1
	return dst
}

// closeTools stops every open tool_use block. Their tool indexes stay mapped so a
// late delta cannot reopen a block under the same index.
func (e *streamEncoder) closeTools(dst []byte) []byte {
	for _, idx := range e.openTools {
		dst = appendBlockStop(dst, idx)
	}
	e.openTools = e.openTools[:0]
	return dst
}

func (e *streamEncoder) closeAll(dst []byte) []byte {
	return e.closeTools(e.closeCur(dst))
}

func (e *streamEncoder) finish(dst []byte) []byte {
	stop := e.stop
	if stop == "" {
		stop = "end_turn"
		if e.hasTools {
			stop = "tool_use"
		}
	}
	body, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage Usage `json:"usage"`
	}{Type: "message_delta", Delta: struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}{StopReason: stop}, Usage: fromCanonicalUsage(e.usage)})
	dst = sse.AppendEvent(dst, "message_delta", body)
	return sse.AppendEvent(dst, "message_stop", []byte(`{"type":"message_stop"}`))
}

func appendBlockStart(dst []byte, index int, block []byte) []byte {
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, ",\"content_block\":"...)
	dst = append(dst, block...)
	return append(dst, "}\n\n"...)
}

func appendBlockStop(dst []byte, index int) []byte {
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, "}\n\n"...)
}

// appendDelta writes a content_block_delta without reflection: it is the per-token hot
// path.
func appendDelta(dst []byte, index int, typ, field, value string) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, ",\"delta\":{\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, "\",\""...)
	dst = append(dst, field...)
	dst = append(dst, "\":"...)
	dst = appendJSONString(dst, value)
	return append(dst, "}}\n\n"...)
}

// appendJSONString appends s as a JSON string literal (see jsonscan.AppendString).
func appendJSONString(dst []byte, s string) []byte { return jsonscan.AppendString(dst, s) }
