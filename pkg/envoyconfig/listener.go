package envoyconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	previouspriorities "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// anthropicPathPrefix selects the Anthropic error schema for local replies.
const anthropicPathPrefix = "/v1/messages"

// connectionManager builds the HTTP connection manager of the listener.
func (g *gen) connectionManager(plans []ClusterPlan) *hcmv3.HttpConnectionManager {
	filters := []*hcmv3.HttpFilter{g.corsHTTPFilter(), g.extprocHTTPFilter(g.cfg)}
	if g.opts.RateLimit != nil {
		filters = append(filters, g.rateLimitHTTPFilter(g.opts.RateLimit))
	}
	filters = append(filters, g.routerHTTPFilter())
	return &hcmv3.HttpConnectionManager{
		StatPrefix: ListenerName,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{
			RouteConfig: g.routeConfig(plans),
		},
		HttpFilters: filters,
		AccessLog:   []*accesslogv3.AccessLog{g.accessLog()},
		// The gateway is the edge: the caller's address is the peer's, and no caller is
		// internal, so internal_only_headers (x-llm-router-backend) are always stripped
		// from what callers send and x-envoy-* headers are not trusted.
		UseRemoteAddress:      wrapperspb.Bool(true),
		InternalAddressConfig: &hcmv3.HttpConnectionManager_InternalAddressConfig{},
		// Callers' x-request-id is kept for correlation (generated when absent), and
		// every response carries it: proxied answers, streams, passed-through provider
		// errors and Envoy's local replies alike. Envoy sets it after the encoder
		// filters (ConnectionManagerUtility::mutateResponseHeaders), replacing any
		// x-request-id a provider sent.
		PreserveExternalRequestId:    true,
		AlwaysSetRequestIdInResponse: true,
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		LocalReplyConfig:             g.localReplyConfig(),
	}
}

// routeConfig has one route per backend, matching x-llm-router-backend exactly, then a
// catch-all. The processor runs before the router and always either answers itself or
// sets the header with clear_route_cache, so the catch-all only answers requests that
// were never routed (e.g. an ext_proc filter missing from the chain).
//
// The catch-all is also the route every request matches when the filters ahead of the
// processor look at it, and Envoy's CORS filter does nothing at all unless that route is
// a route entry (cors_filter.cc decodeHeaders: `route()->routeEntry() == nullptr` →
// Continue; a direct_response route has no route entry, config_impl.cc
// RouteEntryImplBase::routeEntry). So it is a route entry whose cluster comes from a
// header that nobody can set (UnroutedHeader is internal-only): the router finds no
// cluster and answers cluster_not_found_response_code, 404, with response flag NC,
// which the local_reply_config turns into the caller's error schema.
func (g *gen) routeConfig(plans []ClusterPlan) *routev3.RouteConfiguration {
	vh := &routev3.VirtualHost{
		Name:    ListenerName,
		Domains: []string{"*"},
		TypedPerFilterConfig: map[string]*anypb.Any{
			CORSFilterName: g.any(CORSPolicy(g.cfg)),
		},
	}
	for _, p := range plans {
		vh.Routes = append(vh.Routes, g.backendRoute(p))
	}
	vh.Routes = append(vh.Routes, unroutedRoute())
	return &routev3.RouteConfiguration{
		Name:         ListenerName,
		VirtualHosts: []*routev3.VirtualHost{vh},
		// Callers must not choose the backend (or a cluster) themselves: Envoy strips
		// these headers from every external request before any filter runs; only the
		// processor sets x-llm-router-backend.
		InternalOnlyHeaders: []string{BackendHeader, UnroutedHeader},
	}
}

func (g *gen) backendRoute(p ClusterPlan) *routev3.Route {
	action := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: p.Name},
		// Rewrites Host to the chosen endpoint's hostname on every attempt, so a retry
		// to a fallback provider carries that provider's host (and SNI, via auto_sni).
		HostRewriteSpecifier: &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)},
		Timeout:              durationpb.New(p.RouteTimeout()),
	}
	if p.Retry.PerTryIdleTimeout > 0 {
		action.IdleTimeout = durationpb.New(p.Retry.PerTryIdleTimeout)
	}
	if r := p.Retry; r.NumRetries > 0 {
		rp := &routev3.RetryPolicy{
			RetryOn:              strings.Join(r.RetryOn, ","),
			NumRetries:           wrapperspb.UInt32(r.NumRetries),
			PerTryTimeout:        durationpb.New(r.PerTryTimeout),
			RetriableStatusCodes: r.RetriableStatusCodes,
		}
		if r.PerTryIdleTimeout > 0 {
			rp.PerTryIdleTimeout = durationpb.New(r.PerTryIdleTimeout)
		}
		if r.PreviousPriorities {
			rp.RetryPriority = &routev3.RetryPolicy_RetryPriority{
				Name: "envoy.retry_priorities.previous_priorities",
				ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{
					TypedConfig: g.any(&previouspriorities.PreviousPrioritiesConfig{UpdateFrequency: 1}),
				},
			}
		}
		action.RetryPolicy = rp
	}
	return &routev3.Route{
		Name: p.Name,
		Match: &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
			Headers: []*routev3.HeaderMatcher{{
				Name: BackendHeader,
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Exact{Exact: p.Backend},
				}},
			}},
		},
		Action: &routev3.Route_Route{Route: action},
		// The routing header is internal; providers have no use for it. The upstream
		// processor learns the backend from the endpoint metadata instead.
		RequestHeadersToRemove: []string{BackendHeader},
	}
}

