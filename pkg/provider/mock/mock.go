// Package mock is a deterministic, offline OpenAI-compatible server for tests, demos
// and `llm-router run` without provider keys. It speaks the Chat Completions,
// Embeddings and Models wire formats exactly (including streaming with usage and
// streamed tool calls), counts tokens with the real tokenizer, and reacts to special
// prompts that simulate provider failures:
//
//	mock:error 429          answer with that HTTP status and an OpenAI error body
//	                        (429 carries retry-after: 7)
//	mock:slow 300ms         wait that long before answering
//	mock:stream-error       stream two chunks, then an error chunk (500 when not streaming)
//
// Otherwise it echoes the last user message. When the request has tools and
// tool_choice is "required" or names a tool, or the last user message starts with
// "call ", it calls the named (or first) tool with {"text": <last user message>}.
package mock

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/openai"
	"github.com/llm-router/llm-router/pkg/tokens"
)

// Options configures the mock server. The zero value is usable.
type Options struct {
	// Counter counts tokens; nil creates one (share one to avoid loading the
	// vocabularies again).
	Counter *tokens.Counter
	// Dimensions is the embedding size when the request sets none; default 8.
	Dimensions int
	// Models is what /v1/models lists; default mock-gpt and mock-embedding.
	Models []string
	// APIKey, when set, must arrive as "Authorization: Bearer <key>" or "api-key".
	APIKey string
	// Created is the timestamp of every response; default 1700000000, so output is
	// reproducible.
	Created int64
	// OnRequest, when set, is called with every request and its body before it is
	// answered, so tests can verify exactly what a gateway sent.
	OnRequest func(r *http.Request, body []byte)
}

// DefaultModels are listed by /v1/models when Options.Models is empty.
func DefaultModels() []string { return []string{"mock-gpt", "mock-embedding"} }

const (
	defaultCreated    = 1700000000
	defaultDimensions = 8
	maxDimensions     = 4096
	maxBody           = 32 << 20
	// RetryAfterSeconds is the retry-after header value of "mock:error 429".
	RetryAfterSeconds = 7
)

type server struct {
	opts Options
}

// NewServer returns the mock server's handler. Routes: POST /v1/chat/completions,
// POST /v1/embeddings, GET /v1/models[/{id}], and the Azure deployment paths
// /openai/deployments/{name}/chat/completions and …/embeddings (api-version required).
func NewServer(opts Options) http.Handler {
	if opts.Counter == nil {
		opts.Counter = tokens.NewCounter()
	}
	if opts.Dimensions <= 0 {
		opts.Dimensions = defaultDimensions
	}
	if len(opts.Models) == 0 {
		opts.Models = DefaultModels()
	}
	if opts.Created == 0 {
		opts.Created = defaultCreated
	}
	s := &server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", s.chat)
	mux.HandleFunc("/v1/embeddings", s.embeddings)
	mux.HandleFunc("/v1/models", s.models)
	mux.HandleFunc("/v1/models/{id}", s.model)
	mux.HandleFunc("/openai/deployments/{deployment}/chat/completions", s.azure(s.chat))
	mux.HandleFunc("/openai/deployments/{deployment}/embeddings", s.azure(s.embeddings))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "", "unknown_url",
			fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), 0)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// OpenAI names every response with its own request id.
		w.Header().Set("X-Request-Id", newRequestID())
		mux.ServeHTTP(w, r)
	})
}

// newRequestID returns an id shaped like OpenAI's ("req_" and 32 hex digits).
func newRequestID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// Register adds kind "mock": an OpenAI-schema backend whose base_url (required) is
// a running mock server; `llm-router run` starts one on loopback and fills it in.
func Register(r *provider.Registry) {
	r.Register("mock", openai.Factory(openai.Preset{Kind: "mock", Dialect: openai.Dialect{MaxTokensField: "max_tokens"}}))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, typ, param, code, msg string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	body := openai.ErrorBody{Error: &openai.ErrorDetail{
		Message: msg, Type: typ,
		Param: openai.NullString{Value: param, Valid: param != ""},
		Code:  openai.NullString{Value: code, Valid: code != ""},
	}}
	b, _ := json.Marshal(&body)
	writeJSON(w, status, b)
}

// writeCanonicalError renders a parse error the way OpenAI reports invalid requests.
func writeCanonicalError(w http.ResponseWriter, err error) {
	var ce *canonical.Error
	if e, ok := err.(*canonical.Error); ok {
		ce = e
	} else {
		ce = canonical.NewError(canonical.ErrInvalidRequest, "%v", err)
	}
	writeError(w, ce.Status, "invalid_request_error", ce.Param, ce.Code, ce.Message, 0)
}

// statusError answers "mock:error N" with the type and code OpenAI uses for N.
func statusError(w http.ResponseWriter, status int) {
	msg := fmt.Sprintf("mock error %d (%s)", status, http.StatusText(status))
	switch {
	case status == http.StatusUnauthorized:
		writeError(w, status, "invalid_request_error", "", "invalid_api_key", "Incorrect API key provided: sk-mock***********1234.", 0)
	case status == http.StatusForbidden:
		writeError(w, status, "invalid_request_error", "", "unsupported_country_region_territory", msg, 0)
	case status == http.StatusNotFound:
		writeError(w, status, "invalid_request_error", "model", "model_not_found", msg, 0)
	case status == http.StatusTooManyRequests:
		writeError(w, status, "requests", "", "rate_limit_exceeded", msg, RetryAfterSeconds)
	case status >= 500:
		writeError(w, status, "server_error", "", "", msg, 0)
	default:
		writeError(w, status, "invalid_request_error", "", "", msg, 0)
	}
}

