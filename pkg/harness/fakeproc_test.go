package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeProc is a real gRPC ext_proc server on 127.0.0.1:0 whose behaviour each test scripts.
type fakeProc struct {
	t       testing.TB
	conn    *grpc.ClientConn
	mu      sync.Mutex
	handler func(ps *procStream) error
	streams []*procStream
}

// procStream is the server side of one Process stream.
type procStream struct {
	t     testing.TB
	ss    extprocsvc.ExternalProcessor_ProcessServer
	in    chan *extprocsvc.ProcessingRequest
	ended chan struct{}
	// canceled reports that the client reset the stream (context cancelled while the
	// handler was still running), as Envoy's close+reset does (item 10).
	canceled bool
	mu       sync.Mutex
	msgs     []*extprocsvc.ProcessingRequest
}

func newFakeProc(t testing.TB, h func(ps *procStream) error) *fakeProc {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fp := &fakeProc{t: t, handler: h}
	srv := grpc.NewServer()
	extprocsvc.RegisterExternalProcessorServer(srv, fp)
	go func() { _ = srv.Serve(lis) }()
	fp.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = fp.conn.Close()
		srv.Stop()
	})
	return fp
}

func (fp *fakeProc) setHandler(h func(ps *procStream) error) {
	fp.mu.Lock()
	fp.handler = h
	fp.mu.Unlock()
}

// Process implements ExternalProcessorServer.
func (fp *fakeProc) Process(ss extprocsvc.ExternalProcessor_ProcessServer) error {
	ps := &procStream{t: fp.t, ss: ss, in: make(chan *extprocsvc.ProcessingRequest, 1000), ended: make(chan struct{})}
	fp.mu.Lock()
	if len(fp.streams) < 10000 {
		fp.streams = append(fp.streams, ps)
	}
	h := fp.handler
	fp.mu.Unlock()
	go func() {
		for {
			m, err := ss.Recv()
			if err != nil {
				select {
				case <-ss.Context().Done():
					ps.canceled = true
				case <-time.After(time.Second):
				}
				close(ps.ended)
				close(ps.in)
				return
			}
			ps.mu.Lock()
			ps.msgs = append(ps.msgs, m)
			ps.mu.Unlock()
			ps.in <- m
		}
	}()
	if h == nil {
		return ps.serveDefault()
	}
	return h(ps)
}

func (fp *fakeProc) allStreams() []*procStream {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]*procStream(nil), fp.streams...)
}

// recv returns the next message, or nil when the stream ended or nothing came within 5s.
func (ps *procStream) recv() *extprocsvc.ProcessingRequest {
	select {
	case m, ok := <-ps.in:
		if !ok {
			return nil
		}
		return m
	case <-time.After(5 * time.Second):
		ps.t.Errorf("fake processor: timed out waiting for a message")
		return nil
	}
}

func (ps *procStream) send(r *extprocsvc.ProcessingResponse) { _ = ps.ss.Send(r) }

// waitEnd waits for the client side to end the stream; how it ended is recorded in canceled.
func (ps *procStream) waitEnd() {
	select {
	case <-ps.ended:
	case <-time.After(5 * time.Second):
		ps.t.Errorf("fake processor: stream did not end")
	}
}

// drain waits until the client ends the stream, answering nothing more; it returns nil so the
// handler ends with OK after the client went away.
func (ps *procStream) drain() error {
	for range ps.in {
	}
	return nil
}

func (ps *procStream) messages() []*extprocsvc.ProcessingRequest {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]*extprocsvc.ProcessingRequest(nil), ps.msgs...)
}

// serveDefault answers every message with a CONTINUE of the matching kind.
func (ps *procStream) serveDefault() error {
	for m := range ps.in {
		ps.send(continueFor(m))
	}
	return nil
}

func kind(m *extprocsvc.ProcessingRequest) string {
	switch m.GetRequest().(type) {
	case *extprocsvc.ProcessingRequest_RequestHeaders:
		return "request_headers"
	case *extprocsvc.ProcessingRequest_RequestBody:
		return "request_body"
	case *extprocsvc.ProcessingRequest_RequestTrailers:
		return "request_trailers"
	case *extprocsvc.ProcessingRequest_ResponseHeaders:
		return "response_headers"
	case *extprocsvc.ProcessingRequest_ResponseBody:
		return "response_body"
	case *extprocsvc.ProcessingRequest_ResponseTrailers:
		return "response_trailers"
	}
	return "unknown"
}

func kinds(ms []*extprocsvc.ProcessingRequest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, kind(m))
	}
	return out
}

func continueFor(m *extprocsvc.ProcessingRequest) *extprocsvc.ProcessingResponse {
	return respond(m, &extprocsvc.CommonResponse{})
}

// respond builds the response of the kind matching m with the given CommonResponse.
func respond(m *extprocsvc.ProcessingRequest, cr *extprocsvc.CommonResponse) *extprocsvc.ProcessingResponse {
	switch m.GetRequest().(type) {
	case *extprocsvc.ProcessingRequest_RequestHeaders:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocsvc.HeadersResponse{Response: cr}}}
	case *extprocsvc.ProcessingRequest_ResponseHeaders:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocsvc.HeadersResponse{Response: cr}}}
	case *extprocsvc.ProcessingRequest_RequestBody:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestBody{RequestBody: &extprocsvc.BodyResponse{Response: cr}}}
	case *extprocsvc.ProcessingRequest_ResponseBody:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ResponseBody{ResponseBody: &extprocsvc.BodyResponse{Response: cr}}}
	case *extprocsvc.ProcessingRequest_RequestTrailers:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocsvc.TrailersResponse{HeaderMutation: cr.GetHeaderMutation()}}}
	case *extprocsvc.ProcessingRequest_ResponseTrailers:
		return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocsvc.TrailersResponse{HeaderMutation: cr.GetHeaderMutation()}}}
	}
	return &extprocsvc.ProcessingResponse{}
}

