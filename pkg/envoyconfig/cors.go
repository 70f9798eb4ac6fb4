package envoyconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// CORSAllowMethods are the methods a preflight may ask for: the public API's (see
// docs/api.md) and OPTIONS itself.
const CORSAllowMethods = "GET, POST, OPTIONS"

// CORSPolicy is the cross-origin policy of the public API, from server.cors with the
// defaults documented in config.proto for what is unset: any origin when none (or "*")
// is listed, allowed headers "authorization, x-api-key, content-type, *" ("*" does not
// cover authorization, hence its explicit entry), exposed headers x-request-id,
// retry-after and the x-ratelimit-* headers, max age 24h, no credentials. Generate puts
// it in the virtual host's typed_per_filter_config for envoy.filters.http.cors, and
// `llm-router run` gives the very same policy to its emulator (harness.Config.CORS).
func CORSPolicy(cfg *configv1.Config) *corsv3.CorsPolicy {
	c := cfg.GetServer().GetCors()
	headers := c.GetAllowedHeaders()
	if len(headers) == 0 {
		headers = config.DefaultCORSAllowedHeaders()
	}
	exposed := c.GetExposedHeaders()
	if len(exposed) == 0 {
		exposed = config.DefaultCORSExposedHeaders()
	}
	maxAge := config.DefaultCORSMaxAge
	if d := c.GetMaxAge(); d != nil {
		maxAge = d.AsDuration()
	}
	p := &corsv3.CorsPolicy{
		AllowMethods:  CORSAllowMethods,
		AllowHeaders:  strings.Join(headers, ", "),
		ExposeHeaders: strings.Join(exposed, ", "),
		MaxAge:        strconv.FormatInt(int64(maxAge.Seconds()), 10),
	}
	if c.GetAllowCredentials() {
		p.AllowCredentials = wrapperspb.Bool(true)
	}
	if config.CORSAllowsAnyOrigin(c) {
		// Envoy's CORS filter tests each matcher against the literal "*" and then
		// against the request's Origin; ".*" matches both.
		p.AllowOriginStringMatch = []*matcherv3.StringMatcher{{
			MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}},
		}}
		return p
	}
	for _, o := range c.GetAllowedOrigins() {
		// Scheme and host are case-insensitive; browsers send them in lower case.
		p.AllowOriginStringMatch = append(p.AllowOriginStringMatch, &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o},
			IgnoreCase:   true,
		})
	}
	return p
}

// corsHTTPFilter answers preflights before the processor sees them (no key needed for
// OPTIONS); the policy itself lives on the virtual host. The filter only acts on
// requests whose route, as matched before the processor routes them, is a route entry:
// hence the catch-all routes below are route entries, not direct responses.
func (g *gen) corsHTTPFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name:       CORSFilterName,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(&corsv3.Cors{})},
	}
}

// apiPaths are paths of the public API, for telling catch-all routes.
var apiPaths = []string{"/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/models"}

// checkCORSRoutes reports direct_response routes that API requests match before
// llm-router routes them (no x-llm-router-backend condition, a path prefix covering an
// API path) in a connection manager that runs envoy.filters.http.cors: Envoy's CORS
// filter does nothing for a request whose route has no route entry (cors_filter.cc
// decodeHeaders), so preflights would reach the processor without a key and answers
// would lack the CORS headers.
func checkCORSRoutes(h *hcmv3.HttpConnectionManager, path string) []Problem {
	cors := false
	for _, f := range h.GetHttpFilters() {
		if f.GetName() == CORSFilterName || isType(f.GetTypedConfig(), &corsv3.Cors{}) {
			cors = cors || !f.GetDisabled()
		}
	}
	if !cors {
		return nil
	}
	var ps []Problem
	for i, vh := range h.GetRouteConfig().GetVirtualHosts() {
		for j, r := range vh.GetRoutes() {
			if r.GetDirectResponse() == nil || len(r.GetMatch().GetHeaders()) > 0 {
				continue
			}
			prefix := r.GetMatch().GetPrefix()
			if !slices.ContainsFunc(apiPaths, func(p string) bool { return prefix != "" && strings.HasPrefix(p, prefix) }) {
				continue
			}
			rpath := joinIndex(joinIndex(path+".route_config.virtual_hosts", i)+".routes", j)
			ps = append(ps, Problem{Path: rpath + ".direct_response", Message: fmt.Sprintf(
				"requests match this route before llm-router routes them, and Envoy's CORS filter ignores a direct response route: "+
					"make it a route entry, e.g. route: {cluster_header: %s, cluster_not_found_response_code: NOT_FOUND} with %s in internal_only_headers (as `llm-router envoy` does)",
				UnroutedHeader, UnroutedHeader)})
		}
	}
	return ps
}
