package envoyconfig

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func generate(t *testing.T, cfg *configv1.Config, opts Options) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := Generate(cfg, opts)
	require.NoError(t, err)
	y, err := RenderYAML(b)
	require.NoError(t, err)
	require.Empty(t, Validate(y, cfg), "generated config must validate")
	return b
}

func hcmOf(t *testing.T, b *bootstrapv3.Bootstrap) *hcmv3.HttpConnectionManager {
	t.Helper()
	h := &hcmv3.HttpConnectionManager{}
	require.NoError(t, b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(h))
	return h
}

func clusterByName(t *testing.T, b *bootstrapv3.Bootstrap, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.StaticResources.Clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return nil
}

func httpOptions(t *testing.T, c *clusterv3.Cluster) *httpv3.HttpProtocolOptions {
	t.Helper()
	o := &httpv3.HttpProtocolOptions{}
	require.NoError(t, c.TypedExtensionProtocolOptions[HTTPProtocolOptionsKey].UnmarshalTo(o))
	return o
}

// TestGenerateFollowsPlan checks that the bootstrap is exactly the plan: the emulator
// of `llm-router run` executes Plan, Envoy executes this.
func TestGenerateFollowsPlan(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	b := generate(t, cfg, Options{})
	routes := map[string]*routev3.Route{}
	for _, r := range hcmOf(t, b).GetRouteConfig().VirtualHosts[0].Routes {
		routes[r.Name] = r
	}
	for _, p := range Plan(cfg, Options{}) {
		c := clusterByName(t, b, p.Name)
		require.Equal(t, p.ConnectTimeout, c.ConnectTimeout.AsDuration())
		require.Len(t, c.LoadAssignment.Endpoints, len(p.Endpoints))
		for i, e := range p.Endpoints {
			le := c.LoadAssignment.Endpoints[i]
			require.Equal(t, e.Priority, le.Priority)
			ep := le.LbEndpoints[0]
			u, err := url.Parse(e.URL)
			require.NoError(t, err)
			host, port, _ := hostPort(u)
			require.Equal(t, host, ep.GetEndpoint().Address.GetSocketAddress().Address)
			require.Equal(t, port, ep.GetEndpoint().Address.GetSocketAddress().GetPortValue())
			require.Equal(t, host, ep.GetEndpoint().Hostname)
			require.Equal(t, e.Backend, ep.Metadata.FilterMetadata[MetadataNamespace].Fields["backend"].GetStringValue())
		}

		r := routes[p.Name]
		require.NotNil(t, r, p.Name)
		require.Equal(t, BackendHeader, r.Match.Headers[0].Name)
		require.Equal(t, p.Backend, r.Match.Headers[0].GetStringMatch().GetExact())
		action := r.GetRoute()
		require.Equal(t, p.Name, action.GetCluster())
		require.True(t, action.GetAutoHostRewrite().GetValue())
		require.Equal(t, p.RouteTimeout(), action.Timeout.AsDuration())
		rp := action.RetryPolicy
		if p.Retry.NumRetries == 0 {
			require.Nil(t, rp)
			continue
		}
		require.Equal(t, "connect-failure,reset,5xx,retriable-status-codes", rp.RetryOn)
		require.Equal(t, p.Retry.NumRetries, rp.NumRetries.GetValue())
		require.Equal(t, []uint32{429}, rp.RetriableStatusCodes)
		require.Equal(t, p.Retry.PerTryTimeout, rp.PerTryTimeout.AsDuration())
		require.Equal(t, "envoy.retry_priorities.previous_priorities", rp.RetryPriority.Name)
	}
}

