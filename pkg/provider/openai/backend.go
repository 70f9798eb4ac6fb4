package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Config configures an OpenAI-compatible backend.
type Config struct {
	// BaseURL is scheme://host[:port][/prefix]. When the prefix already ends in an API
	// version segment ("/v1", "/openai/v1", "/api/v1", "/v1beta"), endpoint paths are
	// appended to it ("/openai/v1/chat/completions"); otherwise "/v1" is added first
	// ("https://api.openai.com" → "/v1/chat/completions"). Both spellings of a
	// provider's documented base URL therefore work. A query string is kept.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>"; empty sends no credential
	// (local servers).
	APIKey string
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// Dialect describes the server's deviations from OpenAI.
	Dialect Dialect
}

// Backend speaks OpenAI Chat Completions and Embeddings to OpenAI and compatible
// servers. It implements provider.Backend, provider.EmbeddingBackend and
// provider.Passthrough.
type Backend struct {
	dialect Dialect
	apiRoot string // path prefix up to and including the version segment
	query   string // the base URL's raw query, without "?"
	signer  *HeaderSigner
	// chatPath and embeddingsPath are the upstream paths, built once.
	chatPath, embeddingsPath string
}

var (
	_ provider.Backend          = (*Backend)(nil)
	_ provider.EmbeddingBackend = (*Backend)(nil)
	_ provider.Passthrough      = (*Backend)(nil)
)

// NewBackend validates cfg and returns a Backend.
func NewBackend(cfg Config) (*Backend, error) {
	u, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		dialect: cfg.Dialect,
		apiRoot: APIRoot(u.Path),
		query:   u.RawQuery,
		signer:  NewBearerSigner(cfg.APIKey, cfg.Headers),
	}
	b.chatPath, b.embeddingsPath = b.path("/chat/completions"), b.path("/embeddings")
	return b, nil
}

// path returns the upstream path of an endpoint, with the base URL's query.
func (b *Backend) path(endpoint string) string {
	p := b.apiRoot + endpoint
	if b.query != "" {
		p += "?" + b.query
	}
	return p
}

// ParseBaseURL checks that raw is an absolute http(s) URL with a host.
func ParseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("base_url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url %q must be an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return nil, errors.New("base_url must not carry credentials; use api_key or headers")
	}
	return u, nil
}

// APIRoot returns the path under which "/chat/completions" lives for a base URL path:
// the path itself when it ends in a version segment, else path + "/v1".
func APIRoot(path string) string {
	p := strings.TrimRight(path, "/")
	last := p[strings.LastIndexByte(p, '/')+1:]
	if isVersionSegment(last) {
		return p
	}
	return p + "/v1"
}

// isVersionSegment matches v<digits>[<letters>[<digits>]]: v1, v2, v1beta, v1alpha1.
func isVersionSegment(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] < '0' || s[1] > '9' {
		return false
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i == len(s)
}

// UpstreamPath returns the upstream path (base prefix and query included) for op.
// The gateway uses it for passthrough requests, which are not built by
// BuildChatRequest.
func (b *Backend) UpstreamPath(op provider.Operation, _ provider.Target) string {
	if op == provider.OpEmbeddings {
		return b.embeddingsPath
	}
	return b.chatPath
}

// NewPassthroughRequest implements provider.PassthroughRequester: path, headers and
// credentials for a body already in this backend's schema.
func (b *Backend) NewPassthroughRequest(op provider.Operation, t provider.Target, body []byte) *provider.UpstreamRequest {
	return b.newRequest(op, t, body)
}

// Signer returns the signer that adds the backend's credentials and extra headers;
// use it on passthrough requests.
func (b *Backend) Signer() provider.Signer { return b.signer }

// Schema implements provider.Backend.
func (b *Backend) Schema() provider.Schema { return provider.SchemaOpenAI }

