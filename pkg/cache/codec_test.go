package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []*Entry{
		{},
		{Status: 200, Body: []byte("{}")},
		{Status: 200, ContentType: "application/json", Body: []byte(`{"id":"x"}`), Model: "m",
			Usage: canonical.Usage{InputTokens: 1 << 40, OutputTokens: 3, CachedInputTokens: 2, CacheCreationTokens: 1, ReasoningTokens: 1}, CreatedAt: time.Unix(1, 2)},
		{Status: 206, Stream: true, Usage: canonical.Usage{Estimated: true}, CreatedAt: time.Unix(-5, 0)},
	}
	for _, e := range tests {
		got, err := decodeEntry(encodeEntry(e))
		require.NoError(t, err)
		if len(e.Body) == 0 {
			require.Empty(t, got.Body)
			got.Body = e.Body
		}
		require.True(t, e.CreatedAt.Equal(got.CreatedAt))
		got.CreatedAt = e.CreatedAt
		require.Equal(t, e, got)
	}
	// Negative statuses are not representable and stored as 0.
	got, err := decodeEntry(encodeEntry(&Entry{Status: -1}))
	require.NoError(t, err)
	require.Zero(t, got.Status)
}

func TestCodecCorrupt(t *testing.T) {
	valid := encodeEntry(&Entry{Status: 200, ContentType: "ct", Model: "m", Body: []byte("body"), CreatedAt: time.Unix(1, 0)})
	bodyStart := len(valid) - len("body")
	// Every truncation before the body is an error, never a panic.
	for i := 0; i < bodyStart; i++ {
		_, err := decodeEntry(valid[:i])
		require.ErrorIs(t, err, ErrCorrupt, "truncated at %d", i)
	}
	tests := [][]byte{
		{2},                   // unknown version
		{1, 0xe8, 0x07, 0},    // status 1000
		{1, 0xc8, 0x01, 0x80}, // status 200, unknown flag 0x80
		{1, 100, 4},           // unknown flag bit
		{1, 100, 0, 5, 'a'},   // content type longer than the value
		{1, 100, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge length
	}
	for _, b := range tests {
		_, err := decodeEntry(b)
		require.ErrorIs(t, err, ErrCorrupt, "%x", b)
	}
}
