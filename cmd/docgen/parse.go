package main

import (
	"fmt"
	"strings"
)

// protoFile is what docgen needs from a .proto source: its package, the comment
// above the package statement, and the leading comment of every message, field,
// enum and enum value, keyed by full name (enum values by "<enum full name>.<VALUE>").
type protoFile struct {
	pkg         string
	pkgComment  string
	comments    map[string]string
	elements    []string // full names in source order
	isField     map[string]bool
	maxElements int
}

// maxParseElements bounds the number of declarations, so a hostile input cannot
// make the parser allocate without limit.
const maxParseElements = 100000

// parseProto reads the declarations of a proto2/proto3 source. It understands the
// grammar well enough to find names and comments (messages, nested messages, enums,
// fields, map fields, oneofs, options, reserved ranges, extensions, extend and
// service blocks) and reports anything else as an error with its line.
func parseProto(src string) (*protoFile, error) {
	toks, err := newLexer(src).tokens()
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, f: &protoFile{comments: map[string]string{}, isField: map[string]bool{}, maxElements: maxParseElements}}
	if err := p.file(); err != nil {
		return nil, err
	}
	return p.f, nil
}

type parser struct {
	toks []token
	i    int
	f    *protoFile
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	what := fmt.Sprintf("%q", t.text)
	if t.kind == tokEOF {
		what = "end of file"
	}
	return fmt.Errorf("line %d: %s (at %s)", t.line, fmt.Sprintf(format, args...), what)
}

func (p *parser) expect(text string) error {
	t := p.advance()
	if t.kind == tokString || t.text != text {
		return p.errorf(t, "expected %q", text)
	}
	return nil
}

func (p *parser) ident() (token, error) {
	t := p.advance()
	if t.kind != tokIdent {
		return t, p.errorf(t, "expected a name")
	}
	return t, nil
}

// typeName reads a possibly fully qualified type name (".a.b.C" or "a.b.C").
func (p *parser) typeName() (string, error) {
	lead := ""
	if t := p.peek(); t.kind == tokPunct && t.text == "." {
		p.advance()
		lead = "."
	}
	t, err := p.ident()
	if err != nil {
		return "", err
	}
	return lead + t.text, nil
}

func (p *parser) record(fullName, comment string, field bool) error {
	if len(p.f.elements) >= p.f.maxElements {
		return fmt.Errorf("too many declarations (limit %d)", p.f.maxElements)
	}
	if _, dup := p.f.comments[fullName]; dup {
		return fmt.Errorf("%s is declared twice", fullName)
	}
	p.f.comments[fullName] = comment
	p.f.elements = append(p.f.elements, fullName)
	if field {
		p.f.isField[fullName] = true
	}
	return nil
}

func (p *parser) file() error {
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return nil
		case t.kind == tokPunct && t.text == ";":
			p.advance()
		case t.kind != tokIdent:
			return p.errorf(t, "unexpected token at top level")
		case t.text == "syntax" || t.text == "edition" || t.text == "option" || t.text == "import":
			if err := p.skipStatement(); err != nil {
				return err
			}
		case t.text == "package":
			p.advance()
			name, err := p.ident()
			if err != nil {
				return err
			}
			if p.f.pkg != "" {
				return p.errorf(name, "second package statement")
			}
			if len(p.f.elements) > 0 {
				// The package applies to the whole file; names recorded so far
				// would be wrong.
				return p.errorf(name, "package statement after declarations")
			}
			p.f.pkg, p.f.pkgComment = name.text, t.comment
			if err := p.expect(";"); err != nil {
				return err
			}
		case t.text == "message":
			if err := p.message(p.f.pkg); err != nil {
				return err
			}
		case t.text == "enum":
			if err := p.enum(p.f.pkg); err != nil {
				return err
			}
		case t.text == "extend" || t.text == "service":
			if err := p.skipBlockDecl(); err != nil {
				return err
			}
		default:
			return p.errorf(t, "unexpected declaration")
		}
	}
}

func join(scope, name string) string {
	if scope == "" {
		return name
	}
	return scope + "." + name
}

// message parses "message Name { ... }" in scope.
func (p *parser) message(scope string) error {
	kw := p.advance()
	name, err := p.ident()
	if err != nil {
		return err
	}
	full := join(scope, name.text)
	if err := p.record(full, kw.comment, false); err != nil {
		return p.errorf(name, "%v", err)
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	return p.messageBody(full)
}

// messageBody parses declarations up to and including the closing brace.
func (p *parser) messageBody(full string) error {
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return p.errorf(t, "missing } of message %s", full)
		case t.kind == tokPunct && t.text == "}":
			p.advance()
			return nil
		case t.kind == tokPunct && t.text == ";":
			p.advance()
		case t.kind == tokPunct && t.text == ".":
			if err := p.field(full); err != nil {
				return err
			}
		case t.kind != tokIdent:
			return p.errorf(t, "unexpected token in message %s", full)
		case t.text == "message":
			if err := p.message(full); err != nil {
				return err
			}
		case t.text == "enum":
			if err := p.enum(full); err != nil {
				return err
			}
		case t.text == "option" || t.text == "reserved" || t.text == "extensions":
			if err := p.skipStatement(); err != nil {
				return err
			}
		case t.text == "extend":
			if err := p.skipBlockDecl(); err != nil {
				return err
			}
		case t.text == "oneof":
			if err := p.oneof(full); err != nil {
				return err
			}
		default:
			if err := p.field(full); err != nil {
				return err
			}
		}
	}
}