func TestGenerateListenerAndFilters(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	cfg.Server.Cors = &configv1.CORS{AllowedOrigins: []string{"https://app.example.com"}}
	b := generate(t, cfg, Options{ListenAddress: "127.0.0.1:10000", AdminAddress: "127.0.0.1:9999"})
	l := b.StaticResources.Listeners[0]
	require.Equal(t, "127.0.0.1", l.Address.GetSocketAddress().Address)
	require.Equal(t, uint32(10000), l.Address.GetSocketAddress().GetPortValue())
	require.Equal(t, uint32(8<<20), l.PerConnectionBufferLimitBytes.GetValue(), "twice max_request_body_bytes")
	require.Equal(t, uint32(9999), b.Admin.Address.GetSocketAddress().GetPortValue())

	h := hcmOf(t, b)
	var names []string
	for _, f := range h.HttpFilters {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{CORSFilterName, ExtProcFilterName, RouterFilterName}, names)
	ep := &extprocv3.ExternalProcessor{}
	require.NoError(t, h.HttpFilters[1].GetTypedConfig().UnmarshalTo(ep))
	require.True(t, proto.Equal(RouterFilter(cfg), ep))
	require.Equal(t, []string{BackendHeader, UnroutedHeader}, h.GetRouteConfig().InternalOnlyHeaders)

	cors := &corsv3.CorsPolicy{}
	require.NoError(t, h.GetRouteConfig().VirtualHosts[0].TypedPerFilterConfig[CORSFilterName].UnmarshalTo(cors))
	require.True(t, proto.Equal(CORSPolicy(cfg), cors), "the policy run's emulator uses")
	require.Equal(t, "https://app.example.com", cors.AllowOriginStringMatch[0].GetExact())

	// The catch-all is a route entry (Envoy's CORS filter ignores direct responses).
	routes := h.GetRouteConfig().VirtualHosts[0].Routes
	last := routes[len(routes)-1]
	require.Equal(t, UnroutedRouteName, last.Name)
	require.Equal(t, "/", last.Match.GetPrefix())
	require.Equal(t, UnroutedHeader, last.GetRoute().GetClusterHeader())
	require.Equal(t, routev3.RouteAction_NOT_FOUND, last.GetRoute().GetClusterNotFoundResponseCode())
	for _, r := range routes {
		require.Nil(t, r.GetDirectResponse(), r.Name)
	}

	// Anthropic mappers come first and all are keyed on response flags.
	mappers := h.LocalReplyConfig.Mappers
	require.Len(t, mappers, 2*len(localReplies()))
	require.NotNil(t, mappers[0].Filter.GetAndFilter())
	var uf *hcmv3.ResponseMapper
	for _, m := range mappers[len(localReplies()):] {
		if flags := m.Filter.GetResponseFlagFilter().GetFlags(); len(flags) == 1 && flags[0] == "UF" {
			uf = m
		}
	}
	require.NotNil(t, uf)
	require.Equal(t, []string{"UF"}, uf.Filter.GetResponseFlagFilter().Flags)
	require.Equal(t, uint32(502), uf.StatusCode.GetValue())
	var body map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(uf.BodyFormatOverride.GetTextFormatSource().GetInlineString()), &body))
	require.Equal(t, map[string]any{"message": "could not connect to the upstream provider", "type": "server_error", "param": nil, "code": "upstream_connect_failure"}, body["error"])
	var anth map[string]any
	require.NoError(t, json.Unmarshal([]byte(mappers[1].BodyFormatOverride.GetTextFormatSource().GetInlineString()), &anth))
	require.Equal(t, "error", anth["type"])
	require.Equal(t, "api_error", anth["error"].(map[string]any)["type"])
}

