package harness

import (
	"encoding/json"
	"net/http"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func statusFilter(op accesslogv3.ComparisonFilter_Op, v uint32) *accesslogv3.AccessLogFilter {
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: op, Value: &corev3.RuntimeUInt32{DefaultValue: v, RuntimeKey: "k"}},
	}}}
}

func headerFilter(name, exact string) *accesslogv3.AccessLogFilter {
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_HeaderFilter{HeaderFilter: &accesslogv3.HeaderFilter{
		Header: &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: exact}}}},
	}}}
}

// Local replies are shaped by the HCM local_reply_config: the first matching mapper may
// rewrite the status, body and headers; body_format formats the body (text or JSON).
func TestLocalReplyConfig(t *testing.T) {
	jsonFmt, _ := structpb.NewStruct(map[string]any{
		"error": map[string]any{"message": "%LOCAL_REPLY_BODY%", "code": "%RESPONSE_CODE%", "type": "%RESPONSE_CODE_DETAILS%", "req": "%REQ(x-request-tag)%"},
	})
	cfg := &hcmv3.LocalReplyConfig{
		Mappers: []*hcmv3.ResponseMapper{
			{
				Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{Filters: []*accesslogv3.AccessLogFilter{
					statusFilter(accesslogv3.ComparisonFilter_EQ, 404), headerFilter("x-client", "legacy"),
				}}}},
				StatusCode:   wrapperspb.UInt32(410),
				Body:         &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "gone"}},
				HeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-mapped", Value: "1"}}},
				// text_format is deprecated but still honoured by Envoy, so the emulator supports it.
				BodyFormatOverride: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormat{
					TextFormat: "%RESPONSE_CODE% %LOCAL_REPLY_BODY% %RESPONSE_CODE_DETAILS% %REQ(x-missing)% 100%%"}}, //nolint:staticcheck // SA1019, see above.
			},
			{
				Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_OrFilter{OrFilter: &accesslogv3.OrFilter{Filters: []*accesslogv3.AccessLogFilter{
					statusFilter(accesslogv3.ComparisonFilter_GE, 500), statusFilter(accesslogv3.ComparisonFilter_EQ, 404),
				}}}},
			},
		},
		BodyFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: jsonFmt}},
	}
	e := harnessFor(t, nil, nil, newUpstream(t, nil), func(c *Config) {
		c.LocalReply = cfg
		c.Routes = []Route{{Name: "v1", PathPrefix: "/v1/", Cluster: "backend"}}
	})
	t.Run("mapper with text override", func(t *testing.T) {
		resp := do(t, e, &Request{Method: "GET", Path: "/nope", Header: http.Header{"X-Client": {"legacy"}}})
		require.Equal(t, 410, resp.Status)
		require.Equal(t, "410 gone route_not_found - 100%", string(resp.Body))
		require.Equal(t, "1", resp.Header.Get("X-Mapped"))
		require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	})
	t.Run("top-level json body_format", func(t *testing.T) {
		resp := do(t, e, &Request{Method: "GET", Path: "/nope", Header: http.Header{"X-Request-Tag": {"t1"}}})
		require.Equal(t, 404, resp.Status)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var got map[string]map[string]any
		require.NoError(t, json.Unmarshal(resp.Body, &got))
		require.Equal(t, map[string]any{"message": "", "code": float64(404), "type": "route_not_found", "req": "t1"}, got["error"])
		require.Equal(t, byte('\n'), resp.Body[len(resp.Body)-1])
	})
}

func TestLocalReplyConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *hcmv3.LocalReplyConfig
	}{
		// text_format is deprecated but still honoured by Envoy: its errors are emulated too.
		{"unknown command", &hcmv3.LocalReplyConfig{BodyFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormat{TextFormat: "%NOPE%"}}}}, //nolint:staticcheck // SA1019, see above.
		{"unterminated", &hcmv3.LocalReplyConfig{BodyFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormat{TextFormat: "%REQ(x)"}}}},   //nolint:staticcheck // SA1019, see above.
		{"unsupported filter", &hcmv3.LocalReplyConfig{Mappers: []*hcmv3.ResponseMapper{{Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_TraceableFilter{TraceableFilter: &accesslogv3.TraceableFilter{}}}, StatusCode: wrapperspb.UInt32(400)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{LocalReply: tc.cfg})
			require.Error(t, err)
		})
	}
}
