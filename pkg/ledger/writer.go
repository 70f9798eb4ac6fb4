package ledger

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Errors from Writer.Record. The record is counted as dropped and logged when either is
// returned; the caller only needs them for its own bookkeeping.
var (
	ErrQueueFull = errors.New("ledger: queue full, usage record dropped")
	ErrClosed    = errors.New("ledger: writer closed, usage record dropped")
)

// Metrics are the Writer's counters. Register them with Collectors.
type Metrics struct {
	// Dropped counts records not written, by reason: queue_full, write_failed,
	// shutdown, closed. (Records saved to the dead-letter file are counted too: they are
	// not in the ledger until replayed.)
	Dropped *prometheus.CounterVec
	// WriteErrors counts failed batch writes (each retry counts).
	WriteErrors prometheus.Counter
	// Written counts records stored.
	Written prometheus.Counter
	// DeadLettered counts records appended to the dead-letter file.
	DeadLettered prometheus.Counter
	// Queued is the number of records waiting.
	Queued prometheus.Gauge
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llm_router_usage_records_dropped_total",
			Help: "Usage records that could not be written to the ledger, by reason.",
		}, []string{"reason"}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "llm_router_usage_write_errors_total",
			Help: "Failed usage-ledger batch writes (each retry counts).",
		}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "llm_router_usage_records_written_total",
			Help: "Usage records written to the ledger.",
		}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "llm_router_usage_records_dead_lettered_total",
			Help: "Usage records saved to the dead-letter file for replay.",
		}),
		Queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "llm_router_usage_records_queued",
			Help: "Usage records waiting to be written.",
		}),
	}
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Dropped, m.WriteErrors, m.Written, m.DeadLettered, m.Queued}
}

// WriterOptions tune a Writer. Zero values pick the defaults.
type WriterOptions struct {
	// QueueSize bounds records waiting to be written (default 10000).
	QueueSize int
	// BatchSize is the most records written at once (default 500); a batch is also
	// written when FlushInterval passes (default 1s).
	BatchSize     int
	FlushInterval time.Duration
	// EnqueueWait is how long Record waits for room in a full queue before dropping
	// (default 0: never block the request path).
	EnqueueWait time.Duration
	// MaxAttempts is how many times a batch is tried before it is dropped (default 8);
	// RetryBackoff is the first delay, doubling up to MaxBackoff (defaults 100ms, 10s).
	MaxAttempts  int
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// WriteTimeout bounds one batch write (default 10s).
	WriteTimeout time.Duration
	// DeadLetterPath, when set, is a JSON-lines file where records that could not be
	// written are appended, to be loaded later with Replay.
	DeadLetterPath string
	// Metrics (default: unregistered metrics nobody reads).
	Metrics *Metrics
	Logger  *zap.Logger
	Now     func() time.Time
}

// Writer queues records and writes them to a Sink in batches from one goroutine.
type Writer struct {
	sink Sink
	opts WriterOptions
	m    *Metrics
	log  *zap.Logger
	now  func() time.Time

	idPrefix string
	seq      atomic.Uint64

	mu     sync.RWMutex // guards closed and the send on queue against Close
	closed bool
	queue  chan Record

	// Overflow drops are logged by the worker, once per flush, not per record.
	overflow      atomic.Int64
	overflowFirst atomic.Pointer[string]

	stop     chan struct{} // closed when Close's deadline passes: abandon retries
	stopOnce sync.Once
	done     chan struct{}
	dlMu     sync.Mutex
}

// NewWriter starts a Writer over sink. Close it to flush.
func NewWriter(sink Sink, opts WriterOptions) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	w := &Writer{sink: sink, opts: opts, m: opts.Metrics, log: opts.Logger, now: opts.Now,
		queue: make(chan Record, opts.QueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	if w.m == nil {
		w.m = NewMetrics()
	}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	if w.now == nil {
		w.now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	w.idPrefix = hex.EncodeToString(b[:]) + "-"
	go w.run()
	return w
}

// Record queues one request's usage without blocking (unless EnqueueWait is set). It
// fills the record's ID and, when zero, its Time. A record that cannot be queued is
// counted, logged and reported as ErrQueueFull or ErrClosed.
func (w *Writer) Record(ctx context.Context, r Record) error {
	r.ID = w.idPrefix + strconv.FormatUint(w.seq.Add(1), 36)
	if r.Time.IsZero() {
		r.Time = w.now()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.m.Dropped.WithLabelValues("closed").Inc()
		w.log.Error("usage record after the ledger writer closed; dropped",
			zap.String("key_id", r.KeyID), zap.String("request_id", r.RequestID), zap.String("model", r.Model))
		w.deadLetter([]Record{r})
		return ErrClosed
	}
	select {
	case w.queue <- r:
		w.m.Queued.Inc()
		return nil
	default:
	}
	if w.opts.EnqueueWait > 0 {
		t := time.NewTimer(w.opts.EnqueueWait)
		defer t.Stop()
		select {
		case w.queue <- r:
			w.m.Queued.Inc()
			return nil
		case <-t.C:
		case <-ctx.Done():
		}
	}
	w.m.Dropped.WithLabelValues("queue_full").Inc()
	if w.overflow.Add(1) == 1 {
		id := r.RequestID
		w.overflowFirst.Store(&id)
	}
	w.deadLetter([]Record{r})
	return ErrQueueFull
}

// Close stops accepting records and writes what is queued. If ctx ends first, the
// remaining records are dropped (counted, logged, dead-lettered) and ctx.Err() returned.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.stopOnce.Do(func() { close(w.stop) })
		<-w.done
		return ctx.Err()
	}
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	batch := make([]Record, 0, w.opts.BatchSize)
	for {
		select {
		case r, ok := <-w.queue:
			if !ok {
				w.flush(batch)
				w.reportOverflow()
				return
			}
			w.m.Queued.Dec()
			batch = append(batch, r)
			if len(batch) >= w.opts.BatchSize {
				w.flush(batch)
				batch = batch[:0]
			}
		case <-t.C:
			if len(batch) > 0 {
				w.flush(batch)
				batch = batch[:0]
			}
			w.reportOverflow()
		}
	}
}

