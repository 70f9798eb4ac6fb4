package gemini

import (
	"encoding/base64"
	"hash/fnv"
	"strconv"
	"strings"
)

// Gemini 3 models attach an opaque thoughtSignature to function-call parts and reject a
// later request whose history lacks it ("Function call is missing a thought_signature").
// canonical.ToolCall has no field for it, and OpenAI-schema callers echo back only the
// tool call id, so the signature travels inside the id: "<id>__ts__<signature as
// unpadded base64url>". The alphabet stays [A-Za-z0-9_-], which Anthropic's tool_use id
// pattern accepts too.
const (
	sigSep = "__ts__"
	// dummySignature is Google's documented value for function calls whose real
	// signature is unknown (history from another model, or a client that dropped it).
	dummySignature = "skip_thought_signature_validator"
)

// encodeCallID appends a thought signature to a tool call id. A signature that is not
// standard base64 (which Google always sends) is left out rather than mangled.
func encodeCallID(id, sig string) string {
	if sig == "" {
		return id
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != sig {
		return id
	}
	return id + sigSep + base64.RawURLEncoding.EncodeToString(raw)
}

// splitCallID returns the id without its signature suffix and the signature in
// Google's standard base64 ("" when none or unreadable).
func splitCallID(id string) (base, sig string) {
	base, enc, found := strings.Cut(id, sigSep)
	if !found {
		return id, ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return base, ""
	}
	return base, base64.StdEncoding.EncodeToString(raw)
}

// generatedCallID makes a tool call id for a function call that came without one. It
// is stable for a given response: derived from the response id when present, else
// from the call itself, plus the call's position.
func generatedCallID(responseID string, n int, name string, args []byte) string {
	key := sanitizeID(responseID)
	if key == "" {
		h := fnv.New32a()
		_, _ = h.Write([]byte(name))
		_, _ = h.Write(args)
		key = strconv.FormatUint(uint64(h.Sum32()), 36)
	}
	return "call_" + key + "_" + strconv.Itoa(n)
}

// sanitizeID keeps the characters tool call ids may hold everywhere.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// majorVersion extracts N from model names like "gemini-N…", "models/gemini-N.5-flash"
// or "publishers/google/models/gemini-N-pro"; 0 when the name says nothing.
func majorVersion(model string) int {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	rest, ok := strings.CutPrefix(model, "gemini-")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1000 {
			return 0
		}
	}
	return n
}
