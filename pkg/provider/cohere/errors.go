package cohere

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// decodeError maps a Cohere error ({"message": …} with an HTTP status) to a
// canonical error. Cohere types errors by status only.
func decodeError(status int, header http.Header, body []byte) *canonical.Error {
	var b struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &b)
	msg := b.Message
	if msg == "" && len(body) > 0 && !json.Valid(body) {
		msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	var kind canonical.ErrorKind
	code := ""
	switch status {
	case 400, 422:
		kind = canonical.ErrInvalidRequest
		if m := strings.ToLower(msg); strings.Contains(m, "too many tokens") || strings.Contains(m, "context length") || strings.Contains(m, "too long") {
			code = "context_length_exceeded"
		}
	case 401, 498: // 498: invalid token
		kind, code = canonical.ErrAuthentication, "invalid_upstream_credentials"
	case 402:
		// The gateway's Cohere account cannot pay: not the caller's fault, and
		// another provider may serve the request.
		kind, code = canonical.ErrUpstream, "upstream_payment_required"
	case 403:
		kind = canonical.ErrPermission
	case 404:
		kind, code = canonical.ErrNotFound, "model_not_found"
	case 429:
		kind, code = canonical.ErrRateLimit, "rate_limit_exceeded"
	case 499:
		// Cohere reports the request as cancelled by the client.
		kind, code = canonical.ErrUpstream, "request_cancelled"
	case 500:
		kind = canonical.ErrUpstream
	case 501:
		kind = canonical.ErrInvalidRequest
	case 503:
		kind = canonical.ErrUnavailable
	case 504:
		kind = canonical.ErrUpstreamTimeout
	default:
		kind = canonical.KindForStatus(status)
	}
	if msg == "" {
		msg = "Cohere returned HTTP " + strconv.Itoa(status)
	}
	e := &canonical.Error{Status: canonical.StatusFor(kind), Kind: kind, Message: msg, Code: code, ProviderType: strconv.Itoa(status)}
	if ra := header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && n > 0 {
			e.RetryAfterSeconds = n
		}
	}
	return e
}
