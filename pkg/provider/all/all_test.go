package all

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider"
)

func TestEveryShippedKindIsRegistered(t *testing.T) {
	r := Registry()
	for _, kind := range []string{
		"openai", "azure-openai", "anthropic", "vertex-anthropic", "gemini", "vertex-ai", "bedrock", "bedrock-anthropic",
		"cohere", "mock", "groq", "mistral", "deepseek", "together", "xai", "openrouter", "vllm", "ollama", "lmstudio", "tgi", "huggingface",
	} {
		require.True(t, r.Has(kind), kind)
	}
	require.Equal(t, "http://localhost:11434", trimV1(r.DefaultBaseURL("ollama")))
	f := Frontends()
	require.Equal(t, provider.SchemaOpenAI, f[provider.SchemaOpenAI].Schema())
	require.Equal(t, provider.SchemaAnthropic, f[provider.SchemaAnthropic].Schema())
}

func trimV1(u string) string {
	if len(u) > 3 && u[len(u)-3:] == "/v1" {
		return u[:len(u)-3]
	}
	return u
}
