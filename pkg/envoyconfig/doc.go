// Package envoyconfig turns an llm-router configuration into Envoy configuration and
// checks Envoy configuration against it.
//
// Generate builds a complete Envoy v3 bootstrap (listener, HTTP connection manager with
// CORS, the router-level ext_proc filter and the router, one route and one cluster per
// backend, the ext_proc gRPC cluster, admin and a JSON access log); RenderYAML prints it;
// GenerateEnvoyFilter prints the Istio EnvoyFilter that inserts the same ext_proc filter
// into a mesh. Validate parses any Envoy bootstrap (or EnvoyFilter) YAML against Envoy's
// own protos from go-control-plane, runs the protoc-gen-validate rules on it and on every
// nested typed_config, and cross-checks it against the llm-router config: every backend
// has its route and cluster, the ext_proc filters use the modes the processor needs, and
// no direct-response catch-all keeps the CORS filter from acting.
//
// Plan is the single source of truth for clusters, endpoints and retries. Generate uses
// it, and so does the in-process data plane of `llm-router run`, so the emulated and the
// real Envoy can never disagree about which endpoint is tried next.
//
// The Envoy conventions (header x-llm-router-backend, cluster names llm_router.<backend>,
// metadata namespace llm_router, processing modes) are fixed project-wide; see the
// constants below.
package envoyconfig

// Names fixed by the project's Envoy conventions.
const (
	// BackendHeader is the request header the router-level processor sets to the chosen
	// backend name; each backend route matches it exactly.
	BackendHeader = "x-llm-router-backend"
	// UnroutedHeader names the cluster of the catch-all route (UnroutedRouteName). It is
	// an internal-only header, never set, so that route is a route entry (as Envoy's CORS
	// filter needs) whose cluster is never found: Envoy answers 404 with flag NC.
	UnroutedHeader = "x-llm-router-unrouted"
	// UnroutedRouteName names the catch-all route, after the backend routes.
	UnroutedRouteName = "not_found"
	// ClusterPrefix prefixes every backend cluster name: "llm_router.<backend>".
	ClusterPrefix = "llm_router."
	// ExtprocCluster is the gRPC cluster of the llm-router external processor.
	ExtprocCluster = "llm_router_extproc"
	// RateLimitCluster is the gRPC cluster of the global rate limit service, when used.
	RateLimitCluster = "llm_router_ratelimit"
	// MetadataNamespace is the dynamic (and endpoint) metadata namespace of llm-router.
	MetadataNamespace = "llm_router"
	// ListenerName names the generated listener, HTTP connection manager stats and
	// route configuration.
	ListenerName = "llm_router"

	// ExtProcFilterName is the well-known name of Envoy's ext_proc HTTP filter.
	ExtProcFilterName = "envoy.filters.http.ext_proc"
	// RouterFilterName is the well-known name of Envoy's router HTTP filter.
	RouterFilterName = "envoy.filters.http.router"
	// UpstreamCodecFilterName is the terminal filter of an upstream HTTP filter chain.
	UpstreamCodecFilterName = "envoy.filters.http.upstream_codec"
	// CORSFilterName is the well-known name of Envoy's CORS filter.
	CORSFilterName = "envoy.filters.http.cors"
	// RateLimitFilterName is the well-known name of Envoy's global rate limit filter.
	RateLimitFilterName = "envoy.filters.http.ratelimit"
	// HCMFilterName is the well-known name of the HTTP connection manager network filter.
	HCMFilterName = "envoy.filters.network.http_connection_manager"
	// HTTPProtocolOptionsKey is the typed_extension_protocol_options key under which a
	// cluster carries its upstream HTTP options and upstream filters.
	HTTPProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

	// AttrUpstreamHostMetadata is the ext_proc attribute carrying the chosen endpoint's
	// metadata (and so its backend name) to the upstream-level processor.
	AttrUpstreamHostMetadata = "xds.upstream_host_metadata"
	// AttrClusterName is the ext_proc attribute carrying the cluster name.
	AttrClusterName = "xds.cluster_name"
)
