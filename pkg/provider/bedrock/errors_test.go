package bedrock

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
)

func TestDecodeErrorTable(t *testing.T) {
	uri := ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	tests := []struct {
		name       string
		status     int
		errType    string
		body       string
		wantKind   canonical.ErrorKind
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"throttling", 429, "ThrottlingException" + uri, `{"message":"Too many requests"}`, canonical.ErrRateLimit, 429, "rate_limit_exceeded", "Too many requests"},
		{"validation", 400, "ValidationException" + uri, `{"message":"Malformed input request"}`, canonical.ErrInvalidRequest, 400, "", "Malformed input request"},
		{"context too long", 400, "ValidationException", `{"message":"Input is too long for requested model."}`, canonical.ErrInvalidRequest, 400, "context_length_exceeded", ""},
		{"access denied", 403, "AccessDeniedException", `{"message":"You don't have access to the model with the specified model ID."}`, canonical.ErrPermission, 403, "", ""},
		{"not found", 404, "ResourceNotFoundException", `{"message":"Could not resolve the foundation model"}`, canonical.ErrNotFound, 404, "model_not_found", ""},
		{"model timeout", 408, "ModelTimeoutException", `{"message":"timed out"}`, canonical.ErrUpstreamTimeout, 504, "", ""},
		{"model not ready", 429, "ModelNotReadyException", `{"message":"loading"}`, canonical.ErrUnavailable, 503, "model_not_ready", ""},
		{"service unavailable", 503, "ServiceUnavailableException", `{"message":"busy"}`, canonical.ErrUnavailable, 503, "", ""},
		{"internal", 500, "InternalServerException", `{"message":"oops"}`, canonical.ErrUpstream, 502, "", ""},
		{"model error", 424, "ModelErrorException", `{"message":"model failed"}`, canonical.ErrUpstream, 502, "", ""},
		{"quota", 400, "ServiceQuotaExceededException", `{"message":"quota"}`, canonical.ErrRateLimit, 429, "quota_exceeded", ""},
		{"bad signature", 403, "InvalidSignatureException", `{"message":"The request signature we calculated does not match"}`, canonical.ErrAuthentication, 401, "invalid_upstream_credentials", ""},
		{"unrecognized client", 403, "UnrecognizedClientException", `{"Message":"The security token included in the request is invalid."}`, canonical.ErrAuthentication, 401, "invalid_upstream_credentials", "The security token included in the request is invalid."},
		{"type in body", 400, "", `{"__type":"com.amazon.coral.validate#ValidationException","message":"x"}`, canonical.ErrInvalidRequest, 400, "", "x"},
		{"unknown type falls back to status", 502, "", `{"message":"bad gateway"}`, canonical.ErrUpstream, 502, "", "bad gateway"},
		{"unknown 429", 429, "SomethingNew", ``, canonical.ErrRateLimit, 429, "", "Bedrock returned SomethingNew (HTTP 429)"},
		{"html body", 503, "", `<html>Service Unavailable</html>`, canonical.ErrOverloaded, 503, "", "<html>Service Unavailable</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.errType != "" {
				h.Set("x-amzn-ErrorType", tt.errType)
			}
			e := NewConverseBackend("").DecodeError(tt.status, h, []byte(tt.body))
			require.Equal(t, tt.wantKind, e.Kind)
			require.Equal(t, tt.wantStatus, e.Status)
			require.Equal(t, tt.wantCode, e.Code)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, e.Message)
			}
		})
	}
}

func TestDecodeErrorRetryAfter(t *testing.T) {
	h := http.Header{"X-Amzn-Errortype": {"ThrottlingException"}, "Retry-After": {"7"}}
	e := NewAnthropicBackend("", 0).DecodeError(429, h, []byte(`{"message":"slow"}`))
	require.Equal(t, 7, e.RetryAfterSeconds)
}

// The mock's HTTP errors decode to the expected kinds end to end.
func TestMockErrorsDecode(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	a := mockAdapter(t, srv, Kind)
	for _, tc := range []struct {
		typ    string
		status int
		kind   canonical.ErrorKind
	}{
		{"ThrottlingException", 429, canonical.ErrRateLimit},
		{"ModelNotReadyException", 429, canonical.ErrUnavailable},
		{"AccessDeniedException", 403, canonical.ErrPermission},
	} {
		srv.Enqueue(bedrocktest.Reply{Error: &bedrocktest.Error{Status: tc.status, Type: tc.typ, Message: "m"}})
		up, err := a.Backend.BuildChatRequest(context.Background(), simpleRequest("x"), provider.Target{Model: "m"})
		require.NoError(t, err)
		status, h, body := roundTrip(t, a, up)
		require.Equal(t, tc.status, status)
		require.Equal(t, tc.kind, a.Backend.DecodeError(status, h, body).Kind, tc.typ)
	}
}

func TestAnthropicInStreamErrorKinds(t *testing.T) {
	for typ, kind := range map[string]canonical.ErrorKind{
		"overloaded_error": canonical.ErrOverloaded, "rate_limit_error": canonical.ErrRateLimit,
		"invalid_request_error": canonical.ErrInvalidRequest, "authentication_error": canonical.ErrAuthentication,
		"permission_error": canonical.ErrPermission, "not_found_error": canonical.ErrNotFound,
		"request_too_large": canonical.ErrRequestTooLarge, "timeout_error": canonical.ErrUpstreamTimeout,
		"api_error": canonical.ErrUpstream, "": canonical.ErrUpstream,
	} {
		e := anthropicError(typ, "")
		require.Equal(t, kind, e.Kind, typ)
		require.NotEmpty(t, e.Message)
	}
}
