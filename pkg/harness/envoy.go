package harness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"
)

// Envoy is an emulated Envoy data path: downstream HTTP → router-level ext_proc → router →
// per-attempt upstream ext_proc → upstream HTTP, and back. It is safe for concurrent use.
type Envoy struct {
	cfg          Config
	log          *zap.Logger
	routerFilter *filterConfig
	routes       []*compiledRoute
	clusters     map[string]*compiledCluster
	localReply   *localReplyConfig
	cors         *corsPolicy
	bufferLimit  int
	client       extprocsvc.ExternalProcessorClient
	stats        *statSet
}

// AccessLogEntry describes one finished request, like an Envoy access log line.
type AccessLogEntry struct {
	// Status is the status sent downstream (0 if none was sent).
	Status int
	// ResponseCodeDetails is %RESPONSE_CODE_DETAILS% ("via_upstream", "route_not_found",
	// "ext_proc_error_per-message_timeout_exceeded", …).
	ResponseCodeDetails string
	// ResponseFlags are Envoy's short response flags (NR, UH, UF, UC, UT, URX, UR, DC).
	ResponseFlags []string
	// DynamicMetadata is the stream's dynamic metadata (filter_metadata) at the end.
	DynamicMetadata map[string]*structpb.Struct
	// RouteName and Cluster identify the route used (empty if none matched).
	RouteName, Cluster string
	// Attempts is the number of upstream attempts.
	Attempts int
	// UpstreamHost is the host:port of the last attempt.
	UpstreamHost string
	// BytesSent and BytesReceived count downstream response and request body bytes.
	BytesSent, BytesReceived int64
	// Duration is the stream's lifetime.
	Duration time.Duration
	// RequestHeaders are the final (mutated) request headers, pseudo-headers included
	// under their own keys (":path", …); ordinary keys are canonical.
	RequestHeaders http.Header
	// ResponseHeaders are the response headers sent downstream.
	ResponseHeaders http.Header
	// Reset reports that the downstream stream was reset instead of completed.
	Reset bool
}

// ServeHTTP is the downstream side: an http.Handler, so `llm-router run` is just
// http.Server{Handler: envoy}. The request body is read completely before the upstream
// request starts (golang/go#40747); streamed responses are flushed chunk by chunk. A stream
// reset is reported to the client by aborting the response (http.ErrAbortHandler).
func (e *Envoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := requestHeaders(r.Method, r.RequestURI, r.Host, scheme, r.Header)
	rc := http.NewResponseController(w)
	dw := &httpDownstream{w: w, rc: rc}
	s := newStream(e, r.Context(), dw, h)
	s.remoteAddr = r.RemoteAddr
	var body *bodySource
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		// A reader still waiting for the client when the stream ends is unblocked with a read
		// deadline; without deadline support it is left to finish on its own.
		canUnblock := rc.SetReadDeadline(time.Time{}) == nil
		body = newBodySource(s, r.Body, func() hmap { return trailerMap(r.Trailer) }, canUnblock)
		if canUnblock {
			body.unblock = func() { _ = rc.SetReadDeadline(time.Now()) }
		}
	}
	s.run(body)
	if body != nil && body.unblocked {
		_ = rc.SetReadDeadline(time.Time{}) // the connection may be reused
	}
	if s.reset {
		panic(http.ErrAbortHandler)
	}
}

func trailerMap(t http.Header) hmap {
	var m hmap
	clean := http.Header{}
	for k, vs := range t {
		if len(vs) > 0 {
			clean[k] = vs
		}
	}
	m.fromHTTP(clean)
	return m
}

type httpDownstream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (d *httpDownstream) writeHeader(status int, h hmap) {
	hh := d.w.Header()
	for _, e := range h {
		hh[http.CanonicalHeaderKey(e.k)] = append(hh[http.CanonicalHeaderKey(e.k)], e.v)
	}
	d.w.WriteHeader(status)
	_ = d.rc.Flush()
}

