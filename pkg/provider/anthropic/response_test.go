package anthropic

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// readInto decodes a sparse golden JSON file into v, rejecting unknown fields so a
// typo in a golden file cannot silently pass.
func readInto(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), path)
}

func TestDecodeChatResponseGolden(t *testing.T) {
	b := newTestBackend(t)
	for _, name := range goldenCases(t, "testdata/response", ".want.json") {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata/response", name+".json"))
			require.NoError(t, err)
			got, err := b.DecodeChatResponse(body)
			require.NoError(t, err)
			var want canonical.Response
			readInto(t, filepath.Join("testdata/response", name+".want.json"), &want)
			require.Equal(t, &want, got)
		})
	}
}

func TestDecodeChatResponseInvalid(t *testing.T) {
	b := newTestBackend(t)
	for name, body := range map[string]string{
		"not json":   `<html>`,
		"wrong type": `{"type":"completion"}`,
		"array":      `[1]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.DecodeChatResponse([]byte(body))
			var ce *canonical.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, canonical.ErrUpstream, ce.Kind)
			require.Equal(t, 502, ce.Status)
		})
	}
	// An error envelope with a 200 status is still an error.
	_, err := b.DecodeChatResponse([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	var ce *canonical.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, canonical.ErrOverloaded, ce.Kind)
}

func TestDecodeErrorTable(t *testing.T) {
	b := newTestBackend(t)
	envelope := func(typ, msg string) string {
		return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_1"}`
	}
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		kind       canonical.ErrorKind
		wantStatus int
		retry      int
		msg        string
	}{
		{"invalid request", 400, nil, envelope("invalid_request_error", "max_tokens: Field required"), canonical.ErrInvalidRequest, 400, 0, "max_tokens: Field required"},
		{"authentication", 401, nil, envelope("authentication_error", "invalid x-api-key"), canonical.ErrAuthentication, 401, 0, "invalid x-api-key"},
		{"billing", 402, nil, envelope("billing_error", "credit balance too low"), canonical.ErrPermission, 402, 0, "credit balance too low"},
		{"permission", 403, nil, envelope("permission_error", "no access"), canonical.ErrPermission, 403, 0, "no access"},
		{"not found", 404, nil, envelope("not_found_error", "model: claude-x"), canonical.ErrNotFound, 404, 0, "model: claude-x"},
		{"too large", 413, nil, envelope("request_too_large", "Request exceeds the maximum size"), canonical.ErrRequestTooLarge, 413, 0, "Request exceeds the maximum size"},
		{"rate limit keeps retry-after", 429, http.Header{"Retry-After": {"17"}}, envelope("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), canonical.ErrRateLimit, 429, 17, "Number of request tokens has exceeded your per-minute rate limit"},
		{"api error", 500, nil, envelope("api_error", "Internal server error"), canonical.ErrUpstream, 500, 0, "Internal server error"},
		{"timeout", 504, nil, envelope("timeout_error", "Request timed out"), canonical.ErrUpstreamTimeout, 504, 0, "Request timed out"},
		{"overloaded 529", 529, http.Header{"Retry-After": {"2.5"}}, envelope("overloaded_error", "Overloaded"), canonical.ErrOverloaded, 503, 3, "Overloaded"},
		{"unknown type uses status", 409, nil, envelope("conflict_error", "conflict"), canonical.ErrInvalidRequest, 409, 0, "conflict"},
		{"html from a proxy", 502, nil, "<html><body>Bad Gateway</body></html>", canonical.ErrUpstream, 502, 0, "<html><body>Bad Gateway</body></html>"},
		{"google style (vertex)", 403, nil, `{"error":{"code":403,"message":"Permission denied on resource","status":"PERMISSION_DENIED"}}`, canonical.ErrPermission, 403, 0, "Permission denied on resource"},
		{"empty body", 503, nil, "", canonical.ErrOverloaded, 503, 0, "Service Unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := b.DecodeError(tc.status, tc.header, []byte(tc.body))
			require.Equal(t, tc.kind, e.Kind)
			require.Equal(t, tc.wantStatus, e.Status)
			require.Equal(t, tc.retry, e.RetryAfterSeconds)
			require.Equal(t, tc.msg, e.Message)
		})
	}
}

func TestRetryAfterForms(t *testing.T) {
	require.Equal(t, 0, retryAfter(nil))
	require.Equal(t, 0, retryAfter(http.Header{"Retry-After": {"-3"}}))
	require.Equal(t, 0, retryAfter(http.Header{"Retry-After": {"soon"}}))
	future := http.Header{"Retry-After": {"Wed, 21 Oct 2099 07:28:00 GMT"}}
	require.Greater(t, retryAfter(future), 1000)
	past := http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}
	require.Equal(t, 0, retryAfter(past))
}

func TestSnippetBoundsAndSanitises(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	s := snippet([]byte(long))
	require.LessOrEqual(t, len(s), 256+len("…"))
	require.True(t, strings.HasSuffix(s, "…"))
	require.Equal(t, "a b", snippet([]byte("a\x00b")))
}

func TestEncodeErrorTypes(t *testing.T) {
	cases := map[canonical.ErrorKind]string{
		canonical.ErrInvalidRequest:   "invalid_request_error",
		canonical.ErrMethodNotAllowed: "invalid_request_error",
		canonical.ErrAuthentication:   "authentication_error",
		canonical.ErrPermission:       "permission_error",
		canonical.ErrNotFound:         "not_found_error",
		canonical.ErrRequestTooLarge:  "request_too_large",
		canonical.ErrRateLimit:        "rate_limit_error",
		canonical.ErrBudgetExceeded:   "rate_limit_error",
		canonical.ErrUpstreamTimeout:  "timeout_error",
		canonical.ErrOverloaded:       "overloaded_error",
		canonical.ErrUnavailable:      "overloaded_error",
		canonical.ErrUpstream:         "api_error",
		canonical.ErrInternal:         "api_error",
	}
	f := NewFrontend()
	for kind, typ := range cases {
		body := f.EncodeError(canonical.NewError(kind, "msg %s", kind))
		require.JSONEq(t, `{"type":"error","error":{"type":"`+typ+`","message":"msg `+string(kind)+`"}}`, string(body))
	}
	// An Anthropic error keeps its own type through the gateway.
	body := f.EncodeError(&canonical.Error{Kind: canonical.ErrPermission, ProviderType: "billing_error", Message: "pay"})
	require.JSONEq(t, `{"type":"error","error":{"type":"billing_error","message":"pay"}}`, string(body))
	require.Contains(t, string(f.EncodeError(nil)), "api_error")
}
