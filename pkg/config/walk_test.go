package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	// Registered so that the test schema can import them.
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// walkSchema is a message with every kind of field the walker supports, so
// the walker is tested beyond what config.proto uses today (enums, signed and
// 64-bit integers, floats, bytes, oneofs, non-string map keys, well-known types).
const walkSchema = `
name: "walktest.proto" package: "walktest" syntax: "proto3"
dependency: ["google/protobuf/duration.proto", "google/protobuf/timestamp.proto",
  "google/protobuf/wrappers.proto", "google/protobuf/struct.proto", "google/protobuf/empty.proto",
  "google/protobuf/field_mask.proto", "google/protobuf/any.proto"]
enum_type { name: "Color" value { name: "COLOR_UNSPECIFIED" number: 0 } value { name: "RED" number: 1 } value { name: "BLUE" number: 2 } }
message_type {
  name: "T"
  field { name: "i32" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "i32" }
  field { name: "i64" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL json_name: "i64" }
  field { name: "u32" number: 3 type: TYPE_UINT32 label: LABEL_OPTIONAL json_name: "u32" }
  field { name: "u64" number: 4 type: TYPE_UINT64 label: LABEL_OPTIONAL json_name: "u64" }
  field { name: "s32" number: 5 type: TYPE_SINT32 label: LABEL_OPTIONAL json_name: "s32" }
  field { name: "f" number: 6 type: TYPE_FLOAT label: LABEL_OPTIONAL json_name: "f" }
  field { name: "d" number: 7 type: TYPE_DOUBLE label: LABEL_OPTIONAL json_name: "d" }
  field { name: "raw" number: 8 type: TYPE_BYTES label: LABEL_OPTIONAL json_name: "raw" }
  field { name: "flag" number: 9 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "flag" }
  field { name: "color" number: 10 type: TYPE_ENUM type_name: ".walktest.Color" label: LABEL_OPTIONAL json_name: "color" }
  field { name: "colors" number: 11 type: TYPE_ENUM type_name: ".walktest.Color" label: LABEL_REPEATED json_name: "colors" }
  field { name: "dur" number: 12 type: TYPE_MESSAGE type_name: ".google.protobuf.Duration" label: LABEL_OPTIONAL json_name: "dur" }
  field { name: "ts" number: 13 type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" label: LABEL_OPTIONAL json_name: "ts" }
  field { name: "wi" number: 14 type: TYPE_MESSAGE type_name: ".google.protobuf.Int32Value" label: LABEL_OPTIONAL json_name: "wi" }
  field { name: "ws" number: 15 type: TYPE_MESSAGE type_name: ".google.protobuf.StringValue" label: LABEL_OPTIONAL json_name: "ws" }
  field { name: "st" number: 16 type: TYPE_MESSAGE type_name: ".google.protobuf.Struct" label: LABEL_OPTIONAL json_name: "st" }
  field { name: "val" number: 17 type: TYPE_MESSAGE type_name: ".google.protobuf.Value" label: LABEL_OPTIONAL json_name: "val" }
  field { name: "lv" number: 18 type: TYPE_MESSAGE type_name: ".google.protobuf.ListValue" label: LABEL_OPTIONAL json_name: "lv" }
  field { name: "em" number: 19 type: TYPE_MESSAGE type_name: ".google.protobuf.Empty" label: LABEL_OPTIONAL json_name: "em" }
  field { name: "fm" number: 20 type: TYPE_MESSAGE type_name: ".google.protobuf.FieldMask" label: LABEL_OPTIONAL json_name: "fm" }
  field { name: "by_int" number: 21 type: TYPE_MESSAGE type_name: ".walktest.T.ByIntEntry" label: LABEL_REPEATED json_name: "byInt" }
  field { name: "by_bool" number: 22 type: TYPE_MESSAGE type_name: ".walktest.T.ByBoolEntry" label: LABEL_REPEATED json_name: "byBool" }
  field { name: "one" number: 23 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 json_name: "one" }
  field { name: "two" number: 24 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 json_name: "two" }
  field { name: "child" number: 25 type: TYPE_MESSAGE type_name: ".walktest.T" label: LABEL_OPTIONAL json_name: "child" }
  field { name: "ints" number: 26 type: TYPE_INT64 label: LABEL_REPEATED json_name: "ints" }
  field { name: "any" number: 27 type: TYPE_MESSAGE type_name: ".google.protobuf.Any" label: LABEL_OPTIONAL json_name: "any" }
  field { name: "children" number: 28 type: TYPE_MESSAGE type_name: ".walktest.T.ChildrenEntry" label: LABEL_REPEATED json_name: "children" }
  nested_type { name: "ByIntEntry" options { map_entry: true }
    field { name: "key" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "key" }
    field { name: "value" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "value" } }
  nested_type { name: "ByBoolEntry" options { map_entry: true }
    field { name: "key" number: 1 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "key" }
    field { name: "value" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "value" } }
  nested_type { name: "ChildrenEntry" options { map_entry: true }
    field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "key" }
    field { name: "value" number: 2 type: TYPE_MESSAGE type_name: ".walktest.T" label: LABEL_OPTIONAL json_name: "value" } }
  oneof_decl { name: "choice" }
}
`