// unroutedRoute is the catch-all route entry (see routeConfig): its cluster is named by
// UnroutedHeader, which never reaches the router, so Envoy answers 404 with flag NC.
func unroutedRoute() *routev3.Route {
	return &routev3.Route{
		Name:  UnroutedRouteName,
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier:            &routev3.RouteAction_ClusterHeader{ClusterHeader: UnroutedHeader},
			ClusterNotFoundResponseCode: routev3.RouteAction_NOT_FOUND,
		}},
	}
}

// localReply describes how one kind of Envoy-generated reply is rewritten.
type localReply struct {
	flag          string // Envoy response flag that identifies the reply (or a CEL test, below)
	status        uint32 // status to answer with (0 keeps Envoy's)
	message       string
	openAIType    string
	openAICode    string
	anthropicType string
}

// localReplies are Envoy's own replies that callers may see. They are selected by
// response flag, not by status, so that the processor's own error answers (immediate
// responses, already in the caller's schema) pass untouched.
func localReplies() []localReply {
	return []localReply{
		{"NR", 404, "no route for this request", "invalid_request_error", "route_not_found", "not_found_error"},
		{"UF", 502, "could not connect to the upstream provider", "server_error", "upstream_connect_failure", "api_error"},
		{"UT", 504, "the upstream provider timed out", "server_error", "upstream_timeout", "timeout_error"},
		{"UH", 503, "no healthy upstream provider", "server_error", "upstream_unavailable", "overloaded_error"},
		{"UO", 503, "too many concurrent requests to the upstream provider", "server_error", "upstream_overflow", "overloaded_error"},
		{"UC", 502, "the upstream provider closed the connection", "server_error", "upstream_connection_closed", "api_error"},
		{"UR", 502, "the upstream provider reset the stream", "server_error", "upstream_reset", "api_error"},
		{"RL", 429, "rate limit exceeded", "rate_limit_error", "rate_limit_exceeded", "rate_limit_error"},
		// The catch-all route (unroutedRoute): the processor routed nothing.
		{"NC", 404, "no backend was selected for this request", "invalid_request_error", "route_not_found", "not_found_error"},
		// The processor failed (down, timed out, broke the protocol): Envoy answers with
		// ext_proc's status_on_error and details "ext_proc_error_…", but no flag.
		{celExtProcError, 0, "the gateway could not process the request", "server_error", "gateway_processor_error", "api_error"},
	}
}

// celExtProcError marks the local reply that selects ext_proc's own failures with a CEL
// expression instead of a response flag.
const celExtProcError = "cel:ext_proc_error"

// replyFilter selects the local replies of r.
func (g *gen) replyFilter(r localReply) *accesslogv3.AccessLogFilter {
	if r.flag == celExtProcError {
		return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{
			ExtensionFilter: &accesslogv3.ExtensionFilter{
				Name: "envoy.access_loggers.extension_filters.cel",
				ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: g.any(&celv3.ExpressionFilter{
					Expression: "response.code_details.startsWith('ext_proc_error')",
				})},
			},
		}}
	}
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{
		ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{r.flag}},
	}}
}

// localReplyConfig maps Envoy's local replies to the caller's error schema: Anthropic
// for /v1/messages*, OpenAI otherwise. Mappers are tried in order, first match wins, so
// every Anthropic mapper comes first.
func (g *gen) localReplyConfig() *hcmv3.LocalReplyConfig {
	var anthropic, openai []*hcmv3.ResponseMapper
	for _, r := range localReplies() {
		flag := g.replyFilter(r)
		path := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_HeaderFilter{
			HeaderFilter: &accesslogv3.HeaderFilter{Header: &routev3.HeaderMatcher{
				Name: ":path",
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: anthropicPathPrefix},
				}},
			}},
		}}
		anthropic = append(anthropic, responseMapper(r.status, anthropicError(r.anthropicType, r.message),
			&accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{
				AndFilter: &accesslogv3.AndFilter{Filters: []*accesslogv3.AccessLogFilter{path, flag}},
			}}))
		openai = append(openai, responseMapper(r.status, openAIError(r.message, r.openAIType, r.openAICode), flag))
	}
	return &hcmv3.LocalReplyConfig{Mappers: append(anthropic, openai...)}
}

