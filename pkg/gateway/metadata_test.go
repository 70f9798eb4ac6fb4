package gateway_test

import (
	"context"
	"net"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/bench"
	"github.com/llm-router/llm-router/pkg/extproc"
)

// TestDynamicMetadataOverGRPC drives one passthrough chat exchange through the real
// gRPC server and checks every llm_router dynamic metadata field Envoy receives (the
// access log and the rate limit filter read them by name and type), and the header
// mutations of the request body answer.
func TestDynamicMetadataOverGRPC(t *testing.T) {
	c, err := app.Build(benchConfig(), app.BuildOptions{})
	require.NoError(t, err)
	p := app.NewProcessor(c)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = p.GRPC.Serve(lis) }()
	t.Cleanup(p.GRPC.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	stream, err := extprocv3.NewExternalProcessorClient(conn).Process(context.Background())
	require.NoError(t, err)

	sc := bench.ChatScenario("bench", key)
	var resps []*extprocv3.ProcessingResponse
	for _, m := range chatMessages(sc) {
		require.NoError(t, stream.Send(m))
		r, err := stream.Recv()
		require.NoError(t, err)
		resps = append(resps, r)
	}
	require.NoError(t, stream.CloseSend())

	ns := func(r *extprocv3.ProcessingResponse) map[string]*structpb.Value {
		require.Len(t, r.GetDynamicMetadata().GetFields(), 1)
		return r.GetDynamicMetadata().GetFields()[extproc.MetadataNamespace].GetStructValue().GetFields()
	}
	require.Nil(t, resps[0].GetDynamicMetadata())
	require.Nil(t, resps[2].GetDynamicMetadata())

	// Request end: who serves the request.
	common := resps[1].GetRequestBody().GetResponse()
	set := map[string]string{}
	var order []string
	for _, o := range common.GetHeaderMutation().GetSetHeaders() {
		require.Empty(t, o.GetHeader().GetValue(), "raw_value only")
		set[o.GetHeader().GetKey()] = string(o.GetHeader().GetRawValue())
		order = append(order, o.GetHeader().GetKey())
	}
	reqID := set["x-request-id"]
	require.Len(t, reqID, 32)
	require.Equal(t, map[string]string{
		"x-llm-router-backend": "bench.gpt-4o-mini",
		"x-request-id":         reqID,
		":path":                "/v1/chat/completions",
		"content-type":         "application/json",
		"accept":               "application/json",
		"authorization":        "Bearer sk-bench",
		"content-length":       set["content-length"],
	}, set)
	require.Len(t, order, 7, "no header set twice")
	require.Equal(t, len(common.GetBodyMutation().GetBody()), atoi(t, set["content-length"]))
	require.Equal(t, []string{"authorization", "x-api-key"}, common.GetHeaderMutation().GetRemoveHeaders())
	require.True(t, common.GetClearRouteCache())

	str := structpb.NewStringValue
	requireFields(t, map[string]*structpb.Value{
		"backend":        str("bench.gpt-4o-mini"),
		"model":          str("bench"),
		"provider_model": str("gpt-4o-mini"),
		"request_id":     str(reqID),
		"key_id":         str("bench"),
	}, ns(resps[1]))

	// Response end: usage and cost (gpt-4o-mini at $0.15 / $0.60 per million tokens).
	got := ns(resps[3])
	ttfb := got["time_to_first_byte_ms"]
	require.NotNil(t, ttfb)
	_, isNumber := ttfb.GetKind().(*structpb.Value_NumberValue)
	require.True(t, isNumber)
	num := structpb.NewNumberValue
	requireFields(t, map[string]*structpb.Value{
		"input_tokens":          num(480),
		"output_tokens":         num(190),
		"total_tokens":          num(670),
		"cost_usd":              num(480*0.15/1e6 + 190*0.60/1e6),
		"time_to_first_byte_ms": ttfb,
	}, got)
}

// requireFields compares metadata field by field, kinds included.
func requireFields(t *testing.T, want, got map[string]*structpb.Value) {
	t.Helper()
	require.Len(t, got, len(want), "fields: %v", got)
	for k, w := range want {
		g, ok := got[k]
		require.True(t, ok, "missing field %q", k)
		require.IsType(t, w.GetKind(), g.GetKind(), "field %q", k)
		if _, isNumber := w.GetKind().(*structpb.Value_NumberValue); isNumber {
			require.InDelta(t, w.GetNumberValue(), g.GetNumberValue(), 1e-12, "field %q", k)
			continue
		}
		require.Equal(t, w.AsInterface(), g.AsInterface(), "field %q", k)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', "not a number: %q", s)
		n = n*10 + int(c-'0')
	}
	return n
}
