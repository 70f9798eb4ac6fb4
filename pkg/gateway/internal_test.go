package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
)

func TestDefaultBackendName(t *testing.T) {
	require.Equal(t, "openai.gpt-4o", DefaultBackendName("openai", "gpt-4o"))
	require.Equal(t, "bedrock.arn-aws-bedrock-x-y", DefaultBackendName("bedrock", "arn:aws:bedrock/x y"))
}

func TestBackendFromAttributes(t *testing.T) {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"llm_router": {Fields: map[string]*structpb.Value{"backend": structpb.NewStringValue("b1")}}}}
	text, err := prototext.Marshal(md)
	require.NoError(t, err)
	tests := []struct {
		name  string
		attrs map[string]*structpb.Value
		want  string
	}{
		{"text form (Envoy)", map[string]*structpb.Value{attrUpstreamHostMetadata: structpb.NewStringValue(string(text))}, "b1"},
		{"struct form", map[string]*structpb.Value{attrUpstreamHostMetadata: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"filter_metadata": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				"llm_router": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"backend": structpb.NewStringValue("b2")}}),
			}}),
		}})}, "b2"},
		{"cluster name fallback", map[string]*structpb.Value{attrUpstreamHostMetadata: structpb.NewStringValue("garbage {"), attrClusterName: structpb.NewStringValue("llm_router.b3")}, "b3"},
		{"nothing", map[string]*structpb.Value{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, backendFromAttributes(tc.attrs))
		})
	}
}

func TestPickStrategies(t *testing.T) {
	b := func(name string, prio, w uint32) *Backend { return &Backend{Name: name, Priority: prio, Weight: w} }
	tests := []struct {
		name     string
		strategy string
		backends []*Backend
		check    func(t *testing.T, picks map[string]int)
	}{
		{"single", "", []*Backend{b("a", 0, 1)}, func(t *testing.T, p map[string]int) { require.Equal(t, 1000, p["a"]) }},
		{"priority picks first of lowest priority", "priority", []*Backend{b("a", 0, 1), b("b", 0, 1), b("c", 1, 1)}, func(t *testing.T, p map[string]int) { require.Equal(t, 1000, p["a"]) }},
		{"round robin alternates", "round_robin", []*Backend{b("a", 0, 1), b("b", 0, 1), b("c", 1, 1)}, func(t *testing.T, p map[string]int) {
			require.Equal(t, 500, p["a"])
			require.Equal(t, 500, p["b"])
			require.Zero(t, p["c"], "lower priority is never picked first")
		}},
		{"weighted follows weights", "weighted", []*Backend{b("a", 0, 3), b("b", 0, 1)}, func(t *testing.T, p map[string]int) {
			require.InDelta(t, 750, p["a"], 90)
			require.InDelta(t, 250, p["b"], 90)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := &routerExchange{g: &Gateway{}, model: &Model{Strategy: tc.strategy, Backends: tc.backends}}
			picks := map[string]int{}
			for i := 0; i < 1000; i++ {
				picks[x.pick().Name]++
			}
			tc.check(t, picks)
		})
	}
}

func TestAuthErrorMapping(t *testing.T) {
	tests := []struct {
		err  error
		want int
		code string
	}{
		{auth.ErrMissing, 401, "missing_api_key"},
		{auth.ErrInvalid, 401, "invalid_api_key"},
		{auth.ErrExpired, 401, "expired_api_key"},
		{auth.ErrRevoked, 401, "revoked_api_key"},
		{auth.ErrForbidden, 403, ""},
		{errors.New("x"), 401, "invalid_api_key"},
	}
	for _, tc := range tests {
		e := authError(tc.err)
		require.Equal(t, tc.want, e.Status, tc.err)
		require.Equal(t, tc.code, e.Code, tc.err)
	}
	require.Equal(t, "rate_limit", errorTypeForStatus(429))
	require.Equal(t, "upstream_502", errorTypeForStatus(502))
	require.Equal(t, "client_404", errorTypeForStatus(404))
	require.Equal(t, "", errorTypeForStatus(200))
	require.Equal(t, canonical.ErrInternal, asAPIError(errors.New("boom"), canonical.ErrInternal).Kind)
	require.Equal(t, canonical.ErrPermission, asAPIError(canonical.NewError(canonical.ErrPermission, "no"), canonical.ErrInternal).Kind)
}

