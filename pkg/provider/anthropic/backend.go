// Package anthropic adapts Anthropic's Messages API, both as a backend (kinds
// "anthropic" and "vertex-anthropic", Claude on Google Vertex AI) and as a client-facing
// input schema for callers of POST /v1/messages (Claude Code, the Anthropic SDKs).
//
// The field mapping to and from the canonical form, and what is dropped and why, is in
// docs/providers.md.
package anthropic

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
	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// Provider kinds registered by this package.
const (
	KindAnthropic = "anthropic"
	KindVertex    = "vertex-anthropic"
)

// Defaults.
const (
	DefaultBaseURL   = "https://api.anthropic.com"
	DefaultVersion   = "2023-06-01"
	DefaultMaxTokens = 4096
	// VertexVersion is the anthropic_version body field Claude on Vertex AI requires.
	VertexVersion = "vertex-2023-10-16"
	// DefaultVertexLocation is used when gcp.location is unset; Claude models are
	// served from the global endpoint.
	DefaultVertexLocation = "global"
	// samplingRemovedVersion is the first API version that rejects temperature,
	// top_p and top_k ("Extra inputs are not permitted").
	samplingRemovedVersion = "2026-10-21"
)

// Register adds the "anthropic" and "vertex-anthropic" kinds to r.
func Register(r *provider.Registry) {
	r.Register(KindAnthropic, NewAdapter)
	r.Register(KindVertex, NewVertexAdapter)
}

// Backend speaks the Messages API to Anthropic or to Claude on Vertex AI. It implements
// provider.Backend and provider.Passthrough.
type Backend struct {
	vertex           bool
	prefix           string // base URL path prefix, no trailing slash
	apiKey           string
	version          string
	defaultMaxTokens int
	headers          map[string]string
	project          string
	location         string
}

// NewAdapter builds the adapter for kind "anthropic".
func NewAdapter(s provider.Settings) (*provider.Adapter, error) {
	b, err := NewBackend(s)
	if err != nil {
		return nil, err
	}
	return &provider.Adapter{Settings: s, Backend: b}, nil
}

// NewVertexAdapter builds the adapter for kind "vertex-anthropic": the Backend plus a
// gcpauth signer for the OAuth bearer token.
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

// NewBackend builds a Backend for api.anthropic.com (or a compatible base URL).
func NewBackend(s provider.Settings) (*Backend, error) {
	b, err := newBackend(s, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	b.apiKey = s.APIKey
	return b, nil
}

// NewVertexBackend builds a Backend for Claude on Vertex AI. projectFallback is used
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
		return nil, fmt.Errorf("anthropic: kind %s needs gcp.project (or a service account key naming its project)", KindVertex)
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
		return nil, fmt.Errorf("anthropic: invalid base_url %q", base)
	}
	cfg := s.Config.GetAnthropic()
	b := &Backend{
		prefix:           strings.TrimRight(u.EscapedPath(), "/"),
		version:          cfg.GetVersion(),
		defaultMaxTokens: int(cfg.GetDefaultMaxTokens()),
		headers:          s.Headers,
	}
	if b.version == "" {
		b.version = DefaultVersion
	}
	if b.defaultMaxTokens <= 0 {
		b.defaultMaxTokens = DefaultMaxTokens
	}
	return b, nil
}

// Schema implements provider.Backend.
func (b *Backend) Schema() provider.Schema { return provider.SchemaAnthropic }

// path returns the request path for model.
func (b *Backend) path(model string, stream bool) string {
	if !b.vertex {
		return b.prefix + "/v1/messages"
	}
	method := ":rawPredict"
	if stream {
		method = ":streamRawPredict"
	}
	return b.prefix + "/v1/projects/" + url.PathEscape(b.project) + "/locations/" + url.PathEscape(b.location) +
		"/publishers/anthropic/models/" + url.PathEscape(model) + method
}

// header returns the headers for an upstream request. Vertex takes the API version
// from the body and the credentials from the signer.
func (b *Backend) header(stream bool) http.Header {
	h := make(http.Header, 4+len(b.headers))
	for k, v := range b.headers {
		h.Set(k, v)
	}
	// The fixed headers, by canonical key (what Set would store) and with their values
	// carved from one slice.
	vals := make([]string, 0, 4)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Content-Type", "application/json")
	if stream {
		set("Accept", "text/event-stream")
	} else {
		set("Accept", "application/json")
	}
	if !b.vertex {
		set("Anthropic-Version", b.version)
		if b.apiKey != "" {
			set("X-Api-Key", b.apiKey)
		}
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
		return nil, &canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "model is required", Param: "model"}
	}
	mr, extra, err := b.toMessages(req)
	if err != nil {
		return nil, err
	}
	mr.Stream = t.Stream
	if b.vertex {
		mr.AnthropicVersion = VertexVersion
	} else {
		mr.Model = model
	}
	body, err := encodeRequest(mr)
	if err != nil {
		return nil, fmt.Errorf("anthropic: encoding request: %w", err)
	}
	body = appendFields(body, extra)
	return &provider.UpstreamRequest{
		Method: http.MethodPost,
		Path:   b.path(model, t.Stream),
		Header: b.header(t.Stream),
		Body:   body,
	}, nil
}

// appendFields adds raw top-level fields to an encoded JSON object.
func appendFields(obj []byte, fields []rawField) []byte {
	if len(fields) == 0 || len(obj) < 2 {
		return obj
	}
	out := obj[:len(obj)-1] // obj is the caller's own buffer: extend it in place
	for _, f := range fields {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = jsonwire.AppendString(out, f.key)
		out = append(out, ':')
		out = append(out, f.value...)
	}
	return append(out, '}')
}

// rawField is a top-level field passed through verbatim.
type rawField struct {
	key   string
	value json.RawMessage
}
