package jsonwire

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string exactly as encoding/json.Marshal writes it:
// <, > and & are escaped as \u003c, \u003e and \u0026, invalid UTF-8 becomes U+FFFD,
// and U+2028 and U+2029 are escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight bytes at a time while none needs attention.
		for i+8 <= len(s) && !needsEscape(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const lo, hi = 0x0101010101010101, 0x8080808080808080

// hasZero reports whether any byte of x is zero.
func hasZero(x uint64) bool { return (x-lo)&^x&hi != 0 }

// hasByte reports whether any byte of x is c.
func hasByte(x uint64, c byte) bool { return hasZero(x ^ (lo * uint64(c))) }

// needsEscape reports whether any byte of x may need escaping in a JSON string
// written like encoding/json: not ASCII, a control byte, '"', '\\', '<', '>' or '&'.
func needsEscape(x uint64) bool {
	return x&hi != 0 || (x-lo*0x20)&^x&hi != 0 || hasByte(x, '"') || hasByte(x, '\\') ||
		hasByte(x, '<') || hasByte(x, '>') || hasByte(x, '&')
}

// htmlStop reports whether any byte of x is '<', '>', '&' or not ASCII (which may
// start U+2028 or U+2029).
func htmlStop(x uint64) bool {
	return x&hi != 0 || hasByte(x, '<') || hasByte(x, '>') || hasByte(x, '&')
}

// load64 reads eight bytes of s at i, little-endian (the compiler makes it one load).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// AppendCompact appends the JSON value raw with the whitespace outside strings removed.
// With escapeHTML it also escapes <, >, &, U+2028 and U+2029, which is how
// encoding/json.Marshal writes a json.RawMessage; without, it matches json.Compact.
// ok is false (and dst is returned unchanged) when raw is not one valid JSON value.
func AppendCompact(dst, raw []byte, escapeHTML bool) (out []byte, ok bool) {
	r := NewReader(raw)
	out = r.compact(dst, 0, escapeHTML)
	if !r.End() {
		return dst, false
	}
	return out, true
}

// compact validates one value and appends it without whitespace, in one pass.
func (r *Reader) compact(dst []byte, depth int, escapeHTML bool) []byte {
	c := r.Peek()
	start := r.pos
	switch c {
	case '"':
		r.StringSpan()
		if r.bad {
			return dst
		}
		return appendLiteral(dst, r.data[start:r.pos], escapeHTML)
	case '{', '[':
		if depth >= maxDepth {
			r.bad = true
			return dst
		}
		r.pos++
		dst = append(dst, c)
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		for i := 0; r.More(end, i); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if c == '{' {
				k := r.key()
				if r.bad {
					return dst
				}
				dst = appendLiteral(dst, r.data[k.Start-1:k.End+1], escapeHTML)
				dst = append(dst, ':')
			}
			dst = r.compact(dst, depth+1, escapeHTML)
		}
		return append(dst, end)
	}
	r.skip(depth) // a literal or a number: no inner whitespace
	return append(dst, r.data[start:r.pos]...)
}

// appendLiteral appends a validated string literal, escaping as encoding/json's
// compaction does when escapeHTML is set.
func appendLiteral(dst, lit []byte, escapeHTML bool) []byte {
	if !escapeHTML {
		return append(dst, lit...)
	}
	start := 0
	for i := 0; i < len(lit); i++ {
		for i+8 <= len(lit) && !htmlStop(binary.LittleEndian.Uint64(lit[i:])) {
			i += 8
		}
		if i >= len(lit) {
			break
		}
		c := lit[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, lit[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		case c == 0xE2 && i+2 < len(lit) && lit[i+1] == 0x80 && lit[i+2]&^1 == 0xA8:
			dst = append(dst, lit[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[lit[i+2]&0xf])
			start = i + 3
			i += 2
		}
	}
	return append(dst, lit[start:]...)
}

// AppendFloat appends f as encoding/json writes a float64. ok is false for NaN and
// infinities, which encoding/json refuses.
func AppendFloat(dst []byte, f float64) (out []byte, ok bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}
