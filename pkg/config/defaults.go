package config

import (
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Defaults documented in config.proto.
const (
	DefaultExtprocAddress      = "127.0.0.1:50051"
	DefaultAdminAddress        = "127.0.0.1:9090"
	DefaultListenAddress       = "127.0.0.1:8080"
	DefaultMaxRequestBodyBytes = 4 << 20
	DefaultDrainTimeout        = 30 * time.Second
	DefaultConnectTimeout      = 5 * time.Second
	DefaultTotalTimeout        = 300 * time.Second
	DefaultAnthropicVersion    = "2023-06-01"
	DefaultMaxTokens           = 4096
	DefaultStrategy            = StrategyPriority
	DefaultBackendWeight       = 1
	DefaultLogLevel            = "info"
	DefaultLogFormat           = "json"
)

// Strategies that pick among candidates of equal priority (models[].strategy).
const (
	// StrategyPriority takes the first listed candidate.
	StrategyPriority = "priority"
	// StrategyWeighted picks at random in proportion to backends[].weight.
	StrategyWeighted = "weighted"
	// StrategyRoundRobin takes the candidates in turn.
	StrategyRoundRobin = "round_robin"
)

// anthropicKinds are the provider kinds that speak the Anthropic Messages API
// and so need an anthropic-version and a max_tokens default.
var anthropicKinds = map[string]bool{"anthropic": true, "vertex-anthropic": true, "bedrock": true}

// BackendName is the default backend name "<provider>.<model>" with every
// character outside [A-Za-z0-9._-] replaced by "-", as the Envoy conventions
// require (the name is a header value and part of a cluster name).
func BackendName(provider, model string) string {
	return SanitizeName(provider + "." + model)
}

// SanitizeName replaces every character (rune) outside [A-Za-z0-9._-] by "-".
func SanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if validNameRune(r) {
			return r
		}
		return '-'
	}, s)
}

func validNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// ApplyDefaults fills every unset field that has a documented default, in
// place. It never overrides a value that is set and is idempotent.
func ApplyDefaults(cfg *configv1.Config) {
	if cfg == nil {
		return
	}
	if cfg.Server == nil {
		cfg.Server = &configv1.Server{}
	}
	s := cfg.Server
	setString(&s.ExtprocAddress, DefaultExtprocAddress)
	setString(&s.AdminAddress, DefaultAdminAddress)
	setString(&s.ListenAddress, DefaultListenAddress)
	if s.MaxRequestBodyBytes == 0 {
		s.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	setDuration(&s.DrainTimeout, DefaultDrainTimeout)
	applyCORSDefaults(s)

	for _, p := range cfg.Providers {
		if p.Timeouts == nil {
			p.Timeouts = &configv1.Timeouts{}
		}
		setDuration(&p.Timeouts.Connect, DefaultConnectTimeout)
		setDuration(&p.Timeouts.Total, DefaultTotalTimeout)
		if p.Anthropic == nil && anthropicKinds[p.Kind] {
			p.Anthropic = &configv1.Anthropic{}
		}
		if a := p.Anthropic; a != nil {
			setString(&a.Version, DefaultAnthropicVersion)
			if a.DefaultMaxTokens == 0 {
				a.DefaultMaxTokens = DefaultMaxTokens
			}
		}
	}

	for _, m := range cfg.Models {
		setString(&m.Strategy, DefaultStrategy)
		for _, b := range m.Backends {
			setString(&b.Model, m.Name)
			setString(&b.Name, BackendName(b.Provider, b.Model))
			if b.Weight == 0 {
				b.Weight = DefaultBackendWeight
			}
		}
	}

	if cfg.Logging == nil {
		cfg.Logging = &configv1.Logging{}
	}
	setString(&cfg.Logging.Level, DefaultLogLevel)
	setString(&cfg.Logging.Format, DefaultLogFormat)

	if cfg.Translation == nil {
		cfg.Translation = &configv1.Translation{}
	}
	if cfg.Translation.DefaultMaxTokens == 0 {
		cfg.Translation.DefaultMaxTokens = DefaultMaxTokens
	}
}

func setString(dst *string, def string) {
	if *dst == "" {
		*dst = def
	}
}

func setDuration(dst **durationpb.Duration, def time.Duration) {
	if *dst == nil {
		*dst = durationpb.New(def)
	}
}

// Default is the configuration `llm-router run` uses when given none: a mock
// provider (kind "mock" with an empty base_url, which the run command points at
// its built-in mock server) serving models "mock" and "mock-embed", plus a real
// provider and a few models for each of OPENAI_API_KEY, ANTHROPIC_API_KEY and
// GEMINI_API_KEY that is set in env (nil means os.Getenv). Keys are referenced
// as "${OPENAI_API_KEY}" and so on, never copied. Callers are not
// authenticated, and listeners bind to loopback only. Defaults are applied.
func Default(env func(string) string) *configv1.Config {
	if env == nil {
		env = os.Getenv
	}
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "mock", Kind: "mock"}},
		Models: []*configv1.Model{
			{Name: "mock", Backends: []*configv1.Backend{{Provider: "mock"}}},
			{Name: "mock-embed", Backends: []*configv1.Backend{{Provider: "mock"}}},
		},
		Auth: &configv1.Auth{AllowUnauthenticated: true},
	}
	presets := []struct {
		envVar, name, kind, baseURL string
		models                      []string
	}{
		{"OPENAI_API_KEY", "openai", "openai", "https://api.openai.com",
			[]string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}},
		{"ANTHROPIC_API_KEY", "anthropic", "anthropic", "https://api.anthropic.com",
			[]string{"claude-sonnet-4-5", "claude-haiku-4-5"}},
		{"GEMINI_API_KEY", "gemini", "gemini", "https://generativelanguage.googleapis.com",
			[]string{"gemini-2.5-flash", "gemini-2.5-pro"}},
	}
	for _, p := range presets {
		if env(p.envVar) == "" {
			continue
		}
		cfg.Providers = append(cfg.Providers, &configv1.Provider{
			Name: p.name, Kind: p.kind, BaseUrl: p.baseURL, ApiKey: "${" + p.envVar + "}",
		})
		for _, m := range p.models {
			cfg.Models = append(cfg.Models, &configv1.Model{
				Name: m, Backends: []*configv1.Backend{{Provider: p.name}},
			})
		}
	}
	ApplyDefaults(cfg)
	return cfg
}
