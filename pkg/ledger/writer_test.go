package ledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

// fakeSink records batches and fails while failing is set.
type fakeSink struct {
	mu      sync.Mutex
	batches [][]Record
	fails   int // fail this many more writes (-1: always)
	block   chan struct{}
}

func (f *fakeSink) Write(_ context.Context, rs []Record) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails != 0 {
		if f.fails > 0 {
			f.fails--
		}
		return errors.New("database is down")
	}
	f.batches = append(f.batches, append([]Record(nil), rs...))
	return nil
}

func (f *fakeSink) count() (batches, records int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		records += len(b)
	}
	return len(f.batches), records
}

func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 10)
	c.Collect(ch)
	close(ch)
	total := 0.0
	for m := range ch {
		var d dto.Metric
		_ = m.Write(&d)
		total += d.GetCounter().GetValue() + d.GetGauge().GetValue()
	}
	return total
}

func TestWriterBatches(t *testing.T) {
	ctx := context.Background()
	sink := &fakeSink{}
	m := NewMetrics()
	w := NewWriter(sink, WriterOptions{BatchSize: 10, FlushInterval: time.Hour, Metrics: m})
	for i := 0; i < 25; i++ {
		require.NoError(t, w.Record(ctx, Record{KeyID: "k", Model: "m"}))
	}
	require.Eventually(t, func() bool { b, _ := sink.count(); return b == 2 }, 2*time.Second, 5*time.Millisecond, "size-triggered batches")
	require.NoError(t, w.Close(ctx))
	b, n := sink.count()
	require.Equal(t, 3, b, "Close flushes the rest")
	require.Equal(t, 25, n)
	require.Equal(t, 25.0, value(m.Written))
	require.Zero(t, value(m.Queued))
	ids := map[string]bool{}
	for _, batch := range sink.batches {
		for _, r := range batch {
			require.NotEmpty(t, r.ID)
			require.False(t, r.Time.IsZero())
			require.False(t, ids[r.ID], "ids are unique")
			ids[r.ID] = true
		}
	}
	require.ErrorIs(t, w.Record(ctx, Record{KeyID: "late"}), ErrClosed)
	require.Equal(t, 1.0, value(m.Dropped))
	require.NoError(t, w.Close(ctx), "idempotent")
}

func TestWriterInterval(t *testing.T) {
	sink := &fakeSink{}
	w := NewWriter(sink, WriterOptions{BatchSize: 1000, FlushInterval: 20 * time.Millisecond})
	defer func() { _ = w.Close(context.Background()) }()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, w.Record(context.Background(), Record{KeyID: "k", Time: at}))
	require.Eventually(t, func() bool { _, n := sink.count(); return n == 1 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, at, sink.batches[0][0].Time, "a given time is kept")
}

func TestWriterRetries(t *testing.T) {
	sink := &fakeSink{fails: 2}
	m := NewMetrics()
	core, logs := observer.New(zap.WarnLevel)
	w := NewWriter(sink, WriterOptions{BatchSize: 5, FlushInterval: 10 * time.Millisecond, RetryBackoff: time.Millisecond, Metrics: m, Logger: zap.New(core)})
	require.NoError(t, w.Record(context.Background(), Record{KeyID: "k"}))
	require.NoError(t, w.Close(context.Background()))
	_, n := sink.count()
	require.Equal(t, 1, n)
	require.Equal(t, 2.0, value(m.WriteErrors))
	require.Zero(t, value(m.Dropped))
	require.Equal(t, 2, logs.FilterMessageSnippet("retrying").Len())
}

func TestWriterGivesUpLoudly(t *testing.T) {
	sink := &fakeSink{fails: -1}
	m := NewMetrics()
	core, logs := observer.New(zap.ErrorLevel)
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	w := NewWriter(sink, WriterOptions{BatchSize: 2, MaxAttempts: 3, RetryBackoff: time.Millisecond, Metrics: m, Logger: zap.New(core), DeadLetterPath: dl})
	for i := 0; i < 3; i++ {
		require.NoError(t, w.Record(context.Background(), Record{KeyID: "k", Model: "m", InputTokens: 7}))
	}
	require.NoError(t, w.Close(context.Background()))
	require.Equal(t, 3.0, value(m.Dropped.WithLabelValues("write_failed")))
	require.Equal(t, 6.0, value(m.WriteErrors))
	require.Equal(t, 3.0, value(m.DeadLettered))
	require.Equal(t, 2, logs.FilterMessageSnippet("could not be written").Len())

	// The dead letters replay into a real ledger, and replaying twice changes nothing.
	s := newLedger(t, sqldbtest.SQLite(t))
	for i := 0; i < 2; i++ {
		n, err := Replay(context.Background(), dl, s, 2)
		require.NoError(t, err)
		require.Equal(t, 3, n)
	}
	rows, err := s.Report(context.Background(), ReportQuery{})
	require.NoError(t, err)
	require.Equal(t, int64(3), rows[0].Requests)
	require.Equal(t, int64(21), rows[0].InputTokens)

	_, err = Replay(context.Background(), filepath.Join(t.TempDir(), "none"), s, 0)
	require.Error(t, err)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("{\n"), 0o600))
	_, err = Replay(context.Background(), bad, s, 0)
	require.Error(t, err)
	_, err = Replay(context.Background(), dl, &fakeSink{fails: -1}, 1)
	require.Error(t, err)
	_, err = Replay(context.Background(), dl, &fakeSink{fails: -1}, 10)
	require.Error(t, err)
}

