package envoyconfig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestBackendName(t *testing.T) {
	tests := []struct {
		name    string
		model   *configv1.Model
		backend *configv1.Backend
		want    string
	}{
		{"explicit name wins", &configv1.Model{Name: "m"}, &configv1.Backend{Provider: "p", Name: "custom"}, "custom"},
		{"model defaults to public name", &configv1.Model{Name: "gpt-4o"}, &configv1.Backend{Provider: "openai"}, "openai.gpt-4o"},
		{"upstream model", &configv1.Model{Name: "fast"}, &configv1.Backend{Provider: "groq", Model: "llama-3.3-70b"}, "groq.llama-3.3-70b"},
		{"sanitised", &configv1.Model{Name: "x"}, &configv1.Backend{Provider: "my provider", Model: "meta/llama:3 ü"}, "my-provider.meta-llama-3--"},
		{"bedrock id keeps dots", &configv1.Model{Name: "x"}, &configv1.Backend{Provider: "aws", Model: "anthropic.claude-3-5-sonnet-20241022-v2:0"}, "aws.anthropic.claude-3-5-sonnet-20241022-v2-0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, BackendName(tc.model, tc.backend))
			require.Equal(t, ClusterPrefix+tc.want, ClusterName(tc.want))
		})
	}
}

func TestPlanRepresentativeConfig(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	plans := Plan(cfg, Options{})

	var names []string
	for _, p := range plans {
		names = append(names, p.Name)
	}
	// Config order, each backend once.
	require.Equal(t, []string{
		"llm_router.openai.gpt-4o",
		"llm_router.azure.gpt-4o-prod",
		"llm_router.gpt-4o.fallback.claude",
		"llm_router.anthropic.claude-sonnet-4-5",
		"llm_router.gemini.gemini-2.5-pro",
		"llm_router.groq.llama-3.3-70b-versatile",
		"llm_router.ollama.llama3.3-70b",
		"llm_router.openai.text-embedding-3-small",
	}, names)

	gpt := plans[0]
	require.Equal(t, "openai.gpt-4o", gpt.Backend)
	require.Equal(t, []EndpointPlan{
		{URL: "https://api.openai.com", Priority: 0, Backend: "openai.gpt-4o"},
		{URL: "https://my-resource.openai.azure.com", Priority: 1, Backend: "azure.gpt-4o-prod"},
		{URL: "https://api.anthropic.com", Priority: 2, Backend: "gpt-4o.fallback.claude"},
	}, gpt.Endpoints)
	require.Equal(t, RetryPlan{
		NumRetries:           2,
		RetryOn:              []string{"connect-failure", "reset", "5xx", "retriable-status-codes"},
		RetriableStatusCodes: []uint32{429},
		PreviousPriorities:   true,
		PerTryTimeout:        600 * time.Second, // anthropic's total is the largest
		// openai and azure set no first_byte/stream_idle: no idle bound for the chain.
		PerTryIdleTimeout: 0,
	}, gpt.Retry)
	require.Equal(t, 5*time.Second, gpt.ConnectTimeout)
	require.Equal(t, 1800*time.Second, gpt.RouteTimeout())

	// A lower-priority backend falls back to the higher-priority ones too.
	azure := plans[1]
	require.Equal(t, []string{"azure.gpt-4o-prod", "openai.gpt-4o", "gpt-4o.fallback.claude"}, endpointBackends(azure))

	// The named fallback backend of gpt-4o has gpt-4o's chain; the claude model's own
	// backend (plans[3]) has the claude chain.
	require.Equal(t, []string{"gpt-4o.fallback.claude", "openai.gpt-4o", "azure.gpt-4o-prod"}, endpointBackends(plans[2]))
	require.Equal(t, []string{"anthropic.claude-sonnet-4-5", "gemini.gemini-2.5-pro"}, endpointBackends(plans[3]))

	// Equal priorities (weighted) fall back to each other.
	require.Equal(t, []string{"groq.llama-3.3-70b-versatile", "ollama.llama3.3-70b"}, endpointBackends(plans[5]))
	require.Equal(t, []string{"ollama.llama3.3-70b", "groq.llama-3.3-70b-versatile"}, endpointBackends(plans[6]))
	require.Equal(t, 2*time.Second, plans[5].ConnectTimeout, "largest connect timeout of groq (2s) and ollama (1s)")

	embed := plans[7]
	require.Len(t, embed.Endpoints, 1)
	require.Equal(t, RetryPlan{PerTryTimeout: DefaultTotalTimeout}, embed.Retry)
	require.Equal(t, DefaultTotalTimeout, embed.RouteTimeout())
}

func endpointBackends(p ClusterPlan) []string {
	var out []string
	for i, e := range p.Endpoints {
		if uint32(i) != e.Priority {
			panic("endpoints out of priority order")
		}
		out = append(out, e.Backend)
	}
	return out
}

func TestPlanWithoutUpstreamFilterHasNoFallback(t *testing.T) {
	cfg := loadConfig(t, envoyDir+"/llm-router.yaml")
	cfg.Server.UpstreamFilter = false
	for _, p := range Plan(cfg, Options{}) {
		require.Len(t, p.Endpoints, 1, p.Name)
		require.Equal(t, p.Backend, p.Endpoints[0].Backend)
		require.Zero(t, p.Retry.NumRetries)
		require.Empty(t, p.Retry.RetryOn)
		require.False(t, p.Retry.PreviousPriorities)
	}
}

