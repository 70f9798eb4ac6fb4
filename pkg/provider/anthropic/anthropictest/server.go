// Package anthropictest is a mock Anthropic Messages API (and Claude on Vertex AI) for
// tests. It speaks the documented wire format — JSON messages, SSE streams with
// message_start / content_block_* / message_delta / message_stop, error envelopes —
// and verifies every request it receives the way the real API would: credentials and
// version headers, path, known fields only, required max_tokens, alternating roles,
// tool_use / tool_result pairing, thinking budgets. A request that breaks a rule gets
// the API's 400 invalid_request_error and fails the test (unless ExpectInvalid).
//
// Replies are scripted: text, tool calls, thinking, cache usage, HTTP errors, error
// events inside a 200 stream, streams written in chunks of any size, CRLF line ends and
// truncated streams. The same Reply answers a JSON or a streamed request.
//
//	mock := anthropictest.NewServer(t) // base URL mock.URL, key anthropictest.DefaultAPIKey
//	mock.Enqueue(anthropictest.Reply{
//		Blocks: []anthropictest.Block{anthropictest.Thinking("…", "sig"), anthropictest.ToolUse("toolu_1", "get_weather", `{"city":"Paris"}`)},
//		Usage:  anthropictest.Usage{Input: 40, Output: 30, CacheRead: 500},
//		ChunkSize: 1, // stream byte by byte
//	})
//	mock.Enqueue(anthropictest.ErrorReply(0, "overloaded_error", "Overloaded")) // HTTP 529
//	… run the client …
//	got := mock.LastRequest() // headers, body, model; got.Problems is empty for valid requests
//
// Options: WithAPIKey, WithVersion (anthropic-version to require; "" accepts any, e.g.
// "2026-10-21" sent by SDK v2), WithVertex (Claude on Vertex paths and bearer token),
// WithChunkSize, WithCRLF, ExpectInvalid (let a test send invalid requests on purpose).
package anthropictest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults.
const (
	DefaultAPIKey  = "test-anthropic-key"
	DefaultVersion = "2023-06-01"
	DefaultModel   = "claude-test-1"
)

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the x-api-key the server requires.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithVersion sets the anthropic-version header the server requires ("" accepts any
// non-empty value). Version "2026-10-21" also rejects temperature, top_p and top_k.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// WithVertex makes the server behave as Claude on Vertex AI: it serves
// /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{m}:rawPredict
// and :streamRawPredict, requires "Authorization: Bearer <token>", a body with
// anthropic_version "vertex-2023-10-16" and no model.
func WithVertex(project, location, token string) Option {
	return func(s *Server) { s.vertex, s.project, s.location, s.token = true, project, location, token }
}

// WithChunkSize makes streams go out in writes of n bytes, each flushed (n=1 splits at
// every byte boundary).
func WithChunkSize(n int) Option { return func(s *Server) { s.chunkSize = n } }

// WithCRLF makes streams use CRLF line ends.
func WithCRLF() Option { return func(s *Server) { s.crlf = true } }

// ExpectInvalid stops verification failures from failing the test; the server still
// answers them with a 400 like the real API.
func ExpectInvalid() Option { return func(s *Server) { s.expectInvalid = true } }

// Server is a running mock. Close happens automatically at test cleanup.
type Server struct {
	*httptest.Server
	t testing.TB

	apiKey, version          string
	vertex                   bool
	project, location, token string
	chunkSize                int
	crlf                     bool
	expectInvalid            bool

	mu       sync.Mutex
	queue    []Reply
	fallback Reply
	requests []Request
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Model is the body's model, or the path's model on Vertex.
	Model  string
	Stream bool
	// Problems lists the verification failures (empty for a valid request).
	Problems []string
}

// JSON decodes the body into a generic map.
func (r Request) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// NewServer starts a mock Anthropic server.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, apiKey: DefaultAPIKey, version: DefaultVersion, fallback: TextReply("Hello from the mock.")}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// Enqueue adds replies, used in order, one per request.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	s.queue = append(s.queue, replies...)
	s.mu.Unlock()
}