// BuildChatRequest implements provider.Backend.
func (b *Backend) BuildChatRequest(_ context.Context, req *canonical.Request, t provider.Target) (*provider.UpstreamRequest, error) {
	r := *req
	r.Stream = t.Stream
	body, err := EncodeChatRequest(&r, t.Model, b.dialect)
	if err != nil {
		return nil, err
	}
	return b.newRequest(provider.OpChat, t, body), nil
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

// DecodeChatResponse implements provider.Backend.
func (b *Backend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	return DecodeChatResponse(body)
}

// NewChatStreamDecoder implements provider.Backend.
func (b *Backend) NewChatStreamDecoder() provider.StreamDecoder { return NewStreamDecoder() }

// DecodeError implements provider.Backend.
func (b *Backend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	return DecodeError(status, header, body)
}

// RewriteChatRequest implements provider.Passthrough.
func (b *Backend) RewriteChatRequest(body []byte, model string, stream bool) ([]byte, bool, error) {
	return RewriteChatRequest(body, model, stream)
}

// NewUsageScanner implements provider.Passthrough.
func (b *Backend) NewUsageScanner(stream, strip bool) provider.UsageScanner {
	return NewUsageScanner(stream, strip)
}

// BuildEmbeddingRequest implements provider.EmbeddingBackend.
func (b *Backend) BuildEmbeddingRequest(_ context.Context, req *canonical.EmbeddingRequest, t provider.Target) (*provider.UpstreamRequest, error) {
	body, err := EncodeEmbeddingRequest(req, t.Model)
	if err != nil {
		return nil, err
	}
	t.Stream = false
	return b.newRequest(provider.OpEmbeddings, t, body), nil
}

// DecodeEmbeddingResponse implements provider.EmbeddingBackend.
func (b *Backend) DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error) {
	return DecodeEmbeddingResponse(body)
}

// EncodeEmbeddingRequest renders req as an OpenAI embeddings body for model.
func EncodeEmbeddingRequest(req *canonical.EmbeddingRequest, model string) ([]byte, error) {
	if model == "" {
		model = req.Model
	}
	w := EmbeddingRequest{Input: EmbeddingInput{Texts: req.Input}, Model: model, User: req.User}
	if w.Input.Texts == nil {
		w.Input.Texts = []string{}
	}
	if req.Dimensions > 0 {
		d := req.Dimensions
		w.Dimensions = &d
	}
	if req.EncodingFormat == "float" || req.EncodingFormat == "base64" {
		w.EncodingFormat = req.EncodingFormat
	}
	out, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode openai embedding request: %w", err)
	}
	return out, nil
}

// DecodeEmbeddingResponse decodes an embeddings response (float or base64 vectors)
// and orders the vectors by index.
func DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error) {
	var w EmbeddingResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode openai embedding response: %w", err)
	}
	sort.SliceStable(w.Data, func(i, j int) bool { return w.Data[i].Index < w.Data[j].Index })
	out := &canonical.EmbeddingResponse{Model: w.Model, Embeddings: make([][]float32, 0, len(w.Data))}
	for _, d := range w.Data {
		v, err := d.Embedding.Values()
		if err != nil {
			return nil, fmt.Errorf("decode openai embedding %d: %w", d.Index, err)
		}
		out.Embeddings = append(out.Embeddings, v)
	}
	if w.Usage != nil {
		out.Usage = canonical.Usage{InputTokens: w.Usage.PromptTokens}
	}
	return out, nil
}

// HeaderSigner sets one credential header plus fixed extra headers. It implements
// provider.Signer.
type HeaderSigner struct {
	// Name and Value are the credential header; empty Value sets nothing.
	Name, Value string
	// Extra headers are set before the credential, so configuration cannot
	// accidentally replace it.
	Extra map[string]string
}

// NewBearerSigner returns a signer for "Authorization: Bearer <apiKey>" (omitted
// when apiKey is empty) plus extra headers.
func NewBearerSigner(apiKey string, extra map[string]string) *HeaderSigner {
	s := &HeaderSigner{Name: "Authorization", Extra: extra}
	if apiKey != "" {
		s.Value = "Bearer " + apiKey
	}
	return s
}

// Apply sets the headers on h. A header that already holds exactly the value is left
// as it is (signing twice allocates nothing).
func (s *HeaderSigner) Apply(h http.Header) {
	for k, v := range s.Extra {
		setHeader(h, k, v)
	}
	if s.Value != "" {
		setHeader(h, s.Name, s.Value)
	}
}

// setHeader is h.Set(name, value), skipped when h already holds just that value.
func setHeader(h http.Header, name, value string) {
	if v := h[textproto.CanonicalMIMEHeaderKey(name)]; len(v) == 1 && v[0] == value {
		return
	}
	h.Set(name, value)
}

// Sign implements provider.Signer.
func (s *HeaderSigner) Sign(_ context.Context, req *provider.UpstreamRequest) error {
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	s.Apply(req.Header)
	return nil
}

// String hides the credential so a signer printed in a log leaks nothing.
func (s *HeaderSigner) String() string { return "HeaderSigner{" + s.Name + ": [redacted]}" }
