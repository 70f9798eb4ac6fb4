package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// This file holds the Anthropic Messages wire types
// (https://platform.claude.com/docs/en/api/messages). Request types marshal exactly the
// fields each block type documents, because the API rejects unknown or misplaced
// fields ("Extra inputs are not permitted"); response types decode leniently.

// MessagesRequest is the body of POST /v1/messages (and of Vertex :rawPredict, which
// carries anthropic_version and no model).
type MessagesRequest struct {
	Model            string            `json:"model,omitempty"`
	AnthropicVersion string            `json:"anthropic_version,omitempty"`
	MaxTokens        int               `json:"max_tokens"`
	System           SystemPrompt      `json:"system,omitempty"`
	Messages         []Message         `json:"messages"`
	Tools            []json.RawMessage `json:"tools,omitempty"`
	ToolChoice       *ToolChoice       `json:"tool_choice,omitempty"`
	Thinking         *Thinking         `json:"thinking,omitempty"`
	Temperature      *float64          `json:"temperature,omitempty"`
	TopP             *float64          `json:"top_p,omitempty"`
	TopK             *int              `json:"top_k,omitempty"`
	StopSequences    []string          `json:"stop_sequences,omitempty"`
	Stream           bool              `json:"stream,omitempty"`
	Metadata         *Metadata         `json:"metadata,omitempty"`
	OutputConfig     *OutputConfig     `json:"output_config,omitempty"`

	// encodedTools counts the leading Tools that toMessages already wrote compact and
	// escaped, so the request encoder copies them instead of compacting them again.
	encodedTools int
}

// Message is one conversation turn.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a list of content blocks. On input it also accepts the string shorthand
// (one text block); it always marshals as an array, except for a top-level system
// prompt without cache markers, which MarshalSystem renders as a string.
type Content []ContentBlock

// UnmarshalJSON accepts a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content{{Type: "text", Text: s}}
		return nil
	}
	if string(b) == "null" {
		*c = nil
		return nil
	}
	var blocks []ContentBlock
	if err := json.Unmarshal(b, &blocks); err != nil {
		return err
	}
	*c = blocks
	return nil
}

// SystemPrompt is the top-level system field: the string shorthand when it is one text
// block without a cache marker, else an array of text blocks.
type SystemPrompt Content

// MarshalJSON implements json.Marshaler.
func (s SystemPrompt) MarshalJSON() ([]byte, error) {
	if len(s) == 1 && s[0].Type == "text" && s[0].CacheControl == nil && len(s[0].Citations) == 0 {
		return json.Marshal(s[0].Text)
	}
	return json.Marshal(Content(s))
}

// UnmarshalJSON accepts a string or an array of blocks.
func (s *SystemPrompt) UnmarshalJSON(b []byte) error { return (*Content)(s).UnmarshalJSON(b) }

// ContentBlock is any request or response content block. Decoding fills the fields the
// block's type uses; encoding emits exactly those fields (see MarshalJSON).
type ContentBlock struct {
	Type string `json:"type"`
	// text
	Text      string          `json:"text,omitempty"`
	Citations json.RawMessage `json:"citations,omitempty"`
	// image, document
	Source *Source `json:"source,omitempty"`
	Title  string  `json:"title,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string   `json:"tool_use_id,omitempty"`
	Content   *Content `json:"content,omitempty"`
	IsError   bool     `json:"is_error,omitempty"`
	// thinking, redacted_thinking
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`

	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// UnmarshalJSON decodes a block. Block types this package does not map (server tool
// results, search results, …) may reuse field names with other shapes; they decode to
// their type alone instead of failing the whole request.
func (b *ContentBlock) UnmarshalJSON(data []byte) error {
	type plain ContentBlock
	var p plain
	err := json.Unmarshal(data, &p)
	if err == nil {
		*b = ContentBlock(p)
		return nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil {
		return err
	}
	switch head.Type {
	case "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking":
		return err
	}
	*b = ContentBlock{Type: head.Type}
	return nil
}

// MarshalJSON emits the fields documented for the block's type, including required
// empty strings (a thinking block with empty text keeps "thinking":"").
func (b ContentBlock) MarshalJSON() ([]byte, error) {
	switch b.Type {
	case "text":
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Text         string          `json:"text"`
			Citations    json.RawMessage `json:"citations,omitempty"`
			CacheControl *CacheControl   `json:"cache_control,omitempty"`
		}{b.Type, b.Text, b.Citations, b.CacheControl})
	case "image", "document":
		return json.Marshal(struct {
			Type         string        `json:"type"`
			Source       *Source       `json:"source"`
			Title        string        `json:"title,omitempty"`
			CacheControl *CacheControl `json:"cache_control,omitempty"`
		}{b.Type, b.Source, b.Title, b.CacheControl})
	case "tool_use":
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		return json.Marshal(struct {
			Type         string          `json:"type"`
			ID           string          `json:"id"`
			Name         string          `json:"name"`
			Input        json.RawMessage `json:"input"`
			CacheControl *CacheControl   `json:"cache_control,omitempty"`
		}{b.Type, b.ID, b.Name, input, b.CacheControl})
	case "tool_result":
		return json.Marshal(struct {
			Type         string        `json:"type"`
			ToolUseID    string        `json:"tool_use_id"`
			Content      *Content      `json:"content,omitempty"`
			IsError      bool          `json:"is_error,omitempty"`
			CacheControl *CacheControl `json:"cache_control,omitempty"`
		}{b.Type, b.ToolUseID, b.Content, b.IsError, b.CacheControl})
	case "thinking":
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{b.Type, b.Thinking, b.Signature})
	case "redacted_thinking":
		return json.Marshal(struct {
			Type string `json:"type"`
			Data string `json:"data"`
		}{b.Type, b.Data})
	default:
		type plain ContentBlock
		return json.Marshal(plain(b))
	}
}

