package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// testKinds are the provider kinds the examples and fixtures may use.
var testKinds = []string{
	"openai", "azure-openai", "anthropic", "gemini", "vertex-ai", "vertex-anthropic",
	"bedrock", "cohere", "ollama", "mock", "groq", "mistral", "deepseek", "together",
	"xai", "openrouter", "vllm", "lmstudio", "tgi", "huggingface",
}

func TestValidateFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    []want
	}{
		{"validate/names.yaml", []want{
			{"providers[1].name", `duplicate provider name "openai" (first defined at providers[0])`, 4},
			{"providers[2].name", "is required", 6},
			{"providers[3].name", `"my provider" must contain only letters, digits, '.', '_' and '-'`, 8},
			{"models[0].aliases[1]", "must not be empty", 12},
			{"models[1].name", `model name "gpt4" is already used by models[0].aliases[0]`, 15},
			{"models[2].aliases[0]", `model name "gpt-4o" is already used by models[0].name`, 20},
			{"models[2].aliases[1]", `model name "other" is already used by models[2].name`, 20},
			{"models[3].name", "is required", 24},
		}},
		{"validate/backends.yaml", []want{
			{"models[0].backends[1].name", `derived backend name "openai.gpt-4o" is already used by models[0].backends[0]; give one of them an explicit name`, 9},
			{"models[1].backends[1].name", `backend name "custom" is already used by models[1].backends[0]`, 18},
			{"models[1].backends[2].name", `"bad name!" must contain only`, 20},
			{"models[2].backends", "at least one backend is required", 22},
			{"models[3].strategy", `unknown strategy "random" (want one of priority, weighted, round_robin, least_inflight, lowest_latency, lowest_cost)`, 24},
			{"models[3].backends[0].provider", `unknown provider "anthropic" (defined: openai)`, 26},
			{"models[3].backends[1].provider", "is required", 27},
			{"models[4].backends[0].name", `backend name "custom" is already used by models[1].backends[0] for another provider or model`, 32},
		}},
		{"validate/chains.yaml", []want{
			{"models[1].backends[0].name", `derived backend name "anthropic.claude-sonnet-4-5" is also used by models[0].backends[1] with a different fallback chain; with server.upstream_filter each backend's Envoy cluster holds one chain, so give one of them an explicit name`, 17},
		}},
		{"validate/kinds.yaml", []want{
			{"providers[0].kind", `unknown provider kind "opnai" (known: anthropic, azure-openai, bedrock, cohere, deepseek, gemini, groq, huggingface, lmstudio, mistral, mock, ollama, openai, openrouter, tgi, together, vertex-ai, vertex-anthropic, vllm, xai)`, 3},
			{"providers[1].kind", "is required", 4},
			{"providers[2].base_url", "is required for kind azure-openai", 5},
			{"providers[3].aws.region", "is required for kind bedrock", 10},
			{"providers[3].aws.secret_access_key", "is required when access_key_id is set", 10},
			{"providers[3].aws.role_arn", "must be an ARN", 11},
			{"providers[4].gcp.project", "is required for kind vertex-ai", 15},
			{"providers[5].gcp.location", "is required for kind vertex-anthropic", 19},
			{"providers[6].aws.access_key_id", "is required when secret_access_key is set", 23},
			{"providers[7].aws.session_token", "needs access_key_id and secret_access_key", 29},
		}},
		{"validate/urls.yaml", []want{
			{"providers[0].base_url", "URL scheme must be http or https", 2},
			{"providers[1].base_url", "URL has no host", 3},
			{"providers[2].base_url", "URL must not contain credentials; use api_key", 4},
			{"providers[3].base_url", "URL must not have a query or fragment", 5},
			{"providers[4].base_url", "URL has an invalid port", 6},
			{"providers[5].base_url", "invalid URL", 7},
		}},
		{"validate/addresses.yaml", []want{
			{"server.extproc_address", `invalid address "localhost" (want host:port or unix:///path)`, 2},
			{"server.admin_address", `invalid unix socket address "unix://relative.sock" (want unix:///absolute/path)`, 3},
			{"server.listen_address", `invalid port in "127.0.0.1:99999" (want 0-65535)`, 4},
		}},
		{"validate/addresses_more.yaml", []want{
			{"server.extproc_address", `invalid host in "bad_host!:50051"`, 2},
			{"server.admin_address", `"127.0.0.1:8080" is also server.listen_address (its default)`, 3},
			{"server.drain_timeout", "must not be negative", 4},
		}},
		{"validate/timeouts.yaml", []want{
			{"providers[0].timeouts.connect", "must be positive (omit it for the default)", 5},
			{"providers[0].timeouts.first_byte", "is longer than timeouts.total", 6},
			{"providers[0].timeouts.stream_idle", "must not be negative", 8},
		}},
		{"validate/keys.yaml", []want{
			{"auth.keys[0]", "set either key or sha256, not both", 9},
			{"auth.keys[1]", "one of key or sha256 is required", 12},
			{"auth.keys[2].sha256", "must be 64 lowercase hex characters", 14},
			{"auth.keys[3].sha256", "must be 64 lowercase hex characters", 16},
			{"auth.keys[4].models[2]", `unknown model "nope"`, 19},
			{"auth.keys[5].id", `duplicate key id "ok" (first defined at auth.keys[4])`, 20},
			{"auth.keys[5].sha256", "same key as auth.keys[4]", 21},
			{"auth.keys[6].id", "is required", 22},
		}},
		{"validate/admin.yaml", []want{
			{"admin.public_url", "URL scheme must be http or https", 2},
			{"admin.tokens[1].id", `duplicate token id "ops" (first defined at admin.tokens[0])`, 6},
			{"admin.tokens[1].sha256", "must be 64 lowercase hex characters", 7},
			{"admin.tokens[2].id", "is required", 8},
			{"admin.tokens[2].sha256", "must be 64 lowercase hex characters", 8},
		}},
		{"validate/logging.yaml", []want{
			{"logging.level", `unknown log level "verbose" (want one of debug, info, warn, error)`, 2},
			{"logging.format", `unknown log format "text" (want one of json, console)`, 3},
		}},
		{"validate/secrets.yaml", []want{
			{"providers[0].api_key", `malformed secret reference: "${" without a closing "}"`, 4},
			{`providers[0].headers["Authorization"]`, "malformed secret reference: the name inside ${...} must be letters, digits and underscores", 6},
			{`providers[0].headers["Bad Header"]`, "invalid header name", 7},
			{`providers[0].headers[":authority"]`, "pseudo-headers cannot be set", 8},
			{`providers[0].headers["X-Multi"]`, "header value must not contain line breaks or NUL", 10},
			{"providers[1].api_key", `"file:" reference has no path`, 13},
			{"providers[1].gcp.credentials_file", `"${" without a closing "}"`, 17},
			{"auth.keys[0].key", `"${" without a closing "}"`, 21},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			cfg, err := Parse(readFixture(t, tt.fixture), Options{Kinds: testKinds})
			require.Nil(t, cfg)
			requireProblems(t, err, tt.want)
		})
	}
}

