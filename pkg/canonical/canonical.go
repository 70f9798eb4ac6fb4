// Package canonical defines the provider-neutral form of chat and embedding requests,
// responses and stream events. Every input schema (OpenAI Chat Completions, Anthropic
// Messages) converts to it and every backend schema converts from it, so N input schemas
// and M backends need N+M converters rather than N×M.
//
// The form follows OpenAI Chat Completions where that is expressive enough and adds what
// other providers carry (thinking blocks, cache markers, cache token counts). Fields a
// translator does not understand are kept in Extra so they can pass through to a backend
// of the same family.
package canonical

import "encoding/json"

// Role is the author of a message.
type Role string

// Roles. System covers OpenAI's "developer" too; translators map it back where needed.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Request is a chat request in canonical form.
type Request struct {
	// Model is the model name the backend should receive (already resolved by routing).
	Model string
	// System holds system/developer instructions in order; providers with a single
	// top-level system field join them.
	System []Part
	// Messages is the conversation, excluding system messages.
	Messages []Message
	// Tools the model may call.
	Tools []Tool
	// ToolChoice constrains tool use; nil means the provider default (auto).
	ToolChoice *ToolChoice
	// ParallelToolCalls, when set, allows or forbids several tool calls in one turn.
	ParallelToolCalls *bool
	// ResponseFormat asks for JSON output; nil means text.
	ResponseFormat *ResponseFormat
	// MaxTokens caps output tokens (OpenAI max_tokens or max_completion_tokens); 0 = unset.
	MaxTokens int
	// Temperature, TopP, TopK, PresencePenalty, FrequencyPenalty are sampling settings; nil = unset.
	Temperature      *float64
	TopP             *float64
	TopK             *int
	PresencePenalty  *float64
	FrequencyPenalty *float64
	// Stop sequences.
	Stop []string
	// N is the number of choices; 0 or 1 = one. Backends that cannot honour N>1 reject it.
	N int
	// Seed for deterministic sampling; nil = unset.
	Seed *int64
	// User is an end-user id for abuse tracking.
	User string
	// Stream asks for a streamed response.
	Stream bool
	// IncludeUsage asks for a usage chunk at the end of a stream (the caller's wish; the
	// gateway always asks the provider for usage itself).
	IncludeUsage bool
	// Reasoning configures thinking/reasoning; nil = provider default.
	Reasoning *Reasoning
	// Metadata is provider metadata (e.g. Anthropic metadata.user_id, OpenAI metadata).
	Metadata map[string]string
	// Extra holds top-level fields of the input body that the input translator did not
	// map, by JSON name, to pass through to same-family backends.
	Extra map[string]json.RawMessage
}

// Reasoning configures extended thinking / reasoning effort.
type Reasoning struct {
	// Effort is "minimal", "low", "medium" or "high" (OpenAI reasoning_effort); "" = unset.
	Effort string
	// BudgetTokens is an explicit thinking budget (Anthropic/Gemini); 0 = derive from Effort.
	BudgetTokens int
	// Disabled turns thinking off explicitly.
	Disabled bool
}

// Message is one turn of the conversation.
type Message struct {
	Role Role
	// Name is an optional participant name.
	Name string
	// Content is the ordered content parts (text, images, thinking, tool results).
	Content []Part
	// ToolCalls are calls the assistant made in this turn.
	ToolCalls []ToolCall
	// ToolCallID links a RoleTool message to the call it answers.
	ToolCallID string
}

// PartType discriminates Part.
type PartType string

// Part types.
const (
	PartText     PartType = "text"
	PartImage    PartType = "image"
	PartThinking PartType = "thinking"
	// PartRedactedThinking is an opaque thinking block (Anthropic redacted_thinking).
	PartRedactedThinking PartType = "redacted_thinking"
	// PartToolResult is a tool result inside a user turn (Anthropic/Gemini style); OpenAI
	// input is normalised to RoleTool messages instead.
	PartToolResult PartType = "tool_result"
)

// Part is one piece of message content.
type Part struct {
	Type PartType
	// Text for PartText and PartThinking.
	Text string
	// Image for PartImage.
	Image *Image
	// Signature is the provider's signature of a thinking block (must round-trip).
	Signature string
	// Data is the opaque payload of PartRedactedThinking.
	Data string
	// ToolResult for PartToolResult.
	ToolResult *ToolResult
	// CacheControl is an Anthropic prompt-cache marker ("ephemeral"), passed through.
	CacheControl *CacheControl
}

// Image is image input, by URL or inline bytes.
type Image struct {
	// URL is an http(s) URL; empty when Data is set.
	URL string
	// MediaType is the MIME type of inline data, e.g. "image/png".
	MediaType string
	// Data is base64-encoded image bytes (without the data: prefix).
	Data string
	// Detail is OpenAI's detail hint ("low", "high", "auto").
	Detail string
}

// CacheControl is a prompt-cache marker.
type CacheControl struct {
	Type string // "ephemeral"
	TTL  string // optional, e.g. "1h"
}

