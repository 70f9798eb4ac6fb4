package pricing

import (
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func defaultTable(t testing.TB) *Table {
	t.Helper()
	tab, err := Default()
	require.NoError(t, err)
	return tab
}

func TestDefaultCoversTheAdvertisedModels(t *testing.T) {
	tab := defaultTable(t)
	cases := []struct {
		kind, model string
		input, out  float64
	}{
		{"openai", "gpt-4o", 2.50, 10},
		{"openai", "gpt-4o-mini", 0.15, 0.60},
		{"openai", "gpt-4.1", 2, 8},
		{"openai", "gpt-4.1-mini", 0.40, 1.60},
		{"openai", "gpt-4.1-nano", 0.10, 0.40},
		{"openai", "o3", 2, 8},
		{"openai", "o4-mini", 1.10, 4.40},
		{"openai", "gpt-5", 1.25, 10},
		{"openai", "gpt-5-mini", 0.25, 2},
		{"openai", "gpt-5-nano", 0.05, 0.40},
		{"openai", "text-embedding-3-small", 0.02, 0},
		{"openai", "text-embedding-3-large", 0.13, 0},
		{"azure-openai", "gpt-4.1", 2, 8},
		{"anthropic", "claude-opus-4-1", 15, 75},
		{"anthropic", "claude-opus-4-5", 5, 25},
		{"anthropic", "claude-sonnet-4-5", 3, 15},
		{"anthropic", "claude-haiku-4-5", 1, 5},
		{"gemini", "gemini-2.5-pro", 1.25, 10},
		{"gemini", "gemini-2.5-flash", 0.30, 2.50},
		{"gemini", "gemini-2.5-flash-lite", 0.10, 0.40},
		{"bedrock", "anthropic.claude-sonnet-4-20250514-v1:0", 3, 15},
		{"bedrock", "amazon.nova-pro-v1:0", 0.80, 3.20},
		{"bedrock", "amazon.titan-embed-text-v2:0", 0.02, 0},
		{"cohere", "command-r-08-2024", 0.15, 0.60},
		{"cohere", "command-a-03-2025", 2.50, 10},
		{"cohere", "embed-v4.0", 0.12, 0},
		{"mistral", "mistral-small-latest", 0.10, 0.30},
		{"groq", "llama-3.3-70b-versatile", 0.59, 0.79},
		{"deepseek", "deepseek-chat", 0.28, 0.42},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.model, func(t *testing.T) {
			p, ok := tab.Lookup(c.kind, c.model)
			require.True(t, ok)
			require.Equal(t, c.input, p.Input)
			require.Equal(t, c.out, p.Output)
		})
	}
	require.Greater(t, tab.Len(), 60)
}

func TestAnthropicCacheMultipliers(t *testing.T) {
	// Anthropic documents cache writes at 1.25x and cache reads at 0.1x the input price;
	// every Claude entry (direct and Bedrock) must follow that.
	tab := defaultTable(t)
	for _, fam := range []string{"anthropic", "bedrock"} {
		for model, p := range tab.families[fam].models {
			if !containsClaude(model) {
				continue
			}
			require.InDelta(t, p.Input*1.25, p.CacheWrite, 1e-9, "%s/%s cache write", fam, model)
			require.InDelta(t, p.Input*0.1, p.CachedInput, 1e-9, "%s/%s cache read", fam, model)
		}
	}
}

func containsClaude(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == "claude" {
			return true
		}
	}
	return false
}

