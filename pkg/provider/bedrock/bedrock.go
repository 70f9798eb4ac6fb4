// Package bedrock is the Amazon Bedrock Runtime adapter. It registers two kinds:
//
//   - "bedrock" speaks the Converse API (POST /model/{modelId}/converse and
//     /converse-stream), Bedrock's model-neutral chat schema, and serves every chat
//     model Converse supports (Claude, Nova, Llama, Mistral, Cohere Command, …).
//   - "bedrock-anthropic" speaks Claude's native Anthropic Messages body through
//     InvokeModel (POST /model/{modelId}/invoke and /invoke-with-response-stream,
//     with anthropic_version "bedrock-2023-05-31"), for Anthropic features Converse
//     does not expose. Choose it explicitly in the provider config: Converse is the
//     default because it covers all models.
//
// Both sign requests with SigV4 (service "bedrock") after translation, and both
// serve embeddings through InvokeModel (Amazon Titan Text Embeddings and Cohere
// Embed on Bedrock). Streams arrive as AWS event-stream frames (package
// eventstream); exception frames inside a 200 response become canonical error
// events.
package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Provider kinds registered by this package.
const (
	// Kind is the Converse-based Bedrock provider.
	Kind = "bedrock"
	// KindAnthropic is Claude on Bedrock through InvokeModel with the Anthropic
	// Messages body.
	KindAnthropic = "bedrock-anthropic"
)

// SchemaBedrockAnthropic is the wire schema of KindAnthropic: Anthropic Messages as
// Bedrock wants it (no model or stream field, anthropic_version in the body, an
// event-stream response). It differs from provider.SchemaAnthropic so a caller's
// Anthropic body is never passed through to Bedrock untranslated.
const SchemaBedrockAnthropic provider.Schema = "bedrock-anthropic"

// defaultMaxTokens is used for Claude when neither the caller nor the config
// (anthropic.default_max_tokens) sets a limit; the Messages API requires one.
const defaultMaxTokens = 4096

// DefaultBaseURL is the Bedrock Runtime endpoint of region.
func DefaultBaseURL(region string) string {
	return "https://bedrock-runtime." + region + ".amazonaws.com"
}

// Register adds the "bedrock" and "bedrock-anthropic" kinds to r.
func Register(r *provider.Registry) {
	r.Register(Kind, func(s provider.Settings) (*provider.Adapter, error) {
		return newAdapter(context.Background(), s, false)
	})
	r.Register(KindAnthropic, func(s provider.Settings) (*provider.Adapter, error) { return newAdapter(context.Background(), s, true) })
}

func newAdapter(ctx context.Context, s provider.Settings, anthropic bool) (*provider.Adapter, error) {
	creds, region, err := credentialsFor(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL(region)
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("invalid base_url %q", s.BaseURL)
	}
	prefix := strings.TrimSuffix(u.EscapedPath(), "/")
	signer, err := NewSigner(creds, region, s.BaseURL)
	if err != nil {
		return nil, err
	}
	var b provider.Backend
	if anthropic {
		maxTokens := int(s.Config.GetAnthropic().GetDefaultMaxTokens())
		if maxTokens == 0 {
			maxTokens = defaultMaxTokens
		}
		b = &AnthropicBackend{embedder: embedder{prefix: prefix, extra: s.Headers}, defaultMaxTokens: maxTokens}
	} else {
		b = &ConverseBackend{embedder: embedder{prefix: prefix, extra: s.Headers}}
	}
	return &provider.Adapter{Settings: s, Backend: b, Signer: signer}, nil
}

// ConverseBackend translates canonical requests to the Bedrock Converse API.
type ConverseBackend struct {
	embedder
}

// NewConverseBackend returns a Converse backend whose paths start with prefix (the
// base URL's path, usually empty).
func NewConverseBackend(prefix string) *ConverseBackend {
	return &ConverseBackend{embedder: embedder{prefix: prefix}}
}

// Schema implements provider.Backend.
func (*ConverseBackend) Schema() provider.Schema { return provider.SchemaBedrockConverse }

// BuildChatRequest implements provider.Backend.
func (b *ConverseBackend) BuildChatRequest(_ context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	if t.Model == "" {
		return nil, invalid("model", "a Bedrock model id is required")
	}
	body, err := toConverse(req, t.Model)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode Converse request: %w", err)
	}
	op, accept := "converse", "application/json"
	if t.Stream {
		op, accept = "converse-stream", "application/vnd.amazon.eventstream"
	}
	return &provider.UpstreamRequest{
		Method: http.MethodPost,
		Path:   modelPath(b.prefix, t.Model, op),
		Header: b.header("Content-Type", "application/json", "Accept", accept),
		Body:   raw,
	}, nil
}

// DecodeChatResponse implements provider.Backend.
func (*ConverseBackend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	return fromConverse(body)
}

// NewChatStreamDecoder implements provider.Backend.
func (*ConverseBackend) NewChatStreamDecoder() provider.StreamDecoder { return newConverseStream() }

// DecodeError implements provider.Backend.
func (*ConverseBackend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	return decodeError(status, header, body)
}

// AnthropicBackend translates canonical requests to Claude's Messages body on
// Bedrock InvokeModel.
type AnthropicBackend struct {
	embedder
	defaultMaxTokens int
}

// NewAnthropicBackend returns a Claude-on-InvokeModel backend; maxTokens (0
// = 4096) is sent when the caller sets no max_tokens.
func NewAnthropicBackend(prefix string, maxTokens int) *AnthropicBackend {
	if maxTokens <= 0 {
		maxTokens = defaultMaxTokens
	}
	return &AnthropicBackend{embedder: embedder{prefix: prefix}, defaultMaxTokens: maxTokens}
}

// Schema implements provider.Backend.
func (*AnthropicBackend) Schema() provider.Schema { return SchemaBedrockAnthropic }

// BuildChatRequest implements provider.Backend.
func (b *AnthropicBackend) BuildChatRequest(_ context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	if t.Model == "" {
		return nil, invalid("model", "a Bedrock model id is required")
	}
	body, err := toAnthropic(req, b.defaultMaxTokens)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode Claude request: %w", err)
	}
	h := b.header("Content-Type", "application/json", "Accept", "application/json")
	op := "invoke"
	if t.Stream {
		// InvokeModelWithResponseStream takes the payload MIME type in
		// X-Amzn-Bedrock-Accept; Accept itself is the event stream.
		op = "invoke-with-response-stream"
		h.Set("Accept", "application/vnd.amazon.eventstream")
		h.Set("X-Amzn-Bedrock-Accept", "application/json")
	}
	return &provider.UpstreamRequest{Method: http.MethodPost, Path: modelPath(b.prefix, t.Model, op), Header: h, Body: raw}, nil
}

// DecodeChatResponse implements provider.Backend.
func (*AnthropicBackend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	return fromAnthropic(body)
}

// NewChatStreamDecoder implements provider.Backend.
func (*AnthropicBackend) NewChatStreamDecoder() provider.StreamDecoder { return newAnthropicStream() }

// DecodeError implements provider.Backend.
func (*AnthropicBackend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	return decodeError(status, header, body)
}

// Interface checks.
var (
	_ provider.Backend          = (*ConverseBackend)(nil)
	_ provider.EmbeddingBackend = (*ConverseBackend)(nil)
	_ provider.Backend          = (*AnthropicBackend)(nil)
	_ provider.EmbeddingBackend = (*AnthropicBackend)(nil)
	_ provider.Signer           = (*Signer)(nil)
)