func TestWriterQueueFull(t *testing.T) {
	sink := &fakeSink{block: make(chan struct{})}
	m := NewMetrics()
	core, logs := observer.New(zap.ErrorLevel)
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	w := NewWriter(sink, WriterOptions{QueueSize: 2, BatchSize: 1, FlushInterval: 5 * time.Millisecond, Metrics: m, Logger: zap.New(core), DeadLetterPath: dl})
	ctx := context.Background()
	// The worker takes one record and blocks in the sink; two more fill the queue.
	require.NoError(t, w.Record(ctx, Record{KeyID: "k", RequestID: "r0"}))
	require.Eventually(t, func() bool { return len(w.queue) == 0 }, time.Second, time.Millisecond)
	require.NoError(t, w.Record(ctx, Record{KeyID: "k", RequestID: "r1"}))
	require.NoError(t, w.Record(ctx, Record{KeyID: "k", RequestID: "r2"}))
	require.ErrorIs(t, w.Record(ctx, Record{KeyID: "k", RequestID: "r3"}), ErrQueueFull)
	w.opts.EnqueueWait = 5 * time.Millisecond
	require.ErrorIs(t, w.Record(ctx, Record{KeyID: "k", RequestID: "r4"}), ErrQueueFull)
	require.Equal(t, 2.0, value(m.Dropped.WithLabelValues("queue_full")))
	close(sink.block)
	require.NoError(t, w.Close(ctx))
	_, n := sink.count()
	require.Equal(t, 3, n)
	entries := logs.FilterMessageSnippet("queue full").All()
	require.Len(t, entries, 1, "overflow is logged once per flush, not per record")
	require.Equal(t, int64(2), entries[0].ContextMap()["dropped"])
	require.Equal(t, "r3", entries[0].ContextMap()["first_request_id"])
	data, err := os.ReadFile(dl)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(data), "\n"))
}

func TestWriterEnqueueWaitSucceeds(t *testing.T) {
	sink := &fakeSink{block: make(chan struct{})}
	w := NewWriter(sink, WriterOptions{QueueSize: 1, BatchSize: 1, EnqueueWait: time.Second})
	ctx := context.Background()
	require.NoError(t, w.Record(ctx, Record{KeyID: "a"}))
	require.Eventually(t, func() bool { return len(w.queue) == 0 }, time.Second, time.Millisecond)
	require.NoError(t, w.Record(ctx, Record{KeyID: "b"}))
	go func() { time.Sleep(20 * time.Millisecond); close(sink.block) }()
	require.NoError(t, w.Record(ctx, Record{KeyID: "c"}), "waits for room")
	require.NoError(t, w.Close(ctx))
}

func TestWriterCloseDeadline(t *testing.T) {
	sink := &fakeSink{fails: -1}
	m := NewMetrics()
	w := NewWriter(sink, WriterOptions{BatchSize: 1, RetryBackoff: time.Hour, Metrics: m})
	require.NoError(t, w.Record(context.Background(), Record{KeyID: "k"}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, w.Close(ctx), context.DeadlineExceeded)
	require.Equal(t, 1.0, value(m.Dropped.WithLabelValues("shutdown")))
}

func TestWriterDeadLetterUnwritable(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	w := NewWriter(&fakeSink{fails: -1}, WriterOptions{MaxAttempts: 1, DeadLetterPath: filepath.Join(t.TempDir(), "missing", "x.jsonl"), Logger: zap.New(core)})
	require.NoError(t, w.Record(context.Background(), Record{KeyID: "k"}))
	require.NoError(t, w.Close(context.Background()))
	require.Equal(t, 1, logs.FilterMessageSnippet("dead-letter").Len())
}

// TestWriterIntoStores runs the Writer against both real stores, concurrently.
func TestWriterIntoStores(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newLedger(t, db)
		w := NewWriter(s, WriterOptions{BatchSize: 50, FlushInterval: 10 * time.Millisecond})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					require.NoError(t, w.Record(context.Background(), Record{KeyID: "k", Model: "m", InputTokens: 1, OutputTokens: 2, CostUSD: 0.001}))
				}
			}()
		}
		wg.Wait()
		require.NoError(t, w.Close(context.Background()))
		rows, err := s.Report(context.Background(), ReportQuery{GroupBy: []string{GroupKey}})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, int64(400), rows[0].Requests)
		require.Equal(t, int64(800), rows[0].OutputTokens)
		require.Equal(t, int64(400_000_000), rows[0].CostNanoUSD)
	})
}
