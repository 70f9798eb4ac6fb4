// Package all lists every provider adapter and input schema llm-router ships. Adding a
// provider means adding its folder under pkg/provider and one line here.
package all

import (
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/anthropic"
	"github.com/llm-router/llm-router/pkg/provider/azure"
	"github.com/llm-router/llm-router/pkg/provider/bedrock"
	"github.com/llm-router/llm-router/pkg/provider/cohere"
	"github.com/llm-router/llm-router/pkg/provider/gemini"
	"github.com/llm-router/llm-router/pkg/provider/mock"
	"github.com/llm-router/llm-router/pkg/provider/openai"
)

// Registry returns a registry with every provider kind.
func Registry() *provider.Registry {
	r := provider.NewRegistry()
	openai.Register(r) // openai and the OpenAI-compatible presets (groq, mistral, ollama, …)
	azure.Register(r)
	anthropic.Register(r) // anthropic, vertex-anthropic
	gemini.Register(r)    // gemini, vertex-ai
	bedrock.Register(r)   // bedrock (Converse), bedrock-anthropic (InvokeModel)
	cohere.Register(r)
	mock.Register(r)
	return r
}

// Frontends returns the client-facing input schemas.
func Frontends() map[provider.Schema]provider.Frontend {
	return map[provider.Schema]provider.Frontend{
		provider.SchemaOpenAI:    openai.Frontend{},
		provider.SchemaAnthropic: anthropic.NewFrontend(),
	}
}
