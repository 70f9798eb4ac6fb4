package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// NewChatStreamDecoder implements provider.Backend.
func (b *Backend) NewChatStreamDecoder() provider.StreamDecoder { return newStreamDecoder() }

// streamDecoder reads streamGenerateContent?alt=sse: every event is a complete
// GenerateContentResponse chunk carrying new parts; the last chunk has finishReason and
// the final usageMetadata. There is no terminal event: the body simply ends.
type streamDecoder struct {
	r        sse.Reader
	started  bool
	done     bool // an error chunk ended the stream
	finished map[int]bool
	calls    map[int]int    // tool calls so far, per candidate
	total    int            // tool calls so far, all candidates (for generated ids)
	usage    *UsageMetadata // nil until a chunk reports usage, then &lastUsage
	blocked  string

	lastUsage UsageMetadata
	store     chunkStore // the fast path's reused chunk
}

func newStreamDecoder() *streamDecoder {
	return &streamDecoder{finished: map[int]bool{}, calls: map[int]int{}}
}

// Decode implements provider.StreamDecoder.
func (d *streamDecoder) Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error) {
	if d.done {
		return dst, nil
	}
	for _, ev := range d.r.Feed(chunk) {
		var err error
		if dst, err = d.event(dst, ev.Data); err != nil || d.done {
			return dst, err
		}
	}
	return dst, nil
}

// Finish implements provider.StreamDecoder.
func (d *streamDecoder) Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error) {
	if d.done {
		return dst, nil
	}
	for _, ev := range d.r.Flush() {
		var err error
		if dst, err = d.event(dst, ev.Data); err != nil {
			return dst, fmt.Errorf("gemini: stream ended mid-event: %w (%v)", io.ErrUnexpectedEOF, err)
		}
		if d.done {
			return dst, nil
		}
	}
	if len(d.finished) == 0 {
		if d.blocked == "" {
			return dst, fmt.Errorf("gemini: stream ended without a finishReason: %w", io.ErrUnexpectedEOF)
		}
		dst = d.ensureStarted(dst, nil)
		dst = append(dst, canonical.StreamEvent{Type: canonical.EventFinish, FinishReason: canonical.FinishContentFilter, ProviderFinishReason: d.blocked})
	}
	return append(dst,
		canonical.StreamEvent{Type: canonical.EventUsage, Usage: toCanonicalUsage(d.usage)},
		canonical.StreamEvent{Type: canonical.EventDone}), nil
}

func (d *streamDecoder) ensureStarted(dst []canonical.StreamEvent, gr *GenerateContentResponse) []canonical.StreamEvent {
	if d.started {
		return dst
	}
	d.started = true
	ev := canonical.StreamEvent{Type: canonical.EventStart}
	if gr != nil {
		ev.ID, ev.Model = gr.ResponseID, gr.ModelVersion
	}
	return append(dst, ev)
}

func (d *streamDecoder) event(dst []canonical.StreamEvent, data []byte) ([]canonical.StreamEvent, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return dst, nil
	}
	gr, ok := d.decodeChunk(data)
	if !ok {
		gr = new(GenerateContentResponse)
		if err := json.Unmarshal(data, gr); err != nil {
			// Errors sometimes arrive wrapped in an array.
			var arr []GenerateContentResponse
			if json.Unmarshal(data, &arr) != nil || len(arr) != 1 {
				return dst, fmt.Errorf("gemini: invalid stream chunk: %w", err)
			}
			gr = &arr[0]
		}
	}
	if gr.Error != nil {
		d.done = true
		return append(dst, canonical.StreamEvent{Type: canonical.EventError, Err: errorFromDetail(0, nil, *gr.Error)}), nil
	}
	dst = d.ensureStarted(dst, gr)
	if gr.UsageMetadata != nil {
		// Copied: the fast path's storage is reused by the next chunk.
		d.lastUsage = *gr.UsageMetadata
		d.usage = &d.lastUsage
	}
	if gr.PromptFeedback != nil && gr.PromptFeedback.BlockReason != "" {
		d.blocked = gr.PromptFeedback.BlockReason
	}
	for i, c := range gr.Candidates {
		idx := c.Index
		if idx == 0 {
			idx = i
		}
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					tc := toolCall(gr.ResponseID, d.total, p)
					d.total++
					n := d.calls[idx]
					d.calls[idx] = n + 1
					dst = append(dst,
						canonical.StreamEvent{Type: canonical.EventToolCallStart, Index: idx, ToolIndex: n, ToolCall: canonical.ToolCall{ID: tc.ID, Name: tc.Name}},
						canonical.StreamEvent{Type: canonical.EventToolCallDelta, Index: idx, ToolIndex: n, ToolCall: canonical.ToolCall{Arguments: tc.Arguments}})
				case p.Thought && p.Text != "":
					dst = append(dst, canonical.StreamEvent{Type: canonical.EventThinkingDelta, Index: idx, Text: p.Text})
				case p.Text != "":
					dst = append(dst, canonical.StreamEvent{Type: canonical.EventTextDelta, Index: idx, Text: p.Text})
				}
			}
		}
		if c.FinishReason != "" && !d.finished[idx] {
			d.finished[idx] = true
			dst = append(dst, canonical.StreamEvent{
				Type: canonical.EventFinish, Index: idx,
				FinishReason:         finishReason(c.FinishReason, d.calls[idx] > 0),
				ProviderFinishReason: c.FinishReason,
			})
		}
	}
	return dst, nil
}
