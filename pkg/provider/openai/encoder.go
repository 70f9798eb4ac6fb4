package openai

import (
	"strconv"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// chunkEncoder renders canonical stream events as OpenAI "chat.completion.chunk"
// server-sent events. It writes JSON by hand: it runs once per streamed token.
type chunkEncoder struct {
	id, model    string
	created      int64
	includeUsage bool
	roleSent     []bool // per choice index
	done         bool   // [DONE] or an error was written
}

// NewChatStreamEncoder returns an encoder for one streamed response to a caller that
// sent req. A usage chunk is written only when req.IncludeUsage is set.
func NewChatStreamEncoder(req *canonical.Request) provider.StreamEncoder {
	e := &chunkEncoder{id: "chatcmpl-llmrouter", created: time.Now().Unix()}
	if req != nil {
		e.model = req.Model
		e.includeUsage = req.IncludeUsage
	}
	return e
}

// maxChoices bounds the per-choice state an event's Index can create.
const maxChoices = 128

// Encode implements provider.StreamEncoder.
func (e *chunkEncoder) Encode(dst []byte, ev *canonical.StreamEvent) []byte {
	if e.done || ev == nil {
		return dst
	}
	switch ev.Type {
	case canonical.EventStart:
		if ev.ID != "" {
			e.id = ev.ID
		}
		if ev.Model != "" {
			e.model = ev.Model
		}
		if ev.Created != 0 {
			e.created = ev.Created
		}
		return e.ensureRole(dst, ev.Index)
	case canonical.EventTextDelta:
		if ev.Text == "" {
			return dst
		}
		dst = e.ensureRole(dst, ev.Index)
		dst = e.open(dst, ev.Index)
		dst = append(dst, `"content":`...)
		dst = appendJSONString(dst, ev.Text)
		return e.close(dst, "")
	case canonical.EventThinkingDelta:
		if ev.Text == "" {
			return dst // a signature alone has no OpenAI representation
		}
		dst = e.ensureRole(dst, ev.Index)
		dst = e.open(dst, ev.Index)
		dst = append(dst, `"reasoning_content":`...)
		dst = appendJSONString(dst, ev.Text)
		return e.close(dst, "")
	case canonical.EventToolCallStart:
		dst = e.ensureRole(dst, ev.Index)
		dst = e.open(dst, ev.Index)
		dst = append(dst, `"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(ev.ToolIndex), 10)
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, ev.ToolCall.ID)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendJSONString(dst, ev.ToolCall.Name)
		dst = append(dst, `,"arguments":`...)
		dst = appendJSONString(dst, ev.ToolCall.Arguments)
		dst = append(dst, "}}]"...)
		return e.close(dst, "")
	case canonical.EventToolCallDelta:
		if ev.ToolCall.Arguments == "" {
			return dst
		}
		dst = e.ensureRole(dst, ev.Index)
		dst = e.open(dst, ev.Index)
		dst = append(dst, `"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(ev.ToolIndex), 10)
		dst = append(dst, `,"function":{"arguments":`...)
		dst = appendJSONString(dst, ev.ToolCall.Arguments)
		dst = append(dst, "}}]"...)
		return e.close(dst, "")
	case canonical.EventFinish:
		dst = e.ensureRole(dst, ev.Index)
		dst = e.open(dst, ev.Index)
		return e.close(dst, finishFromCanonical(ev.FinishReason))
	case canonical.EventUsage:
		if !e.includeUsage {
			return dst
		}
		dst = e.header(dst)
		dst = append(dst, `[],"usage":`...)
		dst = appendUsage(dst, ev.Usage)
		return append(dst, "}\n\n"...)
	case canonical.EventError:
		e.done = true
		err := ev.Err
		if err == nil {
			err = canonical.NewError(canonical.ErrUpstream, "upstream stream failed")
		}
		dst = append(dst, "data: "...)
		dst = append(dst, EncodeError(err)...)
		return append(dst, "\n\n"...)
	case canonical.EventDone:
		e.done = true
		return append(dst, "data: [DONE]\n\n"...)
	}
	return dst
}

// header writes the chunk envelope up to the opening of the choices array's value.
func (e *chunkEncoder) header(dst []byte) []byte {
	dst = append(dst, `data: {"id":`...)
	dst = appendJSONString(dst, e.id)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, e.created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, e.model)
	return append(dst, `,"choices":`...)
}

// open writes a chunk up to the inside of the delta object.
func (e *chunkEncoder) open(dst []byte, index int) []byte {
	dst = e.header(dst)
	dst = append(dst, `[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, `,"delta":{`...)
}

// close ends the delta object, writes finish_reason (null when empty) and ends the chunk.
func (e *chunkEncoder) close(dst []byte, finish string) []byte {
	dst = append(dst, `},"logprobs":null,"finish_reason":`...)
	dst = appendNullableString(dst, finish)
	dst = append(dst, "}]"...)
	if e.includeUsage {
		// OpenAI sends "usage":null on every chunk but the last when usage is requested.
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

// ensureRole writes the role chunk that opens a choice, once per choice.
func (e *chunkEncoder) ensureRole(dst []byte, index int) []byte {
	if index < 0 || index >= maxChoices {
		return dst
	}
	for len(e.roleSent) <= index {
		e.roleSent = append(e.roleSent, false)
	}
	if e.roleSent[index] {
		return dst
	}
	e.roleSent[index] = true
	dst = e.open(dst, index)
	dst = append(dst, `"role":"assistant","content":""`...)
	return e.close(dst, "")
}

func appendUsage(dst []byte, u canonical.Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.InputTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.OutputTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens()), 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CachedInputTokens), 10)
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.ReasoningTokens), 10)
	return append(dst, "}}"...)
}