func TestPlanIdleTimeout(t *testing.T) {
	prov := func(name string, fb, idle time.Duration) *configv1.Provider {
		p := &configv1.Provider{Name: name, Kind: "openai", BaseUrl: "https://" + name + ".example", Timeouts: &configv1.Timeouts{}}
		if fb > 0 {
			p.Timeouts.FirstByte = durationpb.New(fb)
		}
		if idle > 0 {
			p.Timeouts.StreamIdle = durationpb.New(idle)
		}
		return p
	}
	cfg := &configv1.Config{
		Server:    &configv1.Server{UpstreamFilter: true},
		Providers: []*configv1.Provider{prov("a", 30*time.Second, 0), prov("b", 0, 45*time.Second), prov("c", 0, 0)},
		Models: []*configv1.Model{
			{Name: "ab", Backends: []*configv1.Backend{{Provider: "a"}, {Provider: "b", Priority: 1}}},
			{Name: "ac", Backends: []*configv1.Backend{{Provider: "a"}, {Provider: "c", Priority: 1}}},
		},
	}
	plans := Plan(cfg, Options{})
	require.Equal(t, 45*time.Second, plans[0].Retry.PerTryIdleTimeout, "largest bound when all endpoints have one")
	require.Zero(t, plans[2].Retry.PerTryIdleTimeout, "c has no bound, so neither has the chain")
}

func TestProviderURL(t *testing.T) {
	presets := func(kind string) string {
		return map[string]string{"openai": "https://api.openai.com/v1", "mistral": "https://api.mistral.ai"}[kind]
	}
	tests := []struct {
		name    string
		p       *configv1.Provider
		want    string
		wantErr string
	}{
		{"configured", &configv1.Provider{Kind: "openai", BaseUrl: "https://proxy.internal:8443/openai"}, "https://proxy.internal:8443/openai", ""},
		{"preset", &configv1.Provider{Kind: "mistral"}, "https://api.mistral.ai", ""},
		{"bedrock region", &configv1.Provider{Kind: "bedrock", Aws: &configv1.AWS{Region: "eu-west-1"}}, "https://bedrock-runtime.eu-west-1.amazonaws.com", ""},
		{"vertex location", &configv1.Provider{Kind: "vertex-ai", Gcp: &configv1.GCP{Location: "us-central1"}}, "https://us-central1-aiplatform.googleapis.com", ""},
		{"vertex global", &configv1.Provider{Kind: "vertex-anthropic", Gcp: &configv1.GCP{Location: "global"}}, "https://aiplatform.googleapis.com", ""},
		{"no url", &configv1.Provider{Name: "x", Kind: "azure-openai"}, "", "has no base_url"},
		{"bedrock without region", &configv1.Provider{Name: "x", Kind: "bedrock"}, "", "has no base_url"},
		{"bad scheme", &configv1.Provider{Name: "x", BaseUrl: "ftp://host"}, "", "scheme must be http or https"},
		{"no host", &configv1.Provider{Name: "x", BaseUrl: "https:///path"}, "", "has no host"},
		{"bad port", &configv1.Provider{Name: "x", BaseUrl: "http://host:0"}, "", "invalid port"},
		{"port too large", &configv1.Provider{Name: "x", BaseUrl: "http://host:70000"}, "", "invalid port"},
		{"unparseable", &configv1.Provider{Name: "x", BaseUrl: "http://[::1"}, "", "base_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := providerURL(tc.p, Options{DefaultBaseURL: presets})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, u.String())
		})
	}
}

func TestPlanSkipsBrokenBackendsAndGenerateReportsThem(t *testing.T) {
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{
			{Name: "ok", Kind: "openai", BaseUrl: "https://api.openai.com"},
			{Name: "nourl", Kind: "azure-openai"},
		},
		Models: []*configv1.Model{{Name: "m", Backends: []*configv1.Backend{
			{Provider: "ok"}, {Provider: "missing"}, {Provider: "nourl"},
		}}},
	}
	plans := Plan(cfg, Options{})
	require.Len(t, plans, 1)
	require.Equal(t, "ok.m", plans[0].Backend)

	_, err := Generate(cfg, Options{})
	require.ErrorContains(t, err, `models[0].backends[1]: backend "missing.m": unknown provider "missing"`)
	require.ErrorContains(t, err, `models[0].backends[2]: backend "nourl.m": provider "nourl" (kind "azure-openai") has no base_url`)
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		url  string
		host string
		port uint32
		tls  bool
	}{
		{"https://api.openai.com", "api.openai.com", 443, true},
		{"http://ollama:11434", "ollama", 11434, false},
		{"http://localhost", "localhost", 80, false},
		{"https://[2001:db8::1]:8443/x", "2001:db8::1", 8443, true},
	}
	for _, tc := range tests {
		u, err := providerURL(&configv1.Provider{BaseUrl: tc.url}, Options{})
		require.NoError(t, err)
		host, port, tls := hostPort(u)
		require.Equal(t, tc.host, host)
		require.Equal(t, tc.port, port)
		require.Equal(t, tc.tls, tls)
	}
}
