package extproc

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"
)

// scriptExchange answers each phase with a fixed reply and records what it saw.
type scriptExchange struct {
	mu      sync.Mutex
	replies map[string]Reply
	seen    []string
	attrs   map[string]*structpb.Value
	path    string
	closed  chan error
}

func (s *scriptExchange) record(phase string) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, phase)
	return s.replies[phase]
}

func (s *scriptExchange) RequestHeaders(_ context.Context, r *RequestHeaders) Reply {
	s.attrs = r.Attributes
	s.path = r.Headers.Get(":path")
	return s.record("request_headers")
}
func (s *scriptExchange) RequestBody(context.Context, []byte, bool) Reply {
	return s.record("request_body")
}
func (s *scriptExchange) ResponseHeaders(context.Context, Headers, bool) Reply {
	return s.record("response_headers")
}
func (s *scriptExchange) ResponseBody(_ context.Context, _ []byte, eos bool) Reply {
	return s.record("response_body")
}
func (s *scriptExchange) Close(_ context.Context, err error) { s.closed <- err }

type fixedHandler struct{ ex *scriptExchange }

func (h fixedHandler) NewExchange(context.Context) Exchange { return h.ex }

func startServer(t *testing.T, ex *scriptExchange) (*Server, extprocv3.ExternalProcessorClient, *grpc.ClientConn) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := NewServer(fixedHandler{ex}, Options{OnStream: func(int) {}})
	g := grpc.NewServer(ServerOptions(1 << 20)...)
	srv.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return srv, extprocv3.NewExternalProcessorClient(conn), conn
}