// oneof parses "oneof name { fields }"; its fields belong to the message.
func (p *parser) oneof(msg string) error {
	p.advance()
	if _, err := p.ident(); err != nil {
		return err
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return p.errorf(t, "missing } of oneof in %s", msg)
		case t.kind == tokPunct && t.text == "}":
			p.advance()
			return nil
		case t.kind == tokPunct && t.text == ";":
			p.advance()
		case t.kind == tokIdent && t.text == "option":
			if err := p.skipStatement(); err != nil {
				return err
			}
		default:
			if err := p.field(msg); err != nil {
				return err
			}
		}
	}
}

// field parses "[label] type name = number [options];" or
// "map<K, V> name = number [options];".
func (p *parser) field(msg string) error {
	first := p.peek()
	comment := first.comment
	if first.kind == tokIdent && (first.text == "repeated" || first.text == "optional" || first.text == "required") {
		p.advance()
	}
	if t := p.peek(); t.kind == tokIdent && t.text == "map" && p.toks[p.i+1].text == "<" {
		p.advance()
		p.advance()
		if _, err := p.typeName(); err != nil {
			return err
		}
		if err := p.expect(","); err != nil {
			return err
		}
		if _, err := p.typeName(); err != nil {
			return err
		}
		if err := p.expect(">"); err != nil {
			return err
		}
	} else if _, err := p.typeName(); err != nil {
		return err
	}
	name, err := p.ident()
	if err != nil {
		return err
	}
	if err := p.expect("="); err != nil {
		return err
	}
	if n := p.advance(); n.kind != tokNumber {
		return p.errorf(n, "expected a field number")
	}
	if err := p.record(join(msg, name.text), comment, true); err != nil {
		return p.errorf(name, "%v", err)
	}
	return p.skipStatement()
}

// enum parses "enum Name { VALUE = n [options]; ... }".
func (p *parser) enum(scope string) error {
	kw := p.advance()
	name, err := p.ident()
	if err != nil {
		return err
	}
	full := join(scope, name.text)
	if err := p.record(full, kw.comment, false); err != nil {
		return p.errorf(name, "%v", err)
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return p.errorf(t, "missing } of enum %s", full)
		case t.kind == tokPunct && t.text == "}":
			p.advance()
			return nil
		case t.kind == tokPunct && t.text == ";":
			p.advance()
		case t.kind == tokIdent && (t.text == "option" || t.text == "reserved"):
			if err := p.skipStatement(); err != nil {
				return err
			}
		case t.kind == tokIdent:
			p.advance()
			if err := p.expect("="); err != nil {
				return err
			}
			if n := p.advance(); n.kind != tokNumber {
				return p.errorf(n, "expected an enum value number")
			}
			if err := p.record(full+"."+t.text, t.comment, false); err != nil {
				return p.errorf(t, "%v", err)
			}
			if err := p.skipStatement(); err != nil {
				return err
			}
		default:
			return p.errorf(t, "unexpected token in enum %s", full)
		}
	}
}

// skipStatement consumes tokens up to and including the ";" that ends the current
// statement, skipping balanced [] and {} (option values).
func (p *parser) skipStatement() error {
	depth := 0
	for {
		t := p.advance()
		switch {
		case t.kind == tokEOF:
			return p.errorf(t, "missing ;")
		case t.kind != tokPunct:
		case t.text == "[" || t.text == "{" || t.text == "(":
			depth++
		case t.text == "]" || t.text == "}" || t.text == ")":
			if depth == 0 {
				return p.errorf(t, "unbalanced %s", t.text)
			}
			depth--
		case t.text == ";" && depth == 0:
			return nil
		}
	}
}

// skipBlockDecl consumes "keyword name { ... }" with balanced braces.
func (p *parser) skipBlockDecl() error {
	p.advance()
	for {
		t := p.advance()
		if t.kind == tokEOF {
			return p.errorf(t, "missing {")
		}
		if t.kind == tokPunct && t.text == "{" {
			break
		}
		if t.kind == tokPunct && t.text == ";" {
			return p.errorf(t, "expected a block")
		}
	}
	depth := 1
	for depth > 0 {
		t := p.advance()
		switch {
		case t.kind == tokEOF:
			return p.errorf(t, "missing }")
		case t.kind == tokPunct && t.text == "{":
			depth++
		case t.kind == tokPunct && t.text == "}":
			depth--
		}
	}
	return nil
}

// comment returns the comment recorded for a full name ("" when none).
func (f *protoFile) comment(fullName string) string {
	return strings.TrimSpace(f.comments[fullName])
}
