package harness

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// attrKey is the fixed key of ProcessingRequest.attributes (item 94).
const attrKey = "envoy.filters.http.ext_proc"

// attrEnv is what an attribute expression can see, the emulation of Envoy's CEL activation.
type attrEnv struct {
	reqHeaders   hmap
	respHeaders  hmap // nil on the request path
	respCode     int
	details      string
	protocol     string
	routeName    string
	routeMeta    *corev3.Metadata
	haveRoute    bool
	clusterName  string
	clusterMeta  *corev3.Metadata
	hostMeta     *corev3.Metadata // nil until an upstream host is chosen
	hostAddr     string
	sourceAddr   string
	dynMeta      *corev3.Metadata
	haveCluster  bool
	haveUpstream bool
}

// celNull is CEL's null.
type celNull struct{}

// evalAttributes evaluates each expression and encodes the results like Envoy's
// ExpressionManager::evaluateAttributes: bool → bool_value, int/uint → number_value, anything
// else → string_value via Filters::Common::Expr::print (messages as ShortDebugString). Errors
// and unavailable attributes are omitted.
func evalAttributes(exprs []string, env *attrEnv) *structpb.Struct {
	out := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for _, e := range exprs {
		v, err := env.eval(e)
		if err != nil {
			continue
		}
		switch x := v.(type) {
		case bool:
			out.Fields[e] = structpb.NewBoolValue(x)
		case int64:
			out.Fields[e] = structpb.NewNumberValue(float64(x))
		case uint64:
			out.Fields[e] = structpb.NewNumberValue(float64(x))
		default:
			out.Fields[e] = structpb.NewStringValue(celPrint(v))
		}
	}
	return out
}

// celPrint is Filters::Common::Expr::print.
func celPrint(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'g', 6, 64)
	case proto.Message:
		return shortDebugString(x)
	case map[string]any:
		return "map value"
	case []any:
		return "list value"
	case celNull, nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}

// validateAttribute reports whether expr is a path this emulation can evaluate.
func validateAttribute(expr string) error {
	root, _, err := parsePath(expr)
	if err != nil {
		return err
	}
	switch root {
	case "request", "response", "xds", "upstream", "source", "metadata", "connection":
		return nil
	}
	return fmt.Errorf("attribute %q: unsupported root %q", expr, root)
}

// parsePath splits "a.b['c'][\"d\"].e" into its root identifier and selectors.
func parsePath(expr string) (string, []string, error) {
	s := strings.TrimSpace(expr)
	var parts []string
	i := 0
	ident := func() string {
		j := i
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		id := s[i:j]
		i = j
		return id
	}
	root := ident()
	if root == "" {
		return "", nil, fmt.Errorf("attribute %q: not a path expression", expr)
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			id := ident()
			if id == "" {
				return "", nil, fmt.Errorf("attribute %q: bad selector", expr)
			}
			parts = append(parts, id)
		case '[':
			i++
			if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
				return "", nil, fmt.Errorf("attribute %q: only string index is supported", expr)
			}
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 || i+1+end+1 >= len(s) || s[i+1+end+1] != ']' {
				return "", nil, fmt.Errorf("attribute %q: unterminated index", expr)
			}
			parts = append(parts, s[i+1:i+1+end])
			i += end + 3
		default:
			return "", nil, fmt.Errorf("attribute %q: unexpected %q", expr, s[i])
		}
	}
	return root, parts, nil
}

var errNoValue = fmt.Errorf("no such attribute")

