// Package bedrocktest is a mock Amazon Bedrock Runtime for tests. It speaks the
// documented wire format (Converse and ConverseStream; InvokeModel and
// InvokeModelWithResponseStream for Claude, Titan and Cohere embeddings; AWS
// event-stream framing; JSON errors typed by x-amzn-ErrorType) and verifies what it
// receives: the SigV4 signature is recomputed with aws-sdk-go-v2's signer, and
// bodies are decoded strictly against the documented schemas. Violations answer
// with Bedrock's own error shapes and are reported to the test.
package bedrocktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Test credentials the mock accepts by default (AWS's documentation example key).
const (
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIDEXAMPLE"
	DefaultSecretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// Options configure the mock.
type Options struct {
	// Region and the credentials the signature must verify against.
	Region                                     string
	AccessKeyID, SecretAccessKey, SessionToken string
	// OnViolation receives every protocol violation (bad signature, bad body). The
	// default reports it with tb.Errorf, failing the test.
	OnViolation func(error)
}

// Option changes Options.
type Option func(*Options)

// WithRegion sets the region the signature scope must name.
func WithRegion(region string) Option { return func(o *Options) { o.Region = region } }

// WithCredentials sets the credentials signatures are verified with.
func WithCredentials(accessKeyID, secretAccessKey, sessionToken string) Option {
	return func(o *Options) {
		o.AccessKeyID, o.SecretAccessKey, o.SessionToken = accessKeyID, secretAccessKey, sessionToken
	}
}

// WithViolationHandler replaces the default (tb.Errorf) violation report, for tests
// that send bad requests on purpose.
func WithViolationHandler(f func(error)) Option { return func(o *Options) { o.OnViolation = f } }

// Request is one request the mock received.
type Request struct {
	// Operation is converse, converse-stream, invoke or invoke-with-response-stream.
	Operation string
	// ModelID is the unescaped {modelId} path label.
	ModelID string
	Header  http.Header
	Body    []byte
}

// Server is a running mock. Its URL is the base URL to configure.
type Server struct {
	*httptest.Server
	opts Options
	now  func() time.Time

	mu         sync.Mutex
	replies    []Reply
	requests   []Request
	violations []error
}

// NewServer starts a mock Bedrock Runtime; it is closed when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	o := Options{Region: DefaultRegion, AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey}
	for _, f := range opts {
		f(&o)
	}
	if o.OnViolation == nil {
		o.OnViolation = func(err error) { tb.Errorf("bedrocktest: %v", err) }
	}
	s := &Server{opts: o, now: time.Now}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Credentials returns the credentials the mock verifies signatures with.
func (s *Server) Credentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey, SessionToken: s.opts.SessionToken}
}

// Region returns the region the mock expects in signatures.
func (s *Server) Region() string { return s.opts.Region }

// Enqueue scripts the next replies, used in order; when none is queued the mock
// answers DefaultText.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// Requests returns the requests received so far (including rejected ones).
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

func (s *Server) violation(w http.ResponseWriter, status int, typ string, err error) {
	s.mu.Lock()
	s.violations = append(s.violations, err)
	s.mu.Unlock()
	s.opts.OnViolation(err)
	writeError(w, &Error{Status: status, Type: typ, Message: err.Error()})
}

// writeError answers in Bedrock's error format: the type in x-amzn-ErrorType (with
// the URI suffix the service adds) and {"message": …} as the body.
func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.Type+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("X-Amzn-Requestid", "mock-request-id")
	w.WriteHeader(e.Status)
	_, _ = w.Write(mustJSON(map[string]string{"message": e.Message}))
}

// parsePath splits /model/{modelId}/{operation}, unescaping the label.
func parsePath(r *http.Request) (model, op string, ok bool) {
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/model/")
	if i < 0 {
		return "", "", false
	}
	rest := p[i+len("/model/"):]
	j := strings.LastIndexByte(rest, '/')
	if j <= 0 {
		return "", "", false
	}
	model, err := url.PathUnescape(rest[:j])
	if err != nil {
		return "", "", false
	}
	return model, rest[j+1:], true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.violation(w, http.StatusBadRequest, "ValidationException", fmt.Errorf("read body: %w", err))
		return
	}
	model, op, ok := parsePath(r)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Operation: op, ModelID: model, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	if r.Method != http.MethodPost || !ok {
		s.violation(w, http.StatusNotFound, "UnknownOperationException", fmt.Errorf("no operation for %s %s", r.Method, r.URL.EscapedPath()))
		return
	}
	if err := VerifySigV4(r, body, s.Credentials(), s.opts.Region, "bedrock", s.now()); err != nil {
		s.violation(w, http.StatusForbidden, "InvalidSignatureException", err)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violation(w, http.StatusBadRequest, "ValidationException", fmt.Errorf("content-type %q is not application/json", ct))
		return
	}
	switch op {
	case "converse", "converse-stream":
		if _, err := validateConverse(body); err != nil {
			s.violation(w, http.StatusBadRequest, "ValidationException", err)
			return
		}
		reply := s.next()
		if reply.Error != nil {
			writeError(w, reply.Error)
			return
		}
		if op == "converse" {
			writeJSON(w, ConverseResponse(reply), nil)
			return
		}
		writeStream(w, ConverseStreamFrames(reply), reply.ChunkSize)
	case "invoke", "invoke-with-response-stream":
		s.invoke(w, model, op == "invoke-with-response-stream", body)
	default:
		s.violation(w, http.StatusNotFound, "UnknownOperationException", fmt.Errorf("unknown operation %q", op))
	}
}

