//go:build !nohelm

package deploytest

import (
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/testing/protocmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/google/go-cmp/cmp"

	"github.com/llm-router/llm-router/pkg/envoyconfig"
)

const chartDir = "deploy/helm/llm-router"

// renderChart renders the chart with the Helm engine (what `helm template` does) and
// returns the manifests and NOTES.txt.
func renderChart(t *testing.T, overrides map[string]any) ([]object, string, error) {
	t.Helper()
	ch, err := loader.Load(repoPath(chartDir))
	require.NoError(t, err)
	require.NoError(t, ch.Validate())
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}
	require.True(t, chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()),
		"the chart's kubeVersion %s excludes %s", ch.Metadata.KubeVersion, caps.KubeVersion)
	vals, err := chartutil.ToRenderValues(ch, overrides, chartutil.ReleaseOptions{
		Name: "gw", Namespace: "llm", Revision: 1, IsInstall: true,
	}, caps)
	require.NoError(t, err)
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []object
	notes := ""
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "NOTES.txt"):
			notes = files[n]
			continue
		case strings.HasPrefix(path.Base(n), "_"):
			continue
		}
		got, err := parseObjects(n, []byte(files[n]))
		require.NoError(t, err, "%s:\n%s", n, files[n])
		objs = append(objs, got...)
	}
	return objs, notes, nil
}

