package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestApplyDefaults(t *testing.T) {
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{
			{Name: "anthropic", Kind: "anthropic"},
			{Name: "openai", Kind: "openai", Timeouts: &configv1.Timeouts{Connect: durationpb.New(time.Second)}},
			{Name: "bedrock", Kind: "bedrock"},
		},
		Models: []*configv1.Model{{
			Name: "claude",
			Backends: []*configv1.Backend{
				{Provider: "anthropic"},
				{Provider: "bedrock", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Weight: 5},
				{Provider: "openai", Name: "explicit"},
			},
		}},
	}
	ApplyDefaults(cfg)

	s := cfg.Server
	require.Equal(t, "127.0.0.1:50051", s.ExtprocAddress)
	require.Equal(t, "127.0.0.1:9090", s.AdminAddress)
	require.Equal(t, "127.0.0.1:8080", s.ListenAddress)
	require.EqualValues(t, 4<<20, s.MaxRequestBodyBytes)
	require.Equal(t, 30*time.Second, s.DrainTimeout.AsDuration())

	require.Equal(t, 5*time.Second, cfg.Providers[0].Timeouts.Connect.AsDuration())
	require.Equal(t, 300*time.Second, cfg.Providers[0].Timeouts.Total.AsDuration())
	require.Nil(t, cfg.Providers[0].Timeouts.FirstByte, "no documented default")
	require.Equal(t, time.Second, cfg.Providers[1].Timeouts.Connect.AsDuration(), "set values are kept")
	require.Equal(t, "2023-06-01", cfg.Providers[0].Anthropic.Version)
	require.EqualValues(t, 4096, cfg.Providers[0].Anthropic.DefaultMaxTokens)
	require.NotNil(t, cfg.Providers[2].Anthropic, "bedrock serves Claude")
	require.Nil(t, cfg.Providers[1].Anthropic, "openai has no Anthropic settings")

	m := cfg.Models[0]
	require.Equal(t, "priority", m.Strategy)
	require.Equal(t, "claude", m.Backends[0].Model)
	require.Equal(t, "anthropic.claude", m.Backends[0].Name)
	require.EqualValues(t, 1, m.Backends[0].Weight)
	require.Equal(t, "bedrock.us.anthropic.claude-sonnet-4-5-20250929-v1-0", m.Backends[1].Name)
	require.EqualValues(t, 5, m.Backends[1].Weight)
	require.Equal(t, "explicit", m.Backends[2].Name)

	require.Equal(t, "info", cfg.Logging.Level)
	require.Equal(t, "json", cfg.Logging.Format)
	require.EqualValues(t, 4096, cfg.Translation.DefaultMaxTokens)

	again := proto.Clone(cfg).(*configv1.Config)
	ApplyDefaults(again)
	require.True(t, proto.Equal(cfg, again), "idempotent")
	ApplyDefaults(nil)
}

func TestBackendName(t *testing.T) {
	tests := []struct{ provider, model, want string }{
		{"openai", "gpt-4o", "openai.gpt-4o"},
		{"bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock.anthropic.claude-3-5-sonnet-20240620-v1-0"},
		{"together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together.meta-llama-Llama-3.3-70B-Instruct-Turbo"},
		{"x", "modèle é", "x.mod-le--"},
		{"my_provider", "a b\tc", "my_provider.a-b-c"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, BackendName(tt.provider, tt.model))
		require.True(t, validName(tt.want))
	}
}

func TestDefault(t *testing.T) {
	t.Run("mock only", func(t *testing.T) {
		cfg := Default(mapEnv(nil))
		require.Len(t, cfg.Providers, 1)
		require.Equal(t, "mock", cfg.Providers[0].Kind)
		require.Empty(t, cfg.Providers[0].BaseUrl, "run fills in its mock server")
		require.Equal(t, []string{"mock", "mock-embed"}, modelNames(cfg))
		require.Equal(t, "mock.mock-embed", cfg.Models[1].Backends[0].Name)
		require.True(t, cfg.Auth.AllowUnauthenticated)
		require.Empty(t, Validate(cfg, testKinds))
	})
	t.Run("every key", func(t *testing.T) {
		env := mapEnv(map[string]string{
			"OPENAI_API_KEY": "sk-openai-value", "ANTHROPIC_API_KEY": "sk-ant-value", "GEMINI_API_KEY": "gemini-value",
		})
		cfg := Default(env)
		require.Empty(t, Validate(cfg, testKinds))
		var kinds, keys []string
		for _, p := range cfg.Providers {
			kinds = append(kinds, p.Kind)
			keys = append(keys, p.ApiKey)
		}
		require.Equal(t, []string{"mock", "openai", "anthropic", "gemini"}, kinds)
		require.Equal(t, []string{"", "${OPENAI_API_KEY}", "${ANTHROPIC_API_KEY}", "${GEMINI_API_KEY}"}, keys)
		require.Subset(t, modelNames(cfg), []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "claude-sonnet-4-5", "gemini-2.5-flash"})
		js, err := protojson.Marshal(cfg)
		require.NoError(t, err)
		require.NotContains(t, string(js), "value", "the config references keys, never copies them")
		resolved, err := ResolveAll(cfg, env)
		require.NoError(t, err)
		require.Equal(t, "sk-ant-value", resolved.Providers[2].ApiKey)
	})
	t.Run("only anthropic", func(t *testing.T) {
		cfg := Default(mapEnv(map[string]string{"ANTHROPIC_API_KEY": "x"}))
		require.Len(t, cfg.Providers, 2)
		require.Equal(t, "2023-06-01", cfg.Providers[1].Anthropic.Version)
	})
	t.Run("os env", func(t *testing.T) {
		t.Setenv("OPENAI_API_KEY", "")
		t.Setenv("ANTHROPIC_API_KEY", "")
		t.Setenv("GEMINI_API_KEY", "set")
		cfg := Default(nil)
		require.Equal(t, "gemini", cfg.Providers[len(cfg.Providers)-1].Name)
	})
}

func modelNames(cfg *configv1.Config) []string {
	var out []string
	for _, m := range cfg.Models {
		out = append(out, m.Name)
	}
	return out
}

func TestSanitizeName(t *testing.T) {
	require.Equal(t, "a-b", SanitizeName("a/b"))
	require.Equal(t, strings.Repeat("-", 3), SanitizeName("日本語"))
}
