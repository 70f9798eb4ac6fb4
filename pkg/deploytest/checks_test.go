package deploytest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a tester that collects failures instead of failing the test, so that
// the checks themselves can be shown to fail on broken manifests.
type recorder struct{ problems []string }

type stop struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}
func (r *recorder) FailNow() { panic(stop{}) }

// record runs f on a recorder and returns what it reported.
func record(f func(t tester)) (problems []string) {
	r := &recorder{}
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stop); !ok {
				panic(v)
			}
		}
		problems = r.problems
	}()
	f(r)
	return r.problems
}

// podSpec returns the pod spec of the named Deployment in a generic object set.
func podSpec(objs []object, name string) map[string]any {
	for _, o := range objs {
		if o.kind() == "Deployment" && o.name() == name {
			return podSpecOf(o.doc)
		}
	}
	panic("no Deployment " + name)
}

func containerNamed(spec map[string]any, key, name string) map[string]any {
	for _, c := range spec[key].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no container " + name)
}

func objectNamed(objs []object, kind, name string) map[string]any {
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o.doc
		}
	}
	panic("no " + kind + " " + name)
}

// TestChecksCatchMistakes breaks a correct build in one place at a time and requires
// the checks to report it.
func TestChecksCatchMistakes(t *testing.T) {
	external := checkOptions{externalSecrets: []string{"llm-router-secrets"}}
	otherBootstrap, err := generate(loadConfig(t, "deploy", "istio", "llm-router.yaml"), "sidecar", "x")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		dir    string
		opts   checkOptions
		break_ func(objs []object)
		want   string
	}{
		{
			name: "socket not shared", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				envoy := containerNamed(podSpec(objs, "llm-router"), "containers", "envoy")
				envoy["volumeMounts"].([]any)[0].(map[string]any)["mountPath"] = "/run/other"
			},
			want: "must mount the socket directory",
		},
		{
			name: "not a native sidecar", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				delete(containerNamed(podSpec(objs, "llm-router"), "initContainers", "llm-router"), "restartPolicy")
			},
			want: "must be a native sidecar",
		},
		{
			name: "bootstrap of another config", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				objectNamed(objs, "ConfigMap", "llm-router-envoy")["data"].(map[string]any)["envoy.yaml"] = string(otherBootstrap)
			},
			want: "missing cluster llm_router.anthropic.claude-haiku-4-5",
		},
		{
			name: "writable root filesystem", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				envoy := containerNamed(podSpec(objs, "llm-router"), "containers", "envoy")
				envoy["securityContext"].(map[string]any)["readOnlyRootFilesystem"] = false
			},
			want: "container envoy: readOnlyRootFilesystem",
		},
		{
			name: "service port without container port", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				svc := objectNamed(objs, "Service", "llm-router")
				svc["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["targetPort"] = "https"
			},
			want: "port https is not a container port",
		},
		{
			name: "HPA target missing", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				hpa := objectNamed(objs, "HorizontalPodAutoscaler", "llm-router")
				hpa["spec"].(map[string]any)["scaleTargetRef"].(map[string]any)["name"] = "gateway"
			},
			want: "target Deployment/gateway not found",
		},
		{
			name: "unknown field", dir: "deploy/kubernetes/base", opts: external,
			break_: func(objs []object) {
				objectNamed(objs, "PodDisruptionBudget", "llm-router")["spec"].(map[string]any)["minAvailible"] = 1
			},
			want: `unknown field "minAvailible"`,
		},
		{
			name: "secret reference without env", dir: "deploy/kubernetes/overlays/development",
			break_: func(objs []object) {
				cm := objectNamed(objs, "ConfigMap", "llm-router-config")["data"].(map[string]any)
				cm["config.yaml"] = strings.Replace(cm["config.yaml"].(string), "${MOCK_UPSTREAM_KEY}", "${MOCK_KEY_TYPO}", 1)
			},
			want: "references ${MOCK_KEY_TYPO}, which no env var or Secret provides",
		},
		{
			name: "unpinned image", dir: "deploy/kubernetes/overlays/production",
			opts: checkOptions{externalSecrets: []string{"llm-router-secrets"}, pinned: true},
			break_: func(objs []object) {
				containerNamed(podSpec(objs, "llm-router"), "containers", "envoy")["image"] = "envoyproxy/envoy:latest"
			},
			want: `image "envoyproxy/envoy:latest" must be pinned`,
		},
		{
			name: "virtual service misses a backend", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				vs := objectNamed(objs, "VirtualService", "llm-router")["spec"].(map[string]any)
				vs["http"] = vs["http"].([]any)[1:]
			},
			want: "no VirtualService route for backend openai.gpt-4o-mini",
		},
		{
			// The catch-all as it was: a directResponse, which Envoy's CORS filter skips.
			name: "CORS on a direct response", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				routes := objectNamed(objs, "VirtualService", "llm-router")["spec"].(map[string]any)["http"].([]any)
				last := routes[len(routes)-1].(map[string]any)
				delete(last, "route")
				last["directResponse"] = map[string]any{"status": 404}
			},
			want: "Envoy's CORS filter ignores a route without a route entry",
		},
		{
			name: "CORS on a backend route", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				routes := objectNamed(objs, "VirtualService", "llm-router")["spec"].(map[string]any)["http"].([]any)
				last := routes[len(routes)-1].(map[string]any)
				routes[0].(map[string]any)["corsPolicy"] = last["corsPolicy"]
				delete(last, "corsPolicy")
			},
			want: "its corsPolicy is never applied",
		},
		{
			name: "catch-all to a provider", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				routes := objectNamed(objs, "VirtualService", "llm-router")["spec"].(map[string]any)["http"].([]any)
				dst := routes[len(routes)-1].(map[string]any)["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)
				dst["host"] = "api.openai.com"
			},
			want: "must not go to provider api.openai.com",
		},
		{
			name: "credentials for any origin", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				routes := objectNamed(objs, "VirtualService", "llm-router")["spec"].(map[string]any)["http"].([]any)
				routes[len(routes)-1].(map[string]any)["corsPolicy"].(map[string]any)["allowCredentials"] = true
			},
			want: "allows credentials for any origin",
		},
		{
			name: "TLS origination without SNI", dir: "deploy/istio", opts: external,
			break_: func(objs []object) {
				dr := objectNamed(objs, "DestinationRule", "openai")["spec"].(map[string]any)
				tls := dr["trafficPolicy"].(map[string]any)["portLevelSettings"].([]any)[0].(map[string]any)["tls"].(map[string]any)
				delete(tls, "sni")
			},
			want: "TLS origination must send SNI api.openai.com",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := kustomizeBuild(t, tc.dir)
			require.Empty(t, record(func(r tester) { checkManifests(r, objs, tc.opts) }), "the unbroken build must pass")
			tc.break_(objs)
			problems := record(func(r tester) { checkManifests(r, objs, tc.opts) })
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}
