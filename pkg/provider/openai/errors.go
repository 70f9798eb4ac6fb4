package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// errorTypeAndCode returns the OpenAI "type" and default "code" for a kind. OpenAI's
// SDKs pick their exception class from the HTTP status; the type is what callers
// that parse bodies match on.
func errorTypeAndCode(k canonical.ErrorKind) (typ, code string) {
	switch k {
	case canonical.ErrInvalidRequest:
		return "invalid_request_error", ""
	case canonical.ErrAuthentication:
		return "authentication_error", "invalid_api_key"
	case canonical.ErrPermission:
		return "permission_error", ""
	case canonical.ErrNotFound:
		return "not_found_error", ""
	case canonical.ErrMethodNotAllowed:
		return "invalid_request_error", "method_not_allowed"
	case canonical.ErrRequestTooLarge:
		return "invalid_request_error", "request_too_large"
	case canonical.ErrRateLimit:
		return "rate_limit_exceeded", "rate_limit_exceeded"
	case canonical.ErrBudgetExceeded:
		// OpenAI signals an exhausted quota as type insufficient_quota; clients stop
		// retrying on it, which is what a spent budget needs.
		return "insufficient_quota", "budget_exceeded"
	case canonical.ErrUpstream:
		return "server_error", "upstream_error"
	case canonical.ErrUpstreamTimeout:
		return "server_error", "timeout"
	case canonical.ErrOverloaded:
		return "service_unavailable_error", "server_is_overloaded"
	case canonical.ErrUnavailable:
		return "service_unavailable_error", "service_unavailable"
	default:
		return "server_error", ""
	}
}

// EncodeError renders err as OpenAI's {"error":{"message","type","param","code"}}.
func EncodeError(err *canonical.Error) []byte {
	if err == nil {
		err = canonical.NewError(canonical.ErrInternal, "internal error")
	}
	typ, code := errorTypeAndCode(err.Kind)
	if err.Code != "" {
		code = err.Code
	}
	msg := err.Message
	if msg == "" {
		msg = http.StatusText(err.Status)
	}
	return appendErrorBody(nil, msg, typ, err.Param, code)
}

func appendErrorBody(dst []byte, msg, typ, param, code string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"param":`...)
	dst = appendNullableString(dst, param)
	dst = append(dst, `,"code":`...)
	dst = appendNullableString(dst, code)
	return append(dst, "}}"...)
}

func appendNullableString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, s)
}

// DecodeError maps an upstream error response to a canonical error. It reads OpenAI's
// envelope and the shapes compatible servers use ({"error":"text"} from TGI,
// {"object":"error","message",…} from vLLM, {"message"} from gateways), keeps the
// retry-after hint, and never passes on text that may echo the gateway's API key.
func DecodeError(status int, header http.Header, body []byte) *canonical.Error {
	d := parseErrorBody(body)
	e := errorFromDetail(status, d)
	e.RetryAfterSeconds = RetryAfter(header, time.Now())
	return e
}

func parseErrorBody(body []byte) *ErrorDetail {
	// Fields are listed rather than embedding ErrorDetail, whose UnmarshalJSON would
	// be promoted and take over the whole envelope.
	var env struct {
		Error   *ErrorDetail `json:"error"`
		Message string       `json:"message"`
		Type    string       `json:"type"`
		Param   NullString   `json:"param"`
		Code    NullString   `json:"code"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil
	}
	if env.Error != nil {
		return env.Error
	}
	if env.Message != "" {
		// vLLM's {"object":"error","message",…} and Azure API Management's
		// {"statusCode":401,"message":…}.
		return &ErrorDetail{Message: env.Message, Type: env.Type, Param: env.Param, Code: env.Code}
	}
	return nil
}

// errorFromDetail builds the canonical error for an upstream status and body.
func errorFromDetail(status int, d *ErrorDetail) *canonical.Error {
	if status < 400 {
		// An error object inside a 200 stream: classify by its type below.
		status = 0
	}
	e := &canonical.Error{Status: status}
	if d != nil {
		e.Message = d.Message
		e.ProviderType = d.Type
		e.Param = d.Param.Value
		e.Code = d.Code.Value
	}
	if e.Status == 0 {
		e.Status = statusForType(e.ProviderType, e.Code)
	}
	e.Kind = canonical.KindForStatus(e.Status)
	switch {
	case e.Status == http.StatusUnauthorized:
		// The caller's key is not what the provider rejected: the gateway's is. Do not
		// blame the caller, and do not relay the provider's message, which quotes part
		// of the gateway's key ("Incorrect API key provided: sk-…abcd").
		e.Status, e.Kind = http.StatusBadGateway, canonical.ErrUpstream
		e.Code = "upstream_authentication_failed"
		e.Message = "the upstream provider rejected the gateway's credentials"
	case e.Status == http.StatusTooManyRequests && e.Code == "insufficient_quota":
		// The provider account is out of quota: still a 429, so fallback applies.
		e.Kind = canonical.ErrRateLimit
	}
	if e.Message == "" {
		e.Message = "upstream returned HTTP " + strconv.Itoa(status)
		if t := http.StatusText(status); t != "" {
			e.Message += " (" + t + ")"
		}
	}
	e.Message = redactKeys(e.Message)
	return e
}

// statusForType classifies an error that arrived without an HTTP status (inside a
// stream) by its type and code.
func statusForType(typ, code string) int {
	switch {
	case typ == "invalid_request_error" || code == "context_length_exceeded" || code == "invalid_prompt":
		return http.StatusBadRequest
	case typ == "rate_limit_exceeded" || typ == "rate_limit_error" || code == "rate_limit_exceeded" ||
		typ == "tokens" || typ == "requests" || typ == "insufficient_quota":
		return http.StatusTooManyRequests
	case typ == "service_unavailable_error" || code == "server_is_overloaded":
		return http.StatusServiceUnavailable
	case typ == "authentication_error":
		return http.StatusUnauthorized
	case typ == "permission_error":
		return http.StatusForbidden
	default:
		return http.StatusBadGateway
	}
}

// redactKeys masks anything that looks like an API key (sk-…, key-…, long
// token-like words) so upstream messages can be shown to callers and logged.
func redactKeys(msg string) string {
	if !strings.Contains(msg, "sk-") && !strings.Contains(msg, "key") {
		return msg
	}
	fields := strings.Fields(msg)
	changed := false
	for i, f := range fields {
		core := strings.TrimRight(f, ".,;:)'\"")
		if strings.HasPrefix(core, "sk-") || (len(core) >= 32 && isTokenLike(core)) {
			fields[i] = "[redacted]" + f[len(core):]
			changed = true
		}
	}
	if !changed {
		return msg
	}
	return strings.Join(fields, " ")
}

func isTokenLike(s string) bool {
	digits, letters := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '*':
		default:
			return false
		}
	}
	return digits > 0 && letters > 0
}

// RetryAfter reads a retry delay in whole seconds; see provider.RetryAfter.
func RetryAfter(h http.Header, now time.Time) int { return provider.RetryAfter(h, now) }