// Source is an image or document source.
type Source struct {
	Type      string `json:"type"` // base64, url, text
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// CacheControl is a prompt-cache breakpoint.
type CacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// Tool is a client tool definition.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
}

// ToolChoice constrains tool use.
type ToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Thinking configures extended thinking.
type Thinking struct {
	Type         string `json:"type"` // enabled, disabled, adaptive
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// Metadata is request metadata; only user_id is accepted by the API.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// OutputConfig carries structured-output settings.
type OutputConfig struct {
	Effort string        `json:"effort,omitempty"`
	Format *OutputFormat `json:"format,omitempty"`
}

// OutputFormat asks for JSON output matching Schema.
type OutputFormat struct {
	Type   string          `json:"type"` // json_schema
	Schema json.RawMessage `json:"schema"`
}

// MessagesResponse is a complete message (non-streamed body, or message_start's
// message).
type MessagesResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage is Anthropic's token accounting. input_tokens excludes cached and
// cache-creation tokens; output_tokens includes thinking.
type Usage struct {
	InputTokens              int                  `json:"input_tokens"`
	OutputTokens             int                  `json:"output_tokens"`
	CacheCreationInputTokens int                  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int                  `json:"cache_read_input_tokens"`
	OutputTokensDetails      *OutputTokensDetails `json:"output_tokens_details,omitempty"`
}

// OutputTokensDetails breaks output tokens down.
type OutputTokensDetails struct {
	ThinkingTokens int `json:"thinking_tokens"`
}

// deltaUsage is message_delta's usage: cumulative counts, each possibly absent.
type deltaUsage struct {
	InputTokens              *int                 `json:"input_tokens"`
	OutputTokens             *int                 `json:"output_tokens"`
	CacheCreationInputTokens *int                 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int                 `json:"cache_read_input_tokens"`
	OutputTokensDetails      *OutputTokensDetails `json:"output_tokens_details"`
}

// streamEvent is the union of all Messages stream events.
type streamEvent struct {
	Type         string            `json:"type"`
	Message      *MessagesResponse `json:"message"`
	Index        int               `json:"index"`
	ContentBlock *ContentBlock     `json:"content_block"`
	Delta        *streamDelta      `json:"delta"`
	Usage        *deltaUsage       `json:"usage"`
	Error        *ErrorDetail      `json:"error"`
}

// streamDelta is the union of content_block_delta deltas and message_delta's delta.
type streamDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	PartialJSON  string  `json:"partial_json"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// ErrorBody is Anthropic's error envelope.
type ErrorBody struct {
	Type      string      `json:"type"` // "error"
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorDetail is the inner error object.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// compactObject validates that raw is a JSON object and returns it compacted.
func compactObject(raw []byte) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	if out, ok := jsonwire.AppendCompact(make([]byte, 0, len(raw)), raw, false); ok {
		return out, nil
	}
	var buf bytes.Buffer // json.Compact reports the error (or follows deeper nesting)
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