func hdrs(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

func TestProcessAnswersEachMessageWithItsKind(t *testing.T) {
	ex := &scriptExchange{closed: make(chan error, 1), replies: map[string]Reply{
		"request_body": {
			Headers:         HeaderMutation{Set: []Header{{"x-llm-router-backend", "b1"}}, Remove: []string{"authorization"}},
			ClearRouteCache: true, ReplaceBody: true, Body: []byte(`{"x":1}`),
			Metadata: stringMetadata("backend", "b1"),
		},
		"response_headers": {StreamResponseBody: true},
		"response_body":    {ReplaceBody: true, Body: []byte("data: x\n\n")},
	}}
	_, client, _ := startServer(t, ex)
	stream, err := client.Process(context.Background())
	require.NoError(t, err)

	attrs := map[string]*structpb.Struct{AttributesKey: {Fields: map[string]*structpb.Value{"xds.cluster_name": structpb.NewStringValue("c")}}}
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{
		Request:    &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hdrs(":path", "/v1/chat/completions")}},
		Attributes: attrs,
	}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestHeaders(), "a request_headers message is answered with request_headers (item 19)")
	require.Equal(t, "/v1/chat/completions", ex.path, "values are read from raw_value (item 4)")
	require.Equal(t, "c", ex.attrs["xds.cluster_name"].GetStringValue())

	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{}`), EndOfStream: true}}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	common := resp.GetRequestBody().GetResponse()
	require.NotNil(t, common)
	require.True(t, common.GetClearRouteCache())
	require.NotNil(t, common.GetHeaderMutation(), "clear_route_cache needs a header_mutation (item 78)")
	set := common.GetHeaderMutation().GetSetHeaders()[0].GetHeader()
	require.Equal(t, "x-llm-router-backend", set.GetKey())
	require.Equal(t, []byte("b1"), set.GetRawValue())
	require.Empty(t, set.GetValue(), "never both value and raw_value (item 35)")
	require.Equal(t, []string{"authorization"}, common.GetHeaderMutation().GetRemoveHeaders())
	require.Equal(t, []byte(`{"x":1}`), common.GetBodyMutation().GetBody())
	require.Equal(t, "b1", resp.GetDynamicMetadata().GetFields()[MetadataNamespace].GetStructValue().GetFields()["backend"].GetStringValue())

	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdrs(":status", "200")}}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetResponseHeaders())
	require.Equal(t, extprocfilterv3.ProcessingMode_STREAMED, resp.GetModeOverride().GetResponseBodyMode())

	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte("raw"), EndOfStream: true}}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.Equal(t, []byte("data: x\n\n"), resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody())
	require.NoError(t, stream.CloseSend())
	select {
	case err := <-ex.closed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close not called")
	}
	require.Equal(t, []string{"request_headers", "request_body", "response_headers", "response_body"}, ex.seen)
}

func TestProcessImmediateAndReplace(t *testing.T) {
	tests := []struct {
		name  string
		reply Reply
		check func(t *testing.T, r *extprocv3.ProcessingResponse)
	}{
		{"immediate", Reply{Immediate: &ImmediateResponse{Status: 401, Body: []byte("no"), Details: "llm_router_auth", Headers: []Header{{"content-type", "application/json"}}}},
			func(t *testing.T, r *extprocv3.ProcessingResponse) {
				ir := r.GetImmediateResponse()
				require.EqualValues(t, 401, ir.GetStatus().GetCode())
				require.Equal(t, []byte("no"), ir.GetBody())
				require.Equal(t, "content-type", ir.GetHeaders().GetSetHeaders()[0].GetHeader().GetKey())
			}},
		{"continue_and_replace", Reply{ContinueAndReplace: true, ReplaceBody: true, Body: []byte("b")},
			func(t *testing.T, r *extprocv3.ProcessingResponse) {
				c := r.GetRequestHeaders().GetResponse()
				require.Equal(t, extprocv3.CommonResponse_CONTINUE_AND_REPLACE, c.GetStatus())
				require.Equal(t, []byte("b"), c.GetBodyMutation().GetBody())
				require.Nil(t, c.GetHeaderMutation())
			}},
		{"plain_continue", Reply{},
			func(t *testing.T, r *extprocv3.ProcessingResponse) {
				c := r.GetRequestHeaders().GetResponse()
				require.Equal(t, extprocv3.CommonResponse_CONTINUE, c.GetStatus())
				require.Nil(t, r.GetDynamicMetadata())
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := &scriptExchange{closed: make(chan error, 1), replies: map[string]Reply{"request_headers": tc.reply}}
			_, client, _ := startServer(t, ex)
			stream, err := client.Process(context.Background())
			require.NoError(t, err)
			require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hdrs(":path", "/")}}}))
			resp, err := stream.Recv()
			require.NoError(t, err)
			tc.check(t, resp)
			require.NoError(t, stream.CloseSend())
			require.NoError(t, <-ex.closed)
		})
	}
}

func TestProcessTrailersAndSkip(t *testing.T) {
	ex := &scriptExchange{closed: make(chan error, 1), replies: map[string]Reply{"response_headers": {SkipResponseBody: true}}}
	_, client, _ := startServer(t, ex)
	stream, err := client.Process(context.Background())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestTrailers())
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdrs(":status", "200")}}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.Equal(t, extprocfilterv3.ProcessingMode_NONE, resp.GetModeOverride().GetResponseBodyMode())
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: &extprocv3.HttpTrailers{}}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetResponseTrailers())
	// An empty message is a protocol error.
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{}))
	_, err = stream.Recv()
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Error(t, <-ex.closed)
}

func TestDrainRefusesNewStreamsAndReportsHealth(t *testing.T) {
	ex := &scriptExchange{closed: make(chan error, 4), replies: map[string]Reply{}}
	srv, client, conn := startServer(t, ex)
	hc := healthpb.NewHealthClient(conn)
	res, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, res.GetStatus())

	// A stream in flight keeps Drain waiting until it ends.
	inflight, err := client.Process(context.Background())
	require.NoError(t, err)
	require.NoError(t, inflight.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hdrs(":path", "/")}}}))
	_, err = inflight.Recv()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.False(t, srv.Drain(ctx), "drain must wait for the stream in flight")
	require.True(t, srv.Draining())

	fresh, err := client.Process(context.Background())
	require.NoError(t, err)
	_, err = fresh.Recv()
	require.Equal(t, codes.Unavailable, status.Code(err))

	require.NoError(t, inflight.CloseSend())
	require.NoError(t, <-ex.closed)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	require.True(t, srv.Drain(ctx2))
}

func TestHeadersView(t *testing.T) {
	h := NewHeaders([]*corev3.HeaderValue{{Key: "a", RawValue: []byte("1")}, {Key: "b", Value: "2"}})
	require.Equal(t, "1", h.Get("a"))
	require.Equal(t, "2", h.Get("b"), "value is a fallback for old Envoys")
	require.Equal(t, "", h.Get("c"))
	require.Equal(t, 2, h.Len())
	var got []string
	h.Each(func(k, v string) { got = append(got, k+"="+v) })
	require.Equal(t, []string{"a=1", "b=2"}, got)
	var m HeaderMutation
	require.True(t, m.Empty())
	m.AddSet("x", "y")
	m.AddRemove("z")
	require.False(t, m.Empty())
}

func TestDrainAndStop(t *testing.T) {
	srv := NewServer(fixedHandler{&scriptExchange{closed: make(chan error, 1)}}, Options{})
	g := grpc.NewServer()
	srv.Register(g)
	lis := bufconn.Listen(1 << 16)
	go func() { _ = g.Serve(lis) }()
	DrainAndStop(srv, g, time.Second)
	require.True(t, srv.Draining())
}

// TestLargeBodiesWithStaticWindows: with static flow-control windows a body close to
// the message limit still flows both ways, on several streams at once.
func TestLargeBodiesWithStaticWindows(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20)
	ex := &scriptExchange{closed: make(chan error, 4), replies: map[string]Reply{"request_body": {ReplaceBody: true, Body: big}}}
	_, client, _ := startServer(t, ex)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream, err := client.Process(context.Background())
			if !assert.NoError(t, err) {
				return
			}
			assert.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: big, EndOfStream: true}}}))
			resp, err := stream.Recv()
			if assert.NoError(t, err) {
				assert.Len(t, resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody(), len(big))
			}
			assert.NoError(t, stream.CloseSend())
		}()
	}
	wg.Wait()
	for range 3 {
		require.NoError(t, <-ex.closed)
	}
}

func TestHeadersBytes(t *testing.T) {
	h := NewHeaders([]*corev3.HeaderValue{{Key: "a", RawValue: []byte("1")}, {Key: "b", Value: "2"}})
	require.Equal(t, []byte("1"), h.Bytes("a"))
	require.Equal(t, []byte("2"), h.Bytes("b"), "value is a fallback for old Envoys")
	require.Nil(t, h.Bytes("c"))
}
