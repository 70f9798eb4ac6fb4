// Package gemini adapts Google's Gemini models: kind "gemini" (the Gemini API at
// generativelanguage.googleapis.com, API key) and kind "vertex-ai" (Gemini on Vertex
// AI, OAuth bearer from a service account). It implements chat (generateContent and
// streamGenerateContent with alt=sse) and embeddings (batchEmbedContents; Vertex
// :predict for text-embedding models).
//
// The field mapping to and from the canonical form, and what is dropped and why, is in
// docs/providers.md.
package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/gcpauth"
)

// Provider kinds registered by this package.
const (
	KindGemini = "gemini"
	KindVertex = "vertex-ai"
)

// Defaults.
const (
	DefaultBaseURL = "https://generativelanguage.googleapis.com"
	// APIVersion is the Gemini API version used on generativelanguage.googleapis.com;
	// v1beta carries every current feature (thinking, JSON schema, function ids).
	APIVersion = "v1beta"
	// DefaultVertexLocation is used when gcp.location is unset.
	DefaultVertexLocation = "global"
)

// Register adds the "gemini" and "vertex-ai" kinds to r.
func Register(r *provider.Registry) {
	r.Register(KindGemini, NewAdapter)
	r.Register(KindVertex, NewVertexAdapter)
}

// Backend speaks the Gemini API (AI Studio or Vertex AI). It implements
// provider.Backend and provider.EmbeddingBackend.
type Backend struct {
	vertex   bool
	prefix   string
	apiKey   string
	headers  map[string]string
	project  string
	location string
}

// NewAdapter builds the adapter for kind "gemini".
func NewAdapter(s provider.Settings) (*provider.Adapter, error) {
	b, err := NewBackend(s)
	if err != nil {
		return nil, err
	}
	return &provider.Adapter{Settings: s, Backend: b}, nil
}

// NewVertexAdapter builds the adapter for kind "vertex-ai": the Backend plus a gcpauth
// signer for the OAuth bearer token.
func NewVertexAdapter(s provider.Settings) (*provider.Adapter, error) {
	signer, err := gcpauth.FromSettings(s)
	if err != nil {
		return nil, err
	}
	b, err := NewVertexBackend(s, signer.ProjectID())
	if err != nil {
		return nil, err
	}
	return &provider.Adapter{Settings: s, Backend: b, Signer: signer}, nil
}

// NewBackend builds a Backend for the Gemini API (AI Studio).
func NewBackend(s provider.Settings) (*Backend, error) {
	b, err := newBackend(s, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	b.apiKey = s.APIKey
	return b, nil
}

// NewVertexBackend builds a Backend for Gemini on Vertex AI. projectFallback is used
// when gcp.project is unset (normally the service account's project).
func NewVertexBackend(s provider.Settings, projectFallback string) (*Backend, error) {
	gcp := s.Config.GetGcp()
	location := gcp.GetLocation()
	if location == "" {
		location = DefaultVertexLocation
	}
	project := gcp.GetProject()
	if project == "" {
		project = projectFallback
	}
	if project == "" {
		return nil, fmt.Errorf("gemini: kind %s needs gcp.project (or a service account key naming its project)", KindVertex)
	}
	b, err := newBackend(s, gcpauth.VertexBaseURL(location))
	if err != nil {
		return nil, err
	}
	b.vertex, b.project, b.location = true, project, location
	return b, nil
}

func newBackend(s provider.Settings, defaultBase string) (*Backend, error) {
	base := s.BaseURL
	if base == "" {
		base = defaultBase
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("gemini: invalid base_url %q", base)
	}
	return &Backend{prefix: strings.TrimRight(u.EscapedPath(), "/"), headers: s.Headers}, nil
}

// Schema implements provider.Backend.
func (b *Backend) Schema() provider.Schema { return provider.SchemaGemini }

// modelPath returns the model resource path (without a leading slash) for method.
// "models/x" and "x" are the same model; tuned models ("tunedModels/x") and Vertex
// endpoints ("projects/…/endpoints/…") pass as given.
func (b *Backend) modelPath(model, method string) string {
	if b.vertex {
		if strings.HasPrefix(model, "projects/") {
			return "v1/" + model + ":" + method
		}
		model = strings.TrimPrefix(model, "publishers/google/models/")
		return "v1/projects/" + url.PathEscape(b.project) + "/locations/" + url.PathEscape(b.location) +
			"/publishers/google/models/" + url.PathEscape(model) + ":" + method
	}
	if !strings.Contains(model, "/") {
		model = "models/" + url.PathEscape(model)
	}
	return APIVersion + "/" + model + ":" + method
}

func (b *Backend) header() http.Header {
	h := make(http.Header, 3+len(b.headers))
	for k, v := range b.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if !b.vertex && b.apiKey != "" {
		h.Set("x-goog-api-key", b.apiKey)
	}
	return h
}

// BuildChatRequest implements provider.Backend.
func (b *Backend) BuildChatRequest(ctx context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	model := t.Model
	if model == "" {
		model = req.Model
	}
	if model == "" {
		return nil, badRequest("model", "model is required")
	}
	gr, err := toGemini(req, model)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(gr)
	if err != nil {
		return nil, fmt.Errorf("gemini: encoding request: %w", err)
	}
	path := b.prefix + "/" + b.modelPath(model, "generateContent")
	h := b.header()
	if t.Stream {
		path = b.prefix + "/" + b.modelPath(model, "streamGenerateContent") + "?alt=sse"
		h.Set("Accept", "text/event-stream")
	}
	return &provider.UpstreamRequest{Method: http.MethodPost, Path: path, Header: h, Body: body}, nil
}

// badRequest builds a 400 canonical error.
func badRequest(param, format string, args ...any) *canonical.Error {
	return &canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}