func TestUpstreamExchangeWithoutRouterState(t *testing.T) {
	g := New(&Runtime{models: map[string]*Model{}, backends: map[string]*Backend{}}, Options{})
	ex := g.NewExchange(context.Background())
	reply := ex.RequestHeaders(context.Background(), &extproc.RequestHeaders{
		Headers:    extproc.NewHeaders([]*corev3.HeaderValue{{Key: "x-request-id", RawValue: []byte("nope")}}),
		Attributes: map[string]*structpb.Value{attrUpstreamHostMetadata: structpb.NewStringValue("")},
	})
	require.NotNil(t, reply.Immediate)
	require.Equal(t, 500, reply.Immediate.Status)
	require.Contains(t, string(reply.Immediate.Body), "same llm-router instance")
	// The remaining phases are no-ops for an upstream exchange.
	require.Nil(t, ex.RequestBody(context.Background(), nil, true).Immediate)
	require.Nil(t, ex.ResponseHeaders(context.Background(), extproc.Headers{}, true).Immediate)
	require.Nil(t, ex.ResponseBody(context.Background(), nil, true).Immediate)
	ex.Close(context.Background(), nil)
}

func TestDispatchWithoutHeaders(t *testing.T) {
	g := New(&Runtime{}, Options{})
	ex := g.NewExchange(context.Background())
	require.Nil(t, ex.RequestBody(context.Background(), nil, true).Immediate)
	require.Nil(t, ex.ResponseHeaders(context.Background(), extproc.Headers{}, true).Immediate)
	require.Nil(t, ex.ResponseBody(context.Background(), nil, true).Immediate)
	ex.Close(context.Background(), nil)
	require.NotNil(t, g.Runtime())
	g.Swap(&Runtime{})
}

func TestRoutePolicyFrom(t *testing.T) {
	text := func(fields map[string]any) *structpb.Value {
		st, err := structpb.NewStruct(fields)
		require.NoError(t, err)
		b, err := prototext.Marshal(&corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"llm_router": st}})
		require.NoError(t, err)
		return structpb.NewStringValue(string(b))
	}
	require.Nil(t, routePolicyFrom(nil))
	require.Nil(t, routePolicyFrom(map[string]*structpb.Value{attrRouteMetadata: structpb.NewStringValue("{{ not text proto")}))
	other, err := prototext.Marshal(&corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"other": {}}})
	require.NoError(t, err)
	require.Nil(t, routePolicyFrom(map[string]*structpb.Value{attrRouteMetadata: structpb.NewStringValue(string(other))}))
	p := routePolicyFrom(map[string]*structpb.Value{attrRouteMetadata: text(map[string]any{"allowed_models": []any{"a", "", "b"}, "cache": "always"})})
	require.Equal(t, []string{"a", "b"}, p.allowedModels)
	require.Equal(t, "always", p.cache)
	require.True(t, p.allows("a"))
	require.False(t, p.allows("c"))
	var none *routePolicy
	require.True(t, none.allows("anything"))
	require.True(t, (&routePolicy{allowedModels: []string{"*"}}).allows("x"))
}

func TestHeaderValueHelpersMatchStrconv(t *testing.T) {
	for _, s := range []string{"", "0", "200", "007", "+12", "-3", "1x", " 1", "4194305", "999999999999999999", "9999999999999999999", "99999999999999999999999", "1.5"} {
		n, err := strconv.Atoi(s)
		got, ok := atoi([]byte(s))
		require.Equal(t, n, got, s)
		require.Equal(t, err == nil, ok, s)
	}
	for _, tc := range []struct {
		v, p string
		want bool
	}{{"text/event-stream; charset=utf-8", "text/event-stream", true}, {"text/event", "text/event-stream", false}, {"", "a", false}, {"a", "", true}} {
		require.Equal(t, tc.want, hasPrefix([]byte(tc.v), tc.p), tc.v)
		require.Equal(t, strings.HasPrefix(tc.v, tc.p), hasPrefix([]byte(tc.v), tc.p), tc.v)
	}
}