func TestGenerateClusters(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	b := generate(t, cfg, Options{CAFile: "/etc/pki/tls/certs/ca-bundle.crt", MaxConcurrency: 50})

	// Single https endpoint with upstream filter: LOGICAL_DNS, TLS, ALPN, filters.
	embed := clusterByName(t, b, "llm_router.openai.text-embedding-3-small")
	require.Equal(t, clusterv3.Cluster_LOGICAL_DNS, embed.GetType())
	tls := &tlsv3.UpstreamTlsContext{}
	require.NoError(t, embed.TransportSocket.GetTypedConfig().UnmarshalTo(tls))
	require.Equal(t, "api.openai.com", tls.Sni)
	require.Equal(t, "/etc/pki/tls/certs/ca-bundle.crt", tls.CommonTlsContext.GetValidationContext().TrustedCa.GetFilename())
	o := httpOptions(t, embed)
	require.NotNil(t, o.GetAutoConfig())
	require.True(t, o.UpstreamHttpProtocolOptions.AutoSni)
	require.True(t, o.UpstreamHttpProtocolOptions.AutoSanValidation)
	require.Len(t, o.HttpFilters, 2)
	ep := &extprocv3.ExternalProcessor{}
	require.NoError(t, o.HttpFilters[0].GetTypedConfig().UnmarshalTo(ep))
	require.True(t, proto.Equal(UpstreamFilter(cfg), ep))
	require.Equal(t, UpstreamCodecFilterName, o.HttpFilters[1].Name)
	require.Equal(t, uint32(50), embed.CircuitBreakers.Thresholds[0].MaxRetries.GetValue())

	// Chains: STRICT_DNS.
	require.Equal(t, clusterv3.Cluster_STRICT_DNS, clusterByName(t, b, "llm_router.openai.gpt-4o").GetType())

	// Mixed http/https chain: TLS by endpoint metadata, HTTP/1.1.
	groq := clusterByName(t, b, "llm_router.groq.llama-3.3-70b-versatile")
	require.Nil(t, groq.TransportSocket)
	require.Len(t, groq.TransportSocketMatches, 1)
	require.NoError(t, groq.TransportSocketMatches[0].TransportSocket.GetTypedConfig().UnmarshalTo(tls))
	require.Equal(t, "api.groq.com", tls.Sni)
	md := groq.LoadAssignment.Endpoints[0].LbEndpoints[0].Metadata.FilterMetadata
	require.True(t, md["envoy.transport_socket_match"].Fields["tls"].GetBoolValue())
	require.NotContains(t, groq.LoadAssignment.Endpoints[1].LbEndpoints[0].Metadata.FilterMetadata, "envoy.transport_socket_match")
	require.NotNil(t, httpOptions(t, groq).GetExplicitHttpConfig().GetHttpProtocolOptions())

	// The ext_proc cluster: static TCP, HTTP/2.
	x := clusterByName(t, b, ExtprocCluster)
	require.Equal(t, clusterv3.Cluster_STATIC, x.GetType())
	require.True(t, isHTTP2(x))
}

func TestGenerateRouterOnly(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router-router-only.yaml")
	b := generate(t, cfg, Options{})
	x := clusterByName(t, b, ExtprocCluster)
	require.Equal(t, "/var/run/llm-router/extproc.sock", x.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetPipe().Path)

	ollama := clusterByName(t, b, "llm_router.ollama.llama3.2")
	require.Equal(t, clusterv3.Cluster_STATIC, ollama.GetType(), "IP literal needs no DNS")
	require.Nil(t, ollama.TransportSocket)
	o := httpOptions(t, ollama)
	require.Empty(t, o.HttpFilters)
	require.Nil(t, o.UpstreamHttpProtocolOptions)

	for _, r := range hcmOf(t, b).GetRouteConfig().VirtualHosts[0].Routes {
		require.Nil(t, r.GetRoute().GetRetryPolicy(), r.Name)
	}
}

func TestGenerateRateLimit(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	b := generate(t, cfg, Options{RateLimit: &RateLimitOptions{ServiceAddress: "10.0.0.7:8081", Domain: "ai", FailureModeDeny: true, Timeout: 50 * time.Millisecond}})
	h := hcmOf(t, b)
	require.Equal(t, RateLimitFilterName, h.HttpFilters[2].Name, "after ext_proc, before the router")
	rl := &ratelimitv3.RateLimit{}
	require.NoError(t, h.HttpFilters[2].GetTypedConfig().UnmarshalTo(rl))
	require.Equal(t, "ai", rl.Domain)
	require.True(t, rl.FailureModeDeny)
	require.Equal(t, 50*time.Millisecond, rl.Timeout.AsDuration())
	require.Len(t, rl.RateLimits, 3)
	require.Equal(t, uint64(0), rl.RateLimits[1].HitsAddend.Number.GetValue())
	charge := rl.RateLimits[2]
	require.True(t, charge.ApplyOnStreamDone)
	require.Equal(t, "%DYNAMIC_METADATA(llm_router:total_tokens)%", charge.HitsAddend.Format)
	require.Equal(t, "key_id", charge.Actions[1].GetMetadata().DescriptorKey)

	c := clusterByName(t, b, RateLimitCluster)
	require.True(t, isHTTP2(c))
	require.Equal(t, clusterv3.Cluster_STATIC, c.GetType())
}