func (s *Server) invoke(w http.ResponseWriter, model string, stream bool, body []byte) {
	lower := strings.ToLower(model)
	switch {
	case strings.Contains(lower, "titan-embed"), strings.Contains(lower, "cohere.embed"):
		if stream {
			s.violation(w, http.StatusBadRequest, "ValidationException", fmt.Errorf("embedding models do not support response streaming"))
			return
		}
		s.embed(w, lower, body)
	case strings.Contains(lower, "anthropic") || strings.Contains(lower, "claude"):
		if _, err := validateAnthropic(body); err != nil {
			s.violation(w, http.StatusBadRequest, "ValidationException", err)
			return
		}
		reply := s.next()
		if reply.Error != nil {
			writeError(w, reply.Error)
			return
		}
		if !stream {
			u := reply.usage()
			writeJSON(w, AnthropicResponse(reply, "claude-mock"), map[string]string{
				"X-Amzn-Bedrock-Input-Token-Count":  strconv.Itoa(u.InputTokens),
				"X-Amzn-Bedrock-Output-Token-Count": strconv.Itoa(u.OutputTokens),
			})
			return
		}
		writeStream(w, AnthropicStreamFrames(reply, "claude-mock"), reply.ChunkSize)
	default:
		s.violation(w, http.StatusBadRequest, "ValidationException", fmt.Errorf("the mock has no InvokeModel body format for model %q", model))
	}
}

func (s *Server) embed(w http.ResponseWriter, model string, body []byte) {
	if strings.Contains(model, "titan-embed") {
		req, err := validateTitan(body, model)
		if err != nil {
			s.violation(w, http.StatusBadRequest, "ValidationException", err)
			return
		}
		reply := s.next()
		if reply.Error != nil {
			writeError(w, reply.Error)
			return
		}
		dims := 1024
		if req.Dimensions != nil {
			dims = *req.Dimensions
		}
		vec := reply.vector(dims, len(*req.InputText))
		tokens := len(strings.Fields(*req.InputText))
		writeJSON(w, mustJSON(map[string]any{"embedding": vec, "inputTextTokenCount": tokens, "embeddingsByType": map[string]any{"float": vec}}),
			map[string]string{"X-Amzn-Bedrock-Input-Token-Count": strconv.Itoa(tokens)})
		return
	}
	req, err := validateCohereEmbed(body)
	if err != nil {
		s.violation(w, http.StatusBadRequest, "ValidationException", err)
		return
	}
	reply := s.next()
	if reply.Error != nil {
		writeError(w, reply.Error)
		return
	}
	dims := 1024
	if req.OutputDimension != nil {
		dims = *req.OutputDimension
	}
	vecs := make([][]float32, len(req.Texts))
	tokens := 0
	for i, t := range req.Texts {
		vecs[i] = reply.vector(dims, i+len(t))
		tokens += len(strings.Fields(t))
	}
	resp := map[string]any{"id": "mock-embed-id", "texts": req.Texts}
	if len(req.EmbeddingTypes) > 0 {
		resp["embeddings"] = map[string]any{"float": vecs}
		resp["response_type"] = "embeddings_by_type"
	} else {
		resp["embeddings"] = vecs
		resp["response_type"] = "embeddings_floats"
	}
	writeJSON(w, mustJSON(resp), map[string]string{"X-Amzn-Bedrock-Input-Token-Count": strconv.Itoa(tokens)})
}

func writeJSON(w http.ResponseWriter, body []byte, headers map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "mock-request-id")
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	_, _ = w.Write(body)
}

// writeStream sends event-stream frames, frame by frame or in chunkSize pieces,
// flushing each write so the client sees them separately.
func writeStream(w http.ResponseWriter, frames [][]byte, chunkSize int) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-Requestid", "mock-request-id")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	write := func(b []byte) {
		_, _ = w.Write(b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	if chunkSize <= 0 {
		for _, f := range frames {
			write(f)
		}
		return
	}
	var all []byte
	for _, f := range frames {
		all = append(all, f...)
	}
	for len(all) > 0 {
		n := min(chunkSize, len(all))
		write(all[:n])
		all = all[n:]
	}
}

// DecodeChunkBytes returns the Anthropic event JSON inside a "chunk" payload; tests
// use it to read AnthropicStreamFrames.
func DecodeChunkBytes(payload []byte) ([]byte, error) {
	var c struct {
		Bytes string `json:"bytes"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(c.Bytes)
}
