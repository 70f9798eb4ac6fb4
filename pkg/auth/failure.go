package auth

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrUnavailable means the credential could not be checked because a backing store or
// key set is unreachable. It maps to 503, not 401: the caller did nothing wrong.
var ErrUnavailable = errors.New("authentication temporarily unavailable")

// failure is an authentication error with a metric reason. It unwraps to one of the
// package's sentinel errors, and its message is the sentinel's, so callers never learn
// more than "invalid", "expired" or "revoked" (for example, not whether a key exists).
type failure struct {
	reason string
	err    error
}

// Error returns the sentinel's message only.
func (f *failure) Error() string { return f.err.Error() }

// Unwrap returns the sentinel, for errors.Is.
func (f *failure) Unwrap() error { return f.err }

// Pre-allocated so that failing requests (floods included) do not allocate.
var (
	errMalformed  = &failure{"malformed", ErrInvalid}
	errUnknownKey = &failure{"unknown_key", ErrInvalid}
	errRotatedOut = &failure{"rotated_out", ErrInvalid}
	errKeyRevoked = &failure{"revoked", ErrRevoked}
	errKeyExpired = &failure{"expired", ErrExpired}
	errStore      = &failure{"store_unavailable", ErrUnavailable}
)

// FailureReason names why authentication failed, for the failures metric's reason
// label: a small fixed set of values, never anything taken from the credential.
func FailureReason(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return f.reason
	}
	switch {
	case errors.Is(err, ErrMissing):
		return "missing"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// specificity ranks ErrInvalid-class errors so Chain reports the most telling one:
// "this looked like a virtual key but is unknown" beats "this is not a JWT".
func specificity(err error) int {
	var f *failure
	if !errors.As(err, &f) {
		return 0
	}
	if f == errMalformed || f.reason == "jwt_malformed" {
		return 1
	}
	return 2
}

// FailureMetricName is the name of the failed-authentication counter.
const FailureMetricName = "llm_router_auth_failures_total"

// NewFailureCounter returns an unregistered counter vector for failed authentications,
// labelled by reason (see FailureReason). The caller registers it.
func NewFailureCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: FailureMetricName,
		Help: "Failed authentication attempts by reason (missing, invalid, unknown_key, revoked, expired, rotated_out, jwt_*, ...).",
	}, []string{"reason"})
}

// Metered wraps an Authenticator and counts every failure in Failures. Wrap the outermost
// authenticator (usually a Chain) so that each request is counted once.
type Metered struct {
	Authenticator Authenticator
	Failures      *prometheus.CounterVec
}

// WithFailureCounter returns a Metered authenticator; a nil counter counts nothing.
func WithFailureCounter(a Authenticator, failures *prometheus.CounterVec) *Metered {
	return &Metered{Authenticator: a, Failures: failures}
}

// Authenticate implements Authenticator.
func (m *Metered) Authenticate(ctx context.Context, credential string) (*Identity, error) {
	id, err := m.Authenticator.Authenticate(ctx, credential)
	if err != nil && m.Failures != nil {
		m.Failures.WithLabelValues(FailureReason(err)).Inc()
	}
	return id, err
}
