package openai

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func TestEncodeError(t *testing.T) {
	tests := []struct {
		err  *canonical.Error
		want string
	}{
		{&canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "bad", Param: "messages"},
			`{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}`},
		{&canonical.Error{Status: 401, Kind: canonical.ErrAuthentication, Message: "no key"},
			`{"error":{"message":"no key","type":"authentication_error","param":null,"code":"invalid_api_key"}}`},
		{&canonical.Error{Status: 403, Kind: canonical.ErrPermission, Message: "m"},
			`{"error":{"message":"m","type":"permission_error","param":null,"code":null}}`},
		{&canonical.Error{Status: 404, Kind: canonical.ErrNotFound, Message: "m", Code: "model_not_found"},
			`{"error":{"message":"m","type":"not_found_error","param":null,"code":"model_not_found"}}`},
		{&canonical.Error{Status: 405, Kind: canonical.ErrMethodNotAllowed, Message: "m"},
			`{"error":{"message":"m","type":"invalid_request_error","param":null,"code":"method_not_allowed"}}`},
		{&canonical.Error{Status: 413, Kind: canonical.ErrRequestTooLarge, Message: "m"},
			`{"error":{"message":"m","type":"invalid_request_error","param":null,"code":"request_too_large"}}`},
		{&canonical.Error{Status: 429, Kind: canonical.ErrRateLimit, Message: "slow down"},
			`{"error":{"message":"slow down","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`},
		{&canonical.Error{Status: 429, Kind: canonical.ErrBudgetExceeded, Message: "budget"},
			`{"error":{"message":"budget","type":"insufficient_quota","param":null,"code":"budget_exceeded"}}`},
		{&canonical.Error{Status: 502, Kind: canonical.ErrUpstream, Message: "m"},
			`{"error":{"message":"m","type":"server_error","param":null,"code":"upstream_error"}}`},
		{&canonical.Error{Status: 504, Kind: canonical.ErrUpstreamTimeout, Message: "m"},
			`{"error":{"message":"m","type":"server_error","param":null,"code":"timeout"}}`},
		{&canonical.Error{Status: 503, Kind: canonical.ErrOverloaded, Message: "m"},
			`{"error":{"message":"m","type":"service_unavailable_error","param":null,"code":"server_is_overloaded"}}`},
		{&canonical.Error{Status: 503, Kind: canonical.ErrUnavailable, Message: "m"},
			`{"error":{"message":"m","type":"service_unavailable_error","param":null,"code":"service_unavailable"}}`},
		{&canonical.Error{Status: 500, Kind: canonical.ErrInternal},
			`{"error":{"message":"Internal Server Error","type":"server_error","param":null,"code":null}}`},
		{nil, `{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`},
		{&canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "quote \" and \n newline"},
			`{"error":{"message":"quote \" and \n newline","type":"invalid_request_error","param":null,"code":null}}`},
	}
	for _, tt := range tests {
		got := Frontend{}.EncodeError(tt.err)
		require.JSONEq(t, tt.want, string(got))
	}
}

