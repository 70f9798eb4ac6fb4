package gateway_test

import (
	"context"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/llm-router/llm-router/pkg/bench"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/gateway"
)

func hv(kv ...string) extproc.Headers {
	var list []*corev3.HeaderValue
	for i := 0; i < len(kv); i += 2 {
		list = append(list, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return extproc.NewHeaders(list)
}

// BenchmarkProcessing measures the processor's own work for one exchange (request
// headers, 2 KB body, response headers, 1 KB body, close) without gRPC: what
// llm-router adds on top of the ext_proc transport.
func BenchmarkProcessing(b *testing.B) {
	gw := buildGateway(b)
	sc := bench.ChatScenario("bench", key)
	reqH := hv(":method", "POST", ":path", "/v1/chat/completions", "authorization", "Bearer "+key, "content-type", "application/json", "content-length", strconv.Itoa(len(sc.Body)), "x-request-id", "r1")
	respH := hv(":status", "200", "content-type", "application/json")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(sc.Body) + len(sc.Response)))
	for b.Loop() {
		ex := gw.NewExchange(ctx)
		if r := ex.RequestHeaders(ctx, &extproc.RequestHeaders{Headers: reqH}); r.Immediate != nil {
			b.Fatal(string(r.Immediate.Body))
		}
		if r := ex.RequestBody(ctx, sc.Body, true); r.Immediate != nil {
			b.Fatal(string(r.Immediate.Body))
		}
		ex.ResponseHeaders(ctx, respH, false)
		ex.ResponseBody(ctx, sc.Response, true)
		ex.Close(ctx, nil)
	}
}

func buildGateway(b *testing.B) *gateway.Gateway {
	b.Helper()
	c := startComponents(b)
	return c
}