func (d *httpDownstream) write(b []byte) {
	_, _ = d.w.Write(b)
	_ = d.rc.Flush()
}

func (d *httpDownstream) writeTrailers(t hmap) {
	hh := d.w.Header()
	for _, e := range t {
		hh[http.TrailerPrefix+http.CanonicalHeaderKey(e.k)] = append(hh[http.TrailerPrefix+http.CanonicalHeaderKey(e.k)], e.v)
	}
}

// requestHeaders builds the request header map as Envoy's HCM presents it to filters:
// pseudo-headers first, lower-case keys, hop-by-hop headers removed, x-forwarded-proto and
// x-request-id added when absent (generate_request_id defaults to true).
func requestHeaders(method, path, authority, scheme string, h http.Header) hmap {
	if method == "" {
		method = http.MethodGet
	}
	if path == "" {
		path = "/"
	}
	if authority == "" {
		authority = h.Get("Host")
	}
	if authority == "" {
		authority = "localhost"
	}
	if scheme == "" {
		scheme = "http"
	}
	m := hmap{{":authority", authority}, {":path", path}, {":method", method}, {":scheme", scheme}}
	rest := h.Clone()
	rest.Del("Host")
	m.fromHTTP(rest)
	if !m.has("x-forwarded-proto") {
		m.add("x-forwarded-proto", scheme)
	}
	if !m.has("x-request-id") {
		m.add("x-request-id", newUUID())
	}
	return m
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Request is a downstream request for Do, the lower-level driver that needs no HTTP server.
type Request struct {
	// Method defaults to GET, Path to "/", Authority to "localhost", Scheme to "http".
	Method, Path, Authority, Scheme string
	// Header holds the request headers (hop-by-hop headers are dropped).
	Header http.Header
	// Body is the request body; nil means the request ends with its headers. Each Read is one
	// data frame; a reader with a Len() method (bytes.Reader, strings.Reader, bytes.Buffer)
	// ends the stream on the frame that empties it, like a content-length body. Do does not
	// wait for a Read still blocked when the stream ends.
	Body io.Reader
	// Trailer, if non-empty, is sent after the body.
	Trailer http.Header
	// RemoteAddr is the downstream address (source.address).
	RemoteAddr string
	// OnData, if set, is called with each response body chunk as it is written downstream.
	OnData func([]byte)
}

// Response is what Do recorded of the downstream response.
type Response struct {
	// Status is the status code (0 if the stream was reset before any response).
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body is the whole response body as written downstream.
	Body []byte
	// Chunks is the body as the sequence of writes (one per forwarded chunk).
	Chunks [][]byte
	// Trailer holds response trailers, if any.
	Trailer http.Header
	// Reset reports a stream reset (the response, if started, is incomplete).
	Reset bool
	// Details is %RESPONSE_CODE_DETAILS%.
	Details string
}

// ErrStreamReset is returned by Do when Envoy resets the downstream stream.
var ErrStreamReset = errors.New("harness: stream reset")

// Do runs one request through the emulated data path without HTTP on the downstream side
// and returns what a client would have received. It returns ErrStreamReset (with the partial
// Response) when the stream is reset, and ctx.Err() when ctx ends first (a client
// disconnect, item 32). Do is meant for unit tests and benchmarks.
func (e *Envoy) Do(ctx context.Context, req *Request) (*Response, error) {
	if body, ok := req.Body.(interface{ Len() int }); ok && body.Len() == 0 {
		req.Body = nil
	}
	h := requestHeaders(req.Method, req.Path, req.Authority, req.Scheme, req.Header)
	rec := &recorder{resp: &Response{Header: http.Header{}}, onData: req.OnData}
	s := newStream(e, ctx, rec, h)
	s.remoteAddr = req.RemoteAddr
	var body *bodySource
	if req.Body != nil {
		tr := trailerMap(req.Trailer)
		body = newBodySource(s, req.Body, func() hmap { return tr }, false)
	} else if len(req.Trailer) > 0 {
		body = newBodySource(s, strings.NewReader(""), func() hmap { return trailerMap(req.Trailer) }, false)
	}
	s.run(body)
	rec.resp.Details = s.details
	if s.downReset {
		return rec.resp, ctx.Err()
	}
	if s.reset {
		rec.resp.Reset = true
		return rec.resp, ErrStreamReset
	}
	return rec.resp, nil
}

type recorder struct {
	resp   *Response
	onData func([]byte)
}

func (r *recorder) writeHeader(status int, h hmap) {
	r.resp.Status = status
	r.resp.Header = h.toHTTP(false)
	r.resp.Header.Del("Connection") // an HTTP/1 connection concern, not part of the response
}

func (r *recorder) write(b []byte) {
	r.resp.Body = append(r.resp.Body, b...)
	r.resp.Chunks = append(r.resp.Chunks, b)
	if r.onData != nil {
		r.onData(b)
	}
}

func (r *recorder) writeTrailers(t hmap) { r.resp.Trailer = t.toHTTP(false) }

// Stats returns a snapshot of Envoy-named counters. ext_proc counters
// (streams_started, streams_closed, streams_failed, stream_msgs_sent, stream_msgs_received,
// spurious_msgs_received, failure_mode_allowed, message_timeouts, rejected_header_mutations,
// clear_route_cache_ignored, clear_route_cache_disabled, clear_route_cache_upstream_ignored,
// override_message_timeout_received, override_message_timeout_ignored) appear summed over
// both filter positions and per position as "ext_proc.router.<name>" and
// "ext_proc.upstream.<name>". Router and connection manager counters include
// upstream_rq_total, upstream_rq_retry, upstream_rq_retry_success,
// upstream_rq_retry_limit_exceeded, upstream_rq_timeout, upstream_rq_per_try_timeout,
// upstream_cx_connect_fail, upstream_rq_<code>, upstream_rq_<N>xx, no_route, no_cluster,
// downstream_rq_total, downstream_rq_completed, downstream_rq_<N>xx and downstream_rq_reset;
// the CORS filter counts cors.origin_valid and cors.origin_invalid.
func (e *Envoy) Stats() map[string]uint64 { return e.stats.snapshot() }

// Close releases idle upstream connections. In-flight requests are not interrupted.
func (e *Envoy) Close() {
	for _, c := range e.clusters {
		c.transport.CloseIdleConnections()
	}
}

var statNames = []string{
	"streams_started", "streams_closed", "streams_failed", "stream_msgs_sent", "stream_msgs_received",
	"spurious_msgs_received", "failure_mode_allowed", "message_timeouts", "rejected_header_mutations",
	"clear_route_cache_ignored", "clear_route_cache_disabled", "clear_route_cache_upstream_ignored",
	"override_message_timeout_received", "override_message_timeout_ignored",
	"upstream_rq_total", "upstream_rq_retry", "upstream_rq_retry_success", "upstream_rq_retry_limit_exceeded",
	"upstream_rq_timeout", "upstream_rq_per_try_timeout", "upstream_cx_connect_fail", "no_route",
	"downstream_rq_total", "downstream_rq_completed", "downstream_rq_reset",
}

type statSet struct {
	mu sync.RWMutex
	m  map[string]*atomic.Uint64
}

func newStats() *statSet {
	s := &statSet{m: map[string]*atomic.Uint64{}}
	for _, n := range statNames {
		s.m[n] = new(atomic.Uint64)
	}
	return s
}

func (s *statSet) inc(name string) {
	s.mu.RLock()
	c, ok := s.m[name]
	s.mu.RUnlock()
	if !ok {
		s.mu.Lock()
		if c, ok = s.m[name]; !ok {
			c = new(atomic.Uint64)
			s.m[name] = c
		}
		s.mu.Unlock()
	}
	c.Add(1)
}

func (s *statSet) snapshot() map[string]uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]uint64, len(s.m))
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = s.m[k].Load()
	}
	return out
}
