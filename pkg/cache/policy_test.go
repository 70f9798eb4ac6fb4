package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func hdrs(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) string { return m[name] }
}

func TestDecide(t *testing.T) {
	const det = `{"model":"m","temperature":0,"messages":[]}`
	tests := []struct {
		name    string
		body    string
		headers func(string) string
		force   bool
		want    Decision
	}{
		{"temperature 0", det, nil, false, Decision{Lookup: true, Store: true}},
		{"temperature 0.0", `{"temperature":0.0}`, nil, false, Decision{Lookup: true, Store: true}},
		{"seed", `{"seed":123,"temperature":0.7}`, nil, false, Decision{Lookup: true, Store: true}},
		{"seed null", `{"seed":null}`, nil, false, Decision{Reason: ReasonNondeterministic}},
		{"no temperature", `{"messages":[]}`, nil, false, Decision{Reason: ReasonNondeterministic}},
		{"temperature 0.2", `{"temperature":0.2}`, nil, false, Decision{Reason: ReasonNondeterministic}},
		{"temperature string", `{"temperature":"0"}`, nil, false, Decision{Reason: ReasonNondeterministic}},
		{"nested temperature does not count", `{"x":{"temperature":0}}`, nil, false, Decision{Reason: ReasonNondeterministic}},
		{"forced by model", `{"temperature":1}`, nil, true, Decision{Lookup: true, Store: true}},
		{"invalid", `{"temperature":0`, nil, false, Decision{Reason: ReasonInvalid}},
		{"not an object", `[1]`, nil, true, Decision{Reason: ReasonInvalid}},
		{"no-store", det, hdrs("cache-control", "no-store"), false, Decision{Reason: ReasonNoStore}},
		{"no-store wins over force", `{}`, hdrs("cache-control", "max-age=60, No-Store"), true, Decision{Reason: ReasonNoStore}},
		{"no-cache", det, hdrs("cache-control", "no-cache"), false, Decision{Store: true, Reason: ReasonNoCache}},
		{"no-cache with a value", det, hdrs("cache-control", `no-cache="x"`), false, Decision{Store: true, Reason: ReasonNoCache}},
		{"no-cache on nondeterministic", `{}`, hdrs("cache-control", "no-cache"), false, Decision{Reason: ReasonNondeterministic}},
		{"max-age=0", det, hdrs("cache-control", "max-age=0"), false, Decision{Store: true, Reason: ReasonNoCache}},
		{"max-age", det, hdrs("cache-control", "max-age=600"), false, Decision{Lookup: true, Store: true, MaxAge: 10 * time.Minute}},
		{"smallest max-age", det, hdrs("cache-control", `max-age="600", max-age=60`), false, Decision{Lookup: true, Store: true, MaxAge: time.Minute}},
		{"huge max-age", det, hdrs("cache-control", "max-age=99999999999999"), false, Decision{Lookup: true, Store: true}},
		{"bad max-age", det, hdrs("cache-control", "max-age=soon, max-age=-5"), false, Decision{Lookup: true, Store: true}},
		{"other directives", det, hdrs("cache-control", "no-transform, only-if-cached"), false, Decision{Lookup: true, Store: true}},
		{"pragma no-cache", det, hdrs("pragma", "no-cache"), false, Decision{Store: true, Reason: ReasonNoCache}},
		{"cache-control overrides pragma", det, hdrs("pragma", "no-cache", "cache-control", "max-age=60"), false, Decision{Lookup: true, Store: true, MaxAge: time.Minute}},
		{"unrelated pragma", det, hdrs("pragma", "foo"), false, Decision{Lookup: true, Store: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide([]byte(tc.body), tc.headers, tc.force)
			require.Equal(t, tc.want, got)
			ok, reason := Cacheable([]byte(tc.body), tc.headers, tc.force)
			require.Equal(t, tc.want.Store, ok)
			require.Equal(t, tc.want.Reason, reason)
		})
	}
}

func TestDecisionFresh(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &Entry{CreatedAt: now.Add(-2 * time.Minute)}
	require.True(t, Decision{}.Fresh(e, now))
	require.True(t, Decision{MaxAge: 2 * time.Minute}.Fresh(e, now))
	require.False(t, Decision{MaxAge: time.Minute}.Fresh(e, now))
}
