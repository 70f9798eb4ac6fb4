// Package jsonwire reads and writes JSON without reflection for the translators' hot
// paths (request parsing and building, per-token stream decoding).
//
// Reader is strict: it accepts exactly the documents encoding/json accepts, decodes
// strings exactly as encoding/json does, and turns anything it does not handle into a
// sticky failure. The translators use it as a fast path and fall back to their
// encoding/json code whenever it fails, so malformed or unusual input still gets the
// same result and the same error text as before. The append functions produce the
// bytes encoding/json.Marshal produces for the same values.
package jsonwire

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting Skip follows; deeper documents fail (and the caller's
// encoding/json fallback handles them).
const maxDepth = 256

// Reader walks one JSON document held in memory.
type Reader struct {
	data []byte
	src  string // optional copy of data; unescaped strings are substrings of it
	pos  int
	bad  bool
}

// NewReader returns a Reader over data. Decoded strings are fresh allocations.
func NewReader(data []byte) Reader { return Reader{data: data} }

// NewSharingReader returns a Reader over data that copies data once into a string and
// returns unescaped strings as substrings of that copy: one allocation for the
// document instead of one per string. The strings keep the whole copy alive.
func NewSharingReader(data []byte) Reader { return Reader{data: data, src: string(data)} }

// Failed reports whether the reader met input it does not accept.
func (r *Reader) Failed() bool { return r.bad }

// Fail marks the document as not handled; every later read fails too.
func (r *Reader) Fail() { r.bad = true }

func (r *Reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// Peek skips whitespace and returns the next byte, or 0 at the end or after a failure.
func (r *Reader) Peek() byte {
	if r.bad {
		return 0
	}
	r.ws()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

// End reports whether only whitespace remains (and nothing failed).
func (r *Reader) End() bool {
	if r.Peek() != 0 || r.pos != len(r.data) {
		r.bad = true
	}
	return !r.bad
}

// Open consumes the opening byte c ('{' or '[') of an object or array.
func (r *Reader) Open(c byte) bool {
	if r.Peek() != c {
		r.bad = true
		return false
	}
	r.pos++
	return true
}

// More reports whether another member or element follows in the object or array that
// closes with c; i is the number already read. It consumes the separating comma, or
// the closing byte when it returns false.
func (r *Reader) More(c byte, i int) bool {
	switch r.Peek() {
	case c:
		r.pos++
		return false
	case ',':
		if i > 0 {
			r.pos++
			return true
		}
	case 0:
	default:
		if i == 0 {
			return true
		}
	}
	r.bad = true
	return false
}

// Key reads an object member's key and the colon after it, and returns the key's
// bytes. Keys with escapes fail: encoding/json matches them after unescaping.
func (r *Reader) Key() []byte {
	s := r.key()
	if s.Escaped {
		r.bad = true
	}
	if r.bad {
		return nil
	}
	return r.data[s.Start:s.End]
}

// key reads a key literal and the colon after it.
func (r *Reader) key() Span {
	s := r.StringSpan()
	if r.Peek() != ':' {
		r.bad = true
		return Span{}
	}
	r.pos++
	return s
}

// Null consumes a null literal if one is next.
func (r *Reader) Null() bool {
	if r.Peek() != 'n' {
		return false
	}
	r.literal("null")
	return !r.bad
}

// OptString reads a string into *dst; null leaves *dst alone, as encoding/json does.
func (r *Reader) OptString(dst *string) {
	if !r.Null() {
		*dst = r.String()
	}
}

// StringPtr reads a string, or null as nil (encoding/json's *string).
func (r *Reader) StringPtr() *string {
	if r.Null() {
		return nil
	}
	s := r.String()
	return &s
}

// BoolPtr reads a boolean, or null as nil.
func (r *Reader) BoolPtr() *bool {
	if r.Null() {
		return nil
	}
	b := r.Bool()
	return &b
}

// IntPtr reads an integer, or null as nil.
func (r *Reader) IntPtr() *int {
	if r.Null() {
		return nil
	}
	n := int(r.Int())
	return &n
}

// FloatPtr reads a number, or null as nil.
func (r *Reader) FloatPtr() *float64 {
	if r.Null() {
		return nil
	}
	f := r.Float()
	return &f
}

// Bool reads true or false.
func (r *Reader) Bool() bool {
	switch r.Peek() {
	case 't':
		r.literal("true")
		return true
	case 'f':
		r.literal("false")
	default:
		r.bad = true
	}
	return false
}

func (r *Reader) literal(lit string) {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		r.bad = true
		return
	}
	r.pos += len(lit)
}

// Span locates a string literal's contents (without quotes) in the document.
type Span struct {
	Start, End int
	// Escaped is true when the contents hold a backslash escape, a control byte or
	// invalid UTF-8, so they need decoding.
	Escaped bool
}

// StringSpan reads a string literal and returns where its contents are.
func (r *Reader) StringSpan() Span {
	if r.Peek() != '"' {
		r.bad = true
		return Span{}
	}
	b := r.data
	i := r.pos + 1
	s := Span{Start: i}
	for i < len(b) {
		// Skip eight ordinary bytes at a time: most of a document is string text.
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			s.End = i
			r.pos = i + 1
			return s
		case c == '\\':
			s.Escaped = true
			if i+1 >= len(b) {
				r.bad = true
				return Span{}
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					r.bad = true
					return Span{}
				}
				i += 6
			default:
				r.bad = true
				return Span{}
			}
		case c < 0x20:
			r.bad = true
			return Span{}
		case c < utf8.RuneSelf:
			i++
		default:
			rn, size := utf8.DecodeRune(b[i:])
			if rn == utf8.RuneError && size == 1 {
				s.Escaped = true // encoding/json replaces invalid UTF-8 with U+FFFD
			}
			i += size
		}
	}
	r.bad = true
	return Span{}
}