func responseMapper(status uint32, body string, filter *accesslogv3.AccessLogFilter) *hcmv3.ResponseMapper {
	m := &hcmv3.ResponseMapper{
		Filter: filter,
		// A fixed JSON document (no command operators) gives exact bytes, including the
		// JSON null of OpenAI's "param".
		BodyFormatOverride: &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_TextFormatSource{
				TextFormatSource: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: body}},
			},
			ContentType: "application/json",
		},
	}
	if status != 0 {
		m.StatusCode = wrapperspb.UInt32(status)
	}
	return m
}

// openAIError renders {"error":{"message","type","param","code"}}.
func openAIError(message, typ, code string) string {
	type detail struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	b, _ := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{Message: message, Type: typ, Code: code}}) // cannot fail: strings only
	return string(b)
}

// anthropicError renders {"type":"error","error":{"type","message"}}.
func anthropicError(typ, message string) string {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", detail{typ, message}})
	return string(b)
}

// MetadataKeys returns the keys the processor writes in the llm_router dynamic
// metadata namespace; the access log prints each under its own name.
func MetadataKeys() []string {
	return []string{"request_id", "backend", "model", "provider_model", "key_id",
		"input_tokens", "output_tokens", "total_tokens", "cost_usd"}
}

// accessLog writes one JSON line per request with the llm_router metadata the processor
// reports. The path is logged without its query string, which may carry a key.
func (g *gen) accessLog() *accesslogv3.AccessLog {
	fields := map[string]string{
		"start_time":        "%START_TIME%",
		"method":            "%REQ(:METHOD)%",
		"path":              "%PATH(NQ:ORIG)%",
		"protocol":          "%PROTOCOL%",
		"status":            "%RESPONSE_CODE%",
		"response_flags":    "%RESPONSE_FLAGS%",
		"response_details":  "%RESPONSE_CODE_DETAILS%",
		"duration_ms":       "%DURATION%",
		"upstream_ttfb_ms":  "%RESPONSE_DURATION%",
		"bytes_received":    "%BYTES_RECEIVED%",
		"bytes_sent":        "%BYTES_SENT%",
		"attempts":          "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
		"upstream_host":     "%UPSTREAM_HOST%",
		"upstream_cluster":  "%UPSTREAM_CLUSTER%",
		"upstream_failure":  "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
		"downstream_remote": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
		"user_agent":        "%REQ(USER-AGENT)%",
		"x_request_id":      "%REQ(X-REQUEST-ID)%",
	}
	for _, k := range MetadataKeys() {
		fields[k] = "%DYNAMIC_METADATA(" + MetadataNamespace + ":" + k + ")%"
	}
	format := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, v := range fields {
		format.Fields[k] = structpb.NewStringValue(v)
	}
	return &accesslogv3.AccessLog{
		Name: "envoy.access_loggers.file",
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: g.any(&filev3.FileAccessLog{
			Path: g.opts.AccessLogPath,
			AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{
				Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: format},
			}},
		})},
	}
}

// ConnectionManager is the HTTP connection manager Generate puts on its listener, for
// the built-in data plane of `llm-router run` to take its settings from (for example
// always_set_request_id_in_response). Its routes are those of Plan: backends that do
// not resolve are left out rather than reported (Generate reports them).
func ConnectionManager(cfg *configv1.Config, opts Options) (*hcmv3.HttpConnectionManager, error) {
	if cfg == nil {
		return nil, errors.New("envoyconfig: nil config")
	}
	opts = opts.withDefaults()
	g := &gen{cfg: cfg, opts: opts}
	h := g.connectionManager(Plan(cfg, opts))
	if g.err != nil {
		return nil, fmt.Errorf("envoyconfig: %w", g.err)
	}
	return h, nil
}

// LocalReplyConfig is the HCM local_reply_config Generate uses, for the built-in data
// plane of `llm-router run` to apply the same error bodies.
func LocalReplyConfig(cfg *configv1.Config, opts Options) *hcmv3.LocalReplyConfig {
	g := &gen{cfg: cfg, opts: opts.withDefaults()}
	return g.localReplyConfig()
}