func TestDecodeError(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   canonical.Error
	}{
		{"openai 400", 400, nil,
			`{"error":{"message":"Invalid 'messages': empty array.","type":"invalid_request_error","param":"messages","code":"empty_array"}}`,
			canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "Invalid 'messages': empty array.", Param: "messages", Code: "empty_array", ProviderType: "invalid_request_error"}},
		{"openai 429 with retry-after", 429, hdr("Retry-After", "20"),
			`{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			canonical.Error{Status: 429, Kind: canonical.ErrRateLimit, Message: "Rate limit reached for gpt-4o", Code: "rate_limit_exceeded", ProviderType: "requests", RetryAfterSeconds: 20}},
		{"quota", 429, hdr("retry-after-ms", "1500"),
			`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			canonical.Error{Status: 429, Kind: canonical.ErrRateLimit, Message: "You exceeded your current quota", Code: "insufficient_quota", ProviderType: "insufficient_quota", RetryAfterSeconds: 2}},
		{"401 hides the key", 401, nil,
			`{"error":{"message":"Incorrect API key provided: sk-proj-abc*****************xyz. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			canonical.Error{Status: 502, Kind: canonical.ErrUpstream, Message: "the upstream provider rejected the gateway's credentials", Code: "upstream_authentication_failed", ProviderType: "invalid_request_error"}},
		{"tgi string error", 422, nil, `{"error":"Input validation error: inputs tokens + max_new_tokens must be <= 4096","error_type":"validation"}`,
			canonical.Error{Status: 422, Kind: canonical.ErrInvalidRequest, Message: "Input validation error: inputs tokens + max_new_tokens must be <= 4096"}},
		{"vllm top-level", 400, nil, `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`,
			canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "max_tokens is too large", Code: "400", ProviderType: "BadRequestError"}},
		{"html", 502, nil, `<html>bad gateway</html>`,
			canonical.Error{Status: 502, Kind: canonical.ErrUpstream, Message: "upstream returned HTTP 502 (Bad Gateway)"}},
		{"empty 503", 503, hdr("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT"), ``,
			canonical.Error{Status: 503, Kind: canonical.ErrOverloaded, Message: "upstream returned HTTP 503 (Service Unavailable)", RetryAfterSeconds: 30}},
		{"unknown status", 599, nil, `{}`,
			canonical.Error{Status: 599, Kind: canonical.ErrUpstream, Message: "upstream returned HTTP 599"}},
		{"key in a message is redacted", 400, nil, `{"error":{"message":"key sk-live-1234567890abcdef is not valid for model x."}}`,
			canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Message: "key [redacted] is not valid for model x."}},
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecodeError(tt.status, tt.header, []byte(tt.body))
			if tt.name == "empty 503" {
				got.RetryAfterSeconds = RetryAfter(tt.header, now)
			}
			require.Equal(t, tt.want, *got)
			require.NotContains(t, got.Error(), "sk-")
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		h    http.Header
		want int
	}{
		{nil, 0},
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"7"}}, 7},
		{http.Header{"Retry-After": {"0.2"}}, 1},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 1},
		{http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"9"}}, 9},
	} {
		require.Equal(t, tt.want, RetryAfter(tt.h, now), "%v", tt.h)
	}
}

func TestRedactKeys(t *testing.T) {
	require.Equal(t, "plain message", redactKeys("plain message"))
	require.Equal(t, "the key is fine", redactKeys("the key is fine"))
	require.Equal(t, "key [redacted], retry", redactKeys("key sk-abc, retry"))
	require.Equal(t, "api key [redacted].", redactKeys("api key AbCdEfGh1234567890AbCdEfGh12345678."))
	require.Equal(t, "key xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", redactKeys("key xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), "no digits: not a token")
}

func TestStatusForType(t *testing.T) {
	for typ, want := range map[string]int{
		"invalid_request_error": 400, "rate_limit_exceeded": 429, "tokens": 429, "insufficient_quota": 429,
		"service_unavailable_error": 503, "authentication_error": 401, "permission_error": 403, "server_error": 502, "": 502,
	} {
		require.Equal(t, want, statusForType(typ, ""), typ)
	}
	require.Equal(t, 400, statusForType("", "context_length_exceeded"))
}

func FuzzDecodeError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"message":"m","type":"requests","code":"rate_limit_exceeded"}}`), "7")
	f.Add(401, []byte(`{"error":"x"}`), "")
	f.Add(400, []byte(`{"object":"error","message":"m","code":400}`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(503, []byte(`{"statusCode":503,"message":"sk-abc"}`), "1e3")
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		h := http.Header{"Retry-After": {retry}}
		e := DecodeError(status, h, body)
		if e == nil || e.Message == "" || e.Kind == "" {
			t.Fatalf("incomplete error %#v", e)
		}
		if e.RetryAfterSeconds < 0 {
			t.Fatalf("negative retry %d", e.RetryAfterSeconds)
		}
		if strings.Contains(e.Message, "sk-") {
			t.Fatalf("key-like text survived: %q", e.Message)
		}
		if !json.Valid(EncodeError(e)) {
			t.Fatalf("invalid error body for %#v", e)
		}
	})
}
