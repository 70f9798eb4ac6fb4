package bedrock

import "encoding/json"

// Wire structs of the Bedrock Converse / ConverseStream API (service version
// 2023-09-30). Field names follow the API reference (ConverseRequest, ContentBlock,
// ToolConfiguration, TokenUsage, ConverseStreamOutput, …). Union types carry one
// pointer member per variant so exactly one is serialised.

type converseRequest struct {
	Messages                     []cvMessage        `json:"messages"`
	System                       []cvContentBlock   `json:"system,omitempty"`
	InferenceConfig              *cvInferenceConfig `json:"inferenceConfig,omitempty"`
	ToolConfig                   *cvToolConfig      `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields map[string]any     `json:"additionalModelRequestFields,omitempty"`
	RequestMetadata              map[string]string  `json:"requestMetadata,omitempty"`
	OutputConfig                 *cvOutputConfig    `json:"outputConfig,omitempty"`
}

type cvMessage struct {
	Role    string           `json:"role"`
	Content []cvContentBlock `json:"content"`
}

// cvContentBlock is the ContentBlock union (also used for SystemContentBlock, which
// allows only text and cachePoint).
type cvContentBlock struct {
	Text             *string       `json:"text,omitempty"`
	Image            *cvImage      `json:"image,omitempty"`
	ToolUse          *cvToolUse    `json:"toolUse,omitempty"`
	ToolResult       *cvToolResult `json:"toolResult,omitempty"`
	ReasoningContent *cvReasoning  `json:"reasoningContent,omitempty"`
	CachePoint       *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvImage struct {
	Format string        `json:"format"` // png | jpeg | gif | webp
	Source cvImageSource `json:"source"`
}

// cvImageSource carries the image bytes; a blob is base64 text in JSON, which is
// what the canonical form already holds, so it is passed as a string.
type cvImageSource struct {
	Bytes string `json:"bytes"`
}

type cvToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type cvToolResult struct {
	ToolUseID string                `json:"toolUseId"`
	Content   []cvToolResultContent `json:"content"`
	Status    string                `json:"status,omitempty"` // success | error
}

// cvToolResultContent is the ToolResultContentBlock union.
type cvToolResultContent struct {
	Text  *string         `json:"text,omitempty"`
	Image *cvImage        `json:"image,omitempty"`
	JSON  json.RawMessage `json:"json,omitempty"`
}

// cvReasoning is the ReasoningContentBlock union.
type cvReasoning struct {
	ReasoningText *cvReasoningText `json:"reasoningText,omitempty"`
	// RedactedContent is a blob (base64 text in JSON), kept opaque.
	RedactedContent string `json:"redactedContent,omitempty"`
}

type cvReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

type cvCachePoint struct {
	Type string `json:"type"`          // default
	TTL  string `json:"ttl,omitempty"` // 5m | 1h
}

type cvInferenceConfig struct {
	MaxTokens     int      `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

type cvToolConfig struct {
	Tools      []cvTool      `json:"tools"`
	ToolChoice *cvToolChoice `json:"toolChoice,omitempty"`
}

// cvTool is the Tool union.
type cvTool struct {
	ToolSpec   *cvToolSpec   `json:"toolSpec,omitempty"`
	CachePoint *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvToolSpec struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	InputSchema cvInputSchema `json:"inputSchema"`
	Strict      bool          `json:"strict,omitempty"`
}

type cvInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// cvToolChoice is the ToolChoice union: auto, any (OpenAI "required") or tool.
type cvToolChoice struct {
	Auto *struct{}       `json:"auto,omitempty"`
	Any  *struct{}       `json:"any,omitempty"`
	Tool *cvSpecificTool `json:"tool,omitempty"`
}

type cvSpecificTool struct {
	Name string `json:"name"`
}

type cvOutputConfig struct {
	TextFormat *cvOutputFormat `json:"textFormat,omitempty"`
}

type cvOutputFormat struct {
	Type      string            `json:"type"` // json_schema
	Structure cvOutputStructure `json:"structure"`
}

type cvOutputStructure struct {
	JSONSchema cvJSONSchemaDefinition `json:"jsonSchema"`
}

// cvJSONSchemaDefinition carries the schema as a JSON string, as the API wants.
type cvJSONSchemaDefinition struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

type converseResponse struct {
	Output struct {
		Message *cvMessage `json:"message"`
	} `json:"output"`
	StopReason string  `json:"stopReason"`
	Usage      cvUsage `json:"usage"`
}

type cvUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
}

// Stream event payloads (the JSON payload of each event-stream frame, named by the
// frame's :event-type header).

type cvContentBlockStart struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
}

type cvContentBlockDelta struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Delta             struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text            *string `json:"text"`
			Signature       *string `json:"signature"`
			RedactedContent *string `json:"redactedContent"`
		} `json:"reasoningContent"`
	} `json:"delta"`
}

type cvMessageStop struct {
	StopReason string `json:"stopReason"`
}

type cvMetadata struct {
	Usage *cvUsage `json:"usage"`
}