func (env *attrEnv) eval(expr string) (any, error) {
	root, parts, err := parsePath(expr)
	if err != nil {
		return nil, err
	}
	var cur any
	switch root {
	case "request", "response", "xds", "upstream", "source", "connection":
		if len(parts) == 0 {
			return map[string]any{}, nil
		}
		cur, err = env.field(root, parts[0])
		if err != nil {
			return nil, err
		}
		parts = parts[1:]
	case "metadata":
		cur = env.dynMeta
		if env.dynMeta == nil {
			cur = &corev3.Metadata{}
		}
	default:
		return nil, errNoValue
	}
	for _, p := range parts {
		if cur, err = celSelect(cur, p); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

func headerMap(h hmap) map[string]any {
	m := map[string]any{}
	for _, e := range h {
		if strings.HasPrefix(e.k, ":") {
			continue
		}
		if old, ok := m[e.k]; ok {
			m[e.k] = old.(string) + "," + e.v
		} else {
			m[e.k] = e.v
		}
	}
	return m
}

func (env *attrEnv) field(root, name string) (any, error) {
	get := func(h hmap, k string) (any, error) {
		if v, ok := h.get(k); ok {
			return v, nil
		}
		return nil, errNoValue
	}
	switch root + "." + name {
	case "request.path":
		return get(env.reqHeaders, ":path")
	case "request.url_path":
		p, _ := env.reqHeaders.get(":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return p, nil
	case "request.query":
		p, _ := env.reqHeaders.get(":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return p[i+1:], nil
		}
		return "", nil
	case "request.host":
		return get(env.reqHeaders, ":authority")
	case "request.scheme":
		return get(env.reqHeaders, ":scheme")
	case "request.method":
		return get(env.reqHeaders, ":method")
	case "request.headers":
		return headerMap(env.reqHeaders), nil
	case "request.referer":
		return get(env.reqHeaders, "referer")
	case "request.useragent":
		return get(env.reqHeaders, "user-agent")
	case "request.id":
		return get(env.reqHeaders, "x-request-id")
	case "request.protocol":
		return env.protocol, nil
	case "response.code":
		if env.respHeaders == nil {
			return nil, errNoValue
		}
		return int64(env.respCode), nil
	case "response.code_details":
		if env.details == "" {
			return nil, errNoValue
		}
		return env.details, nil
	case "response.headers":
		if env.respHeaders == nil {
			return nil, errNoValue
		}
		return headerMap(env.respHeaders), nil
	case "xds.cluster_name":
		if !env.haveCluster {
			return nil, errNoValue
		}
		return env.clusterName, nil
	case "xds.cluster_metadata":
		if !env.haveCluster {
			return nil, errNoValue
		}
		if env.clusterMeta == nil {
			return &corev3.Metadata{}, nil
		}
		return env.clusterMeta, nil
	case "xds.route_metadata":
		if !env.haveRoute {
			return nil, errNoValue
		}
		if env.routeMeta == nil {
			return &corev3.Metadata{}, nil
		}
		return env.routeMeta, nil
	case "xds.route_name":
		if env.routeName == "" {
			return nil, errNoValue
		}
		return env.routeName, nil
	case "xds.upstream_host_metadata":
		if !env.haveUpstream {
			return nil, errNoValue
		}
		if env.hostMeta == nil {
			return &corev3.Metadata{}, nil
		}
		return env.hostMeta, nil
	case "upstream.address":
		if !env.haveUpstream {
			return nil, errNoValue
		}
		return env.hostAddr, nil
	case "upstream.port":
		if !env.haveUpstream {
			return nil, errNoValue
		}
		_, port, err := net.SplitHostPort(env.hostAddr)
		if err != nil {
			return nil, errNoValue
		}
		n, err := strconv.ParseInt(port, 10, 64)
		if err != nil {
			return nil, errNoValue
		}
		return n, nil
	case "source.address":
		if env.sourceAddr == "" {
			return nil, errNoValue
		}
		return env.sourceAddr, nil
	}
	return nil, errNoValue
}

// celSelect applies one field or index selection, converting proto and Struct values into
// CEL values the way CEL's protobuf adapter does.
func celSelect(cur any, name string) (any, error) {
	switch x := cur.(type) {
	case map[string]any:
		v, ok := x[name]
		if !ok {
			return nil, errNoValue
		}
		return v, nil
	case *structpb.Struct:
		v, ok := x.GetFields()[name]
		if !ok {
			return nil, errNoValue
		}
		return celFromValue(v), nil
	case proto.Message:
		m := x.ProtoReflect()
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, errNoValue
		}
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			out := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				out[k.String()] = celFromReflect(fd.MapValue(), mv)
				return true
			})
			return out, nil
		case fd.IsList():
			var out []any
			for i := 0; i < v.List().Len(); i++ {
				out = append(out, celFromReflect(fd, v.List().Get(i)))
			}
			return out, nil
		}
		return celFromReflect(fd, v), nil
	}
	return nil, errNoValue
}