func TestLookupNormalisation(t *testing.T) {
	tab := defaultTable(t)
	cases := []struct {
		name, kind, model string
		wantInput         float64 // 0 = not found
	}{
		{"openai snapshot", "openai", "gpt-4o-2024-08-06", 2.50},
		{"openai mini snapshot", "openai", "gpt-4o-mini-2024-07-18", 0.15},
		{"o-series snapshot", "openai", "o3-2025-04-16", 2},
		{"upper case", "OpenAI", "GPT-4.1-Mini", 0.40},
		{"spaces", " openai ", " gpt-5 ", 1.25},
		{"anthropic date", "anthropic", "claude-sonnet-4-20250514", 3},
		{"anthropic alias -0", "anthropic", "claude-opus-4-0", 15},
		{"anthropic latest", "anthropic", "claude-3-5-haiku-latest", 0.80},
		{"vertex style @date", "anthropic", "claude-opus-4-1@20250805", 15},
		{"gemini models/ prefix", "gemini", "models/gemini-2.5-flash", 0.30},
		{"vertex resource path", "gemini", "publishers/google/models/gemini-2.5-pro", 1.25},
		{"bedrock in-region", "bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", 0.80},
		{"bedrock us. prefix", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", 3},
		{"bedrock eu. prefix", "bedrock", "eu.anthropic.claude-opus-4-1-20250805-v1:0", 15},
		{"bedrock geo 4.5 premium", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3.30},
		{"bedrock global 4.5", "bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 3},
		{"bedrock nova geo", "bedrock", "us.amazon.nova-lite-v1:0", 0.06},
		{"bedrock titan -v1", "bedrock", "amazon.titan-text-express-v1", 0.20},
		{"cohere month stamp", "cohere", "command-r-plus-08-2024", 2.50},
		{"cohere r7b", "cohere", "command-r7b-12-2024", 0.0375},
		{"groq slash id kept", "groq", "meta-llama/llama-4-scout-17b-16e-instruct", 0.11},
		{"unknown model", "openai", "gpt-4o-realtime-preview", 0},
		{"unknown kind", "vllm", "gpt-4o", 0},
		{"vertex not aliased", "vertex-ai", "gemini-2.5-pro", 0},
		{"empty model", "openai", "", 0},
		{"wrong family", "anthropic", "gpt-4o", 0},
		{"prefix only", "bedrock", "us.", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := tab.Lookup(c.kind, c.model)
			if c.wantInput == 0 {
				require.False(t, ok)
				require.Nil(t, p)
				return
			}
			require.True(t, ok)
			require.Equal(t, c.wantInput, p.Input)
		})
	}
}

func TestCostExact(t *testing.T) {
	tab := defaultTable(t)
	cases := []struct {
		name, kind, model string
		u                 canonical.Usage
		want              float64
	}{
		{
			// 1000 uncached in at 2.50, 500 out at 10.
			name: "plain", kind: "openai", model: "gpt-4o",
			u:    canonical.Usage{InputTokens: 1000, OutputTokens: 500},
			want: (1000*2.50 + 500*10.0) / 1e6,
		},
		{
			// 10000 input of which 8000 cached: 2000 at 2.00, 8000 at 0.50; 200 out at 8.
			name: "openai cached", kind: "openai", model: "gpt-4.1-2025-04-14",
			u:    canonical.Usage{InputTokens: 10000, CachedInputTokens: 8000, OutputTokens: 200},
			want: (2000*2.0 + 8000*0.50 + 200*8.0) / 1e6,
		},
		{
			// Reasoning tokens are part of output and, with no reasoning price, cost output.
			name: "reasoning at output price", kind: "openai", model: "o4-mini",
			u:    canonical.Usage{InputTokens: 100, OutputTokens: 1000, ReasoningTokens: 900},
			want: (100*1.10 + 1000*4.40) / 1e6,
		},
		{
			// Anthropic: input 5000 = 1000 uncached + 3000 cache read + 1000 cache write.
			name: "anthropic cache read and write", kind: "anthropic", model: "claude-sonnet-4-5-20250929",
			u:    canonical.Usage{InputTokens: 5000, CachedInputTokens: 3000, CacheCreationTokens: 1000, OutputTokens: 400},
			want: (1000*3.0 + 3000*0.30 + 1000*3.75 + 400*15.0) / 1e6,
		},
		{
			// Above 200K input tokens the whole request moves to the long-context tier.
			name: "gemini long context", kind: "gemini", model: "gemini-2.5-pro",
			u:    canonical.Usage{InputTokens: 300000, CachedInputTokens: 100000, OutputTokens: 1000},
			want: (200000*2.50 + 100000*0.25 + 1000*15.0) / 1e6,
		},
		{
			name: "gemini at the threshold stays base", kind: "gemini", model: "gemini-2.5-pro",
			u:    canonical.Usage{InputTokens: 200000, OutputTokens: 1000},
			want: (200000*1.25 + 1000*10.0) / 1e6,
		},
		{
			// Cohere has no cache price: cached tokens cost the input price.
			name: "no cached price falls back to input", kind: "cohere", model: "command-r",
			u:    canonical.Usage{InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 10},
			want: (1000*0.15 + 10*0.60) / 1e6,
		},
		{
			name: "embeddings", kind: "openai", model: "text-embedding-3-small",
			u:    canonical.Usage{InputTokens: 1_000_000},
			want: 0.02,
		},
		{
			// Inconsistent figures from a provider are clamped, never negative.
			name: "cached exceeds input", kind: "openai", model: "gpt-4o",
			u:    canonical.Usage{InputTokens: 10, CachedInputTokens: 50, OutputTokens: 5, ReasoningTokens: 99},
			want: (50*1.25 + 5*10.0) / 1e6,
		},
		{
			name: "negative counts", kind: "openai", model: "gpt-4o",
			u:    canonical.Usage{InputTokens: -5, OutputTokens: -1, CachedInputTokens: -3},
			want: 0,
		},
		{name: "zero usage", kind: "openai", model: "gpt-4o", want: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tab.Cost(c.kind, c.model, c.u)
			require.True(t, ok)
			require.InDelta(t, c.want, got, 1e-12)
			require.GreaterOrEqual(t, got, 0.0)
		})
	}
}

