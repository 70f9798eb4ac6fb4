package openai

import (
	"fmt"

	"github.com/llm-router/llm-router/pkg/provider"
)

// Preset is an OpenAI-compatible provider kind with its documented base URL.
type Preset struct {
	// Kind is the registry kind (config providers[].kind).
	Kind string
	// DefaultBaseURL is used when the config sets no base_url; empty means base_url
	// is required (self-hosted servers).
	DefaultBaseURL string
	// Dialect describes the server's deviations from OpenAI.
	Dialect Dialect
}

// Presets returns the OpenAI-compatible kinds this package registers. Base URLs are
// the ones each provider documents for OpenAI SDKs.
func Presets() []Preset {
	var (
		// OpenAI and Groq take max_completion_tokens (OpenAI's reasoning models
		// reject max_tokens); the others document max_tokens.
		dialectOpenAI = Dialect{MaxTokensField: "max_completion_tokens"}
		dialectPlain  = Dialect{MaxTokensField: "max_tokens"}
		dialectTopK   = Dialect{MaxTokensField: "max_tokens", TopK: true}
	)
	return []Preset{
		{Kind: "openai", DefaultBaseURL: "https://api.openai.com/v1", Dialect: dialectOpenAI},
		{Kind: "groq", DefaultBaseURL: "https://api.groq.com/openai/v1", Dialect: dialectOpenAI},
		{Kind: "mistral", DefaultBaseURL: "https://api.mistral.ai/v1", Dialect: dialectPlain},
		// DeepSeek documents https://api.deepseek.com and accepts /v1 as an alias.
		{Kind: "deepseek", DefaultBaseURL: "https://api.deepseek.com", Dialect: dialectPlain},
		{Kind: "together", DefaultBaseURL: "https://api.together.xyz/v1", Dialect: dialectTopK},
		{Kind: "xai", DefaultBaseURL: "https://api.x.ai/v1", Dialect: dialectPlain},
		{Kind: "openrouter", DefaultBaseURL: "https://openrouter.ai/api/v1", Dialect: dialectTopK},
		// Self-hosted vLLM: base_url required (e.g. http://vllm:8000).
		{Kind: "vllm", Dialect: dialectTopK},
		{Kind: "ollama", DefaultBaseURL: "http://localhost:11434/v1", Dialect: dialectPlain},
		{Kind: "lmstudio", DefaultBaseURL: "http://localhost:1234/v1", Dialect: dialectTopK},
		// Self-hosted Text Generation Inference or a Hugging Face Inference Endpoint
		// (https://<name>.endpoints.huggingface.cloud): base_url required; served by
		// TGI's Messages API at /v1/chat/completions.
		{Kind: "tgi", Dialect: dialectPlain},
		// Hugging Face Inference Providers router.
		{Kind: "huggingface", DefaultBaseURL: "https://router.huggingface.co/v1", Dialect: dialectPlain},
	}
}

// Register adds every preset kind to r.
func Register(r *provider.Registry) {
	for _, p := range Presets() {
		r.Register(p.Kind, Factory(p))
	}
}

// Factory returns the registry factory for a preset. It fills Settings.BaseURL with
// the preset's default, so the gateway sees the effective upstream address.
func Factory(p Preset) provider.Factory {
	return func(s provider.Settings) (*provider.Adapter, error) {
		if s.BaseURL == "" {
			if p.DefaultBaseURL == "" {
				return nil, fmt.Errorf("kind %q has no default base_url; set base_url", p.Kind)
			}
			s.BaseURL = p.DefaultBaseURL
		}
		b, err := NewBackend(Config{BaseURL: s.BaseURL, APIKey: s.APIKey, Headers: s.Headers, Dialect: p.Dialect})
		if err != nil {
			return nil, err
		}
		return &provider.Adapter{Settings: s, Backend: b, Signer: b.Signer()}, nil
	}
}
