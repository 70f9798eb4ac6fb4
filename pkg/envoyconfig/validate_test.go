package envoyconfig

import (
	"os"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Paths into the generated bootstrap.
const (
	hcmPath     = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"
	extprocPath = hcmPath + ".http_filters[1].typed_config"
)

func shippedEnvoy(t *testing.T) (string, *configv1.Config) {
	t.Helper()
	data, err := os.ReadFile(envoyDir + "/envoy.yaml")
	require.NoError(t, err)
	return string(data), loadConfig(t, envoyDir+"/llm-router.yaml")
}

func replaceOnce(t *testing.T, s, old, repl string) string {
	t.Helper()
	require.True(t, strings.Contains(s, old), "text lacks %q", old)
	return strings.Replace(s, old, repl, 1)
}

// requireProblem asserts that exactly the problem at path (with msg in its message)
// is among ps.
func requireProblem(t *testing.T, ps []Problem, path, msg string) Problem {
	t.Helper()
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, msg) {
			return p
		}
	}
	t.Fatalf("no problem at %q containing %q in:\n%s", path, msg, problemList(ps))
	return Problem{}
}

func problemList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// TestValidateTextMutations edits the shipped envoy.yaml the way a person would.
func TestValidateTextMutations(t *testing.T) {
	text, cfg := shippedEnvoy(t)
	tests := []struct {
		name, old, repl string
		path, msg       string
	}{
		{
			name: "unknown field", old: "                stat_prefix: llm_router\n",
			repl: "                stat_prefix: llm_router\n                bogus_option: true\n",
			path: hcmPath + ".bogus_option", msg: `unknown field "bogus_option" in envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
		},
		{
			name: "bad typed_config", old: "envoy.extensions.filters.http.cors.v3.Cors\n",
			repl: "envoy.extensions.filters.http.cors.v3.Corz\n",
			path: hcmPath + ".http_filters[0].typed_config.@type", msg: `unknown type "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Corz"`,
		},
		{
			name: "wrong processing mode", old: "request_body_mode: BUFFERED", repl: "request_body_mode: STREAMED",
			path: extprocPath + ".processing_mode.request_body_mode", msg: "is STREAMED, must be BUFFERED",
		},
		{
			name: "invalid enum", old: "dns_lookup_family: V4_PREFERRED", repl: "dns_lookup_family: V4_PREFER",
			path: "static_resources.clusters[1].dns_lookup_family", msg: `invalid value "V4_PREFER" for envoy.config.cluster.v3.Cluster.DnsLookupFamily`,
		},
		{
			name: "number for string", old: "stat_prefix: llm_router", repl: "stat_prefix: 42",
			path: hcmPath + ".stat_prefix", msg: "expected a string, got int 42",
		},
		{
			name: "string for bool", old: "allow_mode_override: true", repl: "allow_mode_override: yes",
			path: extprocPath + ".allow_mode_override", msg: `expected true or false, got "yes"`,
		},
		{
			name: "duration as number", old: "message_timeout: 5s", repl: "message_timeout: 5",
			path: extprocPath + ".message_timeout", msg: "expected a string such as",
		},
		{
			name: "list expected", old: "                      domains:\n                        - '*'\n",
			repl: "                      domains: '*'\n",
			path: hcmPath + ".route_config.virtual_hosts[0].domains", msg: "expected a list",
		},
		{
			name: "pgv rule in nested typed_config", old: "stat_prefix: llm_router", repl: "stat_prefix: ''",
			path: hcmPath + ".stat_prefix", msg: "value length must be at least 1 runes",
		},
		{
			name: "pgv rule at top level", old: "      connect_timeout: 1s\n", repl: "      connect_timeout: -1s\n",
			path: "static_resources.clusters[0].connect_timeout", msg: "value must be greater than 0s",
		},
		{
			name: "oneof set twice", old: "                            cluster: llm_router.openai.gpt-4o\n",
			repl: "                            cluster: llm_router.openai.gpt-4o\n                            cluster_header: x\n",
			path: "", msg: "oneof",
		},
		{
			name: "typed_config without type", old: "                      '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n",
			repl: "",
			path: hcmPath + ".http_filters[2].typed_config", msg: `without "@type"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Validate([]byte(replaceOnce(t, text, tc.old, tc.repl)), cfg)
			p := requireProblem(t, ps, tc.path, tc.msg)
			require.Positive(t, p.Line, "problems carry a line: %v", p)
		})
	}
}

