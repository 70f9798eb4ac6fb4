package openai

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// streamDecoder turns an OpenAI-compatible SSE body into canonical events.
type streamDecoder struct {
	r        sse.Reader
	started  bool
	finished bool // [DONE], an error, or a decode failure ended the stream
	sawEnd   bool // some choice reported a finish_reason
	id       string
	model    string
	created  int64
	usage    *canonical.Usage
	choices  []choiceState
	chunk    ChatChunk
	store    chunkStore // backs chunk's pointers on the fast path
}

type choiceState struct {
	tools []toolState
}

type toolState struct {
	upstream int // the server's tool-call index, -1 when it sent none
	id, name string
}

// NewStreamDecoder returns a decoder for one streamed Chat Completions body.
func NewStreamDecoder() provider.StreamDecoder { return &streamDecoder{} }

// maxToolCalls bounds per-choice tool state so a hostile stream cannot grow it
// without limit.
const maxToolCalls = 1024

// Decode implements provider.StreamDecoder.
func (d *streamDecoder) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if d.finished {
		return dst, nil
	}
	for _, ev := range d.r.Feed(chunk) {
		var err error
		dst, err = d.event(dst, ev.Data)
		if err != nil || d.finished {
			return dst, err
		}
	}
	return dst, nil
}

// Finish implements provider.StreamDecoder.
func (d *streamDecoder) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if d.finished {
		return dst, nil
	}
	for _, ev := range d.r.Flush() {
		var err error
		dst, err = d.event(dst, ev.Data)
		if err != nil || d.finished {
			return dst, err
		}
	}
	if d.sawEnd {
		// Some servers close the body after the last chunk without "[DONE]"; the
		// generation itself completed, so end the stream normally.
		return d.done(dst), nil
	}
	d.finished = true
	return dst, fmt.Errorf("openai stream ended before completion: %w", io.ErrUnexpectedEOF)
}

func (d *streamDecoder) done(dst []canonical.StreamEvent) []canonical.StreamEvent {
	d.finished = true
	if d.usage != nil {
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventUsage, Usage: *d.usage})
	}
	return append(dst, canonical.StreamEvent{Type: canonical.EventDone})
}

func (d *streamDecoder) event(dst []canonical.StreamEvent, data []byte) ([]canonical.StreamEvent, error) {
	if len(data) == 0 {
		return dst, nil
	}
	if sse.IsDone(data) {
		return d.done(dst), nil
	}
	c := &d.chunk
	if !d.decodeChunk(data) {
		// Reuse the choices array, zeroed: encoding/json decodes into existing slice
		// elements without clearing fields the new chunk omits.
		reuse := c.Choices[:cap(c.Choices)]
		clear(reuse)
		*c = ChatChunk{Choices: reuse[:0]}
		if err := json.Unmarshal(data, c); err != nil {
			d.finished = true
			return dst, fmt.Errorf("decode openai stream chunk: %w", err)
		}
	}
	if c.Error != nil {
		d.finished = true
		return append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: errorFromDetail(0, c.Error)}), nil
	}
	if !d.started && (c.ID != "" || len(c.Choices) > 0) {
		// Azure opens with a prompt-filter chunk whose id and model are empty; wait for
		// a real chunk before announcing the stream.
		d.started = true
		d.id, d.model, d.created = c.ID, c.Model, c.Created
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventStart, ID: c.ID, Model: c.Model, Created: c.Created})
	}
	for i := range c.Choices {
		dst = d.choice(dst, &c.Choices[i])
	}
	if c.Usage != nil {
		u := usageToCanonical(c.Usage)
		d.usage = &u
	} else if c.XGroq != nil && c.XGroq.Usage != nil {
		u := usageToCanonical(c.XGroq.Usage)
		d.usage = &u
	}
	return dst, nil
}

func (d *streamDecoder) choice(dst []canonical.StreamEvent, ch *ChunkChoice) []canonical.StreamEvent {
	idx := ch.Index
	if idx < 0 || idx >= maxChoices {
		return dst
	}
	delta := &ch.Delta
	if r := delta.ReasoningContent; r != nil && *r != "" {
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Index: idx, Text: *r})
	} else if r := delta.Reasoning; r != nil && *r != "" {
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Index: idx, Text: *r})
	}
	if t := delta.Content; t != nil && *t != "" {
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Index: idx, Text: *t})
	}
	if t := delta.Refusal; t != nil && *t != "" {
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Index: idx, Text: *t})
	}
	if len(delta.ToolCalls) > 0 {
		for len(d.choices) <= idx {
			d.choices = append(d.choices, choiceState{})
		}
		cs := &d.choices[idx]
		for i := range delta.ToolCalls {
			dst = d.toolDelta(dst, idx, cs, &delta.ToolCalls[i])
		}
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		d.sawEnd = true
		dst = append(dst, canonical.StreamEvent{
			Type:                 canonical.EventFinish,
			Index:                idx,
			FinishReason:         finishToCanonical(*ch.FinishReason),
			ProviderFinishReason: *ch.FinishReason,
		})
	}
	return dst
}

// toolDelta maps one tool-call fragment. Fragments are matched to calls by the
// server's index; a fragment with a new id under a known index (some servers number
// every call 0) opens a new call, and a fragment without index continues the call
// with its id, or the last call.
func (d *streamDecoder) toolDelta(dst []canonical.StreamEvent, idx int, cs *choiceState, tc *ToolCallDelta) []canonical.StreamEvent {
	up := -1
	if tc.Index != nil {
		up = *tc.Index
	}
	pos := -1
	for i := len(cs.tools) - 1; i >= 0; i-- {
		t := &cs.tools[i]
		if (up >= 0 && t.upstream == up) || (up < 0 && tc.ID != "" && t.id == tc.ID) {
			pos = i
			break
		}
	}
	if pos < 0 && up < 0 && tc.ID == "" && len(cs.tools) > 0 {
		pos = len(cs.tools) - 1
	}
	if pos >= 0 && tc.ID != "" && cs.tools[pos].id != "" && tc.ID != cs.tools[pos].id {
		pos = -1
	}
	if pos < 0 {
		if len(cs.tools) >= maxToolCalls {
			return dst
		}
		pos = len(cs.tools)
		id := tc.ID
		if id == "" {
			// Anthropic-style callers need an id to answer the call with.
			id = "call_" + d.id + "_" + strconv.Itoa(idx) + "_" + strconv.Itoa(pos)
		}
		cs.tools = append(cs.tools, toolState{upstream: up, id: id, name: tc.Function.Name})
		dst = append(dst, canonical.StreamEvent{
			Type: canonical.EventToolCallStart, Index: idx, ToolIndex: pos,
			ToolCall: canonical.ToolCall{ID: id, Name: tc.Function.Name},
		})
	}
	if tc.Function.Arguments != "" {
		t := &cs.tools[pos]
		dst = append(dst, canonical.StreamEvent{
			Type: canonical.EventToolCallDelta, Index: idx, ToolIndex: pos,
			ToolCall: canonical.ToolCall{ID: t.id, Name: t.name, Arguments: tc.Function.Arguments},
		})
	}
	return dst
}
