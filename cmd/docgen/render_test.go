package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/demo.md")

// demoProto is the source of the demo schema built by demoDescriptor.
const demoProto = `// Package demo.v1 exercises every kind of field docgen renders.
//
//	an indented line kept as is
package demo.v1;

// Root is the root.
// It has | a pipe.
message Root {
  // Name is a plain string.
  string name = 1;
  // Count counts.
  int32 count = 2;
  // Timeout is a duration.
  google.protobuf.Duration timeout = 3;
  // Tags are strings.
  repeated string tags = 4;
  // Labels map names to children.
  map<string, Child> labels = 5;
  // Child is one child.
  Child child = 6;
  // Kids are children.
  repeated Kid kids = 7;
  // Color picks a color.
  Color color = 8;
  // Self recurses.
  Root self = 9;
  // Data is raw.
  bytes data = 10;
  // Ratio is a number.
  double ratio = 11;
  // When is a time.
  google.protobuf.Timestamp when = 12;
  // Flag is wrapped.
  google.protobuf.BoolValue flag = 13;
  // Env maps names to values.
  map<string, string> env = 14;
  // Extra is free-form.
  google.protobuf.Struct extra = 15;
  // Colors are colors.
  repeated Color colors = 16;
  // On is a switch.
  bool on = 17;
  // Count64 is big.
  uint64 count64 = 18;
  // Label is a wrapped string.
  google.protobuf.StringValue label = 19;
  // Limit is a wrapped integer.
  google.protobuf.Int64Value limit = 20;
  // Weight is a wrapped number.
  google.protobuf.DoubleValue weight = 21;
  // Any is any value.
  google.protobuf.Value any = 22;
  // Items is a list value.
  google.protobuf.ListValue items = 23;
}

// Child has no fields.
message Child {}

// Kid is in a list.
message Kid {
  // Name of the kid.
  string name = 1;
  // Parent loops back.
  Kid parent = 2;
}

// Color is a color.
enum Color {
  // COLOR_UNSPECIFIED is no color.
  COLOR_UNSPECIFIED = 0;
  // RED is red.
  RED = 1;
}
`

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
	label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	if repeated {
		label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	}
	f := &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(),
		JsonName: proto.String(name),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func mapEntry(name, valueType string, vt descriptorpb.FieldDescriptorProto_Type) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{
		Name: proto.String(name),
		Field: []*descriptorpb.FieldDescriptorProto{
			field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false),
			field("value", 2, vt, valueType, false),
		},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
}

// demoDescriptor compiles the schema of demoProto by hand (no protoc here).
func demoDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	const (
		msg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		str = descriptorpb.FieldDescriptorProto_TYPE_STRING
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("demo/v1/demo.proto"),
		Package: proto.String("demo.v1"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"google/protobuf/duration.proto", "google/protobuf/timestamp.proto",
			"google/protobuf/wrappers.proto", "google/protobuf/struct.proto",
		},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Root"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("name", 1, str, "", false),
					field("count", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
					field("timeout", 3, msg, ".google.protobuf.Duration", false),
					field("tags", 4, str, "", true),
					field("labels", 5, msg, ".demo.v1.Root.LabelsEntry", true),
					field("child", 6, msg, ".demo.v1.Child", false),
					field("kids", 7, msg, ".demo.v1.Kid", true),
					field("color", 8, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".demo.v1.Color", false),
					field("self", 9, msg, ".demo.v1.Root", false),
					field("data", 10, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "", false),
					field("ratio", 11, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "", false),
					field("when", 12, msg, ".google.protobuf.Timestamp", false),
					field("flag", 13, msg, ".google.protobuf.BoolValue", false),
					field("env", 14, msg, ".demo.v1.Root.EnvEntry", true),
					field("extra", 15, msg, ".google.protobuf.Struct", false),
					field("colors", 16, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".demo.v1.Color", true),
					field("on", 17, descriptorpb.FieldDescriptorProto_TYPE_BOOL, "", false),
					field("count64", 18, descriptorpb.FieldDescriptorProto_TYPE_UINT64, "", false),
					field("label", 19, msg, ".google.protobuf.StringValue", false),
					field("limit", 20, msg, ".google.protobuf.Int64Value", false),
					field("weight", 21, msg, ".google.protobuf.DoubleValue", false),
					field("any", 22, msg, ".google.protobuf.Value", false),
					field("items", 23, msg, ".google.protobuf.ListValue", false),
				},
				NestedType: []*descriptorpb.DescriptorProto{
					mapEntry("LabelsEntry", ".demo.v1.Child", msg),
					mapEntry("EnvEntry", "", str),
				},
			},
			{Name: proto.String("Child")},
			{
				Name: proto.String("Kid"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("name", 1, str, "", false),
					field("parent", 2, msg, ".demo.v1.Kid", false),
				},
			},
		},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("RED"), Number: proto.Int32(1)},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	require.NoError(t, err)
	return fd.Messages().ByName("Root")
}

