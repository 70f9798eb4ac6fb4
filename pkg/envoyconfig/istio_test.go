package envoyconfig

import (
	"os"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const patchPath = "spec.configPatches"

func TestGenerateEnvoyFilter(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	out, err := GenerateEnvoyFilter(cfg, Options{Istio: IstioOptions{
		Name: "ai", Namespace: "gw", WorkloadLabels: map[string]string{"app": "llm-gw", "tier": "edge"},
	}})
	require.NoError(t, err)
	require.Empty(t, Validate(out, cfg))

	var doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Metadata   struct{ Name, Namespace string }
		Spec       struct {
			WorkloadSelector struct{ Labels map[string]string } `yaml:"workloadSelector"`
			ConfigPatches    []struct {
				ApplyTo string `yaml:"applyTo"`
				Match   struct {
					Context  string
					Listener struct {
						FilterChain struct {
							Filter struct {
								Name      string
								SubFilter struct{ Name string } `yaml:"subFilter"`
							}
						} `yaml:"filterChain"`
					}
				}
				Patch struct {
					Operation string
					Value     map[string]any
				}
			} `yaml:"configPatches"`
		}
	}
	require.NoError(t, yaml.Unmarshal(out, &doc))
	require.Equal(t, "networking.istio.io/v1alpha3", doc.APIVersion)
	require.Equal(t, "EnvoyFilter", doc.Kind)
	require.Equal(t, "ai", doc.Metadata.Name)
	require.Equal(t, "gw", doc.Metadata.Namespace)
	require.Equal(t, map[string]string{"app": "llm-gw", "tier": "edge"}, doc.Spec.WorkloadSelector.Labels)
	require.Len(t, doc.Spec.ConfigPatches, 3)
	require.Equal(t, "CLUSTER", doc.Spec.ConfigPatches[0].ApplyTo)
	require.Equal(t, ExtprocCluster, doc.Spec.ConfigPatches[0].Patch.Value["name"])
	var contexts []string
	for _, p := range doc.Spec.ConfigPatches[1:] {
		contexts = append(contexts, p.Match.Context)
		require.Equal(t, "HTTP_FILTER", p.ApplyTo)
		require.Equal(t, "INSERT_BEFORE", p.Patch.Operation)
		require.Equal(t, RouterFilterName, p.Match.Listener.FilterChain.Filter.SubFilter.Name)
		require.Equal(t, HCMFilterName, p.Match.Listener.FilterChain.Filter.Name)

		// The value is the very filter RouterFilter describes.
		js, err := yaml.Marshal(p.Patch.Value)
		require.NoError(t, err)
		docs, err := parseYAMLDocs(js)
		require.NoError(t, err)
		j, err := nodeJSON(docs[0])
		require.NoError(t, err)
		f := &hcmv3.HttpFilter{}
		require.NoError(t, protojson.Unmarshal(j, f))
		ep := &extprocv3.ExternalProcessor{}
		require.NoError(t, f.GetTypedConfig().UnmarshalTo(ep))
		require.True(t, proto.Equal(RouterFilter(cfg), ep))
	}
	require.Equal(t, []string{"GATEWAY", "SIDECAR_INBOUND"}, contexts)
}

func TestGenerateEnvoyFilterWithMeshCluster(t *testing.T) {
	cfg := &configv1.Config{Server: &configv1.Server{ExtprocAddress: "unix:///sock/extproc.sock"}}
	const mesh = "outbound|50051||llm-router.llm-router.svc.cluster.local"
	out, err := GenerateEnvoyFilter(cfg, Options{Istio: IstioOptions{ExtprocCluster: mesh, WorkloadLabels: map[string]string{}}})
	require.NoError(t, err)
	require.Empty(t, Validate(out, cfg), "Istio-managed clusters are accepted")
	s := string(out)
	require.NotContains(t, s, "applyTo: CLUSTER")
	require.NotContains(t, s, "workloadSelector", "empty labels: no selector")
	require.Equal(t, 2, strings.Count(s, "cluster_name: "+mesh))

	out, err = GenerateEnvoyFilter(cfg, Options{})
	require.NoError(t, err)
	require.Contains(t, string(out), "path: /sock/extproc.sock")
	require.Empty(t, Validate(out, cfg))

	_, err = GenerateEnvoyFilter(nil, Options{})
	require.Error(t, err)
	_, err = GenerateEnvoyFilter(cfg, Options{Istio: IstioOptions{ExtprocAddress: "bad"}})
	require.ErrorContains(t, err, "extproc address")
}

