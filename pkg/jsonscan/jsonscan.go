// Package jsonscan reads a few top-level fields of a JSON object without decoding the
// whole document. The gateway uses it on the hot path to learn a request's model and
// stream flag before deciding whether the body needs translating at all. It also holds
// AppendString, the reflection-free JSON string encoder the stream encoders share.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
)

// ErrNotObject is returned when the document is not a JSON object.
var ErrNotObject = errors.New("request body must be a JSON object")

// ErrSyntax is returned for malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

// Fields calls fn for each top-level member of the object in data with the member's key
// (unescaped only when it contains no escapes; keys with escapes are passed raw) and its
// raw value bytes. It validates the structure it skips over.
func Fields(data []byte, fn func(key string, value []byte)) error {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return ErrSyntax
		}
		kEnd, err := skipString(data, i)
		if err != nil {
			return err
		}
		key := intern(data[i+1 : kEnd-1])
		i = skipWS(data, kEnd)
		if i >= len(data) || data[i] != ':' {
			return ErrSyntax
		}
		i = skipWS(data, i+1)
		vEnd, err := skipValue(data, i, 0)
		if err != nil {
			return err
		}
		fn(key, data[i:vEnd])
		i = skipWS(data, vEnd)
		if i >= len(data) {
			return ErrSyntax
		}
		if data[i] == '}' {
			return trailing(data, i+1)
		}
		if data[i] != ',' {
			return ErrSyntax
		}
		i = skipWS(data, i+1)
	}
}

// String decodes a raw JSON string value; ok is false when raw is not a string.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			s, err := strconv.Unquote(string(raw))
			if err != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// Bool decodes a raw JSON boolean; ok is false when raw is not a boolean.
func Bool(raw []byte) (v, ok bool) {
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func trailing(data []byte, i int) error {
	if skipWS(data, i) != len(data) {
		return ErrSyntax
	}
	return nil
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the closing quote of the string at data[i].
// It jumps between quotes with bytes.IndexByte (vectorised) and counts the backslashes
// before each one, then rejects raw control characters in the span. Escape sequences
// are not validated here (the passthrough rewriter and the schema parsers do that).
func skipString(data []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, ErrSyntax
		}
		q := j + k
		n := 0
		for b := q - 1; b > i && data[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			// Raw control characters are not allowed inside JSON strings.
			if hasControl(data[i+1 : q]) {
				return 0, ErrSyntax
			}
			return q + 1, nil
		}
		j = q + 1
	}
}

// hasControl reports whether b contains a byte below 0x20. It tests eight bytes at a
// time: (x - 0x20 in every byte) &^ x has a byte's high bit set if and only if some
// byte of x is below 0x20 (the "has less than" bit trick, exact for "is there any").
func hasControl(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-lo*0x20)&^x&hi != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

const maxDepth = 512

func skipValue(data []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrSyntax
	}
	if i >= len(data) {
		return 0, ErrSyntax
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i)
	case c == '{' || c == '[':
		closeCh := byte('}')
		if c == '[' {
			closeCh = ']'
		}
		j := skipWS(data, i+1)
		if j < len(data) && data[j] == closeCh {
			return j + 1, nil
		}
		for {
			if c == '{' {
				if j >= len(data) || data[j] != '"' {
					return 0, ErrSyntax
				}
				k, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = skipWS(data, k)
				if j >= len(data) || data[j] != ':' {
					return 0, ErrSyntax
				}
				j = skipWS(data, j+1)
			}
			end, err := skipValue(data, j, depth+1)
			if err != nil {
				return 0, err
			}
			j = skipWS(data, end)
			if j >= len(data) {
				return 0, ErrSyntax
			}
			if data[j] == closeCh {
				return j + 1, nil
			}
			if data[j] != ',' {
				return 0, ErrSyntax
			}
			j = skipWS(data, j+1)
		}
	case c == 't':
		return literal(data, i, "true")
	case c == 'f':
		return literal(data, i, "false")
	case c == 'n':
		return literal(data, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(data) {
			d := data[j]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				j++
				continue
			}
			break
		}
		return j, nil
	}
	return 0, ErrSyntax
}

func literal(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// intern returns the top-level keys that LLM request and response bodies commonly use
// (and those of OpenAI's usage object) as constants, so scanning them allocates
// nothing; other keys are copied.
func intern(b []byte) string {
	switch string(b) { // the conversion in a switch does not allocate
	case "model":
		return "model"
	case "stream":
		return "stream"
	case "messages":
		return "messages"
	case "tools":
		return "tools"
	case "tool_choice":
		return "tool_choice"
	case "temperature":
		return "temperature"
	case "max_tokens":
		return "max_tokens"
	case "max_completion_tokens":
		return "max_completion_tokens"
	case "stream_options":
		return "stream_options"
	case "usage":
		return "usage"
	case "id":
		return "id"
	case "object":
		return "object"
	case "created":
		return "created"
	case "choices":
		return "choices"
	case "seed":
		return "seed"
	case "top_p":
		return "top_p"
	case "user":
		return "user"
	case "system":
		return "system"
	case "input":
		return "input"
	case "system_fingerprint":
		return "system_fingerprint"
	case "prompt_tokens":
		return "prompt_tokens"
	case "completion_tokens":
		return "completion_tokens"
	case "total_tokens":
		return "total_tokens"
	case "prompt_tokens_details":
		return "prompt_tokens_details"
	case "completion_tokens_details":
		return "completion_tokens_details"
	case "cached_tokens":
		return "cached_tokens"
	case "reasoning_tokens":
		return "reasoning_tokens"
	case "audio_tokens":
		return "audio_tokens"
	case "accepted_prediction_tokens":
		return "accepted_prediction_tokens"
	case "rejected_prediction_tokens":
		return "rejected_prediction_tokens"
	}
	return string(b)
}
