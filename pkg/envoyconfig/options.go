package envoyconfig

import (
	"time"
)

// Defaults used when the matching Options field is empty.
const (
	DefaultListenAddress   = "0.0.0.0:8080"
	DefaultAdminAddress    = "127.0.0.1:9901"
	DefaultNodeID          = "llm-router-envoy"
	DefaultNodeCluster     = "llm-router"
	DefaultCAFile          = "/etc/ssl/certs/ca-certificates.crt"
	DefaultAccessLogPath   = "/dev/stdout"
	DefaultExtprocAddress  = "127.0.0.1:50051"
	DefaultMaxConcurrency  = 10000
	DefaultRateLimitDomain = "llm-router"

	// DefaultMaxRequestBodyBytes mirrors the config default of server.max_request_body_bytes.
	DefaultMaxRequestBodyBytes = 4 << 20
	// DefaultConnectTimeout mirrors the config default of providers[].timeouts.connect.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultTotalTimeout mirrors the config default of providers[].timeouts.total.
	DefaultTotalTimeout = 300 * time.Second
	// MessageTimeout is the ext_proc per-message timeout both filters use.
	MessageTimeout = 5 * time.Second
	// MinMessageTimeout is the smallest message_timeout Validate accepts: Envoy's own
	// default, below which a busy processor fails requests.
	MinMessageTimeout = 200 * time.Millisecond
)

// Options are the deployment choices that are not part of the llm-router config.
// The zero value is usable: every empty field takes the default named in its comment.
type Options struct {
	// ListenAddress is the Envoy listener "host:port". Default "0.0.0.0:8080".
	ListenAddress string
	// AdminAddress is Envoy's admin "host:port". Default "127.0.0.1:9901".
	AdminAddress string
	// NodeID and NodeCluster identify the Envoy node. Defaults "llm-router-envoy" and
	// "llm-router".
	NodeID, NodeCluster string
	// DefaultBaseURL returns a provider kind's base URL when the config has none (the
	// provider registry's presets). Nil means no presets: such providers are an error.
	DefaultBaseURL func(kind string) string
	// CAFile is the trusted CA bundle for TLS to providers. Default the Debian/Ubuntu
	// system bundle "/etc/ssl/certs/ca-certificates.crt" (present in Envoy's images).
	CAFile string
	// AccessLogPath is where the JSON access log goes. Default "/dev/stdout".
	AccessLogPath string
	// MaxConcurrency bounds concurrent requests, pending requests, connections and
	// retries per cluster (Envoy's circuit breakers; its default of 3 concurrent retries
	// would silently disable fallback under load). Default 10000.
	MaxConcurrency uint32
	// RateLimit, when set, adds Envoy's global rate limit filter charging tokens from
	// llm_router dynamic metadata.
	RateLimit *RateLimitOptions
	// Istio configures GenerateEnvoyFilter.
	Istio IstioOptions
}

// RateLimitOptions configure the global rate limit filter (envoy.filters.http.ratelimit)
// that Generate adds after the ext_proc filter when Options.RateLimit is set.
type RateLimitOptions struct {
	// ServiceAddress is the rate limit service gRPC "host:port" (envoyproxy/ratelimit).
	ServiceAddress string
	// Domain is the rate limit domain. Default "llm-router".
	Domain string
	// FailureModeDeny rejects requests when the rate limit service is unreachable.
	// Default false (fail open), Envoy's default.
	FailureModeDeny bool
	// Timeout bounds each call to the rate limit service. Default Envoy's 20ms.
	Timeout time.Duration
}

// IstioOptions configure the Istio EnvoyFilter.
type IstioOptions struct {
	// Name of the EnvoyFilter. Default "llm-router-extproc".
	Name string
	// Namespace of the EnvoyFilter. Default "istio-system".
	Namespace string
	// WorkloadLabels select the workloads patched. Default {"istio": "ingressgateway"}:
	// the ingress gateway. Give the LLM clients' pod labels to patch their sidecars'
	// inbound listeners too; an empty selector in the root namespace would patch every
	// workload of the mesh.
	WorkloadLabels map[string]string
	// ExtprocAddress is the llm-router ext_proc service as seen from the mesh, e.g.
	// "llm-router.llm-router.svc.cluster.local:50051". Default server.extproc_address.
	ExtprocAddress string
	// ExtprocCluster, when set, is an existing cluster to reach llm-router through,
	// typically Istio's own "outbound|50051||llm-router.llm-router.svc.cluster.local"
	// so that the mesh's mTLS applies; no cluster is then added.
	ExtprocCluster string
}

func (o Options) withDefaults() Options {
	setDefault(&o.ListenAddress, DefaultListenAddress)
	setDefault(&o.AdminAddress, DefaultAdminAddress)
	setDefault(&o.NodeID, DefaultNodeID)
	setDefault(&o.NodeCluster, DefaultNodeCluster)
	setDefault(&o.CAFile, DefaultCAFile)
	setDefault(&o.AccessLogPath, DefaultAccessLogPath)
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.RateLimit != nil {
		rl := *o.RateLimit
		setDefault(&rl.Domain, DefaultRateLimitDomain)
		o.RateLimit = &rl
	}
	setDefault(&o.Istio.Name, "llm-router-extproc")
	setDefault(&o.Istio.Namespace, "istio-system")
	if o.Istio.WorkloadLabels == nil {
		o.Istio.WorkloadLabels = map[string]string{"istio": "ingressgateway"}
	}
	return o
}

func setDefault(dst *string, def string) {
	if *dst == "" {
		*dst = def
	}
}
