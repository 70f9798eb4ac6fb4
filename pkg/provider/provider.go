// Package provider defines what the gateway needs from an LLM provider adapter and the
// registry that maps a config "kind" to an adapter. Each provider lives in its own
// sub-folder (schema structs, translation to and from the canonical form, stream
// decoder, auth scheme, error mapping); adding one touches that folder and one line in
// package provider/all.
//
// Adapters are pure: they turn canonical values into bytes and back, and know nothing
// about gRPC or Envoy.
package provider

import (
	"context"
	"net/http"

	"github.com/llm-router/llm-router/pkg/canonical"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Schema names a wire format family. When a caller's input schema equals the backend's
// schema, the body passes through with minimal edits instead of being translated.
type Schema string

// Wire schemas.
const (
	SchemaOpenAI          Schema = "openai"
	SchemaAnthropic       Schema = "anthropic"
	SchemaGemini          Schema = "gemini"
	SchemaBedrockConverse Schema = "bedrock-converse"
	SchemaCohere          Schema = "cohere"
)

// Operation is the kind of call.
type Operation string

// Operations.
const (
	OpChat       Operation = "chat"
	OpEmbeddings Operation = "embeddings"
)

// Target addresses one upstream call.
type Target struct {
	// Model is the upstream model name (Azure: the deployment; Bedrock: the model id).
	Model string
	// Stream asks for a streamed response.
	Stream bool
}

// UpstreamRequest is the request to send upstream, produced by an adapter.
type UpstreamRequest struct {
	// Method is the HTTP method, normally POST.
	Method string
	// Path is the full path including the base URL's path prefix and any query.
	Path string
	// Header holds headers to set (content-type, auth, version headers).
	Header http.Header
	// Body is the encoded request body.
	Body []byte
}

// Settings is one configured provider with its secrets resolved.
type Settings struct {
	// Name is the provider's config name.
	Name string
	// Kind is the registry kind.
	Kind string
	// BaseURL is the scheme://host[:port][/prefix] the provider is reached at.
	BaseURL string
	// APIKey is the resolved API key (may be empty for keyless local servers).
	APIKey string
	// Headers are extra headers with resolved values.
	Headers map[string]string
	// Config is the raw provider config, for kind-specific settings.
	Config *configv1.Provider
	// Resolve turns a secret reference ("${ENV}", "file:/path") into its value.
	Resolve func(ref string) (string, error)
}

// Backend is a provider's wire adapter: canonical form to provider bytes and back.
type Backend interface {
	// Schema is the wire family this backend speaks.
	Schema() Schema
	// BuildChatRequest translates a canonical chat request. It returns a
	// *canonical.Error (400) for requests the provider cannot express.
	BuildChatRequest(ctx context.Context, req *canonical.Request, t Target) (*UpstreamRequest, error)
	// DecodeChatResponse decodes a successful non-streamed response body.
	DecodeChatResponse(body []byte) (*canonical.Response, error)
	// NewChatStreamDecoder returns a decoder for one streamed response body.
	NewChatStreamDecoder() StreamDecoder
	// DecodeError maps an upstream error status and body to a canonical error.
	DecodeError(status int, header http.Header, body []byte) *canonical.Error
}

// EmbeddingBackend is implemented by backends that serve embeddings.
type EmbeddingBackend interface {
	BuildEmbeddingRequest(ctx context.Context, req *canonical.EmbeddingRequest, t Target) (*UpstreamRequest, error)
	DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error)
}

// Signer adds credentials to an upstream request after translation, so a signature
// (AWS SigV4) covers the final body. Implementations must not log secrets.
type Signer interface {
	Sign(ctx context.Context, req *UpstreamRequest) error
}

// StreamDecoder turns a provider's streamed body into canonical events. Input may be
// split at any byte boundary; the decoder keeps partial data between calls.
type StreamDecoder interface {
	// Decode consumes chunk and appends the completed events to dst.
	Decode(dst []canonical.StreamEvent, chunk []byte) ([]canonical.StreamEvent, error)
	// Finish is called at the end of the body and appends any final events; it returns
	// an error if the stream ended mid-event or without its terminal event.
	Finish(dst []canonical.StreamEvent) ([]canonical.StreamEvent, error)
}

// Adapter is a constructed provider: its backend, its credential signer and settings.
type Adapter struct {
	Settings Settings
	Backend  Backend
	// Signer may be nil when BuildChatRequest already set the credentials.
	Signer Signer
}

// Factory builds an adapter from settings.
type Factory func(s Settings) (*Adapter, error)

// Frontend is a client-facing input schema (OpenAI Chat Completions, Anthropic Messages).
type Frontend interface {
	// Schema is the wire family of the input API.
	Schema() Schema
	// ParseChatRequest decodes a caller's body; errors are *canonical.Error (400).
	ParseChatRequest(body []byte) (*canonical.Request, error)
	// EncodeChatResponse renders a response in the caller's schema.
	EncodeChatResponse(resp *canonical.Response) ([]byte, error)
	// NewChatStreamEncoder returns an encoder for one streamed response.
	NewChatStreamEncoder(req *canonical.Request) StreamEncoder
	// EncodeError renders an error body in the caller's schema.
	EncodeError(err *canonical.Error) []byte
}

// StreamEncoder renders canonical events as the caller's SSE bytes.
type StreamEncoder interface {
	// Encode appends the SSE bytes for ev to dst (possibly none).
	Encode(dst []byte, ev *canonical.StreamEvent) []byte
}

// Passthrough edits a body whose input schema equals the backend schema, and reads
// usage from the untranslated response. It is the fast path.
type Passthrough interface {
	// RewriteChatRequest sets the upstream model and, for streams, asks for usage.
	// It reports whether the caller itself asked for stream usage.
	RewriteChatRequest(body []byte, model string, stream bool) (out []byte, callerWantsUsage bool, err error)
	// NewUsageScanner watches response bytes for usage. When strip is true it removes
	// a usage-only chunk the caller did not ask for.
	NewUsageScanner(stream, strip bool) UsageScanner
}

// PassthroughRequester is implemented by backends that can address a request whose
// body is already in their schema (path, headers and credentials only), so the
// passthrough path builds nothing else.
type PassthroughRequester interface {
	NewPassthroughRequest(op Operation, t Target, body []byte) *UpstreamRequest
}

// UsageScanner observes response bytes and extracts token usage.
type UsageScanner interface {
	// Scan consumes a response chunk and returns the bytes to forward.
	Scan(chunk []byte, endOfStream bool) []byte
	// Usage returns what was found so far (zero if none).
	Usage() canonical.Usage
}

// EmbeddingFrontend is implemented by input schemas that accept embeddings requests.
type EmbeddingFrontend interface {
	// ParseEmbeddingRequest decodes a caller's embeddings body; errors are *canonical.Error.
	ParseEmbeddingRequest(body []byte) (*canonical.EmbeddingRequest, error)
	// EncodeEmbeddingResponse renders an embeddings response in the caller's schema
	// with the caller's encoding_format ("float" or "base64").
	EncodeEmbeddingResponse(resp *canonical.EmbeddingResponse, format string) ([]byte, error)
}
