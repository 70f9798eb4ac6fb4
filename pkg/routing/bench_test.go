package routing

import (
	"testing"
	"time"
)

func benchCands() []Candidate {
	return []Candidate{
		{Name: "openai.gpt-4o", Weight: 3, InputPricePerMTok: 2.5, OutputPricePerMTok: 10, ContextWindow: 128000},
		{Name: "azure.gpt-4o", Weight: 1, InputPricePerMTok: 2.5, OutputPricePerMTok: 10, ContextWindow: 128000},
		{Name: "anthropic.claude-sonnet", Weight: 1, Priority: 1, InputPricePerMTok: 3, OutputPricePerMTok: 15, ContextWindow: 200000},
		{Name: "bedrock.claude-sonnet", Weight: 1, Priority: 1, InputPricePerMTok: 3, OutputPricePerMTok: 15, ContextWindow: 200000},
	}
}

// BenchmarkOrder is the routing decision for 4 candidates, per strategy (target < 1 µs,
// 0 allocs).
func BenchmarkOrder(b *testing.B) {
	cs := benchCands()
	for _, s := range Strategies() {
		b.Run(s, func(b *testing.B) {
			r := New(Options{})
			for _, c := range cs {
				r.Begin(c.Name)(Outcome{Status: 200, TimeToFirstByte: 100 * time.Millisecond, Duration: time.Second})
			}
			info := Info{KeyID: "key-1", EstimatedTokens: 1500}
			dst := make([]int, 0, 8)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst = r.Order(s, "gpt-4o", cs, info, dst[:0])
			}
			if len(dst) != 4 {
				b.Fatal(dst)
			}
		})
	}
}

func BenchmarkOrderWithArm(b *testing.B) {
	cs := benchCands()
	splits := []Split{{Percent: 10, Target: "azure.gpt-4o"}}
	r := New(Options{})
	info := Info{KeyID: "key-1", EstimatedTokens: 1500}
	dst := make([]int, 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst, _ = r.OrderWithArm(StrategyWeighted, "gpt-4o", cs, splits, info, dst[:0])
	}
}

func BenchmarkOrderParallel(b *testing.B) {
	cs := benchCands()
	r := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]int, 0, 8)
		for pb.Next() {
			dst = r.Order(StrategyLeastInflight, "gpt-4o", cs, Info{}, dst[:0])
		}
	})
}

// BenchmarkBeginDone is the per-attempt accounting (one small allocation: the closure).
func BenchmarkBeginDone(b *testing.B) {
	r := New(Options{})
	o := Outcome{Status: 200, TimeToFirstByte: 100 * time.Millisecond, Duration: time.Second}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Begin("openai.gpt-4o")(o)
	}
}