func TestCostUnknownModel(t *testing.T) {
	tab := defaultTable(t)
	got, ok := tab.Cost("openai", "my-finetune", canonical.Usage{InputTokens: 1000, OutputTokens: 1000})
	require.False(t, ok)
	require.Zero(t, got)
	var nilTable *Table
	_, ok = nilTable.Cost("openai", "gpt-4o", canonical.Usage{InputTokens: 1})
	require.False(t, ok)
}

func TestReasoningPrice(t *testing.T) {
	tab, err := defaultTable(t).Merge(Overrides{Models: []Override{{
		Provider: "openai", Model: "thinker",
		Price: Price{Input: 1, Output: 2, Reasoning: 3},
	}}})
	require.NoError(t, err)
	got, ok := tab.Cost("openai", "thinker", canonical.Usage{InputTokens: 10, OutputTokens: 100, ReasoningTokens: 60})
	require.True(t, ok)
	require.InDelta(t, (10*1.0+40*2.0+60*3.0)/1e6, got, 1e-15)
}

func TestMerge(t *testing.T) {
	base := defaultTable(t)
	merged, err := base.Merge(Overrides{
		Models: []Override{
			// Replace a built-in price (negotiated discount) ...
			{Provider: "openai", Model: "gpt-4o", Price: Price{Input: 2, CachedInput: 1, Output: 8}},
			// ... add a self-hosted model for every provider kind ...
			{Provider: AnyProvider, Model: "Llama-3.1-8B-Instruct", Price: Price{Input: 0.01, Output: 0.02}},
			// ... and a model under a new kind, with a long-context tier.
			{Provider: "xai", Model: "grok-4", Price: Price{Input: 3, Output: 15, LongContext: &Tier{Threshold: 128000, Input: 6}}},
		},
		Aliases: map[string]string{"vertex-ai": "gemini", "azure-openai": ""},
	})
	require.NoError(t, err)

	p, ok := merged.Lookup("openai", "gpt-4o-2024-11-20")
	require.True(t, ok)
	require.Equal(t, 2.0, p.Input)
	// The base table is unchanged.
	p, ok = base.Lookup("openai", "gpt-4o")
	require.True(t, ok)
	require.Equal(t, 2.50, p.Input)

	p, ok = merged.Lookup("vllm", "llama-3.1-8b-instruct")
	require.True(t, ok)
	require.Equal(t, 0.01, p.Input)
	// A kind's own entry wins over the wildcard.
	_, ok = merged.Lookup("openai", "gpt-4.1")
	require.True(t, ok)

	p, ok = merged.Lookup("vertex-ai", "gemini-2.5-flash")
	require.True(t, ok)
	require.Equal(t, 0.30, p.Input)
	_, ok = merged.Lookup("azure-openai", "gpt-4.1")
	require.False(t, ok, "alias removed")
	_, ok = base.Lookup("azure-openai", "gpt-4.1")
	require.True(t, ok)

	// Long-context tier fields left at zero keep the base price (output 15 here).
	got, ok := merged.Cost("xai", "grok-4", canonical.Usage{InputTokens: 200000, OutputTokens: 100})
	require.True(t, ok)
	require.InDelta(t, (200000*6.0+100*15.0)/1e6, got, 1e-12)
	require.Equal(t, base.Len()+2, merged.Len())
}

