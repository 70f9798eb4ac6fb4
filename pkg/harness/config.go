package harness

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// DefaultBufferLimitBytes is Envoy's default per-connection (and so per-stream) buffer limit,
// per_connection_buffer_limit_bytes = 1 MiB.
const DefaultBufferLimitBytes = 1 << 20

// DefaultRouteTimeout is Envoy's default route timeout (RouteAction.timeout = 15s).
const DefaultRouteTimeout = 15 * time.Second

// DefaultConnectTimeout is Envoy's default cluster connect_timeout (5s).
const DefaultConnectTimeout = 5 * time.Second

// DefaultMessageTimeout is ext_proc's default message_timeout (200ms).
const DefaultMessageTimeout = 200 * time.Millisecond

// Config describes the Envoy pieces the harness emulates. Filter configs are the real Envoy
// protos and are validated the way Envoy validates them when it loads a config.
type Config struct {
	// RouterFilter is the ext_proc filter in the HTTP connection manager, before the router.
	// nil means no router-level filter.
	RouterFilter *extprocv3.ExternalProcessor
	// Processor is the connection to the ext_proc server used by every filter (the
	// grpc_service in the filter configs is validated but not dialled).
	Processor grpc.ClientConnInterface
	// Routes are matched in order; the first match wins. No match gives a 404 local reply
	// with details route_not_found.
	Routes []Route
	// InternalOnlyHeaders are the route configuration's internal_only_headers: removed
	// from every downstream request before any filter runs (every caller is external, as
	// with use_remote_address and no internal addresses).
	InternalOnlyHeaders []string
	// Clusters are the upstream clusters the routes point at.
	Clusters []Cluster
	// CORS, when set, emulates envoy.filters.http.cors as the first filter of the chain
	// (before the router-level ext_proc filter) with this policy on the virtual host
	// (typed_per_filter_config): preflights from allowed origins are answered there, and
	// responses to allowed origins get the CORS headers. nil means no CORS filter, as a
	// bootstrap without it. Fractional filter_enabled/shadow_enabled are not emulated.
	CORS *corsv3.CorsPolicy
	// AlwaysSetRequestIDInResponse emulates the HCM's always_set_request_id_in_response:
	// every response sent downstream (proxied, streamed, a local reply, the CORS filter's
	// preflight answer) carries the request's x-request-id as the filters left it,
	// replacing one the upstream sent. It is set after the encoder filters, so the
	// router-level processor never sees it. false is Envoy's default: responses keep
	// what they have (x-envoy-force-trace, which would also add it, is not emulated).
	AlwaysSetRequestIDInResponse bool
	// LocalReply emulates the HCM local_reply_config: mappers (status_code_filter,
	// header_filter, response_flag_filter, and_filter, or_filter), status_code, body,
	// headers_to_add and body_format (text_format, text_format_source or json_format).
	LocalReply *hcmv3.LocalReplyConfig
	// BufferLimitBytes is the per-stream buffer limit. A BUFFERED request body above it gives
	// a 413 local reply (item 52), a BUFFERED response body a 500 (item 53); STREAMED queues
	// above it pause the reader (item 58). 0 means DefaultBufferLimitBytes (1 MiB, Envoy's
	// default per_connection_buffer_limit_bytes).
	BufferLimitBytes int
	// AccessLog, if set, is called once per request when it ends.
	AccessLog func(AccessLogEntry)
	// Logger receives debug logs; nil means no logging.
	Logger *zap.Logger
}

// Route is one route of the single virtual host.
type Route struct {
	// Name is the route name (xds.route_name, AccessLogEntry.RouteName).
	Name string
	// Header and Value form an exact header match; Header is a lower-case name. An empty
	// Header matches any request.
	Header, Value string
	// PathPrefix, if set, must prefix :path.
	PathPrefix string
	// Cluster is the target cluster; it must exist. Set either Cluster or ClusterHeader.
	Cluster string
	// ClusterHeader is Envoy's cluster_header: the cluster is named by the first value
	// of this request header when the router runs. A missing header or unknown cluster
	// gives a local reply with ClusterNotFoundStatus, details cluster_not_found and
	// response flag NC.
	ClusterHeader string
	// ClusterNotFoundStatus is cluster_not_found_response_code: 503 (the default when 0),
	// 404 or 500.
	ClusterNotFoundStatus int
	// Timeout is the route timeout, from the end of the downstream request to the end of the
	// upstream response. 0 means DefaultRouteTimeout (15s, Envoy's default); a negative value
	// disables it (Envoy's timeout: 0s). Expiry gives a 504 "upstream request timeout".
	Timeout time.Duration
	// Retry is the route's retry policy; nil means no retries.
	Retry *RetryPolicy
	// Metadata is the route's metadata (xds.route_metadata).
	Metadata *corev3.Metadata
}

