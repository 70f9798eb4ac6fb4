package anthropic

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestRewriteChatRequest(t *testing.T) {
	b := newTestBackend(t)
	in := []byte(`{"model": "public-name", "max_tokens": 10, "messages": [{"role":"user","content":"model"}], "stream": true}`)
	out, wants, err := b.RewriteChatRequest(in, "claude-sonnet-4-5", true)
	require.NoError(t, err)
	require.True(t, wants)
	require.Equal(t, `{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role":"user","content":"model"}], "stream": true}`, string(out))

	// No model in the body: it is added.
	out, _, err = b.RewriteChatRequest([]byte(`{"messages":[]}`), "m", false)
	require.NoError(t, err)
	require.JSONEq(t, `{"messages":[],"model":"m"}`, string(out))

	for _, bad := range []string{`{"model":`, `[1,2]`, ``} {
		_, _, err = b.RewriteChatRequest([]byte(bad), "m", false)
		require.Error(t, err, bad)
	}

	v, err := NewVertexBackend(testSettings(func(s *provider.Settings) {
		s.Config.Gcp = &configv1.GCP{Project: "p", Location: "l"}
	}), "")
	require.NoError(t, err)
	out, _, err = v.RewriteChatRequest(in, "ignored", true)
	require.NoError(t, err)
	require.JSONEq(t, `{"anthropic_version":"vertex-2023-10-16","max_tokens":10,"messages":[{"role":"user","content":"model"}],"stream":true}`, string(out))
}

func TestUsageScannerStream(t *testing.T) {
	data, err := os.ReadFile("testdata/stream/tools.sse")
	require.NoError(t, err)
	want := canonical.Usage{InputTokens: 120, OutputTokens: 89, CacheCreationTokens: 20, ReasoningTokens: 12}
	b := newTestBackend(t)
	for i := 0; i <= len(data); i += 7 {
		s := b.NewUsageScanner(true, true)
		var fwd []byte
		fwd = append(fwd, s.Scan(data[:i], false)...)
		fwd = append(fwd, s.Scan(data[i:], true)...)
		require.Equal(t, data, fwd, "bytes pass through unchanged")
		require.Equal(t, want, s.Usage(), "split at %d", i)
	}

	// message_start only (a cut stream) still reports input tokens.
	s := b.NewUsageScanner(true, false)
	s.Scan([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}"), true)
	require.Equal(t, canonical.Usage{InputTokens: 8, CachedInputTokens: 3, OutputTokens: 1}, s.Usage())

	require.True(t, b.NewUsageScanner(true, false).Usage().IsZero())
}

func TestUsageScannerNonStream(t *testing.T) {
	body, err := os.ReadFile("testdata/response/text.json")
	require.NoError(t, err)
	s := newTestBackend(t).NewUsageScanner(false, false)
	mid := len(body) / 2
	require.Equal(t, body[:mid], s.Scan(body[:mid], false))
	require.True(t, s.Usage().IsZero(), "usage is read at the end of the body")
	require.Equal(t, body[mid:], s.Scan(body[mid:], true))
	require.Equal(t, canonical.Usage{InputTokens: 2112, OutputTokens: 6, CachedInputTokens: 2000, CacheCreationTokens: 100}, s.Usage())

	s = newTestBackend(t).NewUsageScanner(false, false)
	s.Scan([]byte(`{"type":"error","error":{}}`), true)
	require.True(t, s.Usage().IsZero())
}