func (w *Writer) reportOverflow() {
	if n := w.overflow.Swap(0); n > 0 {
		first := ""
		if p := w.overflowFirst.Load(); p != nil {
			first = *p
		}
		w.log.Error("usage ledger queue full: records dropped", zap.Int64("dropped", n), zap.String("first_request_id", first),
			zap.Int("queue_size", w.opts.QueueSize), zap.Bool("dead_lettered", w.opts.DeadLetterPath != ""))
	}
}

// flush writes a batch, retrying with backoff; a batch that still fails is dropped
// loudly (and dead-lettered).
func (w *Writer) flush(batch []Record) {
	if len(batch) == 0 {
		return
	}
	delay := w.opts.RetryBackoff
	var err error
	for attempt := 1; attempt <= w.opts.MaxAttempts; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), w.opts.WriteTimeout)
		err = w.sink.Write(ctx, batch)
		cancel()
		if err == nil {
			w.m.Written.Add(float64(len(batch)))
			return
		}
		w.m.WriteErrors.Inc()
		if attempt == w.opts.MaxAttempts {
			break
		}
		w.log.Warn("usage ledger write failed; retrying", zap.Int("records", len(batch)), zap.Int("attempt", attempt),
			zap.Duration("retry_in", delay), zap.Error(err))
		select {
		case <-time.After(delay):
		case <-w.stop:
			w.drop(batch, "shutdown", err)
			return
		}
		delay = min(delay*2, w.opts.MaxBackoff)
	}
	w.drop(batch, "write_failed", err)
}

func (w *Writer) drop(batch []Record, reason string, err error) {
	w.m.Dropped.WithLabelValues(reason).Add(float64(len(batch)))
	keys := map[string]bool{}
	for i := range batch {
		keys[batch[i].KeyID] = true
	}
	w.log.Error("usage records could not be written to the ledger", zap.String("reason", reason), zap.Int("records", len(batch)),
		zap.Int("keys", len(keys)), zap.Bool("dead_lettered", w.opts.DeadLetterPath != ""), zap.Error(err))
	w.deadLetter(batch)
}

// deadLetter appends records to the dead-letter file, if one is configured. Records
// hold ids and counts, never credentials.
func (w *Writer) deadLetter(records []Record) {
	if w.opts.DeadLetterPath == "" || len(records) == 0 {
		return
	}
	w.dlMu.Lock()
	defer w.dlMu.Unlock()
	f, err := os.OpenFile(w.opts.DeadLetterPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		w.log.Error("cannot open the usage dead-letter file; records lost", zap.Int("records", len(records)), zap.Error(err))
		return
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for i := range records {
		_ = enc.Encode(&records[i]) // a Record always marshals
	}
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.log.Error("cannot write the usage dead-letter file; records lost", zap.Int("records", len(records)), zap.Error(err))
		return
	}
	w.m.DeadLettered.Add(float64(len(records)))
}

// Replay writes the records of a dead-letter file to sink in batches. Records already
// stored are skipped (writes are idempotent by ID), so a replay can be repeated. It
// returns how many records it read.
func Replay(ctx context.Context, path string, sink Sink, batchSize int) (int, error) {
	if batchSize <= 0 {
		batchSize = 500
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("ledger: replay: %w", err)
	}
	defer func() { _ = f.Close() }()
	dec := json.NewDecoder(bufio.NewReader(f))
	var batch []Record
	n := 0
	for {
		var r Record
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("ledger: replay %s: record %d: %w", path, n+1, err)
		}
		batch = append(batch, r)
		n++
		if len(batch) == batchSize {
			if err := sink.Write(ctx, batch); err != nil {
				return n, fmt.Errorf("ledger: replay: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := sink.Write(ctx, batch); err != nil {
		return n, fmt.Errorf("ledger: replay: %w", err)
	}
	return n, nil
}
