package config

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestHash(t *testing.T) {
	a := []byte(`
providers:
  - name: openai
    kind: openai
    headers: {A: "1", B: "2", C: "3"}
models: [{name: m, backends: [{provider: openai}]}]
server: {drain_timeout: 30s}
`)
	// Same config: other key order, camelCase, flow style, an explicit default.
	b := []byte(`
server: {drainTimeout: 0.5m}
models:
  - backends:
      - provider: openai
        weight: 1
    name: m
providers: [{kind: openai, name: openai, headers: {C: "3", A: "1", B: "2"}}]
`)
	ca, err := Parse(a, Options{})
	require.NoError(t, err)
	cb, err := Parse(b, Options{})
	require.NoError(t, err)
	ha := Hash(ca)
	require.Len(t, ha, 64)
	require.Equal(t, ha, Hash(cb))
	require.Equal(t, ha, Hash(ca), "stable")

	cb.Providers[0].Headers["C"] = "4"
	require.NotEqual(t, ha, Hash(cb))

	require.Equal(t, Hash(nil), Hash(&configv1.Config{}))

	// protojson refuses this duration; Hash falls back to deterministic binary.
	bad := &configv1.Config{Server: &configv1.Server{DrainTimeout: &durationpb.Duration{Seconds: 1, Nanos: -5}}}
	hb := Hash(bad)
	require.Len(t, hb, 64)
	require.Equal(t, hb, Hash(bad))
	require.NotEqual(t, Hash(nil), hb)
}
