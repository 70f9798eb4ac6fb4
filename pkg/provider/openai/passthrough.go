package openai

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// RewriteChatRequest prepares a caller's OpenAI body for an OpenAI-family backend
// without decoding it: it replaces the value of every top-level "model" member (or
// inserts one) and, when stream is true, makes sure stream_options.include_usage is
// true so the gateway can account tokens. It reports whether the caller had asked
// for usage itself (so the usage chunk can be stripped when not).
//
// The body is validated as JSON while it is scanned (strings, escapes, numbers,
// nesting up to 10000 levels, like encoding/json) and everything else is copied
// byte for byte: key order, whitespace and number spelling are preserved. The same
// works for an embeddings body (stream false). stream must be the body's own stream
// flag: OpenAI rejects stream_options on a non-streamed request.
func RewriteChatRequest(body []byte, model string, stream bool) (out []byte, callerWantsUsage bool, err error) {
	s := scanner{b: body}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false, errors.New("request body must be a JSON object")
	}
	var (
		editsArr [6]edit
		edits    = editsArr[:0]
		objOpen  = s.i
		soStart  = -1 // value span of the last stream_options member
		soEnd    = -1
		soObj    bool
		sawModel bool
		objClose int
	)
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		objClose = s.i
		s.i++
	} else {
		for {
			s.ws()
			kStart := s.i
			if err := s.str(); err != nil {
				return nil, false, err
			}
			key := s.b[kStart+1 : s.i-1]
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return nil, false, s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			vStart := s.i
			if err := s.value(1); err != nil {
				return nil, false, err
			}
			vEnd := s.i
			switch {
			case keyIs(key, "model"):
				sawModel = true
				edits = append(edits, edit{start: vStart, end: vEnd, kind: editModel})
			case keyIs(key, "stream_options"):
				soStart, soEnd = vStart, vEnd
				soObj = s.b[vStart] == '{'
			}
			s.ws()
			if s.i >= len(s.b) {
				return nil, false, s.errf("unexpected end of JSON input")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] != '}' {
				return nil, false, s.errf("expected ',' or '}' after object value")
			}
			objClose = s.i
			s.i++
			break
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, false, s.errf("invalid character after top-level value")
	}
	empty := objClose == nextNonSpace(body, objOpen+1)
	if !sawModel {
		k := editInsertModel
		if empty {
			k = editInsertModelOnly
		}
		edits = append(edits, edit{start: objOpen + 1, end: objOpen + 1, kind: k})
		empty = false
	}
	if stream {
		switch {
		case soStart < 0:
			k := editInsertStreamOptions
			if empty {
				k = editInsertStreamOptionsOnly
			}
			edits = append(edits, edit{start: objClose, end: objClose, kind: k})
		case !soObj:
			edits = append(edits, edit{start: soStart, end: soEnd, kind: editStreamOptionsValue})
		default:
			e, wants := includeUsageEdit(body, soStart, soEnd)
			callerWantsUsage = wants
			if !wants {
				edits = append(edits, e)
			}
		}
	}
	sortEdits(edits)
	n := len(body) + 48
	for _, e := range edits {
		if e.kind == editModel || e.kind == editInsertModel || e.kind == editInsertModelOnly {
			n += len(model) + 12
		}
	}
	out = make([]byte, 0, n)
	prev := 0
	for _, e := range edits {
		out = append(out, body[prev:e.start]...)
		switch e.kind {
		case editModel:
			out = appendJSONString(out, model)
		case editInsertModel:
			out = append(out, `"model":`...)
			out = appendJSONString(out, model)
			out = append(out, ',')
		case editInsertModelOnly:
			out = append(out, `"model":`...)
			out = appendJSONString(out, model)
		case editInsertStreamOptions:
			out = append(out, `,"stream_options":{"include_usage":true}`...)
		case editInsertStreamOptionsOnly:
			out = append(out, `"stream_options":{"include_usage":true}`...)
		case editStreamOptionsValue:
			out = append(out, `{"include_usage":true}`...)
		case editTrue:
			out = append(out, "true"...)
		case editInsertIncludeUsage:
			out = append(out, `"include_usage":true,`...)
		case editInsertIncludeUsageOnly:
			out = append(out, `"include_usage":true`...)
		}
		prev = e.end
	}
	out = append(out, body[prev:]...)
	return out, callerWantsUsage, nil
}

// topLevelMembers calls fn for each member of the JSON object body, with the decoded
// key and the raw value. Later duplicates are reported after earlier ones, so a map
// filled by fn keeps the last, as encoding/json does.
func topLevelMembers(body []byte, fn func(key string, value []byte)) error {
	s := scanner{b: body}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return errors.New("request body must be a JSON object")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		return nil
	}
	for {
		s.ws()
		kStart := s.i
		if err := s.str(); err != nil {
			return err
		}
		raw := s.b[kStart+1 : s.i-1]
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errf("expected ':' after object key")
		}
		s.i++
		s.ws()
		vStart := s.i
		if err := s.value(1); err != nil {
			return err
		}
		key := string(raw)
		if bytes.IndexByte(raw, '\\') >= 0 {
			q := append(append([]byte{'"'}, raw...), '"')
			if err := json.Unmarshal(q, &key); err != nil {
				return err
			}
		}
		fn(key, s.b[vStart:s.i])
		s.ws()
		if s.i >= len(s.b) {
			return s.errf("unexpected end of JSON input")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			return nil
		default:
			return s.errf("expected ',' or '}' after object value")
		}
	}
}

