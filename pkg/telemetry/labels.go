package telemetry

import (
	"sync"

	"github.com/llm-router/llm-router/pkg/telemetry/tracing"
)

// Label values that stand in for free-form ones.
const (
	// LabelOther replaces a value that is not allowed or over the cardinality cap.
	LabelOther = "other"
	// LabelNone stands for an empty value (no model resolved, no backend chosen).
	LabelNone = "none"
)

// boundedLabel caps the distinct values one label can take. With an allow-list only
// listed values pass; without one the first max distinct values pass. Everything else
// becomes LabelOther, so a client sending random model names cannot grow the series
// count without bound.
type boundedLabel struct {
	allowed map[string]struct{}
	max     int
	mu      sync.RWMutex
	seen    map[string]struct{}
}

func newBoundedLabel(allowed []string, maxValues int) *boundedLabel {
	b := &boundedLabel{max: maxValues}
	if allowed != nil {
		b.allowed = make(map[string]struct{}, len(allowed))
		for _, v := range allowed {
			b.allowed[v] = struct{}{}
		}
		return b
	}
	b.seen = map[string]struct{}{}
	return b
}

// value returns v, LabelNone for an empty v, or LabelOther when v is over the cap.
func (b *boundedLabel) value(v string) string {
	if v == "" {
		return LabelNone
	}
	if !validLabelValue(v) {
		return LabelOther
	}
	if b.allowed != nil {
		if _, ok := b.allowed[v]; ok {
			return v
		}
		return LabelOther
	}
	b.mu.RLock()
	_, ok := b.seen[v]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return LabelOther
	}
	b.seen[v] = struct{}{}
	return v
}

// validLabelValue keeps label values short and printable: anything else is what a
// misbehaving client or provider would send, and is collapsed.
func validLabelValue(v string) bool {
	if len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// ProviderName returns the gen_ai.provider.name for a provider kind.
func ProviderName(kind string) string { return tracing.ProviderName(kind) }

// OperationName returns the gen_ai.operation.name for a gateway endpoint.
func OperationName(endpoint string) string { return tracing.OperationName(endpoint) }

// statusClass turns an HTTP status into "2xx" … "5xx"; 0 (no response) is "none".
func statusClass(status int) string {
	switch {
	case status >= 100 && status < 200:
		return "1xx"
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return LabelNone
}
