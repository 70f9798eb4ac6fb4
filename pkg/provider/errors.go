package provider

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RetryAfter reads a retry delay in whole seconds (rounded up) from retry-after-ms
// (OpenAI, Azure), or retry-after as seconds (integer or fractional) or an HTTP date;
// 0 when there is none. Every adapter's DecodeError uses it, so callers get the same
// retry-after whichever provider answered.
func RetryAfter(h http.Header, now time.Time) int {
	if h == nil {
		return 0
	}
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 && ms < 1e9 {
			return int(math.Ceil(ms / 1000))
		}
	}
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e7 {
			return 0
		}
		return int(math.Ceil(s))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return int(math.Ceil(d.Seconds()))
		}
	}
	return 0
}

// Snippet returns a short, printable excerpt of a non-JSON error body for an error
// message: at most 256 bytes of valid UTF-8, control characters replaced by spaces.
func Snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	const maxLen = 256
	if len(s) > maxLen {
		s = s[:maxLen]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' {
			return ' '
		}
		return r
	}, s)
}