// ToolResult is the output of a tool call.
type ToolResult struct {
	ToolCallID string
	Content    []Part
	IsError    bool
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments.
	Parameters json.RawMessage
	// Strict asks for strict schema adherence (OpenAI).
	Strict       bool
	CacheControl *CacheControl
}

// ToolChoiceMode is how the model may use tools.
type ToolChoiceMode string

// Tool choice modes.
const (
	ToolChoiceAuto     ToolChoiceMode = "auto"
	ToolChoiceNone     ToolChoiceMode = "none"
	ToolChoiceRequired ToolChoiceMode = "required"
	// ToolChoiceNamed forces the tool in ToolChoice.Name.
	ToolChoiceNamed ToolChoiceMode = "named"
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string
}

// ResponseFormat asks for structured output.
type ResponseFormat struct {
	// Type is "text", "json_object" or "json_schema".
	Type string
	// Name, Schema, Strict describe a json_schema format.
	Name   string
	Schema json.RawMessage
	Strict bool
}

// ToolCall is one function call made by the model.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is the JSON text of the arguments, exactly as the model produced it.
	Arguments string
}

// FinishReason says why generation stopped, in OpenAI's vocabulary.
type FinishReason string

// Finish reasons.
const (
	FinishStop          FinishReason = "stop"
	FinishLength        FinishReason = "length"
	FinishToolCalls     FinishReason = "tool_calls"
	FinishContentFilter FinishReason = "content_filter"
	FinishError         FinishReason = "error"
)

// Response is a complete (non-streamed) chat response.
type Response struct {
	ID      string
	Model   string
	Created int64
	Choices []Choice
	Usage   Usage
	// ProviderFinishReason is the provider's raw stop reason of choice 0 (for Anthropic
	// stop_reason round trips); optional.
	ProviderFinishReason string
	// StopSequence is the stop sequence that ended generation, when the provider says.
	StopSequence string
}

// Choice is one generated alternative.
type Choice struct {
	Index        int
	Message      Message
	FinishReason FinishReason
}

// Usage counts tokens by kind. InputTokens includes cached and cache-creation tokens
// (OpenAI's prompt_tokens convention); translators for providers that report them
// separately (Anthropic) add them up.
type Usage struct {
	InputTokens         int
	OutputTokens        int
	CachedInputTokens   int // read from cache (subset of InputTokens)
	CacheCreationTokens int // written to cache (subset of InputTokens)
	ReasoningTokens     int // thinking tokens (subset of OutputTokens)
	// Estimated is true when the figures come from the gateway's tokenizer rather than
	// from the provider.
	Estimated bool
}

// TotalTokens is input plus output.
func (u Usage) TotalTokens() int { return u.InputTokens + u.OutputTokens }

// IsZero reports whether no tokens were counted.
func (u Usage) IsZero() bool { return u == Usage{} }

// EventType discriminates StreamEvent.
type EventType uint8

// Stream event types. A well-formed stream is Start, then deltas, then Finish (per
// choice), then Usage (optional), then Done; an Error event ends the stream early.
const (
	// EventStart opens the stream: ID, Model, Created are set.
	EventStart EventType = iota + 1
	// EventTextDelta appends Text to choice Index.
	EventTextDelta
	// EventThinkingDelta appends Text (thinking) or Signature to choice Index.
	EventThinkingDelta
	// EventToolCallStart opens tool call ToolIndex with ToolCall.ID and ToolCall.Name.
	EventToolCallStart
	// EventToolCallDelta appends ToolCall.Arguments to tool call ToolIndex.
	EventToolCallDelta
	// EventFinish ends choice Index with FinishReason.
	EventFinish
	// EventUsage carries the final token counts.
	EventUsage
	// EventError reports an error inside the stream (Err is set); the stream ends.
	EventError
	// EventDone marks the normal end of the stream.
	EventDone
)

// StreamEvent is one provider-neutral stream event.
type StreamEvent struct {
	Type      EventType
	Index     int // choice index
	ID        string
	Model     string
	Created   int64
	Text      string
	Signature string
	// ToolIndex is the position of the tool call within the choice's tool calls.
	ToolIndex    int
	ToolCall     ToolCall
	FinishReason FinishReason
	// ProviderFinishReason is the provider's raw stop reason (optional).
	ProviderFinishReason string
	Usage                Usage
	Err                  *Error
}

// EmbeddingRequest is an embeddings request in canonical form.
type EmbeddingRequest struct {
	Model string
	// Input is the list of texts (a single string input becomes one element).
	Input []string
	// Dimensions asks for shortened vectors; 0 = model default.
	Dimensions int
	// EncodingFormat is "float" (default) or "base64" as the caller wants it back.
	EncodingFormat string
	User           string
	// InputType is a retrieval hint some providers need ("search_document", "search_query", …).
	InputType string
}

// EmbeddingResponse is an embeddings response in canonical form.
type EmbeddingResponse struct {
	Model      string
	Embeddings [][]float32
	Usage      Usage
}
