package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// DroppedFields are the top-level request fields Canonicalize removes because they
// must not split the cache:
//
//   - "stream", "stream_options": how the response is delivered, not what it says
//     (Entry.Stream records the stored form);
//   - "user", "metadata": end-user ids and tags for the provider's accounting and
//     abuse tracking, which do not change the output;
//   - "model": the caller's spelling of the model (possibly an alias); Key takes the
//     resolved model explicitly, so aliases of one model share entries.
var DroppedFields = []string{"stream", "stream_options", "user", "metadata", "model"}

// Errors from Canonicalize.
var (
	ErrInvalidJSON  = errors.New("cache: request body is not valid JSON")
	ErrNotObject    = errors.New("cache: request body is not a JSON object")
	ErrDuplicateKey = errors.New("cache: request body has a duplicate object key")
	ErrTooDeep      = errors.New("cache: request body nests too deeply")
)

// maxDepth bounds nesting (a request nested deeper is simply not cached).
const maxDepth = 512

// keyDomain separates cache keys from every other SHA-256 use; bump its version when
// the canonical form changes, so old entries stop matching instead of being misread.
const keyDomain = "llm-router/response-cache/v1\x00"

// Key returns the cache key for a canonical request (from Canonicalize) of the resolved
// public model; keyID is "" unless the model's cache is configured per key. It is the
// lowercase hex SHA-256 of keyDomain followed by the scope, model, keyID and request,
// each preceded by its length as 8 big-endian bytes, so no two different inputs share
// a preimage. Key uses the empty scope; see ScopedKey.
func Key(model string, canonicalRequest []byte, keyID string) string {
	return ScopedKey("", model, canonicalRequest, keyID)
}

// ScopedKey is Key with a scope, e.g. the API operation ("chat", "messages",
// "embeddings"). Use it whenever one body could reach two endpoints whose responses
// differ in schema: an OpenAI chat body and an Anthropic messages body can be
// byte-identical, and must not share an entry.
func ScopedKey(scope, model string, canonicalRequest []byte, keyID string) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write([]byte(keyDomain))
	field(scope)
	field(model)
	field(keyID)
	binary.BigEndian.PutUint64(n[:], uint64(len(canonicalRequest)))
	h.Write(n[:])
	h.Write(canonicalRequest)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// Canonicalize returns a canonical encoding of a JSON request object, so that requests
// equal as JSON values share a key:
//
//   - object members sorted by key (bytewise on the canonical key) at every depth;
//     DroppedFields removed at the top level;
//   - no insignificant whitespace;
//   - strings with escapes resolved: only '"', '\\' and control characters are
//     escaped (\b \t \n \f \r, else \u00xx); everything else is literal UTF-8. Lone
//     surrogate escapes stay escaped and invalid UTF-8 bytes are kept as they are, so
//     different inputs never collapse;
//   - numbers: integer literals keep their digits ("-0" becomes "0"); numbers with a
//     fraction or exponent are parsed as float64 and written as an integer when
//     integral and below 2^53 (so 1, 1.0 and 1e0 agree), else in Go's shortest
//     'g' form; a number beyond float64's range keeps its literal text.
//
// A body that is not a JSON object, has a duplicate key at any depth (providers disagree
// on which one wins) or nests deeper than 512 levels is an error: do not cache it.
func Canonicalize(body []byte) ([]byte, error) {
	p := canonParser{data: body}
	p.ws()
	if p.i >= len(body) || body[p.i] != '{' {
		if p.i < len(body) && !json1Valid(body) {
			return nil, ErrInvalidJSON
		}
		return nil, ErrNotObject
	}
	out, err := p.value(make([]byte, 0, len(body)), 0, true)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(body) {
		return nil, ErrInvalidJSON
	}
	return out, nil
}

// json1Valid tells a non-object from garbage for the error message only.
func json1Valid(b []byte) bool {
	p := canonParser{data: b}
	p.ws()
	if _, err := p.value(nil, 0, false); err != nil {
		return false
	}
	p.ws()
	return p.i == len(b)
}

type canonParser struct {
	data []byte
	i    int
	// ms is a stack of object members shared by all nesting levels: an object's
	// members sit above its parent's until the object is written out.
	ms []member
	// scratch holds an object's unsorted members while they are rewritten in order;
	// reused because nested objects are finished before their parent is rewritten.
	scratch []byte
}

type member struct{ start, keyEnd, end int }

func (p *canonParser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *canonParser) value(out []byte, depth int, top bool) ([]byte, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	if p.i >= len(p.data) {
		return nil, ErrInvalidJSON
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(out, depth, top)
	case c == '[':
		return p.array(out, depth)
	case c == '"':
		return p.str(out)
	case c == '-' || c >= '0' && c <= '9':
		return p.number(out)
	case c == 't':
		return p.literal(out, "true")
	case c == 'f':
		return p.literal(out, "false")
	case c == 'n':
		return p.literal(out, "null")
	}
	return nil, ErrInvalidJSON
}

func (p *canonParser) literal(out []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(p.data[p.i:], []byte(lit)) {
		return nil, ErrInvalidJSON
	}
	p.i += len(lit)
	return append(out, lit...), nil
}