// RetryPolicy mirrors the parts of Envoy's route RetryPolicy the harness emulates.
type RetryPolicy struct {
	// NumRetries is the maximum number of retries (num_retries).
	NumRetries uint32
	// RetryOn uses Envoy's names: "5xx", "gateway-error", "reset", "connect-failure",
	// "retriable-4xx", "refused-stream", "retriable-status-codes".
	RetryOn []string
	// RetriableStatusCodes are retried with "retriable-status-codes" (for example 429).
	RetriableStatusCodes []uint32
	// PreviousPriorities enables envoy.retry_priorities.previous_priorities with
	// update_frequency 1: each retry moves to the next untried priority level (0, 1, 2, …).
	PreviousPriorities bool
	// PerTryTimeout is per_try_timeout; 0 means none. It is ignored once the response has
	// started downstream, as in Envoy.
	PerTryTimeout time.Duration
	// BaseInterval is retry_back_off.base_interval; 0 means Envoy's 25ms. Backoff is
	// Envoy's fully jittered exponential backoff capped at MaxInterval (default 10×base).
	// Connect failures are retried immediately, as Envoy does.
	BaseInterval time.Duration
	// MaxInterval is retry_back_off.max_interval; 0 means 10×BaseInterval.
	MaxInterval time.Duration
}

// Cluster is an upstream cluster with a static endpoint list.
type Cluster struct {
	// Name is the cluster name (xds.cluster_name).
	Name string
	// Endpoints are the cluster's hosts; each priority level is load balanced round robin.
	Endpoints []Endpoint
	// UpstreamFilter is an ext_proc filter in the cluster's http_filters (an upstream HTTP
	// filter, Envoy ≥ 1.30): it runs once per attempt (item 97). nil means none.
	UpstreamFilter *extprocv3.ExternalProcessor
	// ConnectTimeout is connect_timeout; 0 means DefaultConnectTimeout (5s).
	ConnectTimeout time.Duration
	// Metadata is the cluster metadata (xds.cluster_metadata).
	Metadata *corev3.Metadata
	// TLSConfig is used for https endpoints; nil means the system roots.
	TLSConfig *tls.Config
}

// Endpoint is one upstream host.
type Endpoint struct {
	// Address is the base URL, "http://127.0.0.1:8081" or "https://api.example.com"; it must
	// not carry a path.
	Address string
	// Hostname is the auto_host_rewrite target for :authority; empty means the host[:port]
	// of Address.
	Hostname string
	// Priority is the endpoint's priority level (0 is the highest).
	Priority uint32
	// Metadata is the endpoint metadata, e.g. {"llm_router": {"backend": "openai-gpt4o"}},
	// visible to ext_proc as xds.upstream_host_metadata.
	Metadata *corev3.Metadata
}

// filterConfig is an ext_proc filter config compiled for one position (router or upstream).
type filterConfig struct {
	name                   string // "router" or "upstream", used in stats
	upstream               bool
	failureModeAllow       bool
	mode                   *extprocv3.ProcessingMode
	messageTimeout         time.Duration
	maxMessageTimeout      time.Duration
	statusOnError          int
	checker                *mutationChecker
	allowModeOverride      bool
	allowedOverrideModes   []*extprocv3.ProcessingMode
	disableImmediate       bool
	receivingNS            []string
	forwardingNS           []string
	routeCacheAction       extprocv3.ExternalProcessor_RouteCacheAction
	reqAttrs, respAttrs    []string
	allowedHeaders         []stringMatcher
	disallowedHeaders      []stringMatcher
	sendBodyWithoutWaiting bool
	grpcMD                 metadata.MD
}

