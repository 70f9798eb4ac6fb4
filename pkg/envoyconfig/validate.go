package envoyconfig

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Problem is one thing wrong with an Envoy configuration.
type Problem struct {
	// Path locates the offending value, e.g.
	// `static_resources.clusters[3].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].http_filters[0]`.
	// Empty for problems with the document as a whole.
	Path string
	// Message says what is wrong.
	Message string
	// Line and Column are the 1-based position in the YAML source of the value or of its
	// closest enclosing value, when known (0 otherwise).
	Line, Column int
}

// String formats the problem as "line N: path: message".
func (p Problem) String() string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d: %s", p.Line, s)
	}
	return s
}

// Validate checks an Envoy configuration file: a v3 Bootstrap, or an Istio EnvoyFilter
// (several YAML documents may follow each other). It reports, each with its path:
//   - YAML errors, unknown fields, mistyped values and typed_config whose @type is not
//     an Envoy API type (protojson semantics, as Envoy's own loader);
//   - violations of Envoy's protoc-gen-validate rules, in the bootstrap and in every
//     nested typed_config;
//   - mismatches with cfg (nil skips those needing it): a route on x-llm-router-backend
//     and a cluster for every backend, the router-level ext_proc filter before the
//     router with the processing modes the processor relies on, the ext_proc gRPC
//     cluster on HTTP/2, and with server.upstream_filter the upstream ext_proc filter in
//     every backend cluster.
//
// No problems means the file is valid.
func Validate(envoyYAML []byte, cfg *configv1.Config) []Problem {
	docs, err := parseYAMLDocs(envoyYAML)
	if err != nil {
		return []Problem{{Message: "invalid YAML: " + err.Error()}}
	}
	if len(docs) == 0 {
		return []Problem{{Message: "empty document"}}
	}
	var out []Problem
	for i, d := range docs {
		var ps []Problem
		if isEnvoyFilter(d) {
			ps = validateEnvoyFilter(d, cfg)
		} else {
			_, ps = parseBootstrap(d, cfg)
		}
		if len(docs) > 1 {
			for j := range ps {
				ps[j].Message = fmt.Sprintf("document %d: %s", i+1, ps[j].Message)
			}
		}
		out = append(out, ps...)
	}
	return out
}

// ParseBootstrap parses and validates a Bootstrap YAML like Validate and returns it
// when it has no problems.
func ParseBootstrap(envoyYAML []byte, cfg *configv1.Config) (*bootstrapv3.Bootstrap, []Problem) {
	docs, err := parseYAMLDocs(envoyYAML)
	if err != nil {
		return nil, []Problem{{Message: "invalid YAML: " + err.Error()}}
	}
	if len(docs) != 1 {
		return nil, []Problem{{Message: fmt.Sprintf("expected one YAML document, found %d", len(docs))}}
	}
	b, ps := parseBootstrap(docs[0], cfg)
	if len(ps) > 0 {
		return nil, ps
	}
	return b, nil
}

func parseBootstrap(doc *yaml.Node, cfg *configv1.Config) (*bootstrapv3.Bootstrap, []Problem) {
	b := &bootstrapv3.Bootstrap{}
	w, ps := decodeChecked(doc, b, "", true)
	if len(ps) > 0 {
		return nil, ps
	}
	ps = append(ps, crossCheck(b, cfg)...)
	w.locate(ps)
	return b, ps
}

// decodeChecked runs the schema walk, protojson and (when rules is set) the PGV rules
// on doc as message m, with paths starting at path.
func decodeChecked(doc *yaml.Node, m proto.Message, path string, rules bool) (*schemaWalker, []Problem) {
	w := newSchemaWalker()
	w.message(doc, m.ProtoReflect().Descriptor(), path)
	if len(w.problems) > 0 {
		return w, w.problems
	}
	js, err := nodeJSON(doc)
	if err != nil {
		return w, []Problem{{Path: path, Message: err.Error()}}
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		ps := []Problem{{Path: path, Message: strings.TrimPrefix(err.Error(), "proto: ")}}
		w.locate(ps)
		return w, ps
	}
	if !rules {
		return w, nil
	}
	var ps []Problem
	checkRules(m, path, &ps)
	w.locate(ps)
	return w, ps
}

// validatable is implemented by every go-control-plane message (protoc-gen-validate).
type validatable interface {
	ValidateAll() error
}

// pgvError is the shape of protoc-gen-validate's per-message error types.
type pgvError interface {
	error
	Field() string
	Reason() string
	Cause() error
}

// checkRules runs m's PGV rules, then those of every message packed in an Any below
// it: PGV itself never looks inside an Any.
func checkRules(m proto.Message, path string, out *[]Problem) {
	if v, ok := m.(validatable); ok {
		pgvProblems(v.ValidateAll(), path, out)
	}
	walkAnys(m.ProtoReflect(), path, out)
}

func walkAnys(m protoreflect.Message, path string, out *[]Problem) {
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() != nil || fd.IsMap() && fd.MapValue().Message() != nil {
			fields = append(fields, field{fd, v})
		}
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].fd.Number() < fields[j].fd.Number() })
	for _, f := range fields {
		fpath := joinField(path, string(f.fd.Name()))
		switch {
		case f.fd.IsMap():
			mp := f.v.Map()
			var keys []protoreflect.MapKey
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				anyOrWalk(mp.Get(k).Message(), joinKey(fpath, k.String()), out)
			}
		case f.fd.IsList():
			l := f.v.List()
			for i := 0; i < l.Len(); i++ {
				anyOrWalk(l.Get(i).Message(), joinIndex(fpath, i), out)
			}
		default:
			anyOrWalk(f.v.Message(), fpath, out)
		}
	}
}

func anyOrWalk(m protoreflect.Message, path string, out *[]Problem) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		walkAnys(m, path, out)
		return
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("cannot unpack %s: %v", a.GetTypeUrl(), err)})
		return
	}
	checkRules(inner, path, out)
}

// pgvProblems flattens a PGV error tree into problems with full paths.
func pgvProblems(err error, path string, out *[]Problem) {
	if err == nil {
		return
	}
	if multi, ok := err.(interface{ AllErrors() []error }); ok {
		for _, e := range multi.AllErrors() {
			pgvProblems(e, path, out)
		}
		return
	}
	var pe pgvError
	if !errors.As(err, &pe) {
		*out = append(*out, Problem{Path: path, Message: err.Error()})
		return
	}
	fpath := joinPGVField(path, pe.Field())
	cause := pe.Cause()
	var inner pgvError
	_, isMulti := cause.(interface{ AllErrors() []error })
	if cause != nil && (isMulti || errors.As(cause, &inner)) {
		pgvProblems(cause, fpath, out)
		return
	}
	msg := pe.Reason()
	if cause != nil {
		msg += ": " + cause.Error()
	}
	*out = append(*out, Problem{Path: fpath, Message: msg})
}

// joinPGVField turns PGV's Go field names ("StaticResources", "Listeners[0]",
// "TypedPerFilterConfig[envoy.filters.http.cors]") into proto paths.
func joinPGVField(path, field string) string {
	name, index, hasIndex := strings.Cut(field, "[")
	p := joinField(path, snakeCase(name))
	if !hasIndex {
		return p
	}
	index = strings.TrimSuffix(index, "]")
	if index != "" && strings.Trim(index, "0123456789") == "" {
		return p + "[" + index + "]"
	}
	return joinKey(p, index)
}

// snakeCase inverts protoc-gen-go's CamelCase of a proto field name.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rune(s[i-1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