func TestValidateEnvoyFilterProblems(t *testing.T) {
	data, err := os.ReadFile(envoyDir + "/istio-envoyfilter.yaml")
	require.NoError(t, err)
	text := string(data)
	gwFilter := patchPath + "[1].patch.value"
	tests := []struct {
		name, old, repl string
		path, msg       string
	}{
		{"wrong api group", "apiVersion: networking.istio.io/v1alpha3", "apiVersion: v1", "apiVersion", "want networking.istio.io/v1alpha3"},
		{"filter after the router", "operation: INSERT_BEFORE", "operation: INSERT_AFTER", gwFilter, "does not place the filter before envoy.filters.http.router"},
		{"unknown field in value", "            allow_mode_override: true\n", "            allow_mode_override: true\n            allow_everything: true\n",
			gwFilter + ".typed_config.allow_everything", `unknown field "allow_everything"`},
		{"wrong mode in value", "request_body_mode: BUFFERED", "request_body_mode: NONE",
			gwFilter + ".typed_config.processing_mode.request_body_mode", "must be BUFFERED"},
		{"unknown applyTo", "applyTo: CLUSTER", "applyTo: CLUSTERS", patchPath + "[0].applyTo", `unknown applyTo "CLUSTERS"`},
		{"cluster not http2", "                http2_protocol_options: {}\n", "                http_protocol_options: {}\n", patchPath + "[0].patch.value", "must use HTTP/2"},
		{"pgv in cluster value", "connect_timeout: 1s", "connect_timeout: 0s", patchPath + "[0].patch.value.connect_timeout", "greater than 0s"},
		{"no patches", "  configPatches:\n", "  configPatchez:\n", patchPath, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, Validate([]byte(replaceOnce(t, text, tc.old, tc.repl)), nil), tc.path, tc.msg)
		})
	}
}

func TestValidateEnvoyFilterOperations(t *testing.T) {
	const doc = `
apiVersion: networking.istio.io/v1beta1
kind: EnvoyFilter
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY}
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.ext_proc
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
          grpc_service: {envoy_grpc: {cluster_name: "outbound|50051||llm-router.default.svc.cluster.local"}}
          processing_mode: {request_body_mode: BUFFERED, response_body_mode: BUFFERED}
          allow_mode_override: true
          message_timeout: 1s
          metadata_options: {receiving_namespaces: {untyped: [llm_router]}}
  - applyTo: NETWORK_FILTER
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    patch:
      operation: MERGE
      value: {connect_timeout: 2s}
  - applyTo: HTTP_ROUTE
    patch: {operation: MERGE}
`
	ps := Validate([]byte(doc), nil)
	require.Len(t, ps, 1, problemList(ps))
	requireProblem(t, ps, patchPath+"[3].patch.value", "missing value for operation MERGE")

	for _, applyTo := range []string{"LISTENER", "FILTER_CHAIN", "LISTENER_FILTER", "ROUTE_CONFIGURATION", "VIRTUAL_HOST", "EXTENSION_CONFIG", "BOOTSTRAP"} {
		require.NotNil(t, patchType(applyTo), applyTo)
	}

	noExtProc := strings.Replace(doc, "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor", "envoy.extensions.filters.http.router.v3.Router", 1)
	noExtProc = strings.Replace(noExtProc, `          grpc_service: {envoy_grpc: {cluster_name: "outbound|50051||llm-router.default.svc.cluster.local"}}
          processing_mode: {request_body_mode: BUFFERED, response_body_mode: BUFFERED}
          allow_mode_override: true
          message_timeout: 1s
          metadata_options: {receiving_namespaces: {untyped: [llm_router]}}
`, "", 1)
	requireProblem(t, Validate([]byte(noExtProc), nil), patchPath, "no patch inserts the envoy.filters.http.ext_proc filter")
}
