package gemini

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// DecodeError implements provider.Backend. Google errors are
// {"error":{"code","message","status","details"}} (sometimes wrapped in an array);
// status is the google.rpc.Code name.
func (b *Backend) DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	var eb ErrorBody
	if json.Unmarshal(body, &eb) != nil || (eb.Error.Message == "" && eb.Error.Status == "") {
		var arr []ErrorBody
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
			eb = arr[0]
		}
	}
	if eb.Error.Message != "" || eb.Error.Status != "" {
		return errorFromDetail(status, header, eb.Error)
	}
	kind := canonical.KindForStatus(status)
	msg := snippet(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &canonical.Error{Status: statusFor(kind, status), Kind: kind, Message: msg, RetryAfterSeconds: retryAfter(header, nil)}
}

// errorFromDetail maps a google.rpc.Status; status is 0 inside a stream.
func errorFromDetail(status int, header http.Header, d ErrorDetail) *canonical.Error {
	if status == 0 {
		status = d.Code
	}
	kind, ok := kindForStatus(d.Status)
	if !ok {
		kind = canonical.KindForStatus(status)
		if status == 0 {
			kind = canonical.ErrUpstream
		}
	}
	e := &canonical.Error{
		Kind:              kind,
		Message:           d.Message,
		ProviderType:      d.Status,
		RetryAfterSeconds: retryAfter(header, d.Details),
	}
	if reason := errorReason(d.Details); reason != "" {
		e.Code = strings.ToLower(reason)
		if reason == "API_KEY_INVALID" {
			// AI Studio answers a bad key with 400 INVALID_ARGUMENT.
			e.Kind, status = canonical.ErrAuthentication, 401
		}
	}
	e.Status = statusFor(e.Kind, status)
	if e.Message == "" {
		e.Message = d.Status
	}
	return e
}

// statusFor keeps an upstream error status, or uses the kind's conventional one.
func statusFor(kind canonical.ErrorKind, upstream int) int {
	if upstream < 400 || upstream > 599 {
		return canonical.StatusFor(kind)
	}
	return upstream
}

// kindForStatus maps google.rpc.Code names.
func kindForStatus(s string) (canonical.ErrorKind, bool) {
	switch s {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return canonical.ErrInvalidRequest, true
	case "UNAUTHENTICATED":
		return canonical.ErrAuthentication, true
	case "PERMISSION_DENIED":
		return canonical.ErrPermission, true
	case "NOT_FOUND":
		return canonical.ErrNotFound, true
	case "RESOURCE_EXHAUSTED":
		return canonical.ErrRateLimit, true
	case "UNAVAILABLE":
		return canonical.ErrUnavailable, true
	case "DEADLINE_EXCEEDED":
		return canonical.ErrUpstreamTimeout, true
	case "INTERNAL", "UNKNOWN", "DATA_LOSS", "UNIMPLEMENTED", "ABORTED", "CANCELLED", "ALREADY_EXISTS":
		return canonical.ErrUpstream, true
	}
	return "", false
}

// errorReason returns google.rpc.ErrorInfo's reason, if any.
func errorReason(details []json.RawMessage) string {
	for _, raw := range details {
		var d struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(raw, &d) == nil && strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			return d.Reason
		}
	}
	return ""
}

// retryAfter reads the retry-after header, else google.rpc.RetryInfo's retryDelay
// ("12s", "1.5s").
func retryAfter(h http.Header, details []json.RawMessage) int {
	if n := provider.RetryAfter(h, time.Now()); n > 0 {
		return n
	}
	for _, raw := range details {
		var d struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		}
		if json.Unmarshal(raw, &d) != nil || !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			continue
		}
		if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
			return int(dur.Seconds() + 0.999)
		}
	}
	return 0
}

// snippet returns a short, printable excerpt of a non-JSON error body.
func snippet(body []byte) string { return provider.Snippet(body) }