func TestGenerateErrors(t *testing.T) {
	good := func() *configv1.Config {
		return &configv1.Config{
			Providers: []*configv1.Provider{{Name: "p", Kind: "openai", BaseUrl: "https://api.openai.com"}},
			Models:    []*configv1.Model{{Name: "m", Backends: []*configv1.Backend{{Provider: "p"}}}},
		}
	}
	tests := []struct {
		name    string
		cfg     func() *configv1.Config
		opts    Options
		wantErr string
	}{
		{"nil config", func() *configv1.Config { return nil }, Options{}, "nil config"},
		{"no backends", func() *configv1.Config { return &configv1.Config{} }, Options{}, "no backends"},
		{"listen address", good, Options{ListenAddress: "nohost"}, "listen address"},
		{"listen port", good, Options{ListenAddress: ":0"}, "invalid port"},
		{"admin address", good, Options{AdminAddress: "x:y"}, "admin address"},
		{"extproc address", func() *configv1.Config {
			c := good()
			c.Server = &configv1.Server{ExtprocAddress: "no-port"}
			return c
		}, Options{}, "server.extproc_address"},
		{"empty unix path", func() *configv1.Config {
			c := good()
			c.Server = &configv1.Server{ExtprocAddress: "unix://"}
			return c
		}, Options{}, "empty socket path"},
		{"rate limit address", good, Options{RateLimit: &RateLimitOptions{}}, "rate limit service address"},
		{"invalid utf-8", func() *configv1.Config {
			c := good()
			c.Models[0].Backends[0].Name = "bad\xff"
			return c
		}, Options{}, "invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.cfg(), tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestGenerateDefaultsWithoutServerSection(t *testing.T) {
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "local", Kind: "vllm"}},
		Models:    []*configv1.Model{{Name: "qwen", Backends: []*configv1.Backend{{Provider: "local"}}}},
	}
	b := generate(t, cfg, Options{DefaultBaseURL: func(kind string) string {
		require.Equal(t, "vllm", kind)
		return "http://vllm.internal:8000"
	}})
	x := clusterByName(t, b, ExtprocCluster)
	require.Equal(t, "127.0.0.1", x.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetSocketAddress().Address)
	c := clusterByName(t, b, "llm_router.local.qwen")
	require.Equal(t, DefaultConnectTimeout, c.ConnectTimeout.AsDuration())
	require.Equal(t, uint32(DefaultMaxRequestBodyBytes*2), c.PerConnectionBufferLimitBytes.GetValue())
}

func TestBufferLimitSaturates(t *testing.T) {
	require.Equal(t, uint32(1<<32-1), bufferLimit(&configv1.Config{Server: &configv1.Server{MaxRequestBodyBytes: 1 << 31}}))
	require.Equal(t, uint32(2000), bufferLimit(&configv1.Config{Server: &configv1.Server{MaxRequestBodyBytes: 1000}}))
}

func BenchmarkGenerate(b *testing.B) {
	cfg := loadConfig(b, envoyDir+"/llm-router.yaml")
	b.ReportAllocs()
	for b.Loop() {
		bs, err := Generate(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := RenderYAML(bs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConnectionManagerIsGenerates: the HCM `llm-router run` takes its settings from is
// the one on the generated listener, and it returns x-request-id on every response.
func TestConnectionManagerIsGenerates(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	h, err := ConnectionManager(cfg, Options{})
	require.NoError(t, err)
	got := hcmOf(t, generate(t, cfg, Options{}))
	// protocmp unpacks Any values: their bytes may differ for equal messages.
	require.Empty(t, cmp.Diff(got, h, protocmp.Transform()), "ConnectionManager differs from the generated listener's")
	require.True(t, h.GetAlwaysSetRequestIdInResponse())
	require.True(t, h.GetPreserveExternalRequestId(), "the caller's id is the one returned")
	_, err = ConnectionManager(nil, Options{})
	require.Error(t, err)
}
