package deploytest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/llm-router/llm-router/pkg/envoyconfig"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

var update = flag.Bool("update", false, "regenerate the generated Envoy files under deploy/")

// Names of the stats listener every sidecar deployment adds to the generated
// bootstrap: the admin interface stays on loopback, and only /ready and
// /stats/prometheus are reachable from the network (kubelet probes, Prometheus).
const (
	statsListenerName = "envoy_stats"
	statsPort         = 9902
	adminClusterName  = "envoy_admin"
	adminPort         = 9901
	// istioExtprocCluster is Istio's outbound cluster for the llm-router Service, so
	// the ext_proc stream goes through the mesh (mTLS, per-stream load balancing).
	istioExtprocCluster = "outbound|50051||llm-router.llm-router.svc.cluster.local"
)

// generatedFile is one Envoy file under deploy/ with the config it is generated from.
type generatedFile struct {
	out    []string // path under the repository root
	config []string // the llm-router config
	// kind: "sidecar" (bootstrap plus the stats listener), "bootstrap" (exactly what
	// `llm-router envoy` prints), "gateway" and "sidecar-inbound" (Istio EnvoyFilters
	// with only that context's patch).
	kind string
	// helmValues: the config is the "config" key of a Helm values file.
	helmValues bool
}

func generatedFiles() []generatedFile {
	return []generatedFile{
		{out: []string{"deploy", "compose", "envoy.yaml"}, config: []string{"deploy", "compose", "llm-router.yaml"}, kind: "sidecar"},
		{out: []string{"deploy", "kubernetes", "base", "envoy.yaml"}, config: []string{"deploy", "kubernetes", "base", "llm-router.yaml"}, kind: "sidecar"},
		{out: []string{"deploy", "kubernetes", "overlays", "development", "envoy.yaml"}, config: []string{"deploy", "kubernetes", "overlays", "development", "llm-router.yaml"}, kind: "sidecar"},
		// The chart adds the stats listener itself (templates/configmap.yaml), so a
		// bootstrap printed by `llm-router envoy` can be passed in as it is.
		{out: []string{"deploy", "helm", "llm-router", "files", "envoy.yaml"}, config: []string{"deploy", "helm", "llm-router", "values.yaml"}, kind: "bootstrap", helmValues: true},
		{out: []string{"deploy", "istio", "envoyfilter-gateway.yaml"}, config: []string{"deploy", "istio", "llm-router.yaml"}, kind: "gateway"},
		{out: []string{"deploy", "istio", "envoyfilter-sidecar.yaml"}, config: []string{"deploy", "istio", "llm-router.yaml"}, kind: "sidecar-inbound"},
	}
}

