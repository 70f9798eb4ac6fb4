package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExamples loads and validates every example configuration shipped in the
// repository, without resolving secrets (the CI has no provider keys).
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yml"))
	require.NoError(t, err)
	files = append(files, more...)
	require.GreaterOrEqual(t, len(files), 3)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f, Options{Kinds: testKinds})
			require.NoError(t, err)
			require.NotEmpty(t, cfg.Providers)
			require.NotEmpty(t, cfg.Models)
		})
	}
}

func TestProductionExample(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "production.yaml"), Options{Kinds: testKinds})
	require.NoError(t, err)
	require.True(t, cfg.Server.UpstreamFilter)
	require.Equal(t, "unix:///var/run/llm-router/extproc.sock", cfg.Server.ExtprocAddress)
	kinds := map[string]bool{}
	for _, p := range cfg.Providers {
		kinds[p.Kind] = true
	}
	for _, k := range []string{"openai", "azure-openai", "anthropic", "gemini", "bedrock", "groq"} {
		require.True(t, kinds[k], k)
	}
	require.Equal(t, "bedrock-us.claude-sonnet-4-5", cfg.Models[1].Backends[1].Name)
	require.NotEmpty(t, cfg.Auth.Keys[0].Sha256)
}
