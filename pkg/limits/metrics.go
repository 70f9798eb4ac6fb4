package limits

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	// MetricQueueDepth is a gauge of requests waiting for a concurrency slot, by
	// scope ("key": all keys together; "backend": per backend).
	MetricQueueDepth = "llm_router_limits_queue_depth"
	// MetricQueueWait is a histogram of time spent in the concurrency queue, by scope
	// and outcome (admitted, timeout, canceled, full, error).
	MetricQueueWait = "llm_router_limits_queue_wait_seconds"
	// MetricRefusals counts refused requests by reason and scope.
	MetricRefusals = "llm_router_limits_refusals_total"
	// MetricStoreErrors counts failed calls to the shared store (Redis) by operation
	// and by what was done about it (fail_open: admitted unchecked; fail_closed:
	// refused; lost: a settlement that could not be written).
	MetricStoreErrors = "llm_router_limits_store_errors_total"
)

var waitBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8}

type metrics struct {
	depthVec    *prometheus.GaugeVec
	wait        *prometheus.HistogramVec
	refusals    *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		depthVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricQueueDepth,
			Help: "Requests waiting for a concurrency slot on this replica.",
		}, []string{"scope", "backend"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricQueueWait,
			Help:    "Time requests spent in the concurrency queue, by outcome.",
			Buckets: waitBuckets,
		}, []string{"scope", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRefusals,
			Help: "Requests refused by rate limits, budgets or concurrency limits.",
		}, []string{"reason", "scope"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricStoreErrors,
			Help: "Failed calls to the shared limits store, by operation and action taken.",
		}, []string{"op", "action"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.depthVec, m.wait, m.refusals, m.storeErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("limits: metrics already registered (one limiter per registry): %w", err)
			}
			return nil, fmt.Errorf("limits: register metrics: %w", err)
		}
	}
	return m, nil
}

// depth returns the queue-depth gauge of a semaphore. Keys share one series so that
// key ids do not become label values.
func (m *metrics) depth(scope, name string) prometheus.Gauge {
	if scope != ScopeBackend {
		name = ""
	}
	return m.depthVec.WithLabelValues(scope, name)
}

func (m *metrics) refusal(reason, scope string) {
	m.refusals.WithLabelValues(reason, scope).Inc()
}
