package openai

import "encoding/json"

// ChatRequest is the body of POST /v1/chat/completions. Fields the gateway does not
// interpret (logprobs, logit_bias, store, service_tier, modalities, audio, prediction,
// web_search_options, verbosity, prompt_cache_key, …) travel in canonical.Request.Extra.
type ChatRequest struct {
	Model               string            `json:"model"`
	Messages            []Message         `json:"messages"`
	Tools               []Tool            `json:"tools,omitempty"`
	ToolChoice          *ToolChoice       `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat   `json:"response_format,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *StreamOptions    `json:"stream_options,omitempty"`
	MaxTokens           *int              `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int              `json:"max_completion_tokens,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	TopK                *int              `json:"top_k,omitempty"` // vLLM, TGI, Together, Ollama extension
	PresencePenalty     *float64          `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64          `json:"frequency_penalty,omitempty"`
	Stop                StringList        `json:"stop,omitempty"`
	N                   *int              `json:"n,omitempty"`
	Seed                *int64            `json:"seed,omitempty"`
	User                string            `json:"user,omitempty"`
	ReasoningEffort     string            `json:"reasoning_effort,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
}

// isChatRequestField reports whether ChatRequest maps the top-level key k; every
// other key of a caller's body goes to canonical.Request.Extra.
func isChatRequestField(k string) bool {
	switch k {
	case "model", "messages", "tools", "tool_choice", "parallel_tool_calls",
		"response_format", "stream", "stream_options", "max_tokens",
		"max_completion_tokens", "temperature", "top_p", "top_k", "presence_penalty",
		"frequency_penalty", "stop", "n", "seed", "user", "reasoning_effort", "metadata":
		return true
	}
	return false
}

// StreamOptions configures a streamed response.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message, in requests and (role "assistant") in responses.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
	Name    string  `json:"name,omitempty"`
	// Refusal is set on assistant messages the model refused to write.
	Refusal *string `json:"refusal,omitempty"`
	// ReasoningContent is the reasoning text of DeepSeek, vLLM and others; Reasoning is
	// OpenRouter's and Ollama's name for it. Neither is OpenAI; both are read from
	// responses, and ReasoningContent is written for callers that show it.
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	Reasoning        string     `json:"reasoning,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
}

// Content is a message's content: null, a string, or an array of parts.
type Content struct {
	// Text is set for string content.
	Text *string
	// Parts is set for array content (non-nil, possibly empty).
	Parts []ContentPart
}

// ContentPart is one element of array content.
type ContentPart struct {
	// Type is "text", "image_url", "refusal", "input_audio" or "file".
	Type     string    `json:"type"`
	Text     *string   `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
	Refusal  *string   `json:"refusal,omitempty"`
}

// ImageURL is an image reference: an http(s) URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a callable function.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is "none", "auto", "required", or {"type":"function","function":{"name":…}}.
type ToolChoice struct {
	// Mode is set for the string forms.
	Mode string
	// Type and Function are set for the object form.
	Type     string
	Function *FunctionName
}

// FunctionName names a function.
type FunctionName struct {
	Name string `json:"name"`
}

// ResponseFormat asks for JSON output.
type ResponseFormat struct {
	// Type is "text", "json_object" or "json_schema".
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is the json_schema response format.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model made.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a function name and its JSON-encoded arguments.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ChatResponse is a non-streamed chat completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	ServiceTier       string   `json:"service_tier,omitempty"`
}

// Choice is one alternative of a ChatResponse.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// Usage counts tokens. DeepSeek reports cache hits as prompt_cache_hit_tokens instead
// of prompt_tokens_details.cached_tokens; both are read.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	PromptCacheHitTokens    int                      `json:"prompt_cache_hit_tokens,omitempty"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens,omitempty"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens,omitempty"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens,omitempty"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens,omitempty"`
}

// ChatChunk is one "chat.completion.chunk" of a streamed response. An OpenAI-style
// error inside the stream arrives as a chunk with only Error set.
type ChatChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
	Error   *ErrorDetail  `json:"error,omitempty"`
	// XGroq carries Groq's usage on the last chunk when stream_options is not honoured.
	XGroq *struct {
		Usage *Usage `json:"usage,omitempty"`
	} `json:"x_groq,omitempty"`
}

// ChunkChoice is one choice's delta.
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// Delta is the incremental content of a chunk.
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	Refusal          *string         `json:"refusal,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	Reasoning        *string         `json:"reasoning,omitempty"`
	ToolCalls        []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ToolCallDelta is a fragment of a tool call: index, id, type and name on the first
// fragment, argument text after.
type ToolCallDelta struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments,omitempty"`
	} `json:"function"`
}

// ErrorBody is OpenAI's error envelope {"error":{…}}.
type ErrorBody struct {
	Error *ErrorDetail `json:"error"`
}

// ErrorDetail is OpenAI's error object. Code and Param may be null; compatible
// servers send numeric codes, which are kept as their decimal text.
type ErrorDetail struct {
	Message string     `json:"message"`
	Type    string     `json:"type"`
	Param   NullString `json:"param"`
	Code    NullString `json:"code"`
}

// EmbeddingRequest is the body of POST /v1/embeddings.
type EmbeddingRequest struct {
	Input          EmbeddingInput `json:"input"`
	Model          string         `json:"model"`
	Dimensions     *int           `json:"dimensions,omitempty"`
	EncodingFormat string         `json:"encoding_format,omitempty"`
	User           string         `json:"user,omitempty"`
}

// EmbeddingInput is a string, an array of strings, an array of token ids, or an
// array of token-id arrays.
type EmbeddingInput struct {
	// Texts holds string inputs; Single is true when the input was one bare string.
	Texts  []string
	Single bool
	// Tokens holds token-id inputs; SingleTokens is true for one bare id array.
	Tokens       [][]int
	SingleTokens bool
}

// EmbeddingResponse is the response of /v1/embeddings.
type EmbeddingResponse struct {
	Object string          `json:"object"`
	Data   []Embedding     `json:"data"`
	Model  string          `json:"model"`
	Usage  *EmbeddingUsage `json:"usage,omitempty"`
}

// Embedding is one vector.
type Embedding struct {
	Object    string          `json:"object"`
	Embedding EmbeddingVector `json:"embedding"`
	Index     int             `json:"index"`
}

// EmbeddingVector is an array of floats or, with encoding_format "base64", the
// base64 of little-endian float32 values.
type EmbeddingVector struct {
	Floats []float32
	Base64 string
}

// EmbeddingUsage counts embedding tokens.
type EmbeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// ModelList is the response of /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// Model describes one model.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}