func walkDescriptor(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	var fdp descriptorpb.FileDescriptorProto
	require.NoError(t, prototext.Unmarshal([]byte(walkSchema), &fdp))
	fd, err := protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
	require.NoError(t, err)
	return fd.Messages().ByName("T")
}

// walkYAML runs the walker and protojson on a YAML document for message md.
func walkYAML(md protoreflect.MessageDescriptor, doc string) (*dynamicpb.Message, error) {
	js, _, err := toJSON([]byte(doc), md)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(js, m); err != nil {
		return nil, err
	}
	return m, nil
}

func TestWalkAcceptsEveryKind(t *testing.T) {
	md := walkDescriptor(t)
	m, err := walkYAML(md, `
i32: -2147483648
i64: "-9223372036854775808"
u32: 0xFFFFFFFF
u64: 18446744073709551615
s32: +0o17
f: 1.5e3
d: .inf
raw: aGVsbG8
flag: True
color: BLUE
colors: [RED, 2]
dur: 1h
ts: 2025-01-02T03:04:05+01:00
wi: 7
ws: text
st: {a: [1, 2.5, null, true, x, {b: c}], n: 0x10}
val: 3
lv: [a]
em: {}
fm: a.b,c
byInt: {1: one, -2: minus two}
by_bool: {true: yes, false: no}
two: second
child: {i32: 1, child: {flag: false}}
ints: [1, 2_000, 010]
any: {"@type": "type.googleapis.com/google.protobuf.Duration", value: 1s}
children: {x: {i32: 3}}
`)
	require.NoError(t, err)
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"i32": -2147483648, "i64": "-9223372036854775808", "u32": 4294967295,
		"u64": "18446744073709551615", "s32": 15, "f": 1500, "d": "Infinity",
		"raw": "aGVsbG8=", "flag": true, "color": "BLUE", "colors": ["RED", "BLUE"],
		"dur": "3600s", "ts": "2025-01-02T02:04:05Z", "wi": 7, "ws": "text",
		"st": {"a": [1, 2.5, null, true, "x", {"b": "c"}], "n": 16}, "val": 3, "lv": ["a"],
		"em": {}, "fm": "a.b,c", "by_int": {"1": "one", "-2": "minus two"},
		"by_bool": {"true": "yes", "false": "no"}, "two": "second",
		"child": {"i32": 1, "child": {}}, "ints": ["1", "2000", "10"],
		"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"},
		"children": {"x": {"i32": 3}}
	}`, string(js))
}

func TestWalkProblems(t *testing.T) {
	md := walkDescriptor(t)
	tests := []struct {
		doc  string
		path string
		msg  string
	}{
		{"i32: 2147483648", "i32", "2147483648 is too large (maximum 2147483647)"},
		{"i32: -2147483649", "i32", "-2147483649 is too small (minimum -2147483648)"},
		{"i32: 1.5", "i32", "expected an integer, got a number"},
		{"i32: abc", "i32", `expected an integer, got "abc"`},
		{"u64: -1", "u64", "must not be negative"},
		{"u64: 18446744073709551616", "u64", "18446744073709551616 is out of range for uint64"},
		{"u32: 1.0", "u32", "expected a non-negative integer, got a number"},
		{"f: 1e39", "f", "out of range for a 32-bit float"},
		{"f: [1]", "f", "expected a number, got a list"},
		{"f: true", "f", "expected a number, got a boolean"},
		{"d: 1e999", "d", `expected a number, got "1e999"`},
		{"raw: '%%%'", "raw", "expected a base64 string"},
		{"flag: yes", "flag", "expected true or false, got a string"},
		{"color: GREEN", "color", `invalid value "GREEN" (want one of COLOR_UNSPECIFIED, RED, BLUE)`},
		{"color: 7", "color", `invalid value "7"`},
		{"color: {a: b}", "color", "invalid value a mapping"},
		{"colors: [RED, PINK]", "colors[1]", `invalid value "PINK"`},
		{"colors: [RED, ~]", "colors[1]", "value is missing"},
		{"ts: yesterday", "ts", "expected an RFC 3339 timestamp"},
		{"wi: x", "wi", `expected an integer, got "x"`},
		{"st: [1]", "st", "expected a mapping, got a list"},
		{"lv: {a: 1}", "lv", "expected a list, got a mapping"},
		{"em: {a: 1}", "em", "expected an empty mapping {}"},
		{"val: .nan", "val", `number ".nan" cannot be represented in JSON`},
		{"st: {[a]: 1}", "st", "map keys must be scalars"},
		{"by_int: {x: a}", `by_int["x"]`, `expected an integer, got "x"`},
		{"by_bool: {maybe: a}", `by_bool["maybe"]`, "expected true or false, got a string"},
		{"by_int: {[1]: a}", "by_int", "map keys must be scalars"},
		{"one: a\ntwo: b", "two", `only one of "one" and "two" may be set`},
		{"child: {child: {nope: 1}}", "child.child.nope", "unknown field"},
		{"children: {x: {i32: x}}", `children["x"].i32`, "expected an integer"},
		{"[a]: 1", "", "field names must be strings"},
		{"ints: 5", "ints", "expected a list, got an integer"},
		{"by_int: 5", "by_int", "expected a mapping, got an integer"},
		{"dur: [1]", "dur", "expected a duration such as \"30s\", got a list"},
		{"ws: !!binary aGVsbG8=\nfm: true", "fm", "expected a string, got a boolean"},
		{"st: {a: !!float .inf}", `st["a"]`, "cannot be represented in JSON"},
		{"st: {a: !!bool maybe}", `st["a"]`, "expected true or false"},
		{"st: {a: !!str 1, b: [!!bool x]}", `st["b"][0]`, "expected true or false"},
		{"x: &a {<<: *a}", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			_, err := walkYAML(md, tt.doc)
			require.Error(t, err)
			if tt.msg == "" {
				return
			}
			verr, ok := errors.AsType[*ValidationError](err)
			require.True(t, ok, "%v", err)
			require.Len(t, verr.Problems, 1, "%v", err)
			require.Equal(t, tt.path, verr.Problems[0].Path)
			require.Contains(t, verr.Problems[0].Message, tt.msg)
		})
	}
}

func TestWalkDepthLimit(t *testing.T) {
	md := walkDescriptor(t)
	doc := "st: {a: " + strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5) + "}"
	_, err := walkYAML(md, doc)
	require.ErrorContains(t, err, "nested deeper than")
	// Recursive messages hit the same bound.
	doc = strings.Repeat("child: {", maxDepth+1) + "i32: 1" + strings.Repeat("}", maxDepth+1)
	_, err = walkYAML(md, doc)
	require.ErrorContains(t, err, "nested deeper than")
}

func TestWalkListBomb(t *testing.T) {
	md := walkDescriptor(t)
	var b strings.Builder
	b.WriteString("x-0: &a0 [1, 2]\n")
	for i := 1; i <= 25; i++ {
		b.WriteString("x-" + itoa(i) + ": &a" + itoa(i) + " [*a" + itoa(i-1) + ", *a" + itoa(i-1) + "]\n")
	}
	b.WriteString("lv: *a25\n")
	_, err := walkYAML(md, b.String())
	require.ErrorContains(t, err, "document too large")
}

func TestSuggest(t *testing.T) {
	md := walkDescriptor(t)
	require.Equal(t, ` (did you mean "by_int"?)`, suggest(md, "byint"))
	require.Equal(t, ` (did you mean "flag"?)`, suggest(md, "flga"))
	require.Contains(t, suggest(md, "completely-different"), "known fields: any, by_bool")
	require.Equal(t, 3, editDistance("kitten", "sitting"))
	require.Equal(t, 0, editDistance("", ""))
}

func itoa(i int) string { return strconv.Itoa(i) }