// Text returns the decoded string of a span from StringSpan.
func (r *Reader) Text(s Span) string {
	if r.bad {
		return ""
	}
	if !s.Escaped {
		if r.src != "" {
			return r.src[s.Start:s.End]
		}
		return string(r.data[s.Start:s.End])
	}
	return string(unquote(r.data[s.Start:s.End]))
}

// Bytes returns the raw (still escaped) contents of a span.
func (r *Reader) Bytes(s Span) []byte { return r.data[s.Start:s.End] }

// Equal reports whether the decoded string of span s equals want, without allocating
// for unescaped strings.
func (r *Reader) Equal(s Span, want string) bool {
	if !s.Escaped {
		return string(r.data[s.Start:s.End]) == want
	}
	return string(unquote(r.data[s.Start:s.End])) == want
}

// String reads a string value.
func (r *Reader) String() string { return r.Text(r.StringSpan()) }

// Int reads an integer the way encoding/json fills an int or int64 field: a number
// without fraction or exponent that fits 64 bits.
func (r *Reader) Int() int64 {
	start, end := r.number()
	if r.bad {
		return 0
	}
	n, err := strconv.ParseInt(string(r.data[start:end]), 10, 64)
	if err != nil {
		r.bad = true
	}
	return n
}

// Float reads a number into a float64 as encoding/json does.
func (r *Reader) Float() float64 {
	start, end := r.number()
	if r.bad {
		return 0
	}
	f, err := strconv.ParseFloat(string(r.data[start:end]), 64)
	if err != nil {
		r.bad = true
	}
	return f
}

// number reads a JSON number literal and returns its bounds.
func (r *Reader) number() (start, end int) {
	c := r.Peek()
	if c != '-' && (c < '0' || c > '9') {
		r.bad = true
		return 0, 0
	}
	b := r.data
	i := r.pos
	start = i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		r.bad = true
		return 0, 0
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			r.bad = true
			return 0, 0
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			r.bad = true
			return 0, 0
		}
		i = j
	}
	r.pos = i
	return start, i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Skip validates and skips one value of any type.
func (r *Reader) Skip() { r.skip(0) }

// Raw validates one value of any type and returns its bytes (without surrounding
// whitespace), as encoding/json stores a json.RawMessage.
func (r *Reader) Raw() []byte {
	r.ws()
	start := r.pos
	r.skip(0)
	if r.bad {
		return nil
	}
	return r.data[start:r.pos:r.pos]
}

func (r *Reader) skip(depth int) {
	switch r.Peek() {
	case '"':
		r.StringSpan()
	case '{':
		if depth >= maxDepth {
			r.bad = true
			return
		}
		r.pos++
		for i := 0; r.More('}', i); i++ {
			r.key()
			r.skip(depth + 1)
		}
	case '[':
		if depth >= maxDepth {
			r.bad = true
			return
		}
		r.pos++
		for i := 0; r.More(']', i); i++ {
			r.skip(depth + 1)
		}
	case 't':
		r.literal("true")
	case 'f':
		r.literal("false")
	case 'n':
		r.literal("null")
	default:
		r.number()
	}
}

// special reports whether any of the eight bytes in x is a quote, a backslash, a
// control byte or not ASCII.
func special(x uint64) bool {
	return x&hi != 0 || (x-lo*0x20)&^x&hi != 0 || hasByte(x, '"') || hasByte(x, '\\')
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unquote decodes string contents validated by StringSpan exactly as encoding/json
// does: escapes are resolved, invalid surrogate escapes and invalid UTF-8 bytes become
// U+FFFD.
func unquote(s []byte) []byte {
	out := make([]byte, 0, len(s)+utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rn := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(rn) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(rn, hex4(s[i+2:])); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					rn = utf8.RuneError
				}
				out = utf8.AppendRune(out, rn)
				continue
			default: // '"', '\\', '/'
				out = append(out, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			rn, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, rn)
			i += size
		}
	}
	return out
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Valid reports whether data is one valid JSON value, as json.Valid does.
func Valid(data []byte) bool {
	r := NewReader(data)
	r.Skip()
	// The reader also fails on documents nested deeper than it follows.
	return r.End() || json.Valid(data)
}

// Seen records which fields of one object a fast path has read. encoding/json merges a
// duplicate member into the value already decoded, which fast paths leave to it.
type Seen uint64

// First records field f (0 to 63) and reports whether it was not seen before.
func (s *Seen) First(f int) bool {
	if *s&(1<<f) != 0 {
		return false
	}
	*s |= 1 << f
	return true
}

// MayFold reports whether an unknown key might still name a field for encoding/json,
// which matches keys case-insensitively with Unicode folding: true for any non-ASCII
// key and for an ASCII key whose lower-case form is a field.
func MayFold(key []byte, isField func(string) bool) bool {
	var buf [32]byte
	if len(key) > len(buf) {
		return false // longer than any field name the fast paths know
	}
	for i, c := range key {
		switch {
		case c >= utf8.RuneSelf:
			return true
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return isField(string(buf[:len(key)]))
}
