package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// TestEveryYAMLParses parses every YAML file of the deployment assets (duplicate keys
// and syntax errors fail). Helm templates are covered by TestHelmChart once rendered.
func TestEveryYAMLParses(t *testing.T) {
	var files []string
	for _, dir := range []string{"deploy", "envoy", ".github"} {
		files = append(files, yamlFilesUnder(t, dir)...)
	}
	require.Greater(t, len(files), 40)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		docs, err := yamlDocs(data)
		require.NoError(t, err, f)
		require.NotEmpty(t, docs, "%s is empty", f)
	}
}

// TestManifestFilesDecodeStrictly decodes every Kubernetes-style document under
// deploy/kubernetes and deploy/istio (resources and patches) into its API type,
// refusing unknown fields.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	n := 0
	for _, dir := range []string{filepath.Join("deploy", "kubernetes"), filepath.Join("deploy", "istio")} {
		for _, f := range yamlFilesUnder(t, dir) {
			base := filepath.Base(f)
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			switch {
			case base == "kustomization.yaml":
				var k kustomization
				require.NoError(t, strict(data, &k), f)
				continue
			case base == "llm-router.yaml":
				parseConfig(t, f, data)
				continue
			case base == "envoy.yaml":
				continue // TestGeneratedEnvoyFiles
			case strings.Contains(string(data), "- op:"):
				var ops []jsonPatchOp
				require.NoError(t, strict(data, &ops), f)
				continue
			}
			objs, err := parseObjects(f, data)
			require.NoError(t, err)
			for _, o := range objs {
				if o.doc["$patch"] == "delete" {
					continue
				}
				_, err := decodeTyped(o)
				require.NoError(t, err)
				n++
			}
		}
	}
	require.Greater(t, n, 20)
}

// TestStrictDecodingRejectsUnknownFields shows the checks can fail: a misspelt field in
// a Deployment, an Istio resource and a kustomization is an error.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{name: a, port: 1, targetPorts: 2}]\n",
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec:\n  host: a\n  trafficPolicy: {tls: {mode: SIMPLE, snii: a}}\n",
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http: [{rewrite: {host: a}}]\n",
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
	} {
		objs, err := parseObjects("inline", []byte(doc))
		require.NoError(t, err)
		_, err = decodeTyped(objs[0])
		require.Error(t, err, doc)
	}
	var k kustomization
	require.Error(t, strict([]byte("resources: [a]\npatchesStrategicMerge: [b]\n"), &k))
	_, err := yamlDocs([]byte("a: 1\na: 2\n"))
	require.Error(t, err, "duplicate keys must fail")
}

func kinds(objs []object) map[string]int {
	m := map[string]int{}
	for _, o := range objs {
		m[o.kind()]++
	}
	return m
}

func TestKustomizeBase(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/kubernetes/base")
	require.Equal(t, map[string]int{
		"ServiceAccount": 1, "Deployment": 1, "Service": 1, "HorizontalPodAutoscaler": 1,
		"PodDisruptionBudget": 1, "NetworkPolicy": 1, "ConfigMap": 2,
	}, kinds(objs))
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}})
	h := s.hpas[0]
	require.Len(t, h.Spec.Metrics, 2)
	require.Equal(t, corev1.ResourceCPU, h.Spec.Metrics[0].Resource.Name)
	require.Equal(t, "llm_router_extproc_streams_active", h.Spec.Metrics[1].Pods.Metric.Name)
}

func TestKustomizeDevelopment(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/kubernetes/overlays/development")
	k := kinds(objs)
	require.Zero(t, k["HorizontalPodAutoscaler"], "development has no HPA")
	require.Zero(t, k["PodDisruptionBudget"], "development has no PDB")
	require.Equal(t, 2, k["Deployment"], "llm-router and mock-llm")
	for _, o := range objs {
		if o.kind() != "Namespace" {
			require.Equal(t, "llm-router-dev", o.namespace(), o.id())
		}
	}
	s := checkManifests(t, objs, checkOptions{})
	d := s.deployment("llm-router")
	require.EqualValues(t, 1, *d.Spec.Replicas)
	serve, _ := serveContainer(&d.Spec.Template.Spec)
	require.True(t, slices.ContainsFunc(serve.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/llm-router" }),
		"the SQLite directory is mounted")
	require.Len(t, serve.VolumeMounts, 3, "the patch adds the data mount to the base's two")
	cfg := s.routerConfig(t)
	require.Equal(t, "/var/lib/llm-router/llm-router.db", cfg.GetStorage().GetSqlitePath())
	egress := s.netpols[0].Spec.Egress
	require.Len(t, egress, 4, "the JSON patch adds the mock upstream egress rule to the base's three")
	require.Equal(t, "mock-llm", egress[3].To[0].PodSelector.MatchLabels["app.kubernetes.io/name"])
}

func TestKustomizeProduction(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/kubernetes/overlays/production")
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}, pinned: true})
	d := s.deployment("llm-router")
	require.EqualValues(t, 3, *d.Spec.Replicas)
	require.Len(t, d.Spec.Template.Spec.TopologySpreadConstraints, 2)
	require.EqualValues(t, 3, *s.hpas[0].Spec.MinReplicas)
	require.Len(t, s.hpas[0].Spec.Metrics, 2, "the patch keeps the base's metrics")
	for _, c := range allContainers(&d.Spec.Template.Spec) {
		require.NotContains(t, c.Image, ":latest", c.Name)
	}
	require.Equal(t, []string{"llm-router"}, s.namespaces)
}

func TestKustomizeIstio(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/istio")
	k := kinds(objs)
	require.Equal(t, 2, k["EnvoyFilter"])
	require.Equal(t, 3, k["ServiceEntry"], "the two providers and the catch-all's sink")
	require.Equal(t, 2, k["DestinationRule"])
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}})
	checkMeshCORS(t, s)
	require.Len(t, s.envoyFilters, 2)
	var gw, sc int
	for _, ef := range s.envoyFilters {
		switch ef.namespace() {
		case "istio-system":
			gw++
		case "models":
			sc++
		}
	}
	require.Equal(t, 1, gw, "the gateway EnvoyFilter lives in the gateway's namespace")
	require.Equal(t, 1, sc)
	var svc *corev1.Service
	for _, x := range s.services {
		svc = x
	}
	require.Equal(t, "grpc", svc.Spec.Ports[0].Name, "the ext_proc port is named grpc so the mesh speaks HTTP/2")
}
