package anthropic

import (
	"encoding/json"
	"strconv"

	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// encodeRequest renders mr exactly as json.Marshal(mr) does, by appending to one
// buffer instead of reflecting over the struct and re-compacting every nested
// MarshalJSON result. The rare values it cannot render the same way (a NaN sampling
// setting, an invalid raw JSON value, a content block type toMessages never builds)
// go through json.Marshal, which also reports their errors.
func encodeRequest(mr *MessagesRequest) ([]byte, error) {
	if out, ok := appendRequest(make([]byte, 0, requestSize(mr)), mr); ok {
		return out, nil
	}
	return json.Marshal(mr)
}

// requestSize estimates the encoded size of mr so the buffer rarely grows.
func requestSize(mr *MessagesRequest) int {
	n := 256
	for _, t := range mr.Tools {
		n += len(t)
	}
	for _, b := range mr.System {
		n += len(b.Text) + 64
	}
	for i := range mr.Messages {
		for j := range mr.Messages[i].Content {
			b := &mr.Messages[i].Content[j]
			n += len(b.Text) + len(b.Input) + len(b.Thinking) + len(b.Signature) + len(b.Data) + 96
			if b.Content != nil {
				for _, c := range *b.Content {
					n += len(c.Text) + 64
				}
			}
		}
	}
	return n + n/16 // escapes
}

func appendRequest(dst []byte, mr *MessagesRequest) ([]byte, bool) {
	var ok bool
	dst = append(dst, '{')
	if mr.Model != "" {
		dst = append(dst, `"model":`...)
		dst = jsonwire.AppendString(dst, mr.Model)
		dst = append(dst, ',')
	}
	if mr.AnthropicVersion != "" {
		dst = append(dst, `"anthropic_version":`...)
		dst = jsonwire.AppendString(dst, mr.AnthropicVersion)
		dst = append(dst, ',')
	}
	dst = append(dst, `"max_tokens":`...)
	dst = strconv.AppendInt(dst, int64(mr.MaxTokens), 10)
	if len(mr.System) > 0 {
		dst = append(dst, `,"system":`...)
		s := mr.System
		if len(s) == 1 && s[0].Type == "text" && s[0].CacheControl == nil && len(s[0].Citations) == 0 {
			dst = jsonwire.AppendString(dst, s[0].Text)
		} else if dst, ok = appendContent(dst, Content(s)); !ok {
			return dst, false
		}
	}
	dst = append(dst, `,"messages":`...)
	if mr.Messages == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range mr.Messages {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"role":`...)
			dst = jsonwire.AppendString(dst, mr.Messages[i].Role)
			dst = append(dst, `,"content":`...)
			if dst, ok = appendContent(dst, mr.Messages[i].Content); !ok {
				return dst, false
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(mr.Tools) > 0 {
		dst = append(dst, `,"tools":[`...)
		for i, t := range mr.Tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			if i < mr.encodedTools {
				dst = append(dst, t...)
			} else if dst, ok = appendRaw(dst, t); !ok {
				return dst, false
			}
		}
		dst = append(dst, ']')
	}
	if tc := mr.ToolChoice; tc != nil {
		dst = append(dst, `,"tool_choice":{"type":`...)
		dst = jsonwire.AppendString(dst, tc.Type)
		if tc.Name != "" {
			dst = append(dst, `,"name":`...)
			dst = jsonwire.AppendString(dst, tc.Name)
		}
		if tc.DisableParallelToolUse {
			dst = append(dst, `,"disable_parallel_tool_use":true`...)
		}
		dst = append(dst, '}')
	}
	if th := mr.Thinking; th != nil {
		dst = append(dst, `,"thinking":{"type":`...)
		dst = jsonwire.AppendString(dst, th.Type)
		if th.BudgetTokens != 0 {
			dst = append(dst, `,"budget_tokens":`...)
			dst = strconv.AppendInt(dst, int64(th.BudgetTokens), 10)
		}
		dst = append(dst, '}')
	}
	if mr.Temperature != nil {
		dst = append(dst, `,"temperature":`...)
		if dst, ok = jsonwire.AppendFloat(dst, *mr.Temperature); !ok {
			return dst, false
		}
	}
	if mr.TopP != nil {
		dst = append(dst, `,"top_p":`...)
		if dst, ok = jsonwire.AppendFloat(dst, *mr.TopP); !ok {
			return dst, false
		}
	}
	if mr.TopK != nil {
		dst = append(dst, `,"top_k":`...)
		dst = strconv.AppendInt(dst, int64(*mr.TopK), 10)
	}
	if len(mr.StopSequences) > 0 {
		dst = append(dst, `,"stop_sequences":[`...)
		for i, s := range mr.StopSequences {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonwire.AppendString(dst, s)
		}
		dst = append(dst, ']')
	}
	if mr.Stream {
		dst = append(dst, `,"stream":true`...)
	}
	if m := mr.Metadata; m != nil {
		dst = append(dst, `,"metadata":{`...)
		if m.UserID != "" {
			dst = append(dst, `"user_id":`...)
			dst = jsonwire.AppendString(dst, m.UserID)
		}
		dst = append(dst, '}')
	}
	if oc := mr.OutputConfig; oc != nil {
		dst = append(dst, `,"output_config":{`...)
		if oc.Effort != "" {
			dst = append(dst, `"effort":`...)
			dst = jsonwire.AppendString(dst, oc.Effort)
		}
		if f := oc.Format; f != nil {
			if oc.Effort != "" {
				dst = append(dst, ',')
			}
			dst = append(dst, `"format":{"type":`...)
			dst = jsonwire.AppendString(dst, f.Type)
			dst = append(dst, `,"schema":`...)
			if dst, ok = appendRaw(dst, f.Schema); !ok {
				return dst, false
			}
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// appendRaw writes a json.RawMessage as json.Marshal does: null when nil, else
// compacted with HTML-significant characters escaped.
func appendRaw(dst []byte, raw json.RawMessage) ([]byte, bool) {
	if raw == nil {
		return append(dst, "null"...), true
	}
	return jsonwire.AppendCompact(dst, raw, true)
}

// appendContent writes blocks as an array of ContentBlock.MarshalJSON results.
func appendContent(dst []byte, c Content) ([]byte, bool) {
	if c == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i := range c {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendBlock(dst, &c[i]); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// appendBlock writes one block as ContentBlock.MarshalJSON does, for the block types
// toMessages builds.
func appendBlock(dst []byte, b *ContentBlock) ([]byte, bool) {
	var ok bool
	dst = append(dst, `{"type":`...)
	dst = jsonwire.AppendString(dst, b.Type)
	switch b.Type {
	case "text":
		dst = append(dst, `,"text":`...)
		dst = jsonwire.AppendString(dst, b.Text)
		if len(b.Citations) > 0 {
			dst = append(dst, `,"citations":`...)
			if dst, ok = appendRaw(dst, b.Citations); !ok {
				return dst, false
			}
		}
	case "image", "document":
		dst = append(dst, `,"source":`...)
		dst = appendSource(dst, b.Source)
		if b.Title != "" {
			dst = append(dst, `,"title":`...)
			dst = jsonwire.AppendString(dst, b.Title)
		}
	case "tool_use":
		dst = append(dst, `,"id":`...)
		dst = jsonwire.AppendString(dst, b.ID)
		dst = append(dst, `,"name":`...)
		dst = jsonwire.AppendString(dst, b.Name)
		dst = append(dst, `,"input":`...)
		if len(b.Input) == 0 {
			dst = append(dst, "{}"...)
		} else if dst, ok = appendRaw(dst, b.Input); !ok {
			return dst, false
		}
	case "tool_result":
		dst = append(dst, `,"tool_use_id":`...)
		dst = jsonwire.AppendString(dst, b.ToolUseID)
		if b.Content != nil {
			dst = append(dst, `,"content":`...)
			if dst, ok = appendContent(dst, *b.Content); !ok {
				return dst, false
			}
		}
		if b.IsError {
			dst = append(dst, `,"is_error":true`...)
		}
	case "thinking":
		dst = append(dst, `,"thinking":`...)
		dst = jsonwire.AppendString(dst, b.Thinking)
		dst = append(dst, `,"signature":`...)
		dst = jsonwire.AppendString(dst, b.Signature)
		return append(dst, '}'), true
	case "redacted_thinking":
		dst = append(dst, `,"data":`...)
		dst = jsonwire.AppendString(dst, b.Data)
		return append(dst, '}'), true
	default:
		return dst, false
	}
	if cc := b.CacheControl; cc != nil {
		dst = append(dst, `,"cache_control":{"type":`...)
		dst = jsonwire.AppendString(dst, cc.Type)
		if cc.TTL != "" {
			dst = append(dst, `,"ttl":`...)
			dst = jsonwire.AppendString(dst, cc.TTL)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

func appendSource(dst []byte, s *Source) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"type":`...)
	dst = jsonwire.AppendString(dst, s.Type)
	if s.MediaType != "" {
		dst = append(dst, `,"media_type":`...)
		dst = jsonwire.AppendString(dst, s.MediaType)
	}
	if s.Data != "" {
		dst = append(dst, `,"data":`...)
		dst = jsonwire.AppendString(dst, s.Data)
	}
	if s.URL != "" {
		dst = append(dst, `,"url":`...)
		dst = jsonwire.AppendString(dst, s.URL)
	}
	return append(dst, '}')
}
