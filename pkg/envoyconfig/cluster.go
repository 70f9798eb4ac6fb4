package envoyconfig

import (
	"fmt"
	"net/url"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	// transportSocketMatchKey is Envoy's endpoint metadata namespace for
	// transport_socket_matches.
	transportSocketMatchKey = "envoy.transport_socket_match"
	tlsSocketName           = "envoy.transport_sockets.tls"
	extprocConnectTimeout   = time.Second
)

// endpointAddr is a parsed endpoint of a plan.
type endpointAddr struct {
	plan EndpointPlan
	host string
	port uint32
	tls  bool
}

// backendCluster renders one ClusterPlan: a DNS (or static) cluster with one locality
// per priority, TLS where the base URL is https, and, when the upstream filter is on,
// the per-attempt ext_proc filter before the upstream codec.
func (g *gen) backendCluster(p ClusterPlan) (*clusterv3.Cluster, error) {
	var eps []endpointAddr
	allTLS, anyTLS, allIP := true, false, true
	for _, e := range p.Endpoints {
		u, err := url.Parse(e.URL)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", e.URL, err)
		}
		host, port, tls := hostPort(u)
		eps = append(eps, endpointAddr{plan: e, host: host, port: port, tls: tls})
		allTLS = allTLS && tls
		anyTLS = anyTLS || tls
		allIP = allIP && isIP(host)
	}
	mixed := anyTLS && !allTLS

	la := &endpointv3.ClusterLoadAssignment{ClusterName: p.Name}
	for _, e := range eps {
		la.Endpoints = append(la.Endpoints, &endpointv3.LocalityLbEndpoints{
			Priority:    e.plan.Priority,
			LbEndpoints: []*endpointv3.LbEndpoint{g.lbEndpoint(e, mixed)},
		})
	}

	c := &clusterv3.Cluster{
		Name:                          p.Name,
		ConnectTimeout:                durationpb.New(p.ConnectTimeout),
		PerConnectionBufferLimitBytes: wrapUInt32(bufferLimit(g.cfg)),
		LoadAssignment:                la,
		CircuitBreakers:               g.circuitBreakers(),
	}
	switch {
	case allIP:
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	case len(eps) == 1:
		// One host behind a large, changing DNS pool (api.openai.com …): LOGICAL_DNS
		// keeps connections across DNS answers, as Envoy recommends for web services.
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
		c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	default:
		// LOGICAL_DNS allows a single endpoint only; fallback chains need one per priority.
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	}

	sni := ""
	for _, e := range eps {
		if e.tls {
			sni = e.host
			break
		}
	}
	tlsSocket := g.tlsSocket(sni)
	switch {
	case allTLS:
		c.TransportSocket = tlsSocket
	case mixed:
		// Plain-HTTP endpoints (a local Ollama in the chain) and HTTPS ones share the
		// cluster: TLS only where the endpoint metadata asks for it.
		c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{{
			Name:            "tls",
			Match:           &structpb.Struct{Fields: map[string]*structpb.Value{"tls": structpb.NewBoolValue(true)}},
			TransportSocket: tlsSocket,
		}}
	}

	opts := &httpv3.HttpProtocolOptions{}
	if allTLS {
		// HTTP/2 where the provider offers it through ALPN, else HTTP/1.1.
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_AutoConfig{AutoConfig: &httpv3.HttpProtocolOptions_AutoHttpConfig{
			HttpProtocolOptions:  &corev3.Http1ProtocolOptions{},
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		}}
	} else {
		// ALPN needs TLS on every endpoint; plain-HTTP servers (Ollama, vLLM) speak 1.1.
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
		}}
	}
	if anyTLS {
		// SNI and certificate check follow the Host header, which auto_host_rewrite sets
		// to the endpoint chosen for each attempt.
		opts.UpstreamHttpProtocolOptions = &corev3.UpstreamHttpProtocolOptions{AutoSni: true, AutoSanValidation: true}
	}
	if g.cfg.GetServer().GetUpstreamFilter() {
		opts.HttpFilters = g.upstreamHTTPFilters(g.cfg)
	}
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{HTTPProtocolOptionsKey: g.any(opts)}
	return c, nil
}

func (g *gen) lbEndpoint(e endpointAddr, mixed bool) *endpointv3.LbEndpoint {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataNamespace: {Fields: map[string]*structpb.Value{"backend": structpb.NewStringValue(e.plan.Backend)}},
	}}
	if mixed && e.tls {
		md.FilterMetadata[transportSocketMatchKey] = &structpb.Struct{Fields: map[string]*structpb.Value{"tls": structpb.NewBoolValue(true)}}
	}
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address:  socketAddr(e.host, e.port),
			Hostname: e.host,
		}},
		Metadata: md,
	}
}

// tlsSocket verifies providers against the system CA bundle. sni is the first https
// endpoint's host; auto_sni replaces it per attempt.
func (g *gen) tlsSocket(sni string) *corev3.TransportSocket {
	ctx := &tlsv3.UpstreamTlsContext{
		Sni: sni,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: g.opts.CAFile}},
			}},
		},
	}
	return &corev3.TransportSocket{
		Name:       tlsSocketName,
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: g.any(ctx)},
	}
}

// circuitBreakers lift Envoy's defaults (1024 requests, 3 concurrent retries), which
// long-lived LLM streams and fallback retries exhaust quickly.
func (g *gen) circuitBreakers() *clusterv3.CircuitBreakers {
	n := wrapUInt32(g.opts.MaxConcurrency)
	return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		Priority:           corev3.RoutingPriority_DEFAULT,
		MaxConnections:     n,
		MaxPendingRequests: n,
		MaxRequests:        n,
		MaxRetries:         n,
	}}}
}

// extprocCluster is the llm-router gRPC cluster: TCP "host:port", or a unix socket
// ("unix:///path") as an Envoy pipe.
func (g *gen) extprocCluster(addr string) (*clusterv3.Cluster, error) {
	return g.grpcCluster(ExtprocCluster, addr)
}

// grpcCluster is an HTTP/2 cluster for a gRPC service at addr.
func (g *gen) grpcCluster(name, addr string) (*clusterv3.Cluster, error) {
	c := &clusterv3.Cluster{
		Name:            name,
		ConnectTimeout:  durationpb.New(extprocConnectTimeout),
		CircuitBreakers: g.circuitBreakers(),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{HTTPProtocolOptionsKey: g.any(&httpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
			}},
		})},
	}
	var address *corev3.Address
	if path, ok := unixPath(addr); ok {
		if path == "" {
			return nil, fmt.Errorf("%q: empty socket path", addr)
		}
		address = &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: path}}}
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	} else {
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, err
		}
		address = socketAddr(host, port)
		if isIP(host) {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
		} else {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
			c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
		}
	}
	c.LoadAssignment = &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: address}},
		}}}},
	}
	return c, nil
}

func socketAddr(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func wrapUInt32(v uint32) *wrapperspb.UInt32Value { return wrapperspb.UInt32(v) }