func TestMergeRejectsBadOverrides(t *testing.T) {
	base := defaultTable(t)
	cases := []struct {
		name string
		o    Overrides
	}{
		{"empty provider", Overrides{Models: []Override{{Model: "m", Price: Price{Input: 1}}}}},
		{"empty model", Overrides{Models: []Override{{Provider: "openai", Price: Price{Input: 1}}}}},
		{"negative", Overrides{Models: []Override{{Provider: "openai", Model: "m", Price: Price{Output: -1}}}}},
		{"NaN", Overrides{Models: []Override{{Provider: "openai", Model: "m", Price: Price{Input: math.NaN()}}}}},
		{"Inf in tier", Overrides{Models: []Override{{Provider: "openai", Model: "m", Price: Price{LongContext: &Tier{Threshold: 1, Output: math.Inf(1)}}}}}},
		{"tier without threshold", Overrides{Models: []Override{{Provider: "openai", Model: "m", Price: Price{LongContext: &Tier{Input: 1}}}}}},
		{"empty alias kind", Overrides{Aliases: map[string]string{" ": "openai"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := base.Merge(c.o)
			require.Error(t, err)
			require.Nil(t, n)
		})
	}
}

func TestMergeCopiesTier(t *testing.T) {
	tier := &Tier{Threshold: 10, Input: 2}
	tab, err := (&Table{}).Merge(Overrides{Models: []Override{{Provider: "p", Model: "m", Price: Price{Input: 1, LongContext: tier}}}})
	require.NoError(t, err)
	tier.Input = 99 // the caller's struct is not aliased
	got, ok := tab.Cost("p", "m", canonical.Usage{InputTokens: 11})
	require.True(t, ok)
	require.InDelta(t, 22.0/1e6, got, 1e-15)
}

func TestParseErrors(t *testing.T) {
	_, err := Parse([]byte("providers: [1, 2"))
	require.ErrorContains(t, err, "parse table")
	_, err = Parse([]byte("providers:\n  openai:\n    models:\n      m: {input: -1}\n"))
	require.ErrorContains(t, err, "non-negative")
	tab, err := Parse([]byte("aliases: {Foo: OpenAI}\nproviders:\n  openai:\n    models:\n      M-1: {input: 1, names: [m-one]}\n"))
	require.NoError(t, err)
	for _, m := range []string{"m-1", "M-ONE"} {
		p, ok := tab.Lookup("foo", m)
		require.True(t, ok, m)
		require.Equal(t, 1.0, p.Input)
	}
}

func TestStripDate(t *testing.T) {
	cases := map[string]string{
		"gpt-4o-2024-08-06":        "gpt-4o",
		"claude-sonnet-4-20250514": "claude-sonnet-4",
		"claude-sonnet-4@20250514": "claude-sonnet-4",
		"command-r-08-2024":        "command-r",
		"claude-3-5-haiku-latest":  "claude-3-5-haiku",
		"gpt-4-0613":               "gpt-4-0613",
		"model-12345678":           "model-12345678", // not a plausible date
		"model-20251399":           "model-20251399",
		"model-2025-00-10":         "model-2025-00-10",
		"model-13-2024":            "model-13-2024",
		"-latest":                  "-latest",
		"@x":                       "@x",
		"gemini-2.5-pro":           "gemini-2.5-pro",
	}
	for in, want := range cases {
		require.Equal(t, want, stripDate(in), in)
	}
	require.Equal(t, "amazon.titan-embed-text", stripVersion("amazon.titan-embed-text-v2"))
	require.Equal(t, "x-v", stripVersion("x-v"))
	require.Equal(t, "x-vx", stripVersion("x-vx"))
	require.Equal(t, "m", stripColonVersion("m:0"))
	require.Equal(t, ":0", stripColonVersion(":0"))
	require.Equal(t, "anthropic.x", stripPrefix("us.anthropic.x"))
	require.Equal(t, "us.x", stripPrefix("us.x"))
	require.Equal(t, "x", stripPrefix("a/b/x"))
}

func TestLookupCacheIsBounded(t *testing.T) {
	tab := defaultTable(t)
	for i := range maxResolved + 100 {
		_, ok := tab.Lookup("openai", "unknown-"+strconv.Itoa(i))
		require.False(t, ok)
	}
	require.Len(t, tab.resolved.m, maxResolved)
	// Cached and uncached answers agree.
	for range 2 {
		p, ok := tab.Lookup("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0")
		require.True(t, ok)
		require.Equal(t, 3.0, p.Input)
		_, ok = tab.Lookup("openai", "unknown-1")
		require.False(t, ok)
	}
}

func TestConcurrentLookups(t *testing.T) {
	tab := defaultTable(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				_, _ = tab.Cost("openai", "gpt-4o-"+strconv.Itoa((g*i)%50), canonical.Usage{InputTokens: i})
				_, ok := tab.Lookup("anthropic", "claude-haiku-4-5-20251001")
				require.True(t, ok)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCost measures lookup + cost for the common shapes of model id (cached after
// the first lookup, as in production).
func BenchmarkCost(b *testing.B) {
	tab := defaultTable(b)
	u := canonical.Usage{InputTokens: 12000, CachedInputTokens: 8000, OutputTokens: 700, ReasoningTokens: 300}
	for _, c := range []struct{ name, kind, model string }{
		{"exact", "openai", "gpt-4o"},
		{"snapshot", "openai", "gpt-4o-2024-08-06"},
		{"bedrock-profile", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"},
		{"unknown", "openai", "some-unknown-model-2025-01-01"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tab.Cost(c.kind, c.model, u)
			}
		})
	}
}

// BenchmarkResolve is the uncached normalising lookup (first sight of a model id).
func BenchmarkResolve(b *testing.B) {
	tab := defaultTable(b)
	for _, c := range []struct{ name, kind, model string }{
		{"exact", "openai", "gpt-4o"},
		{"snapshot", "openai", "gpt-4o-2024-08-06"},
		{"bedrock-profile", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"},
		{"unknown", "openai", "some-unknown-model-2025-01-01"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tab.resolve(c.kind, c.model)
			}
		})
	}
}