// mutateShipped applies f to the generated bootstrap and validates the result.
func mutateShipped(t *testing.T, cfg *configv1.Config, f func(b *bootstrapv3.Bootstrap)) []Problem {
	t.Helper()
	b, err := Generate(cfg, Options{})
	require.NoError(t, err)
	f(b)
	y, err := RenderYAML(b)
	require.NoError(t, err)
	return Validate(y, cfg)
}

func editAny[M proto.Message](t *testing.T, a *anypb.Any, m M, f func(M)) {
	t.Helper()
	require.NoError(t, a.UnmarshalTo(m))
	f(m)
	require.NoError(t, a.MarshalFrom(m))
}

func editHCM(t *testing.T, b *bootstrapv3.Bootstrap, f func(*hcmv3.HttpConnectionManager)) {
	editAny(t, b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{}, f)
}

func editRouterExtProc(t *testing.T, b *bootstrapv3.Bootstrap, f func(*extprocv3.ExternalProcessor)) {
	editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
		editAny(t, h.HttpFilters[1].GetTypedConfig(), &extprocv3.ExternalProcessor{}, f)
	})
}

func clusterIndex(t *testing.T, b *bootstrapv3.Bootstrap, name string) int {
	for i, c := range b.StaticResources.Clusters {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("no cluster %s", name)
	return -1
}

func editUpstream(t *testing.T, c *clusterv3.Cluster, f func(*httpv3.HttpProtocolOptions)) {
	editAny(t, c.TypedExtensionProtocolOptions[HTTPProtocolOptionsKey], &httpv3.HttpProtocolOptions{}, f)
}

func TestValidateConfigMismatches(t *testing.T) {
	_, cfg := shippedEnvoy(t)
	const geminiCluster = "llm_router.gemini.gemini-2.5-pro"
	clusterPath := func(b *bootstrapv3.Bootstrap, name string) string {
		return joinIndex("static_resources.clusters", clusterIndex(t, b, name))
	}
	gen, err := Generate(cfg, Options{})
	require.NoError(t, err)
	gptPath := clusterPath(gen, "llm_router.openai.gpt-4o")
	upstreamFilters := joinKey(gptPath+".typed_extension_protocol_options", HTTPProtocolOptionsKey) + ".http_filters"

	tests := []struct {
		name      string
		mutate    func(t *testing.T, b *bootstrapv3.Bootstrap)
		path, msg string
	}{
		{"missing cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			i := clusterIndex(t, b, geminiCluster)
			b.StaticResources.Clusters = append(b.StaticResources.Clusters[:i], b.StaticResources.Clusters[i+1:]...)
		}, "static_resources.clusters", "missing cluster llm_router.gemini.gemini-2.5-pro for backend gemini.gemini-2.5-pro"},
		{"route to a missing cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			i := clusterIndex(t, b, geminiCluster)
			b.StaticResources.Clusters = append(b.StaticResources.Clusters[:i], b.StaticResources.Clusters[i+1:]...)
		}, hcmPath + ".route_config.virtual_hosts[0].routes[4].route.cluster", "cluster llm_router.gemini.gemini-2.5-pro does not exist"},
		{"missing route", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
				vh := h.GetRouteConfig().VirtualHosts[0]
				vh.Routes = vh.Routes[1:]
			})
		}, hcmPath + ".route_config", "no route matches x-llm-router-backend: openai.gpt-4o"},
		{"route without cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
				h.GetRouteConfig().VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_ClusterHeader{ClusterHeader: "x-cluster"}
			})
		}, hcmPath + ".route_config.virtual_hosts[0].routes[0].route", "must send to cluster llm_router.openai.gpt-4o"},
		{"routes from RDS", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
				h.RouteSpecifier = &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
					RouteConfigName: "llm_router",
					ConfigSource:    &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
				}}
			})
		}, hcmPath + ".route_config", "no route matches x-llm-router-backend: openai.gpt-4o"},
		{"route_specifier missing", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) { h.RouteSpecifier = nil })
		}, hcmPath + ".route_specifier", "value is required"},
		{"missing namespace", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.MetadataOptions.ReceivingNamespaces = nil })
		}, extprocPath + ".metadata_options.receiving_namespaces.untyped", `must contain "llm_router"`},
		{"request headers skipped", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) {
				ep.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SKIP
			})
		}, extprocPath + ".processing_mode.request_header_mode", "is SKIP, must be SEND"},
		{"response headers skipped", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) {
				ep.ProcessingMode.ResponseHeaderMode = extprocv3.ProcessingMode_SKIP
			})
		}, extprocPath + ".processing_mode.response_header_mode", "is SKIP, must be SEND"},
		{"response body not sent", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) {
				ep.ProcessingMode.ResponseBodyMode = extprocv3.ProcessingMode_NONE
			})
		}, extprocPath + ".processing_mode.response_body_mode", "is NONE, must be BUFFERED or STREAMED"},
		{"no processing mode", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.ProcessingMode = nil })
		}, extprocPath + ".processing_mode", "missing"},
		{"mode override off", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.AllowModeOverride = false })
		}, extprocPath + ".allow_mode_override", "must be true"},
		{"fail open", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.FailureModeAllow = true })
		}, extprocPath + ".failure_mode_allow", "must be false"},
		{"message timeout too short", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.MessageTimeout = durationpb.New(100_000_000) })
		}, extprocPath + ".message_timeout", "100ms is below 200ms"},
		{"message timeout missing", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) { ep.MessageTimeout = nil })
		}, extprocPath + ".message_timeout", "missing"},
		{"grpc cluster missing", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) {
				ep.GrpcService.GetEnvoyGrpc().ClusterName = "nowhere"
			})
		}, extprocPath + ".grpc_service.envoy_grpc.cluster_name", "cluster nowhere does not exist"},
		{"grpc cluster not HTTP/2", func(_ *testing.T, b *bootstrapv3.Bootstrap) {
			b.StaticResources.Clusters[0].TypedExtensionProtocolOptions = nil
		}, "static_resources.clusters[0]", "must use HTTP/2"},
		{"no grpc service", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRouterExtProc(t, b, func(ep *extprocv3.ExternalProcessor) {
				ep.GrpcService = nil
				ep.HttpService = &extprocv3.ExtProcHttpService{}
			})
		}, extprocPath + ".grpc_service", "missing"},
		{"ext_proc after the router", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[1], h.HttpFilters[2] = h.HttpFilters[2], h.HttpFilters[1]
			})
		}, hcmPath + ".http_filters", "no envoy.filters.http.ext_proc filter before the router"},
		{"no router", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) { h.HttpFilters = h.HttpFilters[:2] })
		}, hcmPath + ".http_filters", "no router filter"},
		{"ext_proc disabled", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) { h.HttpFilters[1].Disabled = true })
		}, hcmPath + ".http_filters[1].disabled", "disabled"},
		{"no upstream filter", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editUpstream(t, b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")], func(o *httpv3.HttpProtocolOptions) {
				o.HttpFilters = o.HttpFilters[1:]
			})
		}, upstreamFilters, "no upstream envoy.filters.http.ext_proc filter"},
		{"no protocol options", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")].TypedExtensionProtocolOptions = nil
		}, gptPath, "server.upstream_filter is true"},
		{"codec not last", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editUpstream(t, b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")], func(o *httpv3.HttpProtocolOptions) {
				o.HttpFilters[0], o.HttpFilters[1] = o.HttpFilters[1], o.HttpFilters[0]
			})
		}, upstreamFilters, "the last upstream filter must be envoy.filters.http.upstream_codec"},
		{"no host metadata attribute", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editUpstream(t, b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")], func(o *httpv3.HttpProtocolOptions) {
				editAny(t, o.HttpFilters[0].GetTypedConfig(), &extprocv3.ExternalProcessor{}, func(ep *extprocv3.ExternalProcessor) {
					ep.RequestAttributes = []string{AttrClusterName}
					ep.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SKIP
				})
			})
		}, upstreamFilters + "[0].typed_config.request_attributes", `must contain "xds.upstream_host_metadata"`},
		{"upstream filter skips headers", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editUpstream(t, b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")], func(o *httpv3.HttpProtocolOptions) {
				editAny(t, o.HttpFilters[0].GetTypedConfig(), &extprocv3.ExternalProcessor{}, func(ep *extprocv3.ExternalProcessor) {
					ep.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SKIP
				})
			})
		}, upstreamFilters + "[0].typed_config.processing_mode.request_header_mode", "must be SEND"},
		{"endpoint metadata missing", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			c := b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")]
			c.LoadAssignment.Endpoints[1].LbEndpoints[0].Metadata = nil
		}, gptPath + ".load_assignment.endpoints[1].lb_endpoints[0].metadata", "missing filter_metadata.llm_router.backend"},
		{"endpoint metadata wrong", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			c := b.StaticResources.Clusters[clusterIndex(t, b, "llm_router.openai.gpt-4o")]
			c.LoadAssignment.Endpoints[0].LbEndpoints[0].Metadata.FilterMetadata[MetadataNamespace].Fields["backend"].Kind = nil
			c.LoadAssignment.Endpoints[0].LbEndpoints[0].Metadata = c.LoadAssignment.Endpoints[1].LbEndpoints[0].Metadata
		}, gptPath + ".load_assignment.endpoints[0].lb_endpoints[0].metadata", `labelled backend "azure.gpt-4o-prod", want "openai.gpt-4o"`},
		{"direct response catch-all defeats CORS", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
				routes := h.GetRouteConfig().VirtualHosts[0].Routes
				routes[len(routes)-1].Action = &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 404}}
			})
		}, hcmPath + ".route_config.virtual_hosts[0].routes[8].direct_response", "Envoy's CORS filter ignores a direct response route"},
		{"no connection manager", func(_ *testing.T, b *bootstrapv3.Bootstrap) {
			b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().TypeUrl = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
			b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().Value = nil
		}, "static_resources.listeners", "no listener has an HTTP connection manager"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := mutateShipped(t, cfg, func(b *bootstrapv3.Bootstrap) { tc.mutate(t, b) })
			requireProblem(t, ps, tc.path, tc.msg)
		})
	}
}