func (p *canonParser) array(out []byte, depth int) ([]byte, error) {
	p.i++ // '['
	out = append(out, '[')
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return append(out, ']'), nil
	}
	for {
		p.ws()
		var err error
		if out, err = p.value(out, depth+1, false); err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.data) {
			return nil, ErrInvalidJSON
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			out = append(out, ',')
		case ']':
			p.i++
			return append(out, ']'), nil
		default:
			return nil, ErrInvalidJSON
		}
	}
}

// object writes each member's canonical "key":value after out, then rewrites that
// region with the members sorted.
func (p *canonParser) object(out []byte, depth int, top bool) ([]byte, error) {
	p.i++ // '{'
	start := len(out)
	base := len(p.ms)
	defer func() { p.ms = p.ms[:base] }()
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return append(out, '{', '}'), nil
	}
	for {
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, ErrInvalidJSON
		}
		m := member{start: len(out)}
		var err error
		if out, err = p.str(out); err != nil {
			return nil, err
		}
		m.keyEnd = len(out)
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, ErrInvalidJSON
		}
		p.i++
		out = append(out, ':')
		p.ws()
		if out, err = p.value(out, depth+1, false); err != nil {
			return nil, err
		}
		m.end = len(out)
		if top && dropped(out[m.start:m.keyEnd]) {
			out = out[:m.start]
		} else {
			p.ms = append(p.ms, m)
		}
		p.ws()
		if p.i >= len(p.data) {
			return nil, ErrInvalidJSON
		}
		if p.data[p.i] == '}' {
			p.i++
			break
		}
		if p.data[p.i] != ',' {
			return nil, ErrInvalidJSON
		}
		p.i++
	}
	region := append(p.scratch[:0], out[start:]...)
	p.scratch = region
	ms := p.ms[base:]
	key := func(m member) []byte { return region[m.start-start : m.keyEnd-start] }
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(key(a), key(b)) })
	out = append(out[:start], '{')
	for k, m := range ms {
		if k > 0 {
			if bytes.Equal(key(ms[k-1]), key(m)) {
				return nil, ErrDuplicateKey
			}
			out = append(out, ',')
		}
		out = append(out, region[m.start-start:m.end-start]...)
	}
	return append(out, '}'), nil
}

func dropped(quotedKey []byte) bool {
	k := quotedKey[1 : len(quotedKey)-1]
	for _, d := range DroppedFields {
		if string(k) == d {
			return true
		}
	}
	return false
}

// str parses a string at p.i and writes its canonical form.
func (p *canonParser) str(out []byte) ([]byte, error) {
	p.i++ // opening quote
	out = append(out, '"')
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return append(out, '"'), nil
		case c < 0x20:
			return nil, ErrInvalidJSON
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		// An escape.
		if p.i+1 >= len(p.data) {
			return nil, ErrInvalidJSON
		}
		e := p.data[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = appendRune(out, rune(e))
		case 'b':
			out = append(out, '\\', 'b')
		case 'f':
			out = append(out, '\\', 'f')
		case 'n':
			out = append(out, '\\', 'n')
		case 'r':
			out = append(out, '\\', 'r')
		case 't':
			out = append(out, '\\', 't')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, ErrInvalidJSON
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character.
				if r < 0xdc00 && p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok2 := p.hex4(); ok2 && r2 >= 0xdc00 && r2 <= 0xdfff {
						out = utf8.AppendRune(out, utf16.DecodeRune(r, r2))
						continue
					}
					p.i = save
				}
				out = append(out, '\\', 'u')
				out = appendHex4(out, r)
				continue
			}
			out = appendRune(out, r)
		default:
			return nil, ErrInvalidJSON
		}
	}
	return nil, ErrInvalidJSON
}

func (p *canonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.i : p.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, true
}

// appendRune writes r in canonical string form.
func appendRune(out []byte, r rune) []byte {
	switch {
	case r == '"':
		return append(out, '\\', '"')
	case r == '\\':
		return append(out, '\\', '\\')
	case r == '\b':
		return append(out, '\\', 'b')
	case r == '\f':
		return append(out, '\\', 'f')
	case r == '\n':
		return append(out, '\\', 'n')
	case r == '\r':
		return append(out, '\\', 'r')
	case r == '\t':
		return append(out, '\\', 't')
	case r < 0x20:
		return appendHex4(append(out, '\\', 'u'), r)
	}
	return utf8.AppendRune(out, r)
}

func appendHex4(out []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(out, digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

// number parses a JSON number at p.i and writes its canonical form.
func (p *canonParser) number(out []byte) ([]byte, error) {
	d := p.data
	start := p.i
	i := p.i
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return nil, ErrInvalidJSON
	}
	integer := true
	if i < len(d) && d[i] == '.' {
		integer = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, ErrInvalidJSON
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		integer = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, ErrInvalidJSON
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	p.i = i
	lit := d[start:i]
	if integer {
		if string(lit) == "-0" {
			return append(out, '0'), nil
		}
		return append(out, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return append(out, lit...), nil // out of range: keep the text
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(out, int64(f), 10), nil
	}
	return strconv.AppendFloat(out, f, 'g', -1, 64), nil
}
