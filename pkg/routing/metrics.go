package routing

import "github.com/prometheus/client_golang/prometheus"

// Metric names exported by the router's collector.
const (
	// MetricBreakerState is a gauge per backend: 0 closed, 1 half-open, 2 open.
	MetricBreakerState = "llm_router_backend_breaker_state"
	// MetricBreakerTransitions counts entries into each state, per backend.
	MetricBreakerTransitions = "llm_router_backend_breaker_transitions_total"
	// MetricInflight is the number of requests in flight per backend.
	MetricInflight = "llm_router_backend_inflight_requests"
	// MetricLatencyEWMA is the latency average lowest_latency ranks by, per backend and
	// kind ("ttft" or "duration").
	MetricLatencyEWMA = "llm_router_backend_latency_ewma_seconds"
)

// collector reads the router's state at scrape time, so the request path pays nothing
// for metrics and a backend dropped by Retain disappears from them.
type collector struct {
	r                                  *Router
	state, transitions, inflight, ewma *prometheus.Desc
}

// Collector returns a prometheus.Collector for the router's per-backend series. New
// registers it when Options.Registerer is set.
func (r *Router) Collector() prometheus.Collector {
	return &collector{
		r:           r,
		state:       prometheus.NewDesc(MetricBreakerState, "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.", []string{"backend"}, nil),
		transitions: prometheus.NewDesc(MetricBreakerTransitions, "Circuit breaker transitions per backend, by the state entered.", []string{"backend", "state"}, nil),
		inflight:    prometheus.NewDesc(MetricInflight, "Requests in flight per backend.", []string{"backend"}, nil),
		ewma:        prometheus.NewDesc(MetricLatencyEWMA, "Exponentially weighted moving average of successful requests' latency per backend; kind is ttft (time to first byte) or duration.", []string{"backend", "kind"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.transitions
	ch <- c.inflight
	ch <- c.ewma
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := c.r.clock().UnixNano()
	for name, b := range *c.r.backends.Load() {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(b.br.current(now)), name)
		for _, s := range []BreakerState{Closed, HalfOpen, Open} {
			ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(b.br.entered[s].Load()), name, s.String())
		}
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(b.inflight.Load()), name)
		if v := b.ttft.value(); v > 0 {
			ch <- prometheus.MustNewConstMetric(c.ewma, prometheus.GaugeValue, v, name, "ttft")
		}
		if v := b.dur.value(); v > 0 {
			ch <- prometheus.MustNewConstMetric(c.ewma, prometheus.GaugeValue, v, name, "duration")
		}
	}
}