func TestValidateConfigHasMoreBackends(t *testing.T) {
	text, cfg := shippedEnvoy(t)
	cfg.Models = append(cfg.Models, &configv1.Model{Name: "o3", Backends: []*configv1.Backend{{Provider: "openai"}}})
	ps := Validate([]byte(text), cfg)
	requireProblem(t, ps, "static_resources.clusters", "missing cluster llm_router.openai.o3 for backend openai.o3")
	requireProblem(t, ps, hcmPath+".route_config", "no route matches x-llm-router-backend: openai.o3")
	require.Len(t, ps, 2)
}

func TestValidateRouterOnlyAgainstUpstreamConfig(t *testing.T) {
	// The router-only file lacks upstream filters: a config that asks for them fails.
	data, err := os.ReadFile(envoyDir + "/envoy-router-only.yaml")
	require.NoError(t, err)
	cfg := loadConfig(t, envoyDir+"/llm-router-router-only.yaml")
	require.Empty(t, Validate(data, cfg))
	cfg.Server.UpstreamFilter = true
	ps := Validate(data, cfg)
	require.Len(t, ps, 3, problemList(ps))
	for _, p := range ps {
		require.Contains(t, p.Message, "no upstream envoy.filters.http.ext_proc filter")
	}
	// Without a config only the structure and the router-level filter are checked.
	require.Empty(t, Validate(data, nil))
}

