package envoyconfig

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// gen accumulates the first error of the proto helpers so that builders stay readable.
type gen struct {
	cfg  *configv1.Config
	opts Options
	err  error
}

// any packs m, recording a failure (only possible for strings that are not UTF-8).
func (g *gen) any(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil && g.err == nil {
		g.err = fmt.Errorf("pack %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return a
}

// Generate builds the Envoy bootstrap for cfg, an already loaded and defaulted config
// (fields left empty take the documented defaults here too). Every backend gets a route
// on x-llm-router-backend and a cluster, both shaped by Plan; the listener runs CORS, the
// router-level ext_proc filter (RouterFilter), optionally the global rate limit filter,
// and the router.
func Generate(cfg *configv1.Config, opts Options) (*bootstrapv3.Bootstrap, error) {
	if cfg == nil {
		return nil, errors.New("envoyconfig: nil config")
	}
	opts = opts.withDefaults()
	plans, err := buildPlan(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: %w", err)
	}
	if len(plans) == 0 {
		return nil, errors.New("envoyconfig: the config has no backends")
	}
	g := &gen{cfg: cfg, opts: opts}

	listenAddr, err := socketAddress(opts.ListenAddress)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: listen address: %w", err)
	}
	adminAddr, err := socketAddress(opts.AdminAddress)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: admin address: %w", err)
	}
	extproc, err := g.extprocCluster(extprocAddress(cfg))
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: server.extproc_address: %w", err)
	}
	clusters := []*clusterv3.Cluster{extproc}
	if opts.RateLimit != nil {
		rl, err := g.grpcCluster(RateLimitCluster, opts.RateLimit.ServiceAddress)
		if err != nil {
			return nil, fmt.Errorf("envoyconfig: rate limit service address: %w", err)
		}
		clusters = append(clusters, rl)
	}
	for _, p := range plans {
		c, err := g.backendCluster(p)
		if err != nil {
			return nil, fmt.Errorf("envoyconfig: cluster %s: %w", p.Name, err)
		}
		clusters = append(clusters, c)
	}

	listener := &listenerv3.Listener{
		Name:    ListenerName,
		Address: listenAddr,
		// Buffered ext_proc bodies are bounded by this limit; above it Envoy answers 413
		// itself. Twice the config's body cap leaves the processor to give the clean 413.
		PerConnectionBufferLimitBytes: wrapUInt32(bufferLimit(cfg)),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       HCMFilterName,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.any(g.connectionManager(plans))},
			}},
		}},
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: opts.NodeID, Cluster: opts.NodeCluster},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{listener},
			Clusters:  clusters,
		},
		Admin: &bootstrapv3.Admin{Address: adminAddr},
	}
	if g.err != nil {
		return nil, fmt.Errorf("envoyconfig: %w", g.err)
	}
	return b, nil
}

// bufferLimit is the per-connection buffer limit for the listener and backend clusters.
func bufferLimit(cfg *configv1.Config) uint32 {
	n := cfg.GetServer().GetMaxRequestBodyBytes()
	if n == 0 {
		n = DefaultMaxRequestBodyBytes
	}
	if n >= 1<<31 {
		return 1<<32 - 1
	}
	return 2 * n
}

func extprocAddress(cfg *configv1.Config) string {
	if a := cfg.GetServer().GetExtprocAddress(); a != "" {
		return a
	}
	return DefaultExtprocAddress
}

// socketAddress parses "host:port" into an Envoy address.
func socketAddress(hostport string) (*corev3.Address, error) {
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}, nil
}

func splitHostPort(hostport string) (string, uint32, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", hostport, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("%q: invalid port", hostport)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, uint32(port), nil
}

// unixPath returns the socket path of a "unix://" or "unix:" address.
func unixPath(addr string) (string, bool) {
	for _, p := range []string{"unix://", "unix:"} {
		if rest, ok := strings.CutPrefix(addr, p); ok {
			return rest, true
		}
	}
	return "", false
}
