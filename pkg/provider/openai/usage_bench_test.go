package openai

import (
	"testing"

	"github.com/llm-router/llm-router/pkg/bench"
)

// BenchmarkUsageScannerBody reads the usage of a buffered 1.1 KB chat response (the
// one `llm-router bench` sends), as the gateway does on the passthrough path.
func BenchmarkUsageScannerBody(b *testing.B) {
	body := bench.ChatScenario("bench", "key").Response
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewUsageScanner(false, false)
		s.Scan(body, true)
		if s.Usage().InputTokens != 480 {
			b.Fatal(s.Usage())
		}
	}
}
