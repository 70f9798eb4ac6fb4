// Package cohere is the adapter for Cohere's v2 API: Chat (POST /v2/chat, JSON or
// typed Server-Sent Events) and Embed (POST /v2/embed), authenticated with a Bearer
// API key. It registers the provider kind "cohere" with wire schema "cohere".
package cohere

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

// Kind is the provider kind registered by this package.
const Kind = "cohere"

// DefaultBaseURL is Cohere's public API endpoint.
const DefaultBaseURL = "https://api.cohere.com"

// Register adds the "cohere" kind to r.
func Register(r *provider.Registry) {
	r.Register(Kind, newAdapter)
}

func newAdapter(s provider.Settings) (*provider.Adapter, error) {
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("invalid base_url %q", s.BaseURL)
	}
	b := NewBackend(strings.TrimSuffix(u.EscapedPath(), "/"), s.APIKey)
	b.extra = s.Headers
	return &provider.Adapter{Settings: s, Backend: b}, nil
}

// Backend translates canonical requests to Cohere v2 and back. It sets the
// Authorization header itself, so the adapter needs no Signer.
type Backend struct {
	prefix string
	apiKey string
	extra  map[string]string
}

// NewBackend returns a backend whose paths start with prefix (the base URL's path,
// usually empty) and that authenticates with apiKey.
func NewBackend(prefix, apiKey string) *Backend {
	return &Backend{prefix: prefix, apiKey: apiKey}
}

// Schema implements provider.Backend.
func (*Backend) Schema() provider.Schema { return provider.SchemaCohere }

func (b *Backend) header(accept string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "Accept": {accept}}
	for k, v := range b.extra {
		h.Set(k, v)
	}
	if b.apiKey != "" {
		// Empty only behind a proxy that authenticates for us.
		h.Set("Authorization", "Bearer "+b.apiKey)
	}
	return h
}

// BuildChatRequest implements provider.Backend.
func (b *Backend) BuildChatRequest(_ context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	body, err := toChat(req, t)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("cohere: encode chat request: %w", err)
	}
	accept := "application/json"
	if t.Stream {
		accept = "text/event-stream"
	}
	return &provider.UpstreamRequest{Method: http.MethodPost, Path: b.prefix + "/v2/chat", Header: b.header(accept), Body: raw}, nil
}

// DecodeChatResponse implements provider.Backend.
func (*Backend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	return fromChat(body)
}

// NewChatStreamDecoder implements provider.Backend.
func (*Backend) NewChatStreamDecoder() provider.StreamDecoder {
	return &streamDecoder{toolIndex: map[int]int{}}
}

// DecodeError implements provider.Backend.
func (*Backend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	return decodeError(status, header, body)
}

// BuildEmbeddingRequest implements provider.EmbeddingBackend. input_type defaults
// to search_document (v3+ embedding models require one); vectors come back as
// floats.
func (b *Backend) BuildEmbeddingRequest(_ context.Context, req *canonical.EmbeddingRequest, t provider.Target) (*provider.UpstreamRequest, error) {
	if len(req.Input) == 0 {
		return nil, invalid("input", "input must not be empty")
	}
	if t.Model == "" {
		return nil, invalid("model", "a Cohere model is required")
	}
	it := req.InputType
	if it == "" {
		it = "search_document"
	}
	raw, err := json.Marshal(embedRequest{Model: t.Model, Texts: req.Input, InputType: it, EmbeddingTypes: []string{"float"}, OutputDimension: req.Dimensions})
	if err != nil {
		return nil, fmt.Errorf("cohere: encode embed request: %w", err)
	}
	return &provider.UpstreamRequest{Method: http.MethodPost, Path: b.prefix + "/v2/embed", Header: b.header("application/json"), Body: raw}, nil
}

// DecodeEmbeddingResponse implements provider.EmbeddingBackend; usage comes from
// meta.billed_units.input_tokens.
func (*Backend) DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error) {
	var r embedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamError("decode Cohere embed response: %v", err)
	}
	if r.Embeddings.Float == nil {
		return nil, upstreamError("Cohere embed response has no float embeddings")
	}
	out := &canonical.EmbeddingResponse{Embeddings: r.Embeddings.Float}
	if r.Meta != nil && r.Meta.BilledUnits != nil {
		out.Usage.InputTokens = int(r.Meta.BilledUnits.InputTokens)
	}
	return out, nil
}

func invalid(param, format string, args ...any) *canonical.Error {
	e := canonical.NewError(canonical.ErrInvalidRequest, format, args...)
	e.Param = param
	return e
}

func upstreamError(format string, args ...any) *canonical.Error {
	return canonical.NewError(canonical.ErrUpstream, format, args...)
}

// Interface checks.
var (
	_ provider.Backend          = (*Backend)(nil)
	_ provider.EmbeddingBackend = (*Backend)(nil)
)