// SetDefault sets the reply used when the queue is empty.
func (s *Server) SetDefault(r Reply) {
	s.mu.Lock()
	s.fallback = r
	s.mu.Unlock()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest returns the latest request; it fails the test when there is none.
func (s *Server) LastRequest() Request {
	s.t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		s.t.Fatalf("anthropictest: no request received")
	}
	return reqs[len(reqs)-1]
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, 400, "invalid_request_error", "could not read body")
		return
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}

	if strings.HasSuffix(r.URL.Path, "/v1/messages/count_tokens") && !s.vertex {
		s.countTokens(w, r, rec)
		return
	}
	status, problems := s.verify(r, body, &rec)
	rec.Problems = problems
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	var reply Reply
	if len(problems) == 0 {
		if len(s.queue) > 0 {
			reply, s.queue = s.queue[0], s.queue[1:]
		} else {
			reply = s.fallback
		}
	}
	s.mu.Unlock()

	if len(problems) > 0 {
		if !s.expectInvalid {
			s.t.Errorf("anthropictest: invalid request to %s: %s", r.URL.Path, strings.Join(problems, "; "))
		}
		typ := "invalid_request_error"
		switch status {
		case 401:
			typ = "authentication_error"
		case 404:
			typ = "not_found_error"
		case 405:
			typ = "invalid_request_error"
		}
		writeError(w, status, typ, problems[0])
		return
	}
	s.reply(w, reply, rec)
}

func (s *Server) countTokens(w http.ResponseWriter, r *http.Request, rec Request) {
	if st, msg := s.checkAuth(r.Header); st != 0 {
		writeError(w, st, "authentication_error", msg)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"input_tokens":%d}`, len(rec.Body)/4+1)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_mock")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{
		"type":       "error",
		"error":      map[string]string{"type": typ, "message": msg},
		"request_id": "req_mock",
	})
	_, _ = w.Write(b)
}

func (s *Server) reply(w http.ResponseWriter, rp Reply, rec Request) {
	for k, v := range rp.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("request-id", "req_mock")
	if rp.ErrorType != "" {
		status := rp.Status
		if status == 0 {
			status = statusForType(rp.ErrorType)
		}
		writeError(w, status, rp.ErrorType, rp.ErrorMessage)
		return
	}
	status := rp.Status
	if status == 0 {
		status = 200
	}
	model := rp.Model
	if model == "" {
		model = rec.Model
	}
	if !rec.Stream {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if rp.RawBody != nil {
			_, _ = w.Write(rp.RawBody)
			return
		}
		_, _ = w.Write(rp.messageJSON(model))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	data := rp.RawBody
	if data == nil {
		data = rp.streamBytes(model)
	}
	if rp.CutAfterBytes > 0 && rp.CutAfterBytes < len(data) {
		data = data[:rp.CutAfterBytes]
	}
	if s.crlf || rp.CRLF {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	size := rp.ChunkSize
	if size == 0 {
		size = s.chunkSize
	}
	writeChunked(w, data, size, rp.ChunkDelay)
}

// writeChunked writes data in flushed pieces of size bytes (all at once when size<=0).
func writeChunked(w http.ResponseWriter, data []byte, size int, delay time.Duration) {
	f, _ := w.(http.Flusher)
	if size <= 0 {
		size = len(data)
	}
	for len(data) > 0 {
		n := min(size, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
		data = data[n:]
		if delay > 0 {
			time.Sleep(delay)
		}
	}
}

func statusForType(t string) int {
	switch t {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "billing_error":
		return 402
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "request_too_large":
		return 413
	case "rate_limit_error":
		return 429
	case "timeout_error":
		return 504
	case "overloaded_error":
		return 529
	default:
		return 500
	}
}
