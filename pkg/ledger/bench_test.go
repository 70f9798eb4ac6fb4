package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

func benchStores(b *testing.B, fn func(b *testing.B, s *SQLStore)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := NewSQL(context.Background(), sqldbtest.SQLite(b))
		if err != nil {
			b.Fatal(err)
		}
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := NewSQL(context.Background(), sqldbtest.Postgres(b))
		if err != nil {
			b.Fatal(err)
		}
		fn(b, s)
	})
}

// BenchmarkSinkWrite measures batch writes (500 records, 20 keys × 5 models) straight to
// each store; records/s is the ledger's write throughput.
func BenchmarkSinkWrite(b *testing.B) {
	benchStores(b, func(b *testing.B, s *SQLStore) {
		const size = 500
		now := time.Now()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			batch := make([]Record, size)
			for j := range batch {
				batch[j] = Record{ID: fmt.Sprintf("%d-%d", i, j), KeyID: fmt.Sprintf("key_%d", j%20), Owner: "o", Model: fmt.Sprintf("m%d", j%5),
					InputTokens: 100, OutputTokens: 50, CostUSD: 0.0012, Status: 200, Latency: time.Second, Time: now}
			}
			if err := s.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkWriter measures the whole path: Record calls from the request side, batched
// and written by the Writer, until Close has flushed everything.
func BenchmarkWriter(b *testing.B) {
	benchStores(b, func(b *testing.B, s *SQLStore) {
		w := NewWriter(s, WriterOptions{QueueSize: 10000, BatchSize: 1000, FlushInterval: 50 * time.Millisecond, EnqueueWait: time.Minute})
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := w.Record(ctx, Record{KeyID: "key_1", Model: "m", InputTokens: 10, OutputTokens: 5, CostUSD: 0.0001, Status: 200}); err != nil {
				// EnqueueWait applies backpressure, so this measures sustained throughput.
				b.Fatal(err)
			}
		}
		if err := w.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
