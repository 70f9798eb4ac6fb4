package bedrock

import "encoding/json"

// Minimal Anthropic Messages wire structs for Claude on Bedrock InvokeModel. They
// are local on purpose: the Bedrock body differs from the first-party API (no
// "model", no "stream", "anthropic_version" in the body) and this keeps the Bedrock
// adapter independent of package anthropic.

// bedrockAnthropicVersion is the only anthropic_version Bedrock accepts.
const bedrockAnthropicVersion = "bedrock-2023-05-31"

type anRequest struct {
	AnthropicVersion string          `json:"anthropic_version"`
	MaxTokens        int             `json:"max_tokens"`
	System           []anBlock       `json:"system,omitempty"`
	Messages         []anMessage     `json:"messages"`
	Tools            []anTool        `json:"tools,omitempty"`
	ToolChoice       *anToolChoice   `json:"tool_choice,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	TopK             *int            `json:"top_k,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	Thinking         *anThinking     `json:"thinking,omitempty"`
	Metadata         *anMetadata     `json:"metadata,omitempty"`
	OutputConfig     *anOutputConfig `json:"output_config,omitempty"`
}

type anMessage struct {
	Role    string    `json:"role"`
	Content []anBlock `json:"content"`
}

// anBlock is any content block; Type selects which fields are meaningful.
type anBlock struct {
	Type string `json:"type"`
	// text
	Text *string `json:"text,omitempty"`
	// image
	Source *anImageSource `json:"source,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string    `json:"tool_use_id,omitempty"`
	Content   []anBlock `json:"content,omitempty"`
	IsError   bool      `json:"is_error,omitempty"`
	// thinking / redacted_thinking
	Thinking  *string `json:"thinking,omitempty"`
	Signature string  `json:"signature,omitempty"`
	Data      string  `json:"data,omitempty"`

	CacheControl *anCacheControl `json:"cache_control,omitempty"`
}

type anImageSource struct {
	Type      string `json:"type"` // base64
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

type anCacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

type anTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl *anCacheControl `json:"cache_control,omitempty"`
}

type anToolChoice struct {
	Type                   string `json:"type"` // auto | any | tool | none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type anThinking struct {
	Type         string `json:"type"` // enabled | disabled
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

type anMetadata struct {
	UserID string `json:"user_id,omitempty"`
}

type anOutputConfig struct {
	Format *anOutputFormat `json:"format,omitempty"`
}

type anOutputFormat struct {
	Type   string          `json:"type"` // json_schema
	Schema json.RawMessage `json:"schema"`
}

type anResponse struct {
	ID           string    `json:"id"`
	Model        string    `json:"model"`
	Content      []anBlock `json:"content"`
	StopReason   string    `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        anUsage   `json:"usage"`
}

type anUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// anStreamEvent is one Anthropic streaming event, as carried base64-encoded in the
// "bytes" of a Bedrock "chunk" frame.
type anStreamEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID    string  `json:"id"`
		Model string  `json:"model"`
		Usage anUsage `json:"usage"`
	} `json:"message"`
	Index        int `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta *struct {
		Type         string  `json:"type"`
		Text         string  `json:"text"`
		PartialJSON  string  `json:"partial_json"`
		Thinking     string  `json:"thinking"`
		Signature    string  `json:"signature"`
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *struct {
		InputTokens              *int `json:"input_tokens"`
		OutputTokens             *int `json:"output_tokens"`
		CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
	} `json:"usage"`
	Metrics *struct {
		InputTokenCount  int `json:"inputTokenCount"`
		OutputTokenCount int `json:"outputTokenCount"`
	} `json:"amazon-bedrock-invocationMetrics"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// anChunk is the payload of an InvokeModelWithResponseStream "chunk" frame.
type anChunk struct {
	Bytes []byte `json:"bytes"` // base64 in JSON; encoding/json decodes it
}
