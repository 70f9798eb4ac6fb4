package app

import (
	"github.com/llm-router/llm-router/pkg/envoyconfig"
	"github.com/llm-router/llm-router/pkg/provider/all"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// EnvoyYAML renders the Envoy bootstrap (or, with istio, the Istio EnvoyFilter) for cfg.
func EnvoyYAML(cfg *configv1.Config, listen string, istio bool) ([]byte, error) {
	opts := envoyconfig.Options{ListenAddress: listen, DefaultBaseURL: all.Registry().DefaultBaseURL}
	if istio {
		return envoyconfig.GenerateEnvoyFilter(cfg, opts)
	}
	b, err := envoyconfig.Generate(cfg, opts)
	if err != nil {
		return nil, err
	}
	return envoyconfig.RenderYAML(b)
}
