package envoyconfig

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// schemaWalker checks a YAML tree against a proto message descriptor before protojson
// sees it, so that every unknown field, unresolvable typed_config and mistyped scalar is
// reported with its path and line (protojson stops at the first error and names only a
// byte offset of the intermediate JSON). It also records where each path starts, to
// place problems found later (PGV rules, cross-checks) on a line.
type schemaWalker struct {
	problems  []Problem
	positions map[string][2]int
	budget    int
}

const maxProblems = 100

func newSchemaWalker() *schemaWalker {
	return &schemaWalker{positions: map[string][2]int{}, budget: maxExpandedNodes}
}

func (w *schemaWalker) add(n *yaml.Node, path, format string, args ...any) {
	if len(w.problems) >= maxProblems {
		return
	}
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	w.problems = append(w.problems, p)
}

func (w *schemaWalker) visit(n *yaml.Node, path string) bool {
	if w.budget--; w.budget < 0 || len(w.problems) >= maxProblems {
		return false
	}
	if _, ok := w.positions[path]; !ok && n != nil {
		w.positions[path] = [2]int{n.Line, n.Column}
	}
	return true
}

// message checks n as an instance of md.
func (w *schemaWalker) message(n *yaml.Node, md protoreflect.MessageDescriptor, path string) {
	n = deref(n)
	if !w.visit(n, path) || isNull(n) {
		return
	}
	switch md.FullName() {
	case "google.protobuf.Any":
		w.anyMessage(n, path)
		return
	case "google.protobuf.Value":
		return
	case "google.protobuf.Struct":
		w.expectKind(n, yaml.MappingNode, path, "a mapping")
		return
	case "google.protobuf.ListValue":
		w.expectKind(n, yaml.SequenceNode, path, "a list")
		return
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		if w.expectKind(n, yaml.ScalarNode, path, "a string") && n.ShortTag() != "!!str" {
			w.add(n, path, "expected a string such as \"5s\" for %s, got %s", md.Name(), n.Value)
		}
		return
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		w.scalar(n, md.Fields().ByName("value"), path)
		return
	}
	if !w.expectKind(n, yaml.MappingNode, path, "a mapping for "+string(md.FullName())) {
		return
	}
	pairs, err := mappingPairs(n)
	if err != nil {
		w.add(n, path, "%v", err)
		return
	}
	w.fields(pairs, md, path)
}

func (w *schemaWalker) fields(pairs []pair, md protoreflect.MessageDescriptor, path string) {
	for _, p := range pairs {
		fd := md.Fields().ByName(protoreflect.Name(p.key))
		if fd == nil {
			fd = md.Fields().ByJSONName(p.key)
		}
		fpath := joinField(path, p.key)
		if fd == nil {
			w.add(p.kn, fpath, "unknown field %q in %s", p.key, md.FullName())
			continue
		}
		w.field(p.v, fd, fpath)
	}
}

func (w *schemaWalker) field(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	n = deref(n)
	if !w.visit(n, path) || isNull(n) {
		return
	}
	switch {
	case fd.IsMap():
		if !w.expectKind(n, yaml.MappingNode, path, "a mapping") {
			return
		}
		pairs, err := mappingPairs(n)
		if err != nil {
			w.add(n, path, "%v", err)
			return
		}
		for _, p := range pairs {
			w.value(p.v, fd.MapValue(), joinKey(path, p.key))
		}
	case fd.IsList():
		if !w.expectKind(n, yaml.SequenceNode, path, "a list") {
			return
		}
		for i, e := range n.Content {
			w.value(e, fd, joinIndex(path, i))
		}
	default:
		w.value(n, fd, path)
	}
}

func (w *schemaWalker) value(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	n = deref(n)
	if !w.visit(n, path) {
		return
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		w.message(n, fd.Message(), path)
		return
	}
	if isNull(n) {
		return
	}
	w.scalar(n, fd, path)
}

// scalar checks a scalar the way protojson will read it.
func (w *schemaWalker) scalar(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	if !w.expectKind(n, yaml.ScalarNode, path, "a "+kindName(fd)) || isNull(n) {
		return
	}
	tag := n.ShortTag()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if tag != "!!bool" {
			w.add(n, path, "expected true or false, got %q", n.Value)
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		// Unquoted dates and base64 still reach protojson as strings.
		if tag == "!!int" || tag == "!!float" || tag == "!!bool" {
			w.add(n, path, "expected a string, got %s %s (quote it)", strings.TrimPrefix(tag, "!!"), n.Value)
		}
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if tag == "!!int" || ed.FullName() == "google.protobuf.NullValue" {
			return
		}
		if ed.Values().ByName(protoreflect.Name(n.Value)) == nil {
			w.add(n, path, "invalid value %q for %s (one of %s)", n.Value, ed.FullName(), enumNames(ed))
		}
	default: // numbers: protojson also takes them as strings
		if tag == "!!int" || tag == "!!float" {
			return
		}
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil || tag != "!!str" {
			w.add(n, path, "expected a number, got %q", n.Value)
		}
	}
}

// anyMessage resolves "@type" and checks the rest against the resolved message.
func (w *schemaWalker) anyMessage(n *yaml.Node, path string) {
	if !w.expectKind(n, yaml.MappingNode, path, "a mapping with \"@type\"") {
		return
	}
	pairs, err := mappingPairs(n)
	if err != nil {
		w.add(n, path, "%v", err)
		return
	}
	var typeURL string
	var typeNode *yaml.Node
	rest := make([]pair, 0, len(pairs))
	for _, p := range pairs {
		if p.key == "@type" {
			typeURL, typeNode = deref(p.v).Value, p.v
			continue
		}
		rest = append(rest, p)
	}
	if typeNode == nil {
		w.add(n, path, "typed_config without \"@type\"")
		return
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		w.add(typeNode, joinField(path, "@type"), "unknown type %q: not an Envoy v1.40 API type known to llm-router", typeURL)
		return
	}
	md := mt.Descriptor()
	if wellKnownJSON(md.FullName()) {
		// WKTs with a special JSON form sit under "value".
		for _, p := range rest {
			if p.key != "value" {
				w.add(p.kn, joinField(path, p.key), "unknown field %q in %s (use \"value\")", p.key, md.FullName())
				continue
			}
			w.message(p.v, md, joinField(path, "value"))
		}
		return
	}
	w.fields(rest, md, path)
}

func wellKnownJSON(name protoreflect.FullName) bool {
	return strings.HasPrefix(string(name), "google.protobuf.") && name != "google.protobuf.Empty"
}

func (w *schemaWalker) expectKind(n *yaml.Node, kind yaml.Kind, path, what string) bool {
	if n.Kind == kind || isNull(n) {
		return true
	}
	w.add(n, path, "expected %s, got %s", what, nodeKindName(n))
	return false
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported node"
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.EnumKind:
		return "enum value"
	}
	return "number"
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// locate places problems without a position at the closest enclosing path seen.
func (w *schemaWalker) locate(problems []Problem) {
	for i := range problems {
		if problems[i].Line > 0 {
			continue
		}
		for path := problems[i].Path; ; path = parentPath(path) {
			if pos, ok := w.positions[path]; ok {
				problems[i].Line, problems[i].Column = pos[0], pos[1]
				break
			}
			if path == "" {
				break
			}
		}
	}
}

// parentPath strips the last segment: `a.b["k.x"]` → "a.b" → "a" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, `"]`) {
		if i := strings.LastIndex(path, `["`); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}
