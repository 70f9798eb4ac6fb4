package main

import (
	"fmt"
	"strings"
)

// tokKind classifies a token of a .proto file.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokPunct
)

// token is one lexical element. comment holds the leading comment attached to it: the
// block of comment lines that ends on the line just above the token, with nothing
// else on those lines, as protoc attaches leading comments.
type token struct {
	kind    tokKind
	text    string
	line    int
	comment string
}

// lexer splits a .proto source into tokens, attaching leading comments.
type lexer struct {
	src  string
	pos  int
	line int

	// pending is the comment block collected so far and the line it ends on.
	pending        []string
	pendingEndLine int
	// lastTokLine is the line of the last non-comment token, so that a comment
	// trailing a token on the same line is not taken as the next one's leading
	// comment.
	lastTokLine int
}

func newLexer(src string) *lexer {
	return &lexer{src: src, line: 1}
}

// tokens lexes the whole input.
func (l *lexer) tokens() ([]token, error) {
	var out []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if t.kind == tokEOF {
			return out, nil
		}
	}
}

func (l *lexer) next() (token, error) {
	for {
		l.skipSpace()
		if l.pos >= len(l.src) {
			return token{kind: tokEOF, line: l.line}, nil
		}
		if strings.HasPrefix(l.src[l.pos:], "//") {
			l.lineComment()
			continue
		}
		if strings.HasPrefix(l.src[l.pos:], "/*") {
			if err := l.blockComment(); err != nil {
				return token{}, err
			}
			continue
		}
		break
	}
	t := token{line: l.line}
	if l.pendingEndLine == l.line-1 && len(l.pending) > 0 {
		t.comment = strings.Join(l.pending, "\n")
	}
	l.pending, l.pendingEndLine = nil, 0
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		start := l.pos
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos]) || l.src[l.pos] == '.') {
			l.pos++
		}
		t.kind, t.text = tokIdent, l.src[start:l.pos]
	case isDigit(c) || (c == '-' || c == '+' || c == '.') && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]):
		start := l.pos
		l.pos++
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos]) || l.src[l.pos] == '.' ||
			(l.src[l.pos] == '-' || l.src[l.pos] == '+') && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E')) {
			l.pos++
		}
		t.kind, t.text = tokNumber, l.src[start:l.pos]
	case c == '"' || c == '\'':
		s, err := l.str(c)
		if err != nil {
			return token{}, err
		}
		t.kind, t.text = tokString, s
	default:
		l.pos++
		t.kind, t.text = tokPunct, string(c)
	}
	l.lastTokLine = t.line
	return t, nil
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case '\n':
			l.line++
		case ' ', '\t', '\r', '\f', '\v':
		default:
			return
		}
		l.pos++
	}
}

// lineComment consumes a // comment and adds it to the pending block unless it
// trails a token on the same line.
func (l *lexer) lineComment() {
	start := l.pos + 2
	end := strings.IndexByte(l.src[start:], '\n')
	if end < 0 {
		end = len(l.src)
	} else {
		end += start
	}
	text := l.src[start:end]
	l.pos = end
	if l.lastTokLine == l.line {
		return // trailing comment
	}
	if len(l.pending) > 0 && l.pendingEndLine != l.line-1 {
		l.pending = nil // a blank line separates comment blocks
	}
	l.pending = append(l.pending, trimCommentLine(text))
	l.pendingEndLine = l.line
}

// blockComment consumes a /* */ comment; it becomes the pending block.
func (l *lexer) blockComment() error {
	startLine := l.line
	end := strings.Index(l.src[l.pos+2:], "*/")
	if end < 0 {
		return fmt.Errorf("line %d: unterminated /* comment", startLine)
	}
	body := l.src[l.pos+2 : l.pos+2+end]
	l.pos += 2 + end + 2
	l.line += strings.Count(body, "\n")
	if l.lastTokLine == startLine {
		return nil
	}
	var lines []string
	for _, s := range strings.Split(body, "\n") {
		s = strings.TrimSpace(s)
		s = strings.TrimSpace(strings.TrimPrefix(s, "*"))
		lines = append(lines, s)
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	l.pending, l.pendingEndLine = lines, l.line
	return nil
}

// str reads a quoted string, keeping escapes as written (only names and import
// paths are read from strings here).
func (l *lexer) str(q byte) (string, error) {
	startLine := l.line
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return b.String(), nil
		case c == '\n':
			return "", fmt.Errorf("line %d: newline in string", startLine)
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteByte(c)
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", fmt.Errorf("line %d: unterminated string", startLine)
}

// trimCommentLine drops the single space protoc style puts after "//", keeping any
// further indentation (code blocks in comments).
func trimCommentLine(s string) string {
	s = strings.TrimRight(s, " \t\r")
	return strings.TrimPrefix(s, " ")
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
