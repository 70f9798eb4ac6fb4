package envoyconfig

import (
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestCORSPolicy(t *testing.T) {
	anyOrigin := []*matcherv3.StringMatcher{{
		MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}},
	}}
	exact := func(o string) *matcherv3.StringMatcher {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o}, IgnoreCase: true}
	}
	const defHeaders = "authorization, x-api-key, content-type, *"
	const defExposed = "x-request-id, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, " +
		"x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens"
	tests := []struct {
		name string
		cors *configv1.CORS // server.cors; the config has no server section when nil
		want *corsv3.CorsPolicy
	}{
		{"no section: the documented defaults", nil, &corsv3.CorsPolicy{
			AllowOriginStringMatch: anyOrigin, AllowMethods: "GET, POST, OPTIONS",
			AllowHeaders: defHeaders, ExposeHeaders: defExposed, MaxAge: "86400",
		}},
		{"star is any origin", &configv1.CORS{AllowedOrigins: []string{"https://a.example", "*"}}, &corsv3.CorsPolicy{
			AllowOriginStringMatch: anyOrigin, AllowMethods: "GET, POST, OPTIONS",
			AllowHeaders: defHeaders, ExposeHeaders: defExposed, MaxAge: "86400",
		}},
		{"explicit origins with credentials", &configv1.CORS{
			AllowedOrigins:   []string{"https://a.example", "http://localhost:3000"},
			AllowCredentials: true,
		}, &corsv3.CorsPolicy{
			AllowOriginStringMatch: []*matcherv3.StringMatcher{exact("https://a.example"), exact("http://localhost:3000")},
			AllowMethods:           "GET, POST, OPTIONS", AllowHeaders: defHeaders, ExposeHeaders: defExposed, MaxAge: "86400",
			AllowCredentials: wrapperspb.Bool(true),
		}},
		{"headers and max age set", &configv1.CORS{
			AllowedHeaders: []string{"authorization", "content-type"},
			ExposedHeaders: []string{"x-request-id"},
			MaxAge:         durationpb.New(10 * time.Minute),
		}, &corsv3.CorsPolicy{
			AllowOriginStringMatch: anyOrigin, AllowMethods: "GET, POST, OPTIONS",
			AllowHeaders: "authorization, content-type", ExposeHeaders: "x-request-id", MaxAge: "600",
		}},
		{"max age zero is kept", &configv1.CORS{MaxAge: durationpb.New(0)}, &corsv3.CorsPolicy{
			AllowOriginStringMatch: anyOrigin, AllowMethods: "GET, POST, OPTIONS",
			AllowHeaders: defHeaders, ExposeHeaders: defExposed, MaxAge: "0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &configv1.Config{}
			if tt.cors != nil {
				cfg.Server = &configv1.Server{Cors: tt.cors}
			}
			got := CORSPolicy(cfg)
			require.True(t, proto.Equal(tt.want, got), "got %v", got)
			require.NoError(t, got.ValidateAll())

			// ApplyDefaults fills the same values, so a loaded config gives the same policy.
			config.ApplyDefaults(cfg)
			require.True(t, proto.Equal(tt.want, CORSPolicy(cfg)), "after ApplyDefaults")
		})
	}
}

func TestCheckCORSRoutes(t *testing.T) {
	direct := func(prefix string, headers ...*routev3.HeaderMatcher) *routev3.Route {
		return &routev3.Route{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}, Headers: headers},
			Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 404}},
		}
	}
	g := &gen{cfg: &configv1.Config{}}
	tests := []struct {
		name  string
		cors  bool
		route *routev3.Route
		want  bool
	}{
		{"catch-all direct response", true, direct("/"), true},
		{"old Anthropic catch-all", true, direct("/v1/messages"), true},
		{"health check elsewhere", true, direct("/healthz"), false},
		{"behind a backend header", true, direct("/", &routev3.HeaderMatcher{Name: BackendHeader}), false},
		{"route entry", true, unroutedRoute(), false},
		{"no CORS filter", false, direct("/"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hcmv3.HttpConnectionManager{
				HttpFilters: []*hcmv3.HttpFilter{g.routerHTTPFilter()},
				RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
					VirtualHosts: []*routev3.VirtualHost{{Name: "v", Domains: []string{"*"}, Routes: []*routev3.Route{tt.route}}},
				}},
			}
			if tt.cors {
				h.HttpFilters = append([]*hcmv3.HttpFilter{g.corsHTTPFilter()}, h.HttpFilters...)
			}
			ps := checkCORSRoutes(h, "hcm")
			if !tt.want {
				require.Empty(t, ps)
				return
			}
			require.Len(t, ps, 1)
			require.Equal(t, "hcm.route_config.virtual_hosts[0].routes[0].direct_response", ps[0].Path)
		})
	}
}