func reqHeadersResp(cr *extprocsvc.CommonResponse) *extprocsvc.ProcessingResponse {
	return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocsvc.HeadersResponse{Response: cr}}}
}

func respHeadersResp(cr *extprocsvc.CommonResponse) *extprocsvc.ProcessingResponse {
	return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocsvc.HeadersResponse{Response: cr}}}
}

func reqBodyResp(cr *extprocsvc.CommonResponse) *extprocsvc.ProcessingResponse {
	return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestBody{RequestBody: &extprocsvc.BodyResponse{Response: cr}}}
}

func respBodyResp(cr *extprocsvc.CommonResponse) *extprocsvc.ProcessingResponse {
	return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ResponseBody{ResponseBody: &extprocsvc.BodyResponse{Response: cr}}}
}

func immediate(code int, body string, details string) *extprocsvc.ProcessingResponse {
	return &extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocsvc.ImmediateResponse{
		Status: statusCode(code), Body: []byte(body), Details: details,
	}}}
}

// setH builds a HeaderMutation setting key/value pairs through raw_value.
func setH(kv ...string) *extprocsvc.HeaderMutation {
	m := &extprocsvc.HeaderMutation{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.SetHeaders = append(m.SetHeaders, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])}})
	}
	return m
}

func bodyMut(b string) *extprocsvc.BodyMutation {
	return &extprocsvc.BodyMutation{Mutation: &extprocsvc.BodyMutation_Body{Body: []byte(b)}}
}

func ms(n int) *durationpb.Duration { return durationpb.New(time.Duration(n) * time.Millisecond) }

// headerValue returns the raw_value of k in a headers message.
func headerValue(hm *corev3.HeaderMap, k string) (string, bool) {
	for _, h := range hm.GetHeaders() {
		if h.GetKey() == k {
			return string(h.GetRawValue()), true
		}
	}
	return "", false
}

// ---- fixtures ----

func grpcService() *corev3.GrpcService {
	return &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "ext_proc"}}}
}

// extProc returns a router-level filter config: request headers SEND, body BUFFERED,
// response headers SEND, body BUFFERED (the project's default), adjusted by mods.
func extProc(mods ...func(*extprocv3.ExternalProcessor)) *extprocv3.ExternalProcessor {
	c := &extprocv3.ExternalProcessor{
		GrpcService: grpcService(),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestBodyMode:  extprocv3.ProcessingMode_BUFFERED,
			ResponseBodyMode: extprocv3.ProcessingMode_BUFFERED,
		},
		MetadataOptions: &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{"llm_router"}}},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func withMode(reqBody, respBody extprocv3.ProcessingMode_BodySendMode) func(*extprocv3.ExternalProcessor) {
	return func(c *extprocv3.ExternalProcessor) {
		c.ProcessingMode.RequestBodyMode = reqBody
		c.ProcessingMode.ResponseBodyMode = respBody
	}
}

func headersOnly() func(*extprocv3.ExternalProcessor) {
	return withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_NONE)
}

func failOpen(c *extprocv3.ExternalProcessor) { c.FailureModeAllow = true }

// upstream is an httptest server recording requests.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []*recordedReq
	calls int
}

type recordedReq struct {
	method, path, host string
	header             http.Header
	body               string
	trailer            http.Header
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, &recordedReq{method: r.Method, path: r.URL.RequestURI(), host: r.Host, header: r.Header.Clone(), body: string(b), trailer: r.Trailer.Clone()})
		u.calls++
		u.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []*recordedReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*recordedReq(nil), u.reqs...)
}

func (u *upstream) callCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

// harnessFor builds an Envoy with one catch-all route to cluster "backend" at u.
func harnessFor(t testing.TB, fp *fakeProc, rf *extprocv3.ExternalProcessor, u *upstream, mods ...func(*Config)) *Envoy {
	cfg := Config{
		RouterFilter: rf,
		Routes:       []Route{{Name: "default", Cluster: "backend"}},
		Clusters:     []Cluster{{Name: "backend", Endpoints: []Endpoint{{Address: u.URL}}}},
	}
	if fp != nil {
		cfg.Processor = fp.conn
	}
	for _, m := range mods {
		m(&cfg)
	}
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

func do(t testing.TB, e *Envoy, req *Request) *Response {
	t.Helper()
	resp, err := e.Do(context.Background(), req)
	if err != nil && !errors.Is(err, ErrStreamReset) {
		require.NoError(t, err)
	}
	return resp
}

func post(body string) *Request {
	return &Request{Method: "POST", Path: "/v1/chat/completions", Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {itoa(len(body))}}, Body: strings.NewReader(body)}
}

// checkNoLeak fails if goroutines started during the test are still running.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if runtime.NumGoroutine() <= before {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
	})
}

func statusCode(code int) *typev3.HttpStatus {
	if code == 0 {
		return nil
	}
	return &typev3.HttpStatus{Code: typev3.StatusCode(code)}
}

// hostMeta is endpoint metadata {"llm_router": {"backend": backend}}.
func hostMeta(backend string) *corev3.Metadata {
	s, _ := structpb.NewStruct(map[string]any{"backend": backend})
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"llm_router": s}}
}