func TestValidateDoesNotQuoteSecrets(t *testing.T) {
	_, err := Parse(readFixture(t, "validate/secrets.yaml"), Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "sk-")
	require.NotContains(t, err.Error(), "Bearer")
	_, err = Parse(readFixture(t, "validate/urls.yaml"), Options{})
	require.NotContains(t, err.Error(), "hunter2")
}

func TestValidateFine(t *testing.T) {
	for _, f := range []string{"validate/addresses_ok.yaml"} {
		_, err := Parse(readFixture(t, f), Options{Kinds: testKinds})
		require.NoError(t, err, f)
	}
}

func TestValidateWithoutDefaults(t *testing.T) {
	// Validate derives default backend names itself, so it catches collisions
	// on a config that ApplyDefaults has not touched.
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "p", Kind: "mock"}, {Name: "q", Kind: "mock"}},
		Models: []*configv1.Model{
			{Name: "a", Backends: []*configv1.Backend{{Provider: "p", Model: "x"}, {Provider: "q", Priority: 1}}},
			{Name: "x", Backends: []*configv1.Backend{{Provider: "p"}}},
		},
	}
	require.Empty(t, Validate(cfg, nil), "without the upstream filter one cluster serves both models")
	cfg.Server = &configv1.Server{UpstreamFilter: true}
	require.Equal(t, []Problem{{
		Path:    "models[1].backends[0].name",
		Message: `derived backend name "p.x" is also used by models[0].backends[0] with a different fallback chain; with server.upstream_filter each backend's Envoy cluster holds one chain, so give one of them an explicit name`,
	}}, Validate(cfg, nil))
	require.Equal(t, []Problem{{Message: "configuration is missing"}}, Validate(nil, nil))
}

func TestValidateEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		cfg  *configv1.Config
		want []string // "path: message" fragments
	}{
		{"same address twice", &configv1.Config{Server: &configv1.Server{
			ExtprocAddress: "127.0.0.1:9090",
		}}, []string{`server.extproc_address: "127.0.0.1:9090" is also server.admin_address (its default)`}},
		{"port zero may repeat", &configv1.Config{Server: &configv1.Server{
			ExtprocAddress: "127.0.0.1:0", AdminAddress: "127.0.0.1:0", ListenAddress: "127.0.0.1:0",
		}}, nil},
		{"invalid duration", &configv1.Config{Server: &configv1.Server{
			DrainTimeout: &durationpb.Duration{Seconds: 1, Nanos: -1},
		}}, []string{"server.drain_timeout: invalid duration"}},
		{"kinds not checked without a list", &configv1.Config{
			Providers: []*configv1.Provider{{Name: "p", Kind: "anything"}},
		}, nil},
		{"long host", &configv1.Config{Server: &configv1.Server{
			ExtprocAddress: strings.Repeat("a", 254) + ":1",
		}}, []string{"server.extproc_address: invalid host"}},
		{"host label with dash", &configv1.Config{Server: &configv1.Server{
			ExtprocAddress: "-a.example:1",
		}}, []string{"server.extproc_address: invalid host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.cfg, nil)
			require.Len(t, got, len(tt.want), "%v", got)
			for i, w := range tt.want {
				require.Contains(t, got[i].String(), w)
			}
		})
	}
}