// ErrNotEmulated is wrapped by New for valid Envoy configurations the harness does not emulate.
var ErrNotEmulated = errors.New("not emulated by the harness")

func compileFilter(pb *extprocv3.ExternalProcessor, name string, upstream bool) (*filterConfig, error) {
	if err := pb.ValidateAll(); err != nil {
		return nil, fmt.Errorf("%s ext_proc filter: %w", name, err)
	}
	if pb.GetGrpcService() == nil && pb.GetHttpService() == nil {
		return nil, fmt.Errorf("%s ext_proc filter: one of grpc_service or http_service must be set", name)
	}
	mode := pb.GetProcessingMode()
	if mode == nil {
		mode = &extprocv3.ProcessingMode{}
	}
	fds := extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED
	if mode.GetRequestBodyMode() == fds && mode.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND {
		return nil, fmt.Errorf("%s ext_proc filter: if the ext_proc filter has the request_body_mode set to FULL_DUPLEX_STREAMED, then the request_trailer_mode has to be set to SEND", name)
	}
	if mode.GetResponseBodyMode() == fds && mode.GetResponseTrailerMode() != extprocv3.ProcessingMode_SEND {
		return nil, fmt.Errorf("%s ext_proc filter: if the ext_proc filter has the response_body_mode set to FULL_DUPLEX_STREAMED, then the response_trailer_mode has to be set to SEND", name)
	}
	if pb.GetDisableClearRouteCache() && pb.GetRouteCacheAction() != extprocv3.ExternalProcessor_DEFAULT {
		return nil, fmt.Errorf("%s ext_proc filter: disable_clear_route_cache and route_cache_action can not be set to none-default at the same time", name)
	}
	switch {
	case pb.GetHttpService() != nil:
		return nil, fmt.Errorf("%s ext_proc filter: http_service: %w", name, ErrNotEmulated)
	case mode.GetRequestBodyMode() == fds || mode.GetResponseBodyMode() == fds:
		return nil, fmt.Errorf("%s ext_proc filter: FULL_DUPLEX_STREAMED: %w", name, ErrNotEmulated)
	case pb.GetObservabilityMode():
		return nil, fmt.Errorf("%s ext_proc filter: observability_mode: %w", name, ErrNotEmulated)
	case pb.GetSendBodyWithoutWaitingForHeaderResponse():
		return nil, fmt.Errorf("%s ext_proc filter: send_body_without_waiting_for_header_response: %w", name, ErrNotEmulated)
	case pb.GetProcessingRequestModifier() != nil || pb.GetOnProcessingResponse() != nil:
		return nil, fmt.Errorf("%s ext_proc filter: processing_request_modifier/on_processing_response: %w", name, ErrNotEmulated)
	}
	for _, m := range pb.GetAllowedOverrideModes() {
		if m.GetRequestBodyMode() == fds || m.GetResponseBodyMode() == fds {
			return nil, fmt.Errorf("%s ext_proc filter: allowed_override_modes with FULL_DUPLEX_STREAMED: %w", name, ErrNotEmulated)
		}
	}
	checker, err := newMutationChecker(pb.GetMutationRules())
	if err != nil {
		return nil, fmt.Errorf("%s ext_proc filter: mutation_rules: %w", name, err)
	}
	fc := &filterConfig{
		name:                   name,
		upstream:               upstream,
		failureModeAllow:       pb.GetFailureModeAllow(),
		mode:                   mode,
		messageTimeout:         DefaultMessageTimeout,
		maxMessageTimeout:      pb.GetMaxMessageTimeout().AsDuration(),
		statusOnError:          500,
		checker:                checker,
		allowModeOverride:      pb.GetAllowModeOverride(),
		allowedOverrideModes:   pb.GetAllowedOverrideModes(),
		disableImmediate:       pb.GetDisableImmediateResponse(),
		receivingNS:            pb.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(),
		forwardingNS:           pb.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(),
		routeCacheAction:       pb.GetRouteCacheAction(),
		reqAttrs:               dedup(pb.GetRequestAttributes()),
		respAttrs:              dedup(pb.GetResponseAttributes()),
		sendBodyWithoutWaiting: pb.GetSendBodyWithoutWaitingForHeaderResponse(),
		grpcMD:                 metadata.MD{},
	}
	if pb.GetMessageTimeout() != nil {
		fc.messageTimeout = pb.GetMessageTimeout().AsDuration()
	}
	if pb.GetMaxMessageTimeout() == nil {
		fc.maxMessageTimeout = 0
	}
	if c := pb.GetStatusOnError().GetCode(); c != 0 {
		fc.statusOnError = int(c)
	}
	if pb.GetDisableClearRouteCache() {
		fc.routeCacheAction = extprocv3.ExternalProcessor_RETAIN
	}
	for _, a := range append(append([]string{}, fc.reqAttrs...), fc.respAttrs...) {
		if err := validateAttribute(a); err != nil {
			return nil, fmt.Errorf("%s ext_proc filter: %w", name, err)
		}
	}
	if fc.allowedHeaders, err = compileListMatcher(pb.GetForwardRules().GetAllowedHeaders()); err != nil {
		return nil, fmt.Errorf("%s ext_proc filter: forward_rules: %w", name, err)
	}
	if fc.disallowedHeaders, err = compileListMatcher(pb.GetForwardRules().GetDisallowedHeaders()); err != nil {
		return nil, fmt.Errorf("%s ext_proc filter: forward_rules: %w", name, err)
	}
	for _, hv := range pb.GetGrpcService().GetInitialMetadata() {
		v := hv.GetValue()
		if len(hv.GetRawValue()) > 0 {
			v = string(hv.GetRawValue())
		}
		fc.grpcMD.Append(strings.ToLower(hv.GetKey()), v)
	}
	return fc, nil
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// headerForwardable is MutationUtils::headerCanBeForwarded (item 5).
func (fc *filterConfig) headerForwardable(k string) bool {
	if len(fc.disallowedHeaders) > 0 && anyMatch(fc.disallowedHeaders, k) {
		return false
	}
	return len(fc.allowedHeaders) == 0 || anyMatch(fc.allowedHeaders, k)
}

type compiledRoute struct {
	Route
	cluster *compiledCluster
	timeout time.Duration // 0 = disabled
	retryOn map[string]bool
}

type endpoint struct {
	Endpoint
	scheme, hostport, authority string
}

type compiledCluster struct {
	Cluster
	priorities [][]*endpoint // sorted by priority level
	rr         []atomic.Uint64
	filter     *filterConfig
	transport  *http.Transport
}

var knownRetryOn = map[string]bool{"5xx": true, "gateway-error": true, "reset": true, "connect-failure": true,
	"retriable-4xx": true, "refused-stream": true, "retriable-status-codes": true}

func compileCluster(c Cluster) (*compiledCluster, error) {
	if c.Name == "" {
		return nil, errors.New("cluster without a name")
	}
	cc := &compiledCluster{Cluster: c}
	if cc.ConnectTimeout <= 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	byPrio := map[uint32][]*endpoint{}
	for _, ep := range c.Endpoints {
		u, err := url.Parse(ep.Address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("cluster %s: endpoint address %q must be an http:// or https:// base URL", c.Name, ep.Address)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return nil, fmt.Errorf("cluster %s: endpoint address %q must not carry a path", c.Name, ep.Address)
		}
		e := &endpoint{Endpoint: ep, scheme: u.Scheme, hostport: u.Host, authority: ep.Hostname}
		if e.authority == "" {
			e.authority = u.Host
		}
		if _, _, err := net.SplitHostPort(e.hostport); err != nil {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			e.hostport = net.JoinHostPort(u.Hostname(), port)
		}
		byPrio[ep.Priority] = append(byPrio[ep.Priority], e)
	}
	var prios []uint32
	for p := range byPrio {
		prios = append(prios, p)
	}
	sort.Slice(prios, func(i, j int) bool { return prios[i] < prios[j] })
	for _, p := range prios {
		cc.priorities = append(cc.priorities, byPrio[p])
	}
	cc.rr = make([]atomic.Uint64, len(cc.priorities))
	if c.UpstreamFilter != nil {
		fc, err := compileFilter(c.UpstreamFilter, "upstream", true)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		cc.filter = fc
	}
	dialer := &net.Dialer{Timeout: cc.ConnectTimeout, KeepAlive: 30 * time.Second}
	cc.transport = &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     c.TLSConfig,
		TLSHandshakeTimeout: cc.ConnectTimeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
		ReadBufferSize:      32 << 10,
		WriteBufferSize:     32 << 10,
	}
	return cc, nil
}