// configOf loads the config a generated file belongs to.
func configOf(t *testing.T, g generatedFile) *configv1.Config {
	t.Helper()
	if !g.helmValues {
		return loadConfig(t, g.config...)
	}
	var values struct {
		Config yaml.Node `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, g.config...), &values))
	require.NotZero(t, values.Config.Kind, "%s has no config key", strings.Join(g.config, "/"))
	data, err := yaml.Marshal(&values.Config)
	require.NoError(t, err)
	return parseConfig(t, strings.Join(g.config, "/")+": config", data)
}

// TestGeneratedEnvoyFiles regenerates every Envoy file under deploy/ from its config
// and fails when the checked-in file differs. Run with -update to rewrite them.
func TestGeneratedEnvoyFiles(t *testing.T) {
	for _, g := range generatedFiles() {
		t.Run(strings.Join(g.out, "/"), func(t *testing.T) {
			cfg := configOf(t, g)
			got, err := generate(cfg, g.kind, strings.Join(g.config, "/"))
			require.NoError(t, err)
			path := repoPath(g.out...)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got),
				"%s is stale: run `go test ./pkg/deploytest -run TestGeneratedEnvoyFiles -update`", path)
			// And it is valid for its config: every backend has its cluster and route,
			// the ext_proc filters have the modes the processor needs.
			for _, p := range envoyconfig.Validate(got, cfg) {
				t.Errorf("%s: %s", path, p)
			}
		})
	}
}

// generate renders one generated file.
func generate(cfg *configv1.Config, kind, from string) ([]byte, error) {
	switch kind {
	case "sidecar", "bootstrap":
		b, err := envoyconfig.Generate(cfg, envoyconfig.Options{})
		if err != nil {
			return nil, err
		}
		header := "Generated by `llm-router envoy --config " + from + "`; do not edit by hand.\n" +
			"Regenerate with `make deploy-envoy` after changing the config."
		if kind == "sidecar" {
			if err := addStatsListener(b); err != nil {
				return nil, err
			}
			header = "Generated from " + from + ": `llm-router envoy` plus a stats listener on :9902\n" +
				"(/ready and /stats/prometheus only; the admin interface stays on loopback).\n" +
				"Do not edit by hand: regenerate with `make deploy-envoy` after changing the config."
		}
		out, err := envoyconfig.RenderYAML(b)
		if err != nil {
			return nil, err
		}
		return replaceHeader(out, header), nil
	case "gateway", "sidecar-inbound":
		opts := envoyconfig.Options{Istio: envoyconfig.IstioOptions{ExtprocCluster: istioExtprocCluster}}
		context := "GATEWAY"
		header := "Generated from " + from + " (`llm-router envoy --istio`, GATEWAY patch only): inserts\n" +
			"llm-router's ext_proc filter into the ingress gateway. Do not edit by hand:\n" +
			"regenerate with `make deploy-envoy`. Tied to Istio versions: see README.md."
		opts.Istio.Name = "llm-router-gateway"
		opts.Istio.Namespace = "istio-system"
		opts.Istio.WorkloadLabels = map[string]string{"istio": "ingressgateway"}
		if kind == "sidecar-inbound" {
			context = "SIDECAR_INBOUND"
			header = "Generated from " + from + " (`llm-router envoy --istio`, SIDECAR_INBOUND patch\n" +
				"only): runs llm-router in front of in-mesh model servers (vLLM, TGI, Ollama pods\n" +
				"labelled llm-router.io/extproc=enabled in namespace models). Do not edit by hand:\n" +
				"regenerate with `make deploy-envoy`. Tied to Istio versions: see README.md."
			opts.Istio.Name = "llm-router-sidecar"
			opts.Istio.Namespace = "models"
			opts.Istio.WorkloadLabels = map[string]string{"llm-router.io/extproc": "enabled"}
		}
		out, err := envoyconfig.GenerateEnvoyFilter(cfg, opts)
		if err != nil {
			return nil, err
		}
		return keepContext(out, context, header)
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// replaceHeader swaps the generator's leading comment block for header.
func replaceHeader(out []byte, header string) []byte {
	i := 0
	for bytes.HasPrefix(out[i:], []byte("#")) {
		j := bytes.IndexByte(out[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	var b bytes.Buffer
	for _, l := range strings.Split(header, "\n") {
		b.WriteString("# " + l + "\n")
	}
	b.Write(out[i:])
	return b.Bytes()
}

// keepContext drops the EnvoyFilter patches whose match.context is not context (an
// EnvoyFilter selects one kind of workload; the other context's patch would be inert).
func keepContext(out []byte, context, header string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	patches := lookup(doc.Content[0], "spec", "configPatches")
	if patches == nil {
		return nil, fmt.Errorf("no spec.configPatches")
	}
	var kept []*yaml.Node
	for _, p := range patches.Content {
		if c := lookup(p, "match", "context"); c == nil || c.Value == context || c.Value == "ANY" {
			kept = append(kept, p)
		}
	}
	patches.Content = kept
	doc.HeadComment = header
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// addStatsListener adds the envoy_stats listener and the envoy_admin cluster to a
// generated bootstrap. The listener's HTTP connection manager carries the same
// ext_proc filter as the main listener, disabled on both of its routes: probes and
// scrapes never reach llm-router, and `llm-router validate` (which requires the
// filter before the router of every HTTP connection manager) accepts the file.
func addStatsListener(b *bootstrapv3.Bootstrap) error {
	extproc, err := findExtProc(b)
	if err != nil {
		return err
	}
	disabled := mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})
	route := func(name string, match *routev3.RouteMatch) *routev3.Route {
		return &routev3.Route{
			Name:  name,
			Match: match,
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: adminClusterName},
			}},
			TypedPerFilterConfig: map[string]*anypb.Any{envoyconfig.ExtProcFilterName: disabled},
		}
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: statsListenerName,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: statsListenerName,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    statsListenerName,
				Domains: []string{"*"},
				Routes: []*routev3.Route{
					route("ready", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/ready"}}),
					route("prometheus", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/stats/prometheus"}}),
				},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			extproc,
			{Name: envoyconfig.RouterFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}},
		},
	}
	b.StaticResources.Listeners = append(b.StaticResources.Listeners, &listenerv3.Listener{
		Name:    statsListenerName,
		Address: socketAddress("0.0.0.0", statsPort),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       envoyconfig.HCMFilterName,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)},
		}}}},
	})
	b.StaticResources.Clusters = append(b.StaticResources.Clusters, &clusterv3.Cluster{
		Name:                 adminClusterName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: adminClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: socketAddress("127.0.0.1", adminPort),
				}},
			}}}},
		},
	})
	return nil
}

// findExtProc returns a copy of the main listener's ext_proc HTTP filter.
func findExtProc(b *bootstrapv3.Bootstrap) (*hcmv3.HttpFilter, error) {
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) != nil {
					continue
				}
				for _, hf := range h.GetHttpFilters() {
					if hf.GetName() == envoyconfig.ExtProcFilterName {
						return proto.Clone(hf).(*hcmv3.HttpFilter), nil
					}
				}
			}
		}
	}
	return nil, errors.New("generated bootstrap has no ext_proc filter")
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// mustAny packs a message built in this file; anypb.New fails only for messages
// without a registered type, which cannot happen here.
func mustAny(m proto.Message) *anypb.Any {
	a, _ := anypb.New(m)
	return a
}
