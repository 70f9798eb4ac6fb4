package canonical

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorKindsAndStatuses(t *testing.T) {
	tests := []struct {
		kind   ErrorKind
		status int
	}{
		{ErrInvalidRequest, 400}, {ErrAuthentication, 401}, {ErrPermission, 403}, {ErrNotFound, 404},
		{ErrMethodNotAllowed, 405}, {ErrRequestTooLarge, 413}, {ErrRateLimit, 429}, {ErrBudgetExceeded, 429},
		{ErrUpstream, 502}, {ErrUpstreamTimeout, 504}, {ErrOverloaded, 503}, {ErrUnavailable, 503}, {ErrInternal, 500},
	}
	for _, tc := range tests {
		require.Equal(t, tc.status, StatusFor(tc.kind), tc.kind)
		e := NewError(tc.kind, "bad %s", "thing")
		require.Equal(t, tc.status, e.Status)
		require.Equal(t, "bad thing", e.Message)
		require.Contains(t, e.Error(), "bad thing")
	}
	for status, kind := range map[int]ErrorKind{
		400: ErrInvalidRequest, 422: ErrInvalidRequest, 401: ErrAuthentication, 403: ErrPermission, 404: ErrNotFound,
		413: ErrRequestTooLarge, 429: ErrRateLimit, 503: ErrOverloaded, 529: ErrOverloaded, 504: ErrUpstreamTimeout,
		408: ErrUpstreamTimeout, 500: ErrUpstream, 502: ErrUpstream, 418: ErrInvalidRequest,
	} {
		require.Equal(t, kind, KindForStatus(status), status)
	}
}

func TestRetryAfterAndUsage(t *testing.T) {
	e := &Error{RetryAfterSeconds: 7}
	require.Equal(t, "7", e.RetryAfterHeader())
	require.Empty(t, (&Error{}).RetryAfterHeader())
	u := Usage{InputTokens: 10, OutputTokens: 5}
	require.Equal(t, 15, u.TotalTokens())
	require.False(t, u.IsZero())
	require.True(t, Usage{}.IsZero())
}