func celFromReflect(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		msg := v.Message().Interface()
		if s, ok := msg.(*structpb.Struct); ok {
			return celFromValue(structpb.NewStructValue(s))
		}
		if s, ok := msg.(*structpb.Value); ok {
			return celFromValue(s)
		}
		return msg
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	case protoreflect.EnumKind:
		return int64(v.Enum())
	default:
		return v.Int()
	}
}

func celFromValue(v *structpb.Value) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return k.NumberValue
	case *structpb.Value_BoolValue:
		return k.BoolValue
	case *structpb.Value_StructValue:
		m := map[string]any{}
		for key, fv := range k.StructValue.GetFields() {
			m[key] = celFromValue(fv)
		}
		return m
	case *structpb.Value_ListValue:
		var out []any
		for _, lv := range k.ListValue.GetValues() {
			out = append(out, celFromValue(lv))
		}
		return out
	}
	return celNull{}
}

// shortDebugString renders a message like C++ Message::ShortDebugString(): single-line
// protobuf text format, fields in number order, map entries sorted by key.
func shortDebugString(m proto.Message) string {
	var b strings.Builder
	writeMessage(&b, m.ProtoReflect())
	return strings.TrimSuffix(b.String(), " ")
}

func writeMessage(b *strings.Builder, m protoreflect.Message) {
	var fields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].Number() < fields[j].Number() })
	for _, fd := range fields {
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			keys := make([]protoreflect.MapKey, 0, v.Map().Len())
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(i, j int) bool { return mapKeyLess(keys[i], keys[j]) })
			for _, k := range keys {
				b.WriteString(string(fd.Name()))
				b.WriteString(" { key: ")
				writeScalar(b, fd.MapKey(), k.Value())
				b.WriteString(" ")
				writeField(b, fd.MapValue(), "value", v.Map().Get(k))
				b.WriteString("} ")
			}
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				writeField(b, fd, string(fd.Name()), v.List().Get(i))
			}
		default:
			writeField(b, fd, string(fd.Name()), v)
		}
	}
}

func mapKeyLess(a, b protoreflect.MapKey) bool {
	switch a.Interface().(type) {
	case string:
		return a.String() < b.String()
	case bool:
		return !a.Bool() && b.Bool()
	case int32, int64:
		return a.Int() < b.Int()
	default:
		return a.Uint() < b.Uint()
	}
}

func writeField(b *strings.Builder, fd protoreflect.FieldDescriptor, name string, v protoreflect.Value) {
	b.WriteString(name)
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		b.WriteString(" { ")
		writeMessage(b, v.Message())
		b.WriteString("} ")
		return
	}
	b.WriteString(": ")
	writeScalar(b, fd, v)
	b.WriteString(" ")
}

func writeScalar(b *strings.Builder, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		b.WriteString(cEscape(v.String()))
	case protoreflect.BytesKind:
		b.WriteString(cEscape(string(v.Bytes())))
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			b.WriteString(string(ev.Name()))
		} else {
			b.WriteString(strconv.Itoa(int(v.Enum())))
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		b.WriteString(simpleDtoa(v.Float()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	default:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	}
}

// simpleDtoa approximates protobuf's SimpleDtoa (shortest round-trip form).
func simpleDtoa(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// cEscape quotes s like protobuf's text printer with UTF-8 escaping.
func cEscape(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c >= 0x80 {
				if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n > 1 {
					b.WriteString(s[i : i+n])
					i += n
					continue
				}
			}
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, "\\%03o", c)
			} else {
				b.WriteByte(c)
			}
		}
		i++
	}
	b.WriteByte('"')
	return b.String()
}
