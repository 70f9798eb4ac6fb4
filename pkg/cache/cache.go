// Package cache is the exact-match response cache: a key derived from a canonical form
// of the request (Canonicalize, Key), a policy deciding which requests may be served
// from or stored in the cache (Decide, Cacheable), and two stores behind one interface:
// an in-process LRU bounded by bytes (Memory) and Redis for replicas (Redis).
//
// The gateway's flow is: Decide → Canonicalize → Key → Get (when Decision.Lookup) →
// on a miss, forward upstream and Set the response (when Decision.Store). A hit is
// answered without contacting a provider.
package cache

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// Entry is one cached response, in the caller's schema as it was sent to the caller.
type Entry struct {
	// Status is the HTTP status of the response (only successes should be stored).
	Status int
	// ContentType is the response's content-type header.
	ContentType string
	// Body is the response body: JSON, or the SSE bytes when Stream is true. The
	// request key does not include "stream", so a streaming request may find a
	// non-streaming entry and the reverse; Stream tells the gateway which form it has.
	Body []byte
	// Stream reports whether Body is an SSE stream.
	Stream bool
	// Usage is the usage of the original response (a hit records it as cached, cost 0).
	Usage canonical.Usage
	// Model is the model that produced the response.
	Model string
	// CreatedAt is when the response was stored (Set fills it in when zero).
	CreatedAt time.Time
}

// Cache is a response store. Implementations are safe for concurrent use. An entry
// returned by Get is shared and must not be modified.
type Cache interface {
	// Get returns the entry stored under key. A miss is (nil, false, nil); an error
	// means the store could not answer and the caller should treat it as a miss.
	Get(ctx context.Context, key string) (*Entry, bool, error)
	// Set stores e under key for ttl (ttl <= 0 selects the store's default TTL). The
	// store keeps its own copy of e.
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
}

// ErrTooLarge is returned by Set for an entry above the store's MaxEntryBytes.
var ErrTooLarge = errors.New("cache: entry is larger than the per-entry limit")

// Metric names.
const (
	MetricHits      = "llm_router_cache_hits_total"
	MetricMisses    = "llm_router_cache_misses_total"
	MetricBypasses  = "llm_router_cache_bypasses_total"
	MetricStores    = "llm_router_cache_stores_total"
	MetricEvictions = "llm_router_cache_evictions_total"
	MetricErrors    = "llm_router_cache_errors_total"
	MetricBytes     = "llm_router_cache_size_bytes"
	MetricEntries   = "llm_router_cache_entries"
)

// Metrics are the cache's Prometheus series. The stores take one in their options and
// label their series with their kind ("memory", "redis"); the gateway reports requests
// that skip the cache with Bypass. Only Memory reports size and entries (Redis accounts
// for its own memory). A nil *Metrics records nothing.
type Metrics struct {
	hits, misses, stores *prometheus.CounterVec
	bypasses             *prometheus.CounterVec
	evictions, errors    *prometheus.CounterVec
	bytes, entries       *prometheus.GaugeVec
}

// NewMetrics creates the cache series and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		hits:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricHits, Help: "Cache lookups that found a fresh entry."}, []string{"cache"}),
		misses:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricMisses, Help: "Cache lookups that found nothing (or an expired entry)."}, []string{"cache"}),
		stores:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricStores, Help: "Responses stored in the cache."}, []string{"cache"}),
		bypasses:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricBypasses, Help: "Requests that did not look up the cache, by reason."}, []string{"reason"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricEvictions, Help: "Entries removed before being read again: reason size (LRU) or expired (TTL)."}, []string{"cache", "reason"}),
		errors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricErrors, Help: "Cache store failures, by operation."}, []string{"cache", "op"}),
		bytes:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBytes, Help: "Approximate memory held by cached entries."}, []string{"cache"}),
		entries:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricEntries, Help: "Entries in the cache."}, []string{"cache"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.hits, m.misses, m.stores, m.bypasses, m.evictions, m.errors, m.bytes, m.entries} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Bypass counts a request that skipped the cache lookup; reason is a Decision.Reason.
func (m *Metrics) Bypass(reason string) {
	if m != nil {
		m.bypasses.WithLabelValues(reason).Inc()
	}
}

// storeMetrics are one store's series, resolved once so the hot path only increments.
type storeMetrics struct {
	hits, misses, stores, evictSize, evictExpired prometheus.Counter
	errGet, errSet, errDecode                     prometheus.Counter
	bytes, entries                                prometheus.Gauge
}

func (m *Metrics) forStore(kind string) storeMetrics {
	if m == nil {
		return storeMetrics{}
	}
	return storeMetrics{
		hits: m.hits.WithLabelValues(kind), misses: m.misses.WithLabelValues(kind), stores: m.stores.WithLabelValues(kind),
		evictSize: m.evictions.WithLabelValues(kind, "size"), evictExpired: m.evictions.WithLabelValues(kind, "expired"),
		errGet: m.errors.WithLabelValues(kind, "get"), errSet: m.errors.WithLabelValues(kind, "set"), errDecode: m.errors.WithLabelValues(kind, "decode"),
		bytes: m.bytes.WithLabelValues(kind), entries: m.entries.WithLabelValues(kind),
	}
}

func inc(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

func setGauge(g prometheus.Gauge, v float64) {
	if g != nil {
		g.Set(v)
	}
}
