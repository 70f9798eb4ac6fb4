package envoyconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

var update = flag.Bool("update", false, "regenerate the shipped Envoy files under envoy/")

// envoyDir holds the shipped bootstraps and the configs they are generated from.
const envoyDir = "../../envoy"

// shipped lists every generated file under envoy/ with the config and options that
// produce it. The configs are kept next to the outputs so that each pair stays
// consistent: regenerate with `go test ./pkg/envoyconfig -run TestShipped -update`.
func shipped() []struct {
	out, config string
	opts        Options
	istio       bool
} {
	return []struct {
		out, config string
		opts        Options
		istio       bool
	}{
		{out: "envoy.yaml", config: "llm-router.yaml"},
		{out: "envoy-router-only.yaml", config: "llm-router-router-only.yaml"},
		{out: "envoy-ratelimit.yaml", config: "llm-router.yaml", opts: Options{
			RateLimit: &RateLimitOptions{ServiceAddress: "ratelimit:8081"},
		}},
		{out: "istio-envoyfilter.yaml", config: "llm-router.yaml", istio: true, opts: Options{
			Istio: IstioOptions{ExtprocAddress: "llm-router.llm-router.svc.cluster.local:50051"},
		}},
	}
}

func TestShippedFilesAreGenerated(t *testing.T) {
	for _, tc := range shipped() {
		t.Run(tc.out, func(t *testing.T) {
			cfg := loadConfig(t, filepath.Join(envoyDir, tc.config))
			var got []byte
			var err error
			if tc.istio {
				got, err = GenerateEnvoyFilter(cfg, tc.opts)
			} else {
				b, gerr := Generate(cfg, tc.opts)
				require.NoError(t, gerr)
				got, err = RenderYAML(b)
			}
			require.NoError(t, err)
			path := filepath.Join(envoyDir, tc.out)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "%s is stale: run go test ./pkg/envoyconfig -run TestShipped -update", path)
		})
	}
}

// TestEveryEnvoyFileValidates walks envoy/ so that any YAML added there is covered:
// llm-router configs must parse strictly; every other file must validate, against its
// config when it is a known generated file and structurally otherwise.
func TestEveryEnvoyFileValidates(t *testing.T) {
	configFor := map[string]string{}
	for _, tc := range shipped() {
		configFor[tc.out] = tc.config
	}
	entries, err := os.ReadDir(envoyDir)
	require.NoError(t, err)
	seen := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(envoyDir, name))
			require.NoError(t, err)
			if strings.HasPrefix(name, "llm-router") {
				_, err := parseConfig(data)
				require.NoError(t, err)
				return
			}
			var cfg = loadConfigOrNil(t, configFor[name])
			require.Empty(t, Validate(data, cfg))
		})
	}
	require.GreaterOrEqual(t, seen, 4)
}

func loadConfigOrNil(t *testing.T, name string) *configv1.Config {
	if name == "" {
		return nil
	}
	return loadConfig(t, filepath.Join(envoyDir, name))
}
