package cohere

import "encoding/json"

// Wire structs of Cohere's v2 API (POST /v2/chat, POST /v2/embed), field names as in
// the v2 API reference and the official SDK (cohere-go v2).

type chatRequest struct {
	Model            string          `json:"model"`
	Messages         []message       `json:"messages"`
	Tools            []tool          `json:"tools,omitempty"`
	StrictTools      bool            `json:"strict_tools,omitempty"`
	ToolChoice       string          `json:"tool_choice,omitempty"` // REQUIRED | NONE
	ResponseFormat   *responseFormat `json:"response_format,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
	MaxTokens        int             `json:"max_tokens,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	K                *int            `json:"k,omitempty"`
	P                *float64        `json:"p,omitempty"`
	Thinking         *thinking       `json:"thinking,omitempty"`
}

// message is any v2 chat message; which fields apply depends on Role (system,
// user, assistant, tool).
type message struct {
	Role       string        `json:"role"`
	Content    []contentItem `json:"content,omitempty"`
	ToolCalls  []toolCall    `json:"tool_calls,omitempty"`
	ToolPlan   string        `json:"tool_plan,omitempty"`
	ToolCallID string        `json:"tool_call_id,omitempty"`
}

// contentItem is a content block: {"type":"text","text"}, {"type":"image_url",
// "image_url":{…}} or, in responses, {"type":"thinking","thinking"}.
type contentItem struct {
	Type     string    `json:"type"`
	Text     *string   `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
	Thinking *string   `json:"thinking,omitempty"`
}

type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"` // low | high | auto
}

type toolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"` // function
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments,omitempty"`
}

type tool struct {
	Type     string          `json:"type"` // function
	Function toolFunctionDef `json:"function"`
}

type toolFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type responseFormat struct {
	Type       string          `json:"type"` // text | json_object
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

type thinking struct {
	Type        string `json:"type"` // enabled | disabled
	TokenBudget int    `json:"token_budget,omitempty"`
}

type chatResponse struct {
	ID           string `json:"id"`
	FinishReason string `json:"finish_reason"`
	Message      struct {
		Role      string        `json:"role"`
		Content   []contentItem `json:"content"`
		ToolPlan  string        `json:"tool_plan"`
		ToolCalls []toolCall    `json:"tool_calls"`
	} `json:"message"`
	Usage *usage `json:"usage"`
}

// usage counts tokens twice: billed_units (what Cohere charges) and tokens (what
// the model saw, including Cohere's prompt template). Numbers may be fractional in
// the schema, so they are float64 here.
type usage struct {
	BilledUnits *tokenCounts `json:"billed_units"`
	Tokens      *tokenCounts `json:"tokens"`
}

type tokenCounts struct {
	InputTokens  float64 `json:"input_tokens"`
	OutputTokens float64 `json:"output_tokens"`
}

// streamEvent is one v2 chat stream event (the SSE data), discriminated by Type.
// delta.message.content and .tool_calls are arrays in message-start and objects in
// the content and tool-call events, so they stay raw until the type is known.
type streamEvent struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Index int    `json:"index"`
	Delta *struct {
		Message *struct {
			Content   json.RawMessage `json:"content"`
			ToolPlan  *string         `json:"tool_plan"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
		Usage        *usage `json:"usage"`
		Error        string `json:"error"`
	} `json:"delta"`
	// Message is set on error payloads ({"message": …}) sent inside a stream.
	Message string `json:"message"`
}

// streamContent is delta.message.content of content-start / content-delta.
type streamContent struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Thinking *string `json:"thinking"`
}

// streamToolCall is delta.message.tool_calls of tool-call-start / -delta.
type streamToolCall struct {
	ID       string `json:"id"`
	Function *struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type embedRequest struct {
	Model           string   `json:"model"`
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	EmbeddingTypes  []string `json:"embedding_types"`
	OutputDimension int      `json:"output_dimension,omitempty"`
}

type embedResponse struct {
	ID         string `json:"id"`
	Embeddings struct {
		Float [][]float32 `json:"float"`
	} `json:"embeddings"`
	Meta *struct {
		BilledUnits *struct {
			InputTokens float64 `json:"input_tokens"`
		} `json:"billed_units"`
	} `json:"meta"`
}
