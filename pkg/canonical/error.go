package canonical

import (
	"fmt"
	"strconv"
)

// ErrorKind classifies an error independently of any schema. Input translators render
// it in the caller's schema (OpenAI "type"/"code", Anthropic "error.type").
type ErrorKind string

// Error kinds, with the HTTP status each normally carries.
const (
	ErrInvalidRequest   ErrorKind = "invalid_request"    // 400
	ErrAuthentication   ErrorKind = "authentication"     // 401
	ErrPermission       ErrorKind = "permission"         // 403
	ErrNotFound         ErrorKind = "not_found"          // 404
	ErrMethodNotAllowed ErrorKind = "method_not_allowed" // 405
	ErrRequestTooLarge  ErrorKind = "request_too_large"  // 413
	ErrRateLimit        ErrorKind = "rate_limit"         // 429
	ErrBudgetExceeded   ErrorKind = "budget_exceeded"    // 429 with code budget_exceeded
	ErrUpstream         ErrorKind = "upstream"           // 502
	ErrUpstreamTimeout  ErrorKind = "upstream_timeout"   // 504
	ErrOverloaded       ErrorKind = "overloaded"         // 503 (Anthropic 529)
	ErrUnavailable      ErrorKind = "unavailable"        // 503
	ErrInternal         ErrorKind = "internal"           // 500
)

// Error is a schema-neutral API error. It implements error.
type Error struct {
	// Status is the HTTP status to answer with.
	Status int
	Kind   ErrorKind
	// Message is safe to show to the caller (never contains a secret).
	Message string
	// Param names the offending request field, when known.
	Param string
	// Code is a machine-readable code (e.g. "model_not_found", "invalid_api_key").
	Code string
	// RetryAfterSeconds, when > 0, becomes a retry-after header.
	RetryAfterSeconds int
	// ProviderType is the provider's own error type, kept for logs.
	ProviderType string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Kind, e.Message)
}

// RetryAfterHeader returns the retry-after header value, or "" when none.
func (e *Error) RetryAfterHeader() string {
	if e.RetryAfterSeconds <= 0 {
		return ""
	}
	return strconv.Itoa(e.RetryAfterSeconds)
}

// NewError builds an Error with the status conventionally used for kind.
func NewError(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Status: StatusFor(kind), Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// StatusFor returns the HTTP status conventionally used for kind.
func StatusFor(kind ErrorKind) int {
	switch kind {
	case ErrInvalidRequest:
		return 400
	case ErrAuthentication:
		return 401
	case ErrPermission:
		return 403
	case ErrNotFound:
		return 404
	case ErrMethodNotAllowed:
		return 405
	case ErrRequestTooLarge:
		return 413
	case ErrRateLimit, ErrBudgetExceeded:
		return 429
	case ErrUpstream:
		return 502
	case ErrUpstreamTimeout:
		return 504
	case ErrOverloaded, ErrUnavailable:
		return 503
	default:
		return 500
	}
}

// KindForStatus maps an upstream HTTP status to an ErrorKind.
func KindForStatus(status int) ErrorKind {
	switch {
	case status == 400 || status == 422:
		return ErrInvalidRequest
	case status == 401:
		return ErrAuthentication
	case status == 403:
		return ErrPermission
	case status == 404:
		return ErrNotFound
	case status == 413:
		return ErrRequestTooLarge
	case status == 429:
		return ErrRateLimit
	case status == 503 || status == 529:
		return ErrOverloaded
	case status == 504 || status == 408:
		return ErrUpstreamTimeout
	case status >= 500:
		return ErrUpstream
	default:
		return ErrInvalidRequest
	}
}
