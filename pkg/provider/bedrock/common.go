package bedrock

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// invalid returns a 400 for a request Bedrock cannot express.
func invalid(param, format string, args ...any) *canonical.Error {
	e := canonical.NewError(canonical.ErrInvalidRequest, format, args...)
	e.Param = param
	return e
}

// escapeLabel percent-encodes a path label the way the AWS SDKs do: every byte
// except the RFC 3986 unreserved characters, so an inference-profile ARN such as
// "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-x" stays one
// path segment.
func escapeLabel(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// modelPath is "<prefix>/model/<escaped id>/<op>".
func modelPath(prefix, model, op string) string {
	return prefix + "/model/" + escapeLabel(model) + "/" + op
}

// inlineImage returns the media type and base64 data of a canonical image, accepting
// data: URLs. Bedrock takes image bytes only: it does not fetch URLs (and a gateway
// that fetched arbitrary URLs for callers would be an SSRF hazard).
func inlineImage(img *canonical.Image, param string) (mediaType, data string, err error) {
	if img == nil {
		return "", "", invalid(param, "image part without image")
	}
	if img.Data != "" {
		return img.MediaType, img.Data, nil
	}
	if rest, ok := strings.CutPrefix(img.URL, "data:"); ok {
		meta, payload, found := strings.Cut(rest, ",")
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if found && isB64 {
			return mt, payload, nil
		}
	}
	return "", "", invalid(param, "Bedrock accepts only inline base64 images (data: URLs), not image URLs")
}

// imageFormat maps a MIME type to Bedrock's ImageFormat.
func imageFormat(mediaType, param string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(mediaType)) {
	case "image/png":
		return "png", nil
	case "image/jpeg", "image/jpg":
		return "jpeg", nil
	case "image/gif":
		return "gif", nil
	case "image/webp":
		return "webp", nil
	}
	return "", invalid(param, "unsupported image media type %q (Bedrock takes png, jpeg, gif, webp)", mediaType)
}

// toolInput turns a canonical arguments string into the JSON object Bedrock and
// Anthropic want as tool input ("" means no arguments).
func toolInput(args, param string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace([]byte(args))
	if len(trimmed) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(trimmed) {
		return nil, invalid(param, "tool call arguments are not valid JSON")
	}
	return json.RawMessage(trimmed), nil
}

// compactJSON renders a JSON value as a compact string (tool input → arguments).
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// effortBudget converts an OpenAI reasoning effort into a thinking budget for
// Claude; the numbers follow common practice (LiteLLM, Bifrost) and stay well above
// Claude's 1024-token minimum.
func effortBudget(r *canonical.Reasoning) int {
	if r.BudgetTokens > 0 {
		return r.BudgetTokens
	}
	switch r.Effort {
	case "minimal":
		return 1024
	case "low":
		return 2048
	case "high":
		return 16384
	default: // medium or unset
		return 8192
	}
}

// emptySchema is the input schema used for tools declared without parameters.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func toolSchema(p json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(p)) == 0 || string(bytes.TrimSpace(p)) == "null" {
		return emptySchema
	}
	return p
}

// isClaude reports whether a Bedrock model id (or inference profile / ARN) names an
// Anthropic model.
func isClaude(model string) bool {
	m := strings.ToLower(model)
	return strings.Contains(m, "anthropic.") || strings.Contains(m, "claude")
}

func isNova(model string) bool { return strings.Contains(strings.ToLower(model), "amazon.nova") }

func isOpenAIModel(model string) bool { return strings.Contains(strings.ToLower(model), "openai.") }

// finishReason maps Bedrock Converse and Anthropic stop reasons to canonical ones.
func finishReason(stop string) canonical.FinishReason {
	switch stop {
	case "end_turn", "stop_sequence", "pause_turn", "":
		return canonical.FinishStop
	case "max_tokens", "model_context_window_exceeded":
		return canonical.FinishLength
	case "tool_use":
		return canonical.FinishToolCalls
	case "guardrail_intervened", "content_filtered", "refusal":
		return canonical.FinishContentFilter
	case "malformed_model_output", "malformed_tool_use":
		return canonical.FinishError
	}
	return canonical.FinishStop
}

func ptr[T any](v T) *T { return &v }