// chartDefaultsConfigYAML returns the config key of values.yaml as YAML.
func chartDefaultsConfigYAML(t *testing.T) []byte {
	t.Helper()
	var values struct {
		Config yaml.Node `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, chartDir, "values.yaml"), &values))
	b, err := yaml.Marshal(&values.Config)
	require.NoError(t, err)
	return b
}

// checkChartBootstrap compares the rendered Envoy bootstrap with what the generator
// produces for the rendered config plus the stats listener, as protos (the chart
// re-serializes the YAML, so text would differ).
func checkChartBootstrap(t *testing.T, s *typedSet) {
	t.Helper()
	cfg := s.routerConfig(t)
	cm := s.configMaps["gw-llm-router-envoy"]
	require.NotNil(t, cm, "the Envoy ConfigMap")
	got, problems := envoyconfig.ParseBootstrap([]byte(cm.Data["envoy.yaml"]), cfg)
	require.Empty(t, problems)
	want, err := envoyconfig.Generate(cfg, envoyconfig.Options{})
	require.NoError(t, err)
	require.NoError(t, addStatsListener(want))
	// protocmp unpacks Any values: their bytes may differ for equal messages.
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("rendered bootstrap differs from the generated one (-want +got):\n%s", d)
	}
}

func TestHelmChartDefaults(t *testing.T) {
	objs, notes, err := renderChart(t, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{
		"ServiceAccount": 1, "ConfigMap": 2, "Deployment": 1, "Service": 1, "HorizontalPodAutoscaler": 1,
		"PodDisruptionBudget": 1, "NetworkPolicy": 1, "Pod": 1,
	}, kinds(objs))
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}, pinned: true})
	checkChartBootstrap(t, s)
	cfg := s.routerConfig(t)
	require.Equal(t, "${LLM_ROUTER_POSTGRES_DSN}", cfg.GetStorage().GetPostgresDsn())
	// The chart's config is values.yaml's, with the fields the chart owns.
	values := parseConfig(t, "values.yaml config", chartDefaultsConfigYAML(t))
	require.Equal(t, len(values.GetModels()), len(cfg.GetModels()))
	require.Contains(t, notes, "admin token \"platform\" is the default")
	require.Contains(t, notes, "--set-file envoy.bootstrap=envoy.yaml")
}

func TestHelmChartCustomConfigAndBootstrap(t *testing.T) {
	// A user's own providers and models with the bootstrap `llm-router envoy` printed
	// for them, SQLite with a volume, a chart-made Secret, monitoring objects.
	var cfgValues map[string]any
	devCfg := readFile(t, "deploy", "kubernetes", "overlays", "development", "llm-router.yaml")
	require.NoError(t, sigsyaml.Unmarshal(devCfg, &cfgValues))
	boot, err := generate(parseConfig(t, "dev", devCfg), "bootstrap", "dev")
	require.NoError(t, err)
	objs, notes, err := renderChart(t, map[string]any{
		"config":  cfgValues,
		"envoy":   map[string]any{"bootstrap": string(boot)},
		"secrets": map[string]any{"create": true, "existingSecret": "", "data": map[string]any{"LLM_ROUTER_API_KEY": "k", "MOCK_UPSTREAM_KEY": "m"}},
		"storage": map[string]any{"type": "sqlite", "sqlite": map[string]any{"persistence": map[string]any{"enabled": true}}},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true},
			"prometheusRule": map[string]any{"enabled": true},
		},
		"autoscaling":         map[string]any{"enabled": false},
		"replicaCount":        1,
		"image":               map[string]any{"tag": "v9.9.9"},
		"podDisruptionBudget": map[string]any{"enabled": false},
	})
	require.NoError(t, err)
	k := kinds(objs)
	require.Equal(t, 1, k["Secret"])
	require.Equal(t, 1, k["PersistentVolumeClaim"])
	require.Equal(t, 1, k["ServiceMonitor"])
	require.Equal(t, 1, k["PrometheusRule"])
	require.Zero(t, k["HorizontalPodAutoscaler"])
	s := checkManifests(t, objs, checkOptions{pinned: true})
	checkChartBootstrap(t, s)
	require.Equal(t, "/var/lib/llm-router/llm-router.db", s.routerConfig(t).GetStorage().GetSqlitePath())
	require.NotContains(t, notes, "--set-file", "a custom bootstrap was given")
	require.EqualValues(t, 1, *s.deployments[0].Spec.Replicas)
}

func TestHelmChartIstioMode(t *testing.T) {
	objs, notes, err := renderChart(t, map[string]any{
		"mode":  "istio",
		"istio": map[string]any{"sidecar": map[string]any{"enabled": true}},
	})
	require.NoError(t, err)
	k := kinds(objs)
	require.Equal(t, 2, k["EnvoyFilter"])
	require.Equal(t, 3, k["ServiceEntry"], "api.openai.com, api.anthropic.com and the catch-all's sink")
	require.Equal(t, 2, k["DestinationRule"])
	require.Equal(t, 1, k["VirtualService"])
	require.Equal(t, 1, k["ConfigMap"], "no Envoy bootstrap in istio mode")
	require.Zero(t, k["Pod"], "no validate test pod without a bootstrap")
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}})
	checkMeshCORS(t, s)
	cfg := s.routerConfig(t)
	require.Equal(t, "0.0.0.0:50051", cfg.GetServer().GetExtprocAddress())
	require.False(t, cfg.GetServer().GetUpstreamFilter())
	require.Len(t, s.deployments[0].Spec.Template.Spec.Containers, 1, "llm-router alone")
	require.Contains(t, notes, "EnvoyFilter is tied to Istio versions")
	for _, ef := range s.envoyFilters {
		y, err := sigsyaml.JSONToYAML(ef.json())
		require.NoError(t, err)
		require.Contains(t, string(y), "outbound|50051||gw-llm-router.llm.svc.cluster.local")
	}
}

// TestHelmChartIstioCORS: istio.corsPolicy is the catch-all's corsPolicy as given, and
// null turns CORS off.
func TestHelmChartIstioCORS(t *testing.T) {
	catchAllOf := func(objs []object) httpRoute {
		t.Helper()
		s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}})
		require.Len(t, s.virtualSvcs, 1)
		routes := catchAll(s.virtualSvcs[0])
		require.Len(t, routes, 1)
		return routes[0]
	}
	objs, _, err := renderChart(t, map[string]any{"mode": "istio", "istio": map[string]any{
		"corsPolicy": map[string]any{
			"allowOrigins":     []any{map[string]any{"exact": "https://app.example.com"}},
			"allowCredentials": true,
			"maxAge":           "10m",
		},
	}})
	require.NoError(t, err)
	p := catchAllOf(objs).CorsPolicy
	require.NotNil(t, p)
	require.Equal(t, []stringMatch{{Exact: "https://app.example.com"}}, p.AllowOrigins)
	require.True(t, *p.AllowCredentials)
	require.Equal(t, "10m", p.MaxAge)
	require.Contains(t, p.ExposeHeaders, "x-request-id", "the other defaults stay")

	objs, _, err = renderChart(t, map[string]any{"mode": "istio", "istio": map[string]any{"corsPolicy": nil}})
	require.NoError(t, err)
	r := catchAllOf(objs)
	require.Nil(t, r.CorsPolicy)
	require.Len(t, r.Route, 1, "still a route")
}

func TestHelmChartRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"mode": "ambient"}, `mode must be "sidecar" or "istio"`},
		{map[string]any{"storage": map[string]any{"type": "mysql"}}, "storage.type must be postgres, sqlite or none"},
		{map[string]any{"envoy": map[string]any{"bootstrap": "static_resources: {listeners: []}\n"}}, "has no envoy.filters.http.ext_proc filter"},
		{map[string]any{"envoy": map[string]any{"bootstrap": "static_resources: [\n"}}, "envoy.bootstrap is not valid YAML"},
		{map[string]any{"storage": map[string]any{"type": "none"}}, "virtual keys need a store"},
	} {
		_, _, err := renderChart(t, tc.values)
		require.ErrorContains(t, err, tc.want)
	}
}

// TestHelmChartMismatchIsCaught shows what the validate init container catches: the
// default bootstrap with a config whose models changed.
func TestHelmChartMismatchIsCaught(t *testing.T) {
	objs, _, err := renderChart(t, map[string]any{"config": map[string]any{"models": []any{
		map[string]any{"name": "gpt-4.1", "backends": []any{map[string]any{"provider": "openai"}}},
	}}})
	require.NoError(t, err)
	var cfgYAML, boot string
	for _, o := range objs {
		if o.kind() != "ConfigMap" {
			continue
		}
		data := o.doc["data"].(map[string]any)
		if v, ok := data["config.yaml"]; ok {
			cfgYAML = v.(string)
		}
		if v, ok := data["envoy.yaml"]; ok {
			boot = v.(string)
		}
	}
	problems := envoyconfig.Validate([]byte(boot), parseConfig(t, "rendered", []byte(cfgYAML)))
	require.NotEmpty(t, problems)
	require.Contains(t, problems[0].String(), "openai.gpt-4.1")
}

func TestHelmChartWithoutStorage(t *testing.T) {
	objs, _, err := renderChart(t, map[string]any{
		"storage": map[string]any{"type": "none"},
		"config": map[string]any{"auth": map[string]any{
			"virtual_keys": false,
			"keys":         []any{map[string]any{"id": "app", "sha256": strings.Repeat("ab", 32)}},
		}},
	})
	require.NoError(t, err)
	s := checkManifests(t, objs, checkOptions{externalSecrets: []string{"llm-router-secrets"}})
	require.Nil(t, s.routerConfig(t).GetStorage())
	serve, _ := serveContainer(&s.deployments[0].Spec.Template.Spec)
	for _, e := range serve.Env {
		require.NotEqual(t, "LLM_ROUTER_POSTGRES_DSN", e.Name, "no DSN without PostgreSQL")
	}
}
