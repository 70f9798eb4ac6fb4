package bedrock

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// errorKinds maps Bedrock Runtime error types (HTTP x-amzn-ErrorType, or the
// exception frames of a stream, whose types start lower-case) to canonical kinds.
// Statuses in comments are Bedrock's own.
var errorKinds = map[string]struct {
	kind canonical.ErrorKind
	code string
}{
	"ThrottlingException":                 {canonical.ErrRateLimit, "rate_limit_exceeded"},               // 429
	"ServiceQuotaExceededException":       {canonical.ErrRateLimit, "quota_exceeded"},                    // 400, but a quota: retry elsewhere
	"ValidationException":                 {canonical.ErrInvalidRequest, ""},                             // 400
	"ConflictException":                   {canonical.ErrInvalidRequest, ""},                             // 400
	"AccessDeniedException":               {canonical.ErrPermission, ""},                                 // 403
	"ResourceNotFoundException":           {canonical.ErrNotFound, "model_not_found"},                    // 404
	"ModelTimeoutException":               {canonical.ErrUpstreamTimeout, ""},                            // 408
	"ModelNotReadyException":              {canonical.ErrUnavailable, "model_not_ready"},                 // 429: model is loading
	"ServiceUnavailableException":         {canonical.ErrUnavailable, ""},                                // 503
	"InternalServerException":             {canonical.ErrUpstream, ""},                                   // 500
	"ModelErrorException":                 {canonical.ErrUpstream, ""},                                   // 424
	"ModelStreamErrorException":           {canonical.ErrUpstream, ""},                                   // 424
	"UnrecognizedClientException":         {canonical.ErrAuthentication, "invalid_upstream_credentials"}, // 403
	"InvalidSignatureException":           {canonical.ErrAuthentication, "invalid_upstream_credentials"}, // 403
	"IncompleteSignatureException":        {canonical.ErrAuthentication, "invalid_upstream_credentials"}, // 403
	"MissingAuthenticationTokenException": {canonical.ErrAuthentication, "invalid_upstream_credentials"},
	"ExpiredTokenException":               {canonical.ErrAuthentication, "invalid_upstream_credentials"}, // 403
	"InvalidClientTokenId":                {canonical.ErrAuthentication, "invalid_upstream_credentials"},
	"SignatureDoesNotMatch":               {canonical.ErrAuthentication, "invalid_upstream_credentials"},
}

// errorFor builds the canonical error for a Bedrock error type; status is the HTTP
// status (0 inside a stream) and decides the kind when the type is unknown.
func errorFor(typ string, status int, msg string) *canonical.Error {
	typ = sanitizeErrorType(typ)
	lookup := typ
	if lookup != "" {
		// Stream exception frames use lowerCamel ("throttlingException").
		lookup = strings.ToUpper(lookup[:1]) + lookup[1:]
	}
	var kind canonical.ErrorKind
	var code string
	if k, ok := errorKinds[lookup]; ok {
		kind, code = k.kind, k.code
	} else if status > 0 {
		kind = canonical.KindForStatus(status)
	} else {
		kind = canonical.ErrUpstream
	}
	if msg == "" {
		msg = "Bedrock returned " + firstNonEmpty(typ, "an error")
		if status > 0 {
			msg += " (HTTP " + strconv.Itoa(status) + ")"
		}
	}
	if kind == canonical.ErrInvalidRequest && contextTooLong(msg) {
		code = "context_length_exceeded"
	}
	return &canonical.Error{
		Status:       canonical.StatusFor(kind),
		Kind:         kind,
		Message:      msg,
		Code:         code,
		ProviderType: typ,
	}
}

// sanitizeErrorType strips the namespace and URI decorations AWS adds, e.g.
// "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" or
// "com.amazon.coral.service#ThrottlingException".
func sanitizeErrorType(t string) string {
	t = strings.TrimSpace(t)
	if i := strings.IndexByte(t, ':'); i >= 0 {
		t = t[:i]
	}
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return t
}

func contextTooLong(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "too long") || strings.Contains(m, "context window") || strings.Contains(m, "context length") || strings.Contains(m, "too many input tokens")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// decodeError maps an HTTP error response of Bedrock Runtime (JSON {"message": …}
// with the type in the x-amzn-ErrorType header, or in "__type" for some front ends)
// to a canonical error.
func decodeError(status int, header http.Header, body []byte) *canonical.Error {
	var b struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
		Type     string `json:"__type"`
		Code     string `json:"code"`
	}
	_ = json.Unmarshal(body, &b)
	typ := header.Get("X-Amzn-Errortype")
	if typ == "" {
		typ = firstNonEmpty(b.Type, b.Code)
	}
	msg := firstNonEmpty(b.Message, b.MessageU)
	if msg == "" && len(body) > 0 && !json.Valid(body) {
		// A non-JSON body (a proxy's HTML page, say): keep a bounded excerpt.
		msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	e := errorFor(typ, status, msg)
	if ra := header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && n > 0 {
			e.RetryAfterSeconds = n
		}
	}
	return e
}