type editKind uint8

const (
	editModel editKind = iota + 1
	editInsertModel
	editInsertModelOnly
	editInsertStreamOptions
	editInsertStreamOptionsOnly
	editStreamOptionsValue
	editTrue
	editInsertIncludeUsage
	editInsertIncludeUsageOnly
)

// edit replaces body[start:end] (empty for an insertion) with the text of kind.
type edit struct {
	start, end int
	kind       editKind
}

func sortEdits(e []edit) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].start < e[j-1].start; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// includeUsageEdit inspects the (already validated) stream_options object at
// body[start:end]. It reports whether its effective (last) include_usage is true,
// and otherwise the edit that makes it so.
func includeUsageEdit(body []byte, start, end int) (edit, bool) {
	s := scanner{b: body[:end], i: start + 1}
	s.ws()
	if s.b[s.i] == '}' {
		return edit{start: s.i, end: s.i, kind: editInsertIncludeUsageOnly}, false
	}
	vs, ve := -1, -1
	for {
		s.ws()
		kStart := s.i
		_ = s.str()
		key := s.b[kStart+1 : s.i-1]
		s.ws()
		s.i++ // ':'
		s.ws()
		v := s.i
		_ = s.value(2)
		if keyIs(key, "include_usage") {
			vs, ve = v, s.i
		}
		s.ws()
		if s.b[s.i] == '}' {
			break
		}
		s.i++ // ','
	}
	if vs < 0 {
		return edit{start: start + 1, end: start + 1, kind: editInsertIncludeUsage}, false
	}
	if string(body[vs:ve]) == "true" {
		return edit{}, true
	}
	return edit{start: vs, end: ve, kind: editTrue}, false
}

// keyIs reports whether the raw (still escaped) key decodes to name. Only keys with
// escapes are decoded, which allocates; they are rare.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var k string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	return json.Unmarshal(q, &k) == nil && k == name
}

func nextNonSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

// scanner validates and skips JSON values in place.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) errf(msg string) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, msg)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one value starting at s.i (no leading whitespace).
func (s *scanner) value(depth int) error {
	if s.i >= len(s.b) {
		return s.errf("unexpected end of JSON input")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.errf("invalid character looking for beginning of value")
}

func (s *scanner) lit(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.errf("invalid literal")
	}
	s.i += len(word)
	return nil
}

func (s *scanner) str() error {
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return s.errf("expected string")
	}
	i++
	// Most strings have no escapes: find the closing quote with the vectorised
	// IndexByte, and accept the span if it holds no backslash and no control byte.
	// Anything else is walked below, which also reports the first error and its offset.
	if q := bytes.IndexByte(b[i:], '"'); q >= 0 {
		span := b[i : i+q]
		if bytes.IndexByte(span, '\\') < 0 && !hasControl(span) {
			s.i = i + q + 1
			return nil
		}
	}
	for i < len(b) {
		// Skip eight ordinary bytes at a time: most of a request body is string text.
		for i+8 <= len(b) && !hasSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(b) {
				s.i = i
				return s.errf("unexpected end of JSON input")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					s.i = i
					return s.errf("invalid \\u escape")
				}
				i += 6
			default:
				s.i = i
				return s.errf("invalid escape")
			}
		case c < 0x20:
			s.i = i
			return s.errf("control character in string")
		default:
			i++
		}
	}
	s.i = i
	return s.errf("unexpected end of JSON input")
}

// hasControl reports whether b holds a byte below 0x20, eight bytes at a time with
// the "has byte less than" bit trick used by hasSpecial.
func hasControl(b []byte) bool {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-swarLo*0x20)&^x&swarHi != 0 {
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

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// hasSpecial reports whether any byte of x is '"', '\\' or a control character
// (< 0x20), using the classic "has zero byte" / "has byte less than" bit tricks.
func hasSpecial(x uint64) bool {
	q := x ^ (swarLo * '"')
	b := x ^ (swarLo * '\\')
	return ((q-swarLo)&^q|(b-swarLo)&^b|(x-swarLo*0x20)&^x)&swarHi != 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.errf("unexpected end of number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return s.errf("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errf("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errf("invalid number")
		}
	}
	return nil
}

func (s *scanner) object(depth int) error {
	if depth > maxDepth {
		return s.errf("exceeded max depth")
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.str(); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errf("expected ':' after object key")
		}
		s.i++
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.errf("unexpected end of JSON input")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errf("expected ',' or '}' after object value")
		}
	}
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return s.errf("exceeded max depth")
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.errf("unexpected end of JSON input")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.errf("expected ',' or ']' after array element")
		}
	}
}