const minimalBootstrap = `
node: {id: n, cluster: c}
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: x
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /, headers: [{name: X-LLM-Router-Backend, exact_match: b}]}
                route: {cluster: llm_router.b}
          http_filters:
          - name: envoy.filters.http.ext_proc
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
              grpc_service: {google_grpc: {target_uri: "127.0.0.1:50051", stat_prefix: extproc}}
              processing_mode: {request_body_mode: BUFFERED, response_body_mode: STREAMED}
              allow_mode_override: true
              message_timeout: 0.5s
              metadata_options: {receiving_namespaces: {untyped: [llm_router]}}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - &base
    name: llm_router.b
    connect_timeout: 2s
    type: STRICT_DNS
    load_assignment:
      cluster_name: llm_router.b
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: b.example, port_value: 443}}}}]}]
  - <<: *base
    name: other
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}
`

// TestValidateHandWritten covers what generated files never contain: flow style,
// anchors and merge keys, google_grpc, DEFAULT header modes, STREAMED responses, the
// deprecated exact_match and a header name in other case.
func TestValidateHandWritten(t *testing.T) {
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "p", BaseUrl: "https://b.example"}},
		Models:    []*configv1.Model{{Name: "m", Backends: []*configv1.Backend{{Provider: "p", Name: "b"}}}},
	}
	require.Empty(t, Validate([]byte(minimalBootstrap), cfg))

	b, ps := ParseBootstrap([]byte(minimalBootstrap), cfg)
	require.Empty(t, ps)
	require.Len(t, b.StaticResources.Clusters, 2)
	require.Equal(t, "other", b.StaticResources.Clusters[1].Name)
	require.Equal(t, "llm_router.b", b.StaticResources.Clusters[1].LoadAssignment.ClusterName, "merged from the anchor")
}

func TestValidateDocumentErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		path, msg string
	}{
		{"invalid yaml", "a: [", "", "invalid YAML"},
		{"empty", "# nothing\n", "", "empty document"},
		{"not a mapping", "- a\n", "", "expected a mapping for envoy.config.bootstrap.v3.Bootstrap"},
		{"duplicate key", "node: {}\nnode: {}\n", "", `duplicate key "node"`},
		{"merge of a scalar", "node:\n  <<: 5\n", "node", "a merge key needs a mapping"},
		{"unknown top-level", "nodes: {}\n", "nodes", `unknown field "nodes"`},
		{"no listener", "node: {id: x}\n", "static_resources.listeners", "no listener has an HTTP connection manager"},
		{"wkt any", "static_resources:\n  listeners:\n  - name: l\n    filter_chains:\n    - filters:\n      - name: x\n        typed_config: {\"@type\": type.googleapis.com/google.protobuf.Struct, val: 1}\n",
			"static_resources.listeners[0].filter_chains[0].filters[0].typed_config.val", `use "value"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, Validate([]byte(tc.doc), nil), tc.path, tc.msg)
		})
	}
}

func TestValidateMultipleDocuments(t *testing.T) {
	text, cfg := shippedEnvoy(t)
	bad := replaceOnce(t, text, "allow_mode_override: true", "allow_mode_override: false")
	ps := Validate([]byte(text+"---\n"+bad), cfg)
	require.Len(t, ps, 1, problemList(ps))
	require.Equal(t, extprocPath+".allow_mode_override", ps[0].Path)
	require.True(t, strings.HasPrefix(ps[0].Message, "document 2: "), ps[0].Message)

	_, ps = ParseBootstrap([]byte(text+"---\n"+text), cfg)
	requireProblem(t, ps, "", "expected one YAML document, found 2")
	_, ps = ParseBootstrap([]byte("a: ["), cfg)
	requireProblem(t, ps, "", "invalid YAML")
	_, ps = ParseBootstrap([]byte(bad), cfg)
	require.NotEmpty(t, ps)
}

func TestProblemString(t *testing.T) {
	require.Equal(t, "line 3: a.b: broken", Problem{Path: "a.b", Message: "broken", Line: 3}.String())
	require.Equal(t, "broken", Problem{Message: "broken"}.String())
}

func TestPathHelpers(t *testing.T) {
	require.Equal(t, "static_resources.clusters[2]", joinPGVField("static_resources", "Clusters[2]"))
	require.Equal(t, `a.typed_per_filter_config["envoy.filters.http.cors"]`, joinPGVField("a", "TypedPerFilterConfig[envoy.filters.http.cors]"))
	require.Equal(t, "http2_protocol_options", snakeCase("Http2ProtocolOptions"))
	require.Equal(t, "a.b", parentPath(`a.b["k.x[1]"]`))
	require.Equal(t, "a", parentPath("a.b"))
	require.Equal(t, "a.b", parentPath("a.b[3]"))
	require.Equal(t, "", parentPath("a"))
	require.True(t, hasPathPrefix("a.b[1]", "a.b"))
	require.True(t, hasPathPrefix("a.b", ""))
	require.False(t, hasPathPrefix("a.bc", "a.b"))
}

func BenchmarkValidate(b *testing.B) {
	data, err := os.ReadFile(envoyDir + "/envoy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := loadConfig(b, envoyDir+"/llm-router.yaml")
	b.ReportAllocs()
	for b.Loop() {
		if ps := Validate(data, cfg); len(ps) > 0 {
			b.Fatal(ps)
		}
	}
}

func TestValidateRoutePolicy(t *testing.T) {
	yml, cfg := shippedEnvoy(t)
	ok := replaceOnce(t, yml, "                      routes:\n", "                      metadata:\n                        filter_metadata:\n                          llm_router:\n                            allowed_models: [gpt-4o]\n                            cache: never\n                      routes:\n")
	require.Empty(t, Validate([]byte(ok), cfg))
	bad := replaceOnce(t, yml, "                      routes:\n", "                      metadata:\n                        filter_metadata:\n                          llm_router:\n                            allowed_models: [nope]\n                            cache: sometimes\n                            strategy: x\n                      routes:\n")
	ps := Validate([]byte(bad), cfg)
	requireProblem(t, ps, "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].metadata.filter_metadata.llm_router.allowed_models[0]", `unknown model "nope"`)
	requireProblem(t, ps, "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].metadata.filter_metadata.llm_router.cache", "never, always or auto")
	requireProblem(t, ps, "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].metadata.filter_metadata.llm_router.strategy", "unknown llm_router policy field")
}
