package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseProtoComments(t *testing.T) {
	src := `// File header, detached by the blank line below.

syntax = "proto3";

// Package demo.v1 is a test schema.
// Second line.
package demo.v1;

import "google/protobuf/duration.proto";
option go_package = "example.com/demo;demo";
option (my.opt) = { a: 1 b: [2, 3] };

/* Root is
 * the root. */
message Root {
  // Name is a name.
  string name = 1; // trailing comment, not attached to the next field
  int32 count = 2;

  // Nested is nested.
  message Nested {
    // Deep is deep.
    repeated .google.protobuf.Duration deep = 1 [deprecated = true, (x.y) = { z: "}" }];
  }
  // Labels map.
  map<string, Nested> labels = 3;
  oneof choice {
    option (o) = true;
    // A is a.
    string a = 4;
    ;
  }
  reserved 10 to 20, 30;
  reserved "old";
  extensions 100 to max;
  extend Other { int32 ext = 101; }
  option deprecated = false;
  ;
  // Color is a color.
  enum Color {
    option allow_alias = true;
    reserved 9;
    // RED is red.
    RED = 0 [deprecated = true];
    GREEN = 1;
    ;
  }
  optional bool flag = 5;
}

// Top is a top-level enum.
enum Top { TOP_UNSPECIFIED = 0; }

service S { rpc Get(Root) returns (Root) { option idempotency_level = NO_SIDE_EFFECTS; } }
extend google.protobuf.FieldOptions { bool secret = 5000; }
;
`
	f, err := parseProto(src)
	require.NoError(t, err)
	require.Equal(t, "demo.v1", f.pkg)
	require.Equal(t, "Package demo.v1 is a test schema.\nSecond line.", f.pkgComment)
	want := map[string]string{
		"demo.v1.Root":                "Root is\nthe root.",
		"demo.v1.Root.name":           "Name is a name.",
		"demo.v1.Root.count":          "",
		"demo.v1.Root.Nested":         "Nested is nested.",
		"demo.v1.Root.Nested.deep":    "Deep is deep.",
		"demo.v1.Root.labels":         "Labels map.",
		"demo.v1.Root.a":              "A is a.",
		"demo.v1.Root.Color":          "Color is a color.",
		"demo.v1.Root.Color.RED":      "RED is red.",
		"demo.v1.Root.Color.GREEN":    "",
		"demo.v1.Root.flag":           "",
		"demo.v1.Top":                 "Top is a top-level enum.",
		"demo.v1.Top.TOP_UNSPECIFIED": "",
	}
	require.Equal(t, want, f.comments)
	require.Equal(t, []string{
		"demo.v1.Root", "demo.v1.Root.name", "demo.v1.Root.count", "demo.v1.Root.Nested",
		"demo.v1.Root.Nested.deep", "demo.v1.Root.labels", "demo.v1.Root.a", "demo.v1.Root.Color",
		"demo.v1.Root.Color.RED", "demo.v1.Root.Color.GREEN", "demo.v1.Root.flag", "demo.v1.Top",
		"demo.v1.Top.TOP_UNSPECIFIED",
	}, f.elements)
	require.True(t, f.isField["demo.v1.Root.a"])
	require.False(t, f.isField["demo.v1.Root.Nested"])
}

func TestParseProtoCommentBlocks(t *testing.T) {
	src := "package p;\n" +
		"// detached\n\n" +
		"// attached 1\n//   indented\n" +
		"message M {\n" +
		"  /* single */\n  string a = 1;\n" +
		"  /* detached block */\n\n  string b = 2;\n" +
		"  string c = 3; /* trailing block */\n  string d = 4;\n" +
		"  /*\n   * multi\n   *\n   */\n  string e = 5;\n" +
		"}\n"
	f, err := parseProto(src)
	require.NoError(t, err)
	require.Equal(t, "attached 1\n  indented", f.comments["p.M"])
	require.Equal(t, "single", f.comments["p.M.a"])
	require.Equal(t, "", f.comments["p.M.b"])
	require.Equal(t, "", f.comments["p.M.d"])
	require.Equal(t, "multi", f.comments["p.M.e"])
}

func TestParseProtoNoPackage(t *testing.T) {
	f, err := parseProto("message M { string a = 1; }")
	require.NoError(t, err)
	require.Contains(t, f.comments, "M.a")
}

func TestParseProtoErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unterminated string", `syntax = "proto3`, "line 1: unterminated string"},
		{"newline in string", "syntax = \"a\nb\";", "newline in string"},
		{"unterminated comment", "/* open", "unterminated /* comment"},
		{"bad top level", "42;", "unexpected token at top level"},
		{"unknown keyword", "foo bar;", "unexpected declaration"},
		{"two packages", "package a; package b;", "second package statement"},
		{"package without name", "package ;", "expected a name"},
		{"package without semicolon", "package a", `expected ";"`},
		{"message without name", "message { }", "expected a name"},
		{"message without brace", "message M ;", `expected "{"`},
		{"unclosed message", "message M { string a = 1;", "missing } of message M"},
		{"bad token in message", "message M { = }", "unexpected token in message M"},
		{"field without number", "message M { string a = b; }", "expected a field number"},
		{"field without equals", "message M { string a 1; }", `expected "="`},
		{"field without name", "message M { string = 1; }", "expected a name"},
		{"field without semicolon", "message M { string a = 1 }", "unbalanced }"},
		{"bad map", "message M { map<string Foo> a = 1; }", `expected ","`},
		{"bad map close", "message M { map<string, Foo] a = 1; }", `expected ">"`},
		{"map without key", "message M { map<, Foo> a = 1; }", "expected a name"},
		{"map without value", "message M { map<string, > a = 1; }", "expected a name"},
		{"duplicate field", "message M { string a = 1; string a = 2; }", "M.a is declared twice"},
		{"duplicate message", "message M {} message M {}", "M is declared twice"},
		{"unbalanced option", "message M { string a = 1 ]; }", "unbalanced ]"},
		{"oneof without name", "message M { oneof { } }", "expected a name"},
		{"oneof without brace", "message M { oneof o ; }", `expected "{"`},
		{"unclosed oneof", "message M { oneof o { string a = 1;", "missing } of oneof in M"},
		{"bad oneof field", "message M { oneof o { string = 1; } }", "expected a name"},
		{"bad oneof option", "message M { oneof o { option x = 1 } }", "unbalanced }"},
		{"enum without name", "enum { }", "expected a name"},
		{"enum without brace", "enum E ;", `expected "{"`},
		{"unclosed enum", "enum E { A = 0;", "missing } of enum E"},
		{"enum value without number", "enum E { A = B; }", "expected an enum value number"},
		{"enum value without equals", "enum E { A 0; }", `expected "="`},
		{"bad enum token", "enum E { = }", "unexpected token in enum E"},
		{"duplicate enum value", "enum E { A = 0; A = 1; }", "E.A is declared twice"},
		{"duplicate enum", "enum E { A = 0; } enum E { B = 0; }", "E is declared twice"},
		{"enum value option", "enum E { A = 0 [x = 1 }", "missing ;"},
		{"enum option", "enum E { option x = 1 }", "unbalanced }"},
		{"bad nested enum", "message M { enum { } }", "expected a name"},
		{"bad nested message", "message M { message { } }", "expected a name"},
		{"message option", "message M { option x = 1 }", "unbalanced }"},
		{"service without block", "service S;", "expected a block"},
		{"service unclosed head", "service S", "missing {"},
		{"service unclosed", "service S { rpc A(B) returns (C) {", "missing }"},
		{"nested extend", "message M { extend X; }", "expected a block"},
		{"statement at end of file", "message M { string a = 1", "missing ;"},
		{"syntax without semicolon", `syntax = "proto3"`, "missing ;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseProto(tc.src)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseProtoElementLimit(t *testing.T) {
	p := &parser{f: &protoFile{comments: map[string]string{}, isField: map[string]bool{}, maxElements: 1}}
	require.NoError(t, p.record("a", "", false))
	require.ErrorContains(t, p.record("b", "", false), "too many declarations")
}

func TestLexerNumbers(t *testing.T) {
	toks, err := newLexer(`-1 +2 .5 1e-3 0x1F 3.14 inf - .`).tokens()
	require.NoError(t, err)
	var got []string
	for _, tk := range toks {
		if tk.kind == tokEOF {
			break
		}
		got = append(got, tk.text)
	}
	require.Equal(t, []string{"-1", "+2", ".5", "1e-3", "0x1F", "3.14", "inf", "-", "."}, got)
	require.Equal(t, tokNumber, toks[0].kind)
	require.Equal(t, tokIdent, toks[6].kind)
	require.Equal(t, tokPunct, toks[7].kind)
}

func TestLexerStringEscapes(t *testing.T) {
	toks, err := newLexer(`'a\'b' "c\"d"`).tokens()
	require.NoError(t, err)
	require.Equal(t, `a\'b`, toks[0].text)
	require.Equal(t, `c\"d`, toks[1].text)
}

func TestParseRealSchema(t *testing.T) {
	src, err := os.ReadFile("../../" + defaultProto)
	require.NoError(t, err)
	f, err := parseProto(string(src))
	require.NoError(t, err)
	require.Equal(t, "llmrouter.config.v1", f.pkg)
	require.NotEmpty(t, f.comment("llmrouter.config.v1.Server.extproc_address"))
}

// FuzzParseProto checks that no input makes the parser panic or loop, and that a
// successful parse records only names under the declared package.
func FuzzParseProto(f *testing.F) {
	if src, err := os.ReadFile("../../" + defaultProto); err == nil {
		f.Add(string(src))
	}
	f.Add("message M { map<string, int32> m = 1; oneof o { string a = 2; } }")
	f.Add("enum E { A = 0 [(x) = { y: \"}\" }]; }")
	f.Fuzz(func(t *testing.T, src string) {
		pf, err := parseProto(src)
		if err != nil {
			return
		}
		for _, name := range pf.elements {
			if pf.pkg != "" && len(name) <= len(pf.pkg) {
				t.Fatalf("element %q outside package %q", name, pf.pkg)
			}
		}
	})
}
