package provider

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want int
	}{
		{"none", http.Header{}, 0},
		{"nil", nil, 0},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7},
		{"fractional rounds up", http.Header{"Retry-After": {"1.2"}}, 2},
		{"milliseconds win", http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"9"}}, 2},
		{"http date", http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, 30},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"negative", http.Header{"Retry-After": {"-3"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, RetryAfter(tc.h, now), tc.name)
	}
}

func TestSnippet(t *testing.T) {
	require.Equal(t, "bad gateway", Snippet([]byte("  bad gateway\n")))
	require.Equal(t, "a b", Snippet([]byte("a\x01b")))
	long := Snippet([]byte(strings.Repeat("é", 200)))
	require.True(t, strings.HasSuffix(long, "…"))
	require.LessOrEqual(t, len(long), 256+len("…"))
}
