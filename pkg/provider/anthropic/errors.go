package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// DecodeError implements provider.Backend: it maps Anthropic's
// {"type":"error","error":{"type","message"}} (or any other body) to a canonical error.
func (b *Backend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	var eb ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Type != "" {
		return errorFromDetail(status, header, eb.Error)
	}
	// Not Anthropic's envelope (a proxy's HTML page, Vertex's Google-style error, …).
	var g struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &g) == nil && g.Error.Message != "" {
		msg = g.Error.Message
	} else {
		msg = snippet(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	kind := canonical.KindForStatus(status)
	return &canonical.Error{
		Status:            statusFor(kind, status),
		Kind:              kind,
		Message:           msg,
		RetryAfterSeconds: retryAfter(header),
		ProviderType:      g.Error.Status,
	}
}

// errorFromDetail maps an Anthropic error object; status is 0 inside a stream.
func errorFromDetail(status int, header http.Header, d ErrorDetail) *canonical.Error {
	kind, ok := kindForType(d.Type)
	if !ok {
		kind = canonical.KindForStatus(status)
		if status == 0 {
			kind = canonical.ErrUpstream
		}
	}
	e := &canonical.Error{
		Status:            statusFor(kind, status),
		Kind:              kind,
		Message:           d.Message,
		ProviderType:      d.Type,
		RetryAfterSeconds: retryAfter(header),
	}
	if d.Type == "billing_error" {
		e.Code = "billing_error"
	}
	if e.Message == "" {
		e.Message = d.Type
	}
	return e
}

// statusFor picks the status to answer with: overloaded becomes 503 (529 is
// Anthropic-only and unknown to most clients and proxies), other upstream statuses are
// kept, and in-stream errors get the kind's conventional status.
func statusFor(kind canonical.ErrorKind, upstream int) int {
	if kind == canonical.ErrOverloaded || upstream < 400 || upstream > 599 {
		return canonical.StatusFor(kind)
	}
	return upstream
}

// kindForType maps Anthropic's error.type.
func kindForType(t string) (canonical.ErrorKind, bool) {
	switch t {
	case "invalid_request_error":
		return canonical.ErrInvalidRequest, true
	case "authentication_error":
		return canonical.ErrAuthentication, true
	case "billing_error", "permission_error":
		return canonical.ErrPermission, true
	case "not_found_error":
		return canonical.ErrNotFound, true
	case "request_too_large":
		return canonical.ErrRequestTooLarge, true
	case "rate_limit_error":
		return canonical.ErrRateLimit, true
	case "timeout_error":
		return canonical.ErrUpstreamTimeout, true
	case "api_error":
		return canonical.ErrUpstream, true
	case "overloaded_error":
		return canonical.ErrOverloaded, true
	}
	return "", false
}

// typeForError renders a canonical error kind as Anthropic's error.type. An error that
// came from Anthropic keeps its own type.
func typeForError(e *canonical.Error) string {
	if _, ok := kindForType(e.ProviderType); ok {
		return e.ProviderType
	}
	switch e.Kind {
	case canonical.ErrInvalidRequest, canonical.ErrMethodNotAllowed:
		return "invalid_request_error"
	case canonical.ErrAuthentication:
		return "authentication_error"
	case canonical.ErrPermission:
		return "permission_error"
	case canonical.ErrNotFound:
		return "not_found_error"
	case canonical.ErrRequestTooLarge:
		return "request_too_large"
	case canonical.ErrRateLimit, canonical.ErrBudgetExceeded:
		return "rate_limit_error"
	case canonical.ErrUpstreamTimeout:
		return "timeout_error"
	case canonical.ErrOverloaded, canonical.ErrUnavailable:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

// retryAfter reads retry-after as seconds or an HTTP date.
func retryAfter(h http.Header) int { return provider.RetryAfter(h, time.Now()) }

// snippet returns a short, printable excerpt of a non-JSON error body.
func snippet(body []byte) string { return provider.Snippet(body) }

// encodeError renders an error in Anthropic's schema.
func encodeError(e *canonical.Error) []byte {
	if e == nil {
		e = canonical.NewError(canonical.ErrInternal, "internal error")
	}
	body, err := json.Marshal(ErrorBody{Type: "error", Error: ErrorDetail{Type: typeForError(e), Message: e.Message}})
	if err != nil {
		// Marshalling two strings cannot fail; keep a valid body regardless.
		return []byte(fmt.Sprintf(`{"type":"error","error":{"type":"api_error","message":%q}}`, "internal error"))
	}
	return body
}