func compileRoute(r Route, clusters map[string]*compiledCluster) (*compiledRoute, error) {
	cr := &compiledRoute{Route: r, timeout: r.Timeout, retryOn: map[string]bool{}}
	switch {
	case r.Cluster != "" && r.ClusterHeader != "":
		return nil, fmt.Errorf("route %q: set either a cluster or a cluster header", r.Name)
	case r.ClusterHeader != "":
		if !headerNameIsValid(strings.ToLower(r.ClusterHeader)) {
			return nil, fmt.Errorf("route %q: invalid cluster header %q", r.Name, r.ClusterHeader)
		}
		cr.ClusterHeader = strings.ToLower(r.ClusterHeader)
	default:
		cc, ok := clusters[r.Cluster]
		if !ok {
			return nil, fmt.Errorf("route %q: unknown cluster %q", r.Name, r.Cluster)
		}
		cr.cluster = cc
	}
	switch r.ClusterNotFoundStatus {
	case 0:
		cr.ClusterNotFoundStatus = 503
	case 503, 404, 500:
	default:
		return nil, fmt.Errorf("route %q: cluster not found status %d is not 503, 404 or 500", r.Name, r.ClusterNotFoundStatus)
	}
	cr.Header = strings.ToLower(cr.Header)
	switch {
	case cr.timeout == 0:
		cr.timeout = DefaultRouteTimeout
	case cr.timeout < 0:
		cr.timeout = 0
	}
	if r.Retry != nil {
		for _, on := range r.Retry.RetryOn {
			for _, p := range strings.Split(on, ",") {
				p = strings.TrimSpace(p)
				if !knownRetryOn[p] {
					return nil, fmt.Errorf("route %q: unsupported retry_on %q", r.Name, p)
				}
				cr.retryOn[p] = true
			}
		}
	}
	return cr, nil
}

