// Package azure is the Azure OpenAI backend (kind "azure-openai"). Azure speaks
// OpenAI's Chat Completions and Embeddings bodies, so the codec, stream decoder and
// passthrough come from package openai; what differs is the path (the deployment
// and an api-version query), the credential header (api-key), and some error
// shapes.
package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/openai"
)

// Kind is the registry kind.
const Kind = "azure-openai"

// DefaultAPIVersion is the api-version used when the config sets none: the latest
// generally available data-plane version of the Azure OpenAI inference API.
const DefaultAPIVersion = "2024-10-21"

// Config configures an Azure OpenAI backend.
type Config struct {
	// BaseURL is the resource endpoint, e.g. https://my-resource.openai.azure.com.
	// A trailing "/openai" is accepted and not doubled.
	BaseURL string
	// APIKey is sent as the api-key header (empty sends none, e.g. when Headers
	// carries an Entra ID "Authorization: Bearer" token).
	APIKey string
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// APIVersion is the api-version query parameter; empty uses DefaultAPIVersion.
	APIVersion string
}

// Backend is the Azure OpenAI backend. Target.Model is the deployment name.
type Backend struct {
	*openai.Backend
	prefix     string
	apiVersion string
	signer     *openai.HeaderSigner
}

var (
	_ provider.Backend          = (*Backend)(nil)
	_ provider.EmbeddingBackend = (*Backend)(nil)
	_ provider.Passthrough      = (*Backend)(nil)
)

// NewBackend validates cfg and returns a Backend.
func NewBackend(cfg Config) (*Backend, error) {
	u, err := openai.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	inner, err := openai.NewBackend(openai.Config{BaseURL: cfg.BaseURL})
	if err != nil {
		return nil, err
	}
	return &Backend{
		Backend:    inner,
		prefix:     strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/openai"),
		apiVersion: cfg.APIVersion,
		signer:     &openai.HeaderSigner{Name: "api-key", Value: cfg.APIKey, Extra: cfg.Headers},
	}, nil
}

// Register adds kind "azure-openai". base_url is required; providers[].azure.api_version
// selects the API version.
func Register(r *provider.Registry) {
	r.Register(Kind, func(s provider.Settings) (*provider.Adapter, error) {
		if s.BaseURL == "" {
			return nil, fmt.Errorf("kind %q needs base_url (https://<resource>.openai.azure.com)", Kind)
		}
		b, err := NewBackend(Config{
			BaseURL:    s.BaseURL,
			APIKey:     s.APIKey,
			Headers:    s.Headers,
			APIVersion: s.Config.GetAzure().GetApiVersion(),
		})
		if err != nil {
			return nil, err
		}
		return &provider.Adapter{Settings: s, Backend: b, Signer: b.Signer()}, nil
	})
}

// APIVersion returns the api-version in use.
func (b *Backend) APIVersion() string { return b.apiVersion }

// UpstreamPath returns /openai/deployments/{deployment}/chat/completions (or
// /embeddings) with the api-version query, under the base URL's path prefix.
func (b *Backend) UpstreamPath(op provider.Operation, t provider.Target) string {
	endpoint := "/chat/completions"
	if op == provider.OpEmbeddings {
		endpoint = "/embeddings"
	}
	return b.prefix + "/openai/deployments/" + url.PathEscape(t.Model) + endpoint +
		"?api-version=" + url.QueryEscape(b.apiVersion)
}

// Signer returns the api-key signer, for passthrough requests.
func (b *Backend) Signer() provider.Signer { return b.signer }

// dialect picks the max-tokens field. Azure's reasoning deployments (o-series,
// gpt-5) require max_completion_tokens, while older models (gpt-35-turbo,
// gpt-4-turbo) reject it; the deployment name is the only hint the gateway has, and
// deployments are conventionally named after their model.
func dialect(deployment string) openai.Dialect {
	d := strings.ToLower(deployment)
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-4.1", "codex"} {
		if strings.HasPrefix(d, p) {
			return openai.Dialect{MaxTokensField: "max_completion_tokens"}
		}
	}
	return openai.Dialect{MaxTokensField: "max_tokens"}
}

// NewPassthroughRequest implements provider.PassthroughRequester with Azure's
// deployment path and api-key header.
func (b *Backend) NewPassthroughRequest(op provider.Operation, t provider.Target, body []byte) *provider.UpstreamRequest {
	return b.newRequest(op, t, body)
}

func (b *Backend) newRequest(op provider.Operation, t provider.Target, body []byte) *provider.UpstreamRequest {
	h := make(http.Header, 4+len(b.signer.Extra))
	h.Set("Content-Type", "application/json")
	if t.Stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	b.signer.Apply(h)
	return &provider.UpstreamRequest{Method: http.MethodPost, Path: b.UpstreamPath(op, t), Header: h, Body: body}
}

// BuildChatRequest implements provider.Backend.
func (b *Backend) BuildChatRequest(_ context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	r := *req
	r.Stream = t.Stream
	body, err := openai.EncodeChatRequest(&r, t.Model, dialect(t.Model))
	if err != nil {
		return nil, err
	}
	return b.newRequest(provider.OpChat, t, body), nil
}

// BuildEmbeddingRequest implements provider.EmbeddingBackend.
func (b *Backend) BuildEmbeddingRequest(_ context.Context, req *canonical.EmbeddingRequest, t provider.Target) (*provider.UpstreamRequest, error) {
	body, err := openai.EncodeEmbeddingRequest(req, t.Model)
	if err != nil {
		return nil, err
	}
	t.Stream = false
	return b.newRequest(provider.OpEmbeddings, t, body), nil
}

// retryAfterFromMessage finds Azure's "Please retry after 6 seconds." hint.
func retryAfterFromMessage(msg string) int {
	const marker = "retry after "
	lower := strings.ToLower(msg)
	i := strings.Index(lower, marker)
	if i < 0 {
		return 0
	}
	rest := lower[i+len(marker):]
	n := 0
	for n < len(rest) && n < 7 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || !strings.HasPrefix(rest[n:], " second") {
		return 0
	}
	v, _ := strconv.Atoi(rest[:n])
	return v
}

// DecodeError implements provider.Backend. On top of OpenAI's shapes it handles
// Azure's {"error":{"code":"DeploymentNotFound",…}} (code, no type), numeric-string
// codes ("429"), content-filter rejections, and a retry hint given only in the
// message.
func (b *Backend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	e := openai.DecodeError(status, header, body)
	if e.ProviderType == "" {
		e.ProviderType = e.Code
	}
	switch e.Code {
	case "DeploymentNotFound":
		e.Code = "model_not_found"
	case "content_filter", "ResponsibleAIPolicyViolation":
		e.Code = "content_filter"
	case strconv.Itoa(status):
		e.Code = "" // "429", "401": the status again, not a code
	}
	if e.RetryAfterSeconds == 0 && status == http.StatusTooManyRequests {
		e.RetryAfterSeconds = retryAfterFromMessage(e.Message)
	}
	return e
}
