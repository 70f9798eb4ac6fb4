// Package coheretest is a mock Cohere v2 API for tests. It speaks the documented
// wire format (POST /v2/chat as JSON or typed Server-Sent Events, POST /v2/embed,
// {"message": …} errors by HTTP status) and verifies what it receives: the Bearer
// API key and request bodies decoded strictly against the v2 schemas. Violations
// are answered as Cohere would (400/401) and reported to the test.
package coheretest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// DefaultAPIKey is the key the mock accepts unless WithAPIKey says otherwise.
const DefaultAPIKey = "test-cohere-key"

// DefaultText is the answer when no reply is scripted.
const DefaultText = "Hello from the Cohere mock."

// Options configure the mock.
type Options struct {
	// APIKey is the Bearer token requests must carry.
	APIKey string
	// CRLF makes SSE lines end in CRLF instead of LF.
	CRLF bool
	// OnViolation receives every protocol violation; the default reports it with
	// tb.Errorf, failing the test.
	OnViolation func(error)
}

// Option changes Options.
type Option func(*Options)

// WithAPIKey sets the accepted API key.
func WithAPIKey(key string) Option { return func(o *Options) { o.APIKey = key } }

// WithCRLF makes the SSE stream use CRLF line ends.
func WithCRLF() Option { return func(o *Options) { o.CRLF = true } }

// WithViolationHandler replaces the default (tb.Errorf) violation report.
func WithViolationHandler(f func(error)) Option { return func(o *Options) { o.OnViolation = f } }

// Reply scripts one response.
type Reply struct {
	Text string
	// Thinking is streamed/returned as a "thinking" content block first.
	Thinking string
	// ToolPlan precedes tool calls, as Command models produce it.
	ToolPlan  string
	ToolCalls []ToolCall
	// FinishReason defaults to COMPLETE, or TOOL_CALL with tool calls.
	FinishReason string
	Usage        Usage
	// Error answers with an HTTP error ({"message": …}).
	Error *Error
	// StreamError ends a stream after its first text delta with message-end
	// carrying finish_reason ERROR and this message.
	StreamError string
	// ChunkSize, when > 0, writes a stream in pieces of this many bytes.
	ChunkSize int
	// Embedding is returned for each text by /v2/embed (default: deterministic).
	Embedding []float32
}

// ToolCall is a scripted tool call; Arguments is JSON text.
type ToolCall struct{ ID, Name, Arguments string }

// Usage is scripted billed token usage (the "tokens" figures add Cohere's prompt
// template overhead on top).
type Usage struct{ InputTokens, OutputTokens int }

// Error is a scripted HTTP error.
type Error struct {
	Status  int
	Message string
}

// Request is one received request.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Server is a running mock; URL is its base URL.
type Server struct {
	*httptest.Server
	opts Options

	mu         sync.Mutex
	replies    []Reply
	requests   []Request
	violations []error
}

// NewServer starts a mock Cohere API; it is closed when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	o := Options{APIKey: DefaultAPIKey}
	for _, f := range opts {
		f(&o)
	}
	if o.OnViolation == nil {
		o.OnViolation = func(err error) { tb.Errorf("coheretest: %v", err) }
	}
	s := &Server{opts: o}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// APIKey returns the accepted API key.
func (s *Server) APIKey() string { return s.opts.APIKey }

// Enqueue scripts the next replies, used in order.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations returns the protocol violations seen so far.
func (s *Server) Violations() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.violations...)
}

func (s *Server) next() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) == 0 {
		return Reply{Text: DefaultText}
	}
	r := s.replies[0]
	s.replies = s.replies[1:]
	return r
}

func (s *Server) violation(w http.ResponseWriter, status int, err error) {
	s.mu.Lock()
	s.violations = append(s.violations, err)
	s.mu.Unlock()
	s.opts.OnViolation(err)
	writeError(w, &Error{Status: status, Message: err.Error()})
}

func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(mustJSON(map[string]string{"id": "mock-error-id", "message": e.Message}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("coheretest: marshal %T: %v", v, err))
	}
	return b
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.violation(w, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || token != s.opts.APIKey {
		s.violation(w, http.StatusUnauthorized, fmt.Errorf("invalid api token"))
		return
	}
	if r.Method != http.MethodPost {
		s.violation(w, http.StatusNotFound, fmt.Errorf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violation(w, http.StatusBadRequest, fmt.Errorf("content-type %q is not application/json", ct))
		return
	}
	switch r.URL.Path {
	case "/v2/chat":
		req, err := validateChat(body)
		if err != nil {
			s.violation(w, http.StatusBadRequest, err)
			return
		}
		reply := s.next()
		if reply.Error != nil {
			writeError(w, reply.Error)
			return
		}
		if req.Stream != nil && *req.Stream {
			s.writeStream(w, reply)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ChatResponse(reply))
	case "/v2/embed":
		req, err := validateEmbed(body)
		if err != nil {
			s.violation(w, http.StatusBadRequest, err)
			return
		}
		reply := s.next()
		if reply.Error != nil {
			writeError(w, reply.Error)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(embedResponse(reply, req))
	default:
		s.violation(w, http.StatusNotFound, fmt.Errorf("no route for %s", r.URL.Path))
	}
}

func (s *Server) writeStream(w http.ResponseWriter, reply Reply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	write := func(b []byte) {
		_, _ = w.Write(b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	body := StreamBody(reply, s.opts.CRLF)
	if reply.ChunkSize <= 0 {
		for _, ev := range splitEvents(body, s.opts.CRLF) {
			write(ev)
		}
		return
	}
	for len(body) > 0 {
		n := min(reply.ChunkSize, len(body))
		write(body[:n])
		body = body[n:]
	}
}

func splitEvents(body []byte, crlf bool) [][]byte {
	sep := "\n\n"
	if crlf {
		sep = "\r\n\r\n"
	}
	var out [][]byte
	for _, part := range strings.SplitAfter(string(body), sep) {
		if part != "" {
			out = append(out, []byte(part))
		}
	}
	return out
}

func embedResponse(r Reply, req *EmbedRequest) []byte {
	dims := 1024
	if req.OutputDimension != nil {
		dims = *req.OutputDimension
	}
	vecs := make([][]float32, len(req.Texts))
	tokens := 0
	for i, t := range req.Texts {
		if r.Embedding != nil {
			vecs[i] = r.Embedding
		} else {
			vecs[i] = make([]float32, dims)
			for k := range vecs[i] {
				vecs[i][k] = float32((i*31+k*7+len(t))%97) / 97
			}
		}
		tokens += len(strings.Fields(t))
	}
	return mustJSON(map[string]any{
		"id":            "mock-embed-id",
		"embeddings":    map[string]any{"float": vecs},
		"texts":         req.Texts,
		"meta":          map[string]any{"api_version": map[string]string{"version": "2"}, "billed_units": map[string]int{"input_tokens": tokens}},
		"response_type": "embeddings_by_type",
	})
}