// New validates cfg the way Envoy validates its configuration (for example it rejects
// FULL_DUPLEX_STREAMED without trailer mode SEND, routes to unknown clusters, and invalid
// protos) and returns an emulated Envoy. Valid Envoy configurations the harness does not
// emulate are rejected with an error wrapping ErrNotEmulated.
func New(cfg Config) (*Envoy, error) {
	e := &Envoy{cfg: cfg, log: cfg.Logger, clusters: map[string]*compiledCluster{}, stats: newStats()}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	e.bufferLimit = cfg.BufferLimitBytes
	if e.bufferLimit <= 0 {
		e.bufferLimit = DefaultBufferLimitBytes
	}
	needProcessor := cfg.RouterFilter != nil
	if cfg.RouterFilter != nil {
		fc, err := compileFilter(cfg.RouterFilter, "router", false)
		if err != nil {
			return nil, err
		}
		e.routerFilter = fc
	}
	for _, c := range cfg.Clusters {
		if _, dup := e.clusters[c.Name]; dup {
			return nil, fmt.Errorf("duplicate cluster %q", c.Name)
		}
		cc, err := compileCluster(c)
		if err != nil {
			return nil, err
		}
		needProcessor = needProcessor || cc.filter != nil
		e.clusters[c.Name] = cc
	}
	for _, r := range cfg.Routes {
		cr, err := compileRoute(r, e.clusters)
		if err != nil {
			return nil, err
		}
		e.routes = append(e.routes, cr)
	}
	if needProcessor {
		if cfg.Processor == nil {
			return nil, errors.New("an ext_proc filter is configured but Config.Processor is nil")
		}
		e.client = extprocsvc.NewExternalProcessorClient(cfg.Processor)
	}
	if cfg.CORS != nil {
		cp, err := compileCORS(cfg.CORS)
		if err != nil {
			return nil, fmt.Errorf("cors policy: %w", err)
		}
		e.cors = cp
	}
	lr, err := compileLocalReply(cfg.LocalReply)
	if err != nil {
		return nil, fmt.Errorf("local_reply_config: %w", err)
	}
	e.localReply = lr
	return e, nil
}