func TestRenderDemo(t *testing.T) {
	src, err := parseProto(demoProto)
	require.NoError(t, err)
	got, err := render(doc{root: demoDescriptor(t), src: src})
	require.NoError(t, err)
	golden := filepath.Join("testdata", "demo.md")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "run go test ./cmd/docgen -run TestRenderDemo -update")

	// Spot checks, so that a wrong golden file cannot hide a regression.
	require.Contains(t, got, "| `labels` | map of string → [Child](#child) | `labels` map names to children. |")
	require.Contains(t, got, "| `kids` | list of [Kid](#kid) |")
	require.Contains(t, got, "| `color` | [Color](#color) |")
	require.Contains(t, got, "| `timeout` | duration |")
	require.Contains(t, got, "Root is the root. It has | a pipe.")
	require.Contains(t, got, "\tan indented line kept as is")
	require.Contains(t, got, "\nself: {}  # Root (recursive)")
	require.Contains(t, got, "  - name: \"\"\n    parent: {}  # Kid (recursive)")
	require.Contains(t, got, "child:\n  {}\n")
	require.Contains(t, got, "| `RED` | RED is red. |")
	require.Contains(t, got, "color: COLOR_UNSPECIFIED")
}

func TestRenderRealSchemaMarksSecrets(t *testing.T) {
	page, err := generate("../../"+defaultProto, defaultMessage)
	require.NoError(t, err)
	require.Contains(t, page, "| `api_key` | string, secret |")
	require.Contains(t, page, "| `headers` | map of string → string, secret |")
	require.Contains(t, page, "| `extproc_address` | string | `extproc_address` is where")
	require.True(t, strings.HasPrefix(page, generatedMarker))
}

func TestCheckConsistent(t *testing.T) {
	real, err := os.ReadFile("../../" + defaultProto)
	require.NoError(t, err)
	srv := "  string extproc_address = 1;\n"
	require.Contains(t, string(real), srv)
	for _, tc := range []struct {
		name    string
		edit    func(string) string
		wantErr []string
	}{
		{
			name: "field without comment",
			edit: func(s string) string {
				i := strings.Index(s, srv)
				// Drop the two comment lines above the field.
				head := s[:i]
				for range 2 {
					head = head[:strings.LastIndex(strings.TrimSuffix(head, "\n"), "\n")+1]
				}
				return head + s[i:]
			},
			wantErr: []string{"llmrouter.config.v1.Server.extproc_address has no comment"},
		},
		{
			name: "field only in source",
			edit: func(s string) string {
				return strings.Replace(s, srv, srv+"  // Extra is new.\n  string extra = 99;\n", 1)
			},
			wantErr: []string{"llmrouter.config.v1.Server.extra is in the .proto source but not in the compiled schema"},
		},
		{
			name: "renamed field",
			edit: func(s string) string {
				return strings.Replace(s, srv, "  string extproc_addr = 1;\n", 1)
			},
			wantErr: []string{
				"llmrouter.config.v1.Server.extproc_address is in the compiled schema but not in the .proto source",
				"llmrouter.config.v1.Server.extproc_addr is in the .proto source but not in the compiled schema",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := parseProto(tc.edit(string(real)))
			require.NoError(t, err)
			root := (&configv1.Config{}).ProtoReflect().Descriptor()
			_, err = render(doc{root: root, src: src})
			require.Error(t, err)
			for _, w := range tc.wantErr {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ comment, name, want string }{
		{"BaseURL is the URL.", "base_url", "`base_url` is the URL."},
		{"Region, e.g. x.", "region", "`region`, e.g. x."},
		{"Something else.", "name", "Something else."},
		{"", "name", ""},
		{"a\n\n b | c", "x", `a b \| c`},
	} {
		require.Equal(t, tc.want, describe(tc.comment, protoreflect.Name(tc.name)))
	}
}

func TestScalarTypes(t *testing.T) {
	require.Equal(t, "bool", scalarType(protoreflect.BoolKind))
	require.Equal(t, "bytes (base64)", scalarType(protoreflect.BytesKind))
	require.Equal(t, "number", scalarType(protoreflect.FloatKind))
	require.Equal(t, "int32", scalarType(protoreflect.Int32Kind))
	require.Equal(t, "sint64", scalarType(protoreflect.Sint64Kind))
	require.Equal(t, "", wellKnown("demo.v1.Root"))
	require.Equal(t, "integer", wellKnown("google.protobuf.UInt32Value"))
}
