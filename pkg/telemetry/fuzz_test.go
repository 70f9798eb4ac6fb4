package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/gateway"
)

// FuzzObserve feeds arbitrary label values (model names come from clients) through
// Observe: the registry must still gather (invalid UTF-8 in a label value would break
// the whole /metrics page) and stay within the cardinality caps.
func FuzzObserve(f *testing.F) {
	f.Add("chat", "gpt-4o", "openai.gpt-4o", "openai", "gpt-4o-2024-08-06", "", "team-a", 200, 1000, 50, true)
	f.Add("messages", "\xff\xfe", "b\x00", "", "", "upstream_503", "", 503, -1, 0, false)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg, MetricsOptions{KeyIDLabel: true, MaxValues: 8, MaxKeyIDs: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, endpoint, model, backend, provider, upstream, errType, key string, status, in, out int, stream bool) {
		m.Observe(context.Background(), &gateway.Summary{
			Endpoint: endpoint, Model: model, Backend: backend, Provider: provider, UpstreamModel: upstream,
			ErrorType: errType, KeyID: key, Status: status, Stream: stream,
			Usage:    canonical.Usage{InputTokens: in, OutputTokens: out},
			Duration: time.Second, TimeToFirstByte: time.Millisecond, Processing: time.Microsecond,
			CostKnown: in%2 == 0, CostUSD: 0.001,
		})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		for _, mf := range mfs {
			// 8 values per capped label, plus "other" and "none": far below this.
			if n := len(mf.GetMetric()); n > 20000 {
				t.Fatalf("%s has %d series", mf.GetName(), n)
			}
		}
	})
}