// readBody reads a POST body after checking method, credentials and content type.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed",
			fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path), 0)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "could not read request body", 0)
		return nil, false
	}
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r, body)
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request_too_large", "request body too large", 0)
		return nil, false
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key", "Incorrect API key provided.", 0)
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "",
			"Invalid Content-Type header ("+ct+"), expected application/json.", 0)
		return nil, false
	}
	return body, true
}

func (s *server) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Bearer "+s.opts.APIKey || r.Header.Get("api-key") == s.opts.APIKey
}

// azure wraps a handler for Azure deployment paths: api-version is required and the
// deployment stands in for a missing model.
func (s *server) azure(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, http.StatusNotFound, "", "", "404", "Resource not found", 0)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), deploymentKey{}, r.PathValue("deployment")))
		next(w, r)
	}
}

type deploymentKey struct{}

// withDeployment fills a missing top-level model from the Azure deployment.
func withDeployment(r *http.Request, body []byte) []byte {
	d, _ := r.Context().Value(deploymentKey{}).(string)
	if d == "" {
		return body
	}
	var probe struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Model == "" {
		if out, _, err := openai.RewriteChatRequest(body, d, false); err == nil {
			return out
		}
	}
	return body
}

func (s *server) models(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed", "Invalid method", 0)
		return
	}
	writeJSON(w, http.StatusOK, openai.EncodeModelList(s.opts.Models, "mock", time.Unix(s.opts.Created, 0)))
}

func (s *server) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, m := range s.opts.Models {
		if m == id {
			b, _ := json.Marshal(openai.Model{ID: m, Object: "model", Created: s.opts.Created, OwnedBy: "mock"})
			writeJSON(w, http.StatusOK, b)
			return
		}
	}
	writeError(w, http.StatusNotFound, "invalid_request_error", "model", "model_not_found",
		fmt.Sprintf("The model '%s' does not exist", id), 0)
}

// hashOf returns a stable 64-bit hash of parts.
func hashOf(parts ...[]byte) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write(p)
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *server) embeddings(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	body = withDeployment(r, body)
	var req openai.EmbeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "We could not parse the JSON body of your request: "+err.Error(), 0)
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "model", "", "you must provide a model parameter", 0)
		return
	}
	dims := s.opts.Dimensions
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > maxDimensions {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "dimensions", "",
				fmt.Sprintf("dimensions must be between 1 and %d", maxDimensions), 0)
			return
		}
		dims = *req.Dimensions
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "encoding_format", "", "encoding_format must be float or base64", 0)
		return
	}
	var keys [][]byte
	promptTokens := 0
	switch {
	case req.Input.Tokens != nil:
		for _, ids := range req.Input.Tokens {
			if len(ids) == 0 {
				break
			}
			b, _ := json.Marshal(ids)
			keys = append(keys, b)
			promptTokens += len(ids)
		}
	default:
		for _, t := range req.Input.Texts {
			if t == "" {
				keys = nil
				break
			}
			keys = append(keys, []byte(t))
		}
		promptTokens = s.opts.Counter.EstimateText(req.Model, req.Input.Texts)
	}
	if len(keys) == 0 || len(keys) != max(len(req.Input.Texts), len(req.Input.Tokens)) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "input", "", "'input' must be a non-empty string, array of strings, or array of tokens", 0)
		return
	}
	resp := openai.EmbeddingResponse{Object: "list", Model: req.Model, Usage: &openai.EmbeddingUsage{PromptTokens: promptTokens, TotalTokens: promptTokens}}
	for i, k := range keys {
		v := UnitVector(hashOf([]byte(req.Model), k), dims)
		e := openai.Embedding{Object: "embedding", Index: i}
		if req.EncodingFormat == "base64" {
			e.Embedding.Base64 = openai.EncodeBase64Floats(v)
		} else {
			e.Embedding.Floats = v
		}
		resp.Data = append(resp.Data, e)
	}
	b, err := json.Marshal(&resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "", "", err.Error(), 0)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// UnitVector returns a deterministic unit-length vector of n dimensions seeded by seed.
func UnitVector(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v := make([]float64, n)
	norm := 0.0
	for i := range v {
		v[i] = rng.NormFloat64()
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, n)
	for i := range v {
		if norm == 0 {
			out[i] = float32(1 / math.Sqrt(float64(n)))
			continue
		}
		out[i] = float32(v[i] / norm)
	}
	return out
}

// lastUserText returns the text of the last user message.
func lastUserText(req *canonical.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := &req.Messages[i]
		if m.Role != canonical.RoleUser {
			continue
		}
		var b bytes.Buffer
		for _, p := range m.Content {
			if p.Type == canonical.PartText {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}
