package bench

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func noopConn(t *testing.T, srv extprocv3.ExternalProcessorServer) *grpc.ClientConn {
	t.Helper()
	g := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(g, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestScenarioSizes(t *testing.T) {
	chat := ChatScenario("m", "k")
	require.InDelta(t, 2048, len(chat.Body), 600, "about 2 KB request")
	require.InDelta(t, 1024, len(chat.Response), 300, "about 1 KB response")
	st := StreamScenario("m", "k", 200)
	require.Len(t, st.Chunks, 200)
	require.Equal(t, "data: [DONE]\n\n", string(st.Chunks[199]))
	require.Contains(t, string(st.Chunks[198]), `"usage"`)
	require.Len(t, StreamScenario("m", "k", 1).Chunks, 4, "at least content, finish, usage, done")
}

func TestRunAgainstNoop(t *testing.T) {
	conn := noopConn(t, NoopProcessor{})
	for _, sc := range []Scenario{ChatScenario("m", "k"), StreamScenario("m", "k", 20)} {
		res := Run(context.Background(), conn, sc, Options{Concurrency: 4, Requests: 40})
		require.Equal(t, 40, res.Requests)
		require.Zero(t, res.Errors, res.FirstError)
		require.Greater(t, res.RPS(), 0.0)
		require.LessOrEqual(t, res.P50, res.P99)
		require.Contains(t, res.String(), "req/s")
	}
	res := Run(context.Background(), conn, ChatScenario("m", "k"), Options{Duration: 50 * time.Millisecond})
	require.Greater(t, res.Requests, 0)
	require.Zero(t, Result{}.RPS())
}

// wrongKind answers request headers with a response-headers message.
type wrongKind struct {
	extprocv3.UnimplementedExternalProcessorServer
	immediate bool
}

func (w wrongKind) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	if _, err := s.Recv(); err != nil {
		return nil
	}
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if w.immediate {
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{Body: []byte("denied")}}}
	}
	return s.Send(resp)
}

func TestExchangeReportsProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		srv  wrongKind
		want string
	}{{wrongKind{}, "not answered with request_headers"}, {wrongKind{immediate: true}, "immediate response"}} {
		conn := noopConn(t, tc.srv)
		err := Exchange(context.Background(), extprocv3.NewExternalProcessorClient(conn), ChatScenario("m", "k"))
		require.Error(t, err)
		require.True(t, strings.Contains(err.Error(), tc.want), err.Error())
		res := Run(context.Background(), conn, ChatScenario("m", "k"), Options{Requests: 3})
		require.Equal(t, 3, res.Errors)
		require.NotEmpty(t, res.FirstError)
	}
}
