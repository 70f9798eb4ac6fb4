// Package geminitest is a mock Gemini API (generativelanguage.googleapis.com) and Gemini
// on Vertex AI for tests. It speaks the documented wire format — generateContent,
// streamGenerateContent with alt=sse (CRLF-delimited events, each a full
// GenerateContentResponse chunk) or as a JSON array without it, batchEmbedContents,
// Vertex :predict, google.rpc.Status error envelopes — and verifies every request the
// way the real API does: credentials, path, known fields only at every level, roles
// alternating between user and model, one datum per part, function responses matching
// the preceding function calls, Gemini 3 thought signatures, and function and response
// schemas restricted to Gemini's OpenAPI subset. A request that breaks a rule gets a
// 400 INVALID_ARGUMENT and fails the test (unless ExpectInvalid).
//
//	mock := geminitest.NewServer(t) // base URL mock.URL, key geminitest.DefaultAPIKey
//	mock.Enqueue(geminitest.Reply{
//		Parts: []geminitest.Part{geminitest.Thought("…"), geminitest.FunctionCall("get_weather", `{"city":"Paris"}`, "c2ln")},
//		Usage: geminitest.Usage{Prompt: 20, Candidates: 10, Thoughts: 5, Cached: 8},
//		ChunkSize: 1, // stream byte by byte
//	})
//	mock.Enqueue(geminitest.ErrorReply(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
//	… run the client …
//	got := mock.LastRequest() // path, query, headers, body; got.Problems is empty when valid
//
// Options: WithAPIKey, WithVertex (Vertex AI paths and bearer token), WithChunkSize,
// WithLineEnd ("\r\n" by default, as the API sends), ExpectInvalid.
package geminitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAPIKey is the key the server accepts unless WithAPIKey changes it.
const DefaultAPIKey = "test-gemini-key"

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the API key (x-goog-api-key header or ?key=) the server requires.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithVertex makes the server behave as Vertex AI: paths
// /v1/projects/{project}/locations/{location}/publishers/google/models/{m}:{method}
// and "Authorization: Bearer <token>".
func WithVertex(project, location, token string) Option {
	return func(s *Server) { s.vertex, s.project, s.location, s.token = true, project, location, token }
}

// WithChunkSize makes streams go out in flushed writes of n bytes (1 = every byte).
func WithChunkSize(n int) Option { return func(s *Server) { s.chunkSize = n } }

// WithLineEnd sets the SSE line end; the real API uses "\r\n" (the default).
func WithLineEnd(le string) Option { return func(s *Server) { s.lineEnd = le } }

// ExpectInvalid stops verification failures from failing the test; the server still
// answers them with 400 like the real API.
func ExpectInvalid() Option { return func(s *Server) { s.expectInvalid = true } }

// Server is a running mock. It closes at test cleanup.
type Server struct {
	*httptest.Server
	t testing.TB

	apiKey                   string
	vertex                   bool
	project, location, token string
	chunkSize                int
	lineEnd                  string
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
	Query  string
	Header http.Header
	Body   []byte
	// Model and Method come from the path ("gemini-2.5-flash", "generateContent").
	Model    string
	RPC      string
	Stream   bool
	Problems []string
}

// JSON decodes the body into a generic map.
func (r Request) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// NewServer starts a mock Gemini server.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, apiKey: DefaultAPIKey, lineEnd: "\r\n", fallback: TextReply("Hello from the mock.")}
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
		s.t.Fatalf("geminitest: no request received")
	}
	return reqs[len(reqs)-1]
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, Error{Code: 400, Status: "INVALID_ARGUMENT", Message: "could not read body"})
		return
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	e := s.verify(r, body, &rec)
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	var reply Reply
	if e == nil {
		if len(s.queue) > 0 {
			reply, s.queue = s.queue[0], s.queue[1:]
		} else {
			reply = s.fallback
		}
	}
	s.mu.Unlock()
	if e != nil {
		if !s.expectInvalid {
			s.t.Errorf("geminitest: invalid request to %s: %s", r.URL.Path, strings.Join(rec.Problems, "; "))
		}
		writeError(w, *e)
		return
	}
	s.reply(w, reply, rec)
}

func writeError(w http.ResponseWriter, e Error) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	_, _ = w.Write(e.body())
}

func (s *Server) reply(w http.ResponseWriter, rp Reply, rec Request) {
	for k, v := range rp.Header {
		w.Header().Set(k, v)
	}
	if rp.Error != nil {
		writeError(w, *rp.Error)
		return
	}
	status := rp.Status
	if status == 0 {
		status = http.StatusOK
	}
	model := rp.ModelVersion
	if model == "" {
		model = rec.Model
	}
	switch rec.RPC {
	case "batchEmbedContents", "predict":
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		if rp.RawBody != nil {
			_, _ = w.Write(rp.RawBody)
			return
		}
		_, _ = w.Write(s.marshal(rp.embedding(rec)))
		return
	case "generateContent":
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		if rp.RawBody != nil {
			_, _ = w.Write(rp.RawBody)
			return
		}
		_, _ = w.Write(s.marshal(rp.full(model)))
		return
	}
	// streamGenerateContent
	var data []byte
	sseMode := strings.Contains(rec.Query, "alt=sse")
	switch {
	case rp.RawBody != nil:
		data = rp.RawBody
	case sseMode:
		le := s.lineEnd
		if rp.LineEnd != "" {
			le = rp.LineEnd
		}
		var b strings.Builder
		for _, c := range rp.chunks(model) {
			b.WriteString("data: ")
			b.Write(s.marshal(c))
			b.WriteString(le + le)
		}
		data = []byte(b.String())
	default:
		// Without alt=sse the API streams one JSON array.
		chunks := rp.chunks(model)
		parts := make([]string, len(chunks))
		for i, c := range chunks {
			parts[i] = string(s.marshal(c))
		}
		data = []byte("[" + strings.Join(parts, ",\r\n") + "]")
	}
	if sseMode {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(status)
	if rp.CutAfterBytes > 0 && rp.CutAfterBytes < len(data) {
		data = data[:rp.CutAfterBytes]
	}
	size := rp.ChunkSize
	if size == 0 {
		size = s.chunkSize
	}
	writeChunked(w, data, size, rp.ChunkDelay)
}

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

// marshal encodes a scripted reply; a Reply that cannot be encoded (invalid Args
// JSON) fails the test.
func (s *Server) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Errorf("geminitest: cannot encode reply: %v", err)
		return []byte("{}")
	}
	return b
}
