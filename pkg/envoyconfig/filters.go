package envoyconfig

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// RouterFilter returns the router-level ext_proc filter config, exactly per the Envoy
// conventions: request headers SEND, request body BUFFERED, response headers SEND,
// response body BUFFERED (the processor switches to STREAMED for SSE, hence
// allow_mode_override), trailers SKIP, 5s message timeout, fail closed, and dynamic
// metadata exchanged in the llm_router namespace. cfg is accepted so that future
// settings can shape the filter; today it does not change it.
func RouterFilter(cfg *configv1.Config) *extprocv3.ExternalProcessor {
	_ = cfg
	return &extprocv3.ExternalProcessor{
		GrpcService: extprocGRPCService(),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
			ResponseBodyMode:    extprocv3.ProcessingMode_BUFFERED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		AllowModeOverride: true,
		MessageTimeout:    durationpb.New(MessageTimeout),
		FailureModeAllow:  false,
		// The matched route's metadata carries per-route policy (filter_metadata.llm_router:
		// allowed_models, cache) for the processor.
		RequestAttributes: []string{"xds.route_metadata"},
		MetadataOptions: &extprocv3.MetadataOptions{
			ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{MetadataNamespace}},
			ReceivingNamespaces:  &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{MetadataNamespace}},
		},
	}
}

// UpstreamFilter returns the upstream-level (per attempt) ext_proc filter config: only
// request headers are sent, with the chosen endpoint's metadata and the cluster name as
// attributes; the processor replaces the body and adds the backend's credentials with
// CONTINUE_AND_REPLACE. cfg is accepted for symmetry with RouterFilter.
func UpstreamFilter(cfg *configv1.Config) *extprocv3.ExternalProcessor {
	_ = cfg
	return &extprocv3.ExternalProcessor{
		GrpcService: extprocGRPCService(),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		RequestAttributes: []string{AttrUpstreamHostMetadata, AttrClusterName},
		MessageTimeout:    durationpb.New(MessageTimeout),
		FailureModeAllow:  false,
	}
}

func extprocGRPCService() *corev3.GrpcService {
	return &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
			EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: ExtprocCluster},
		},
	}
}

// routerHTTPFilter is the terminal filter of the connection manager. Envoy's own
// x-envoy-* headers are suppressed: providers need none and callers should not see the
// gateway's internals.
func (g *gen) routerHTTPFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name:       RouterFilterName,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(&routerv3.Router{SuppressEnvoyHeaders: true})},
	}
}

func (g *gen) extprocHTTPFilter(cfg *configv1.Config) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name:       ExtProcFilterName,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(RouterFilter(cfg))},
	}
}

// rateLimitHTTPFilter charges Envoy's global rate limit service. It runs after ext_proc,
// so the key id and model the processor put in llm_router metadata are known. Three
// descriptors per request:
//   - requests per key: one hit on the request path (enforced);
//   - tokens per key, on the request path with hits_addend 0: a peek that rejects a key
//     whose token budget is already spent without charging anything;
//   - tokens per key, at stream end with hits_addend read from
//     %DYNAMIC_METADATA(llm_router:total_tokens)%: the real charge (fire-and-forget).
//
// hits_addend with a format string is honoured only in the filter's own rate_limits
// (or per-route config), not in route-level rate_limits, which is why they live here.
func (g *gen) rateLimitHTTPFilter(o *RateLimitOptions) *hcmv3.HttpFilter {
	keyID := func() *routev3.RateLimit_Action {
		return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_Metadata{
			Metadata: &routev3.RateLimit_Action_MetaData{
				DescriptorKey: "key_id",
				MetadataKey:   metadataKey("key_id"),
				// Unauthenticated deployments share one bucket instead of none.
				DefaultValue: "anonymous",
				Source:       routev3.RateLimit_Action_MetaData_DYNAMIC,
			},
		}}
	}
	kind := func(v string) *routev3.RateLimit_Action {
		return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_GenericKey_{
			GenericKey: &routev3.RateLimit_Action_GenericKey{DescriptorKey: "limit", DescriptorValue: v},
		}}
	}
	rl := &ratelimitv3.RateLimit{
		Domain:          o.Domain,
		FailureModeDeny: o.FailureModeDeny,
		RateLimitService: &ratelimitconfv3.RateLimitServiceConfig{
			GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: RateLimitCluster}}},
			TransportApiVersion: corev3.ApiVersion_V3,
		},
		EnableXRatelimitHeaders: ratelimitv3.RateLimit_DRAFT_VERSION_03,
		EnableRetryAfterHeader:  true,
		RateLimits: []*routev3.RateLimit{
			{Actions: []*routev3.RateLimit_Action{kind("requests"), keyID()}},
			{
				Actions:    []*routev3.RateLimit_Action{kind("tokens"), keyID()},
				HitsAddend: &routev3.RateLimit_HitsAddend{Number: wrapperspb.UInt64(0)},
			},
			{
				Actions:           []*routev3.RateLimit_Action{kind("tokens"), keyID()},
				HitsAddend:        &routev3.RateLimit_HitsAddend{Format: "%DYNAMIC_METADATA(" + MetadataNamespace + ":total_tokens)%"},
				ApplyOnStreamDone: true,
			},
		},
	}
	if o.Timeout > 0 {
		rl.Timeout = durationpb.New(o.Timeout)
	}
	return &hcmv3.HttpFilter{
		Name:       RateLimitFilterName,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(rl)},
	}
}

func metadataKey(key string) *metadatav3.MetadataKey {
	return &metadatav3.MetadataKey{
		Key:  MetadataNamespace,
		Path: []*metadatav3.MetadataKey_PathSegment{{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: key}}},
	}
}

// upstreamHTTPFilters are a backend cluster's upstream filters: the per-attempt
// processor, then the codec, which must come last.
func (g *gen) upstreamHTTPFilters(cfg *configv1.Config) []*hcmv3.HttpFilter {
	return []*hcmv3.HttpFilter{
		{Name: ExtProcFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(UpstreamFilter(cfg))}},
		{Name: UpstreamCodecFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: g.any(&upstreamcodecv3.UpstreamCodec{})}},
	}
}
