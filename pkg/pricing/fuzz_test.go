package pricing

import (
	"math"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// FuzzLookup feeds arbitrary provider kinds and model ids through normalisation and
// pricing: no panic, and a found price yields a finite, non-negative cost.
func FuzzLookup(f *testing.F) {
	for _, s := range []struct{ kind, model string }{
		{"openai", "gpt-4o-2024-08-06"},
		{"bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"gemini", "models/gemini-2.5-pro"},
		{"anthropic", "claude-opus-4-1@20250805"},
		{"cohere", "command-r-08-2024"},
		{"bedrock", "us."},
		{"x", "-v:@/-latest"},
	} {
		f.Add(s.kind, s.model, 1000, 200, 300, 50, 20)
	}
	tab, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind, model string, in, cached, write, out, reasoning int) {
		u := canonical.Usage{InputTokens: in, CachedInputTokens: cached, CacheCreationTokens: write, OutputTokens: out, ReasoningTokens: reasoning}
		c, ok := tab.Cost(kind, model, u)
		if !ok {
			if c != 0 {
				t.Fatalf("unknown model with cost %v", c)
			}
			return
		}
		if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
			t.Fatalf("cost %v for %q/%q %+v", c, kind, model, u)
		}
	})
}
