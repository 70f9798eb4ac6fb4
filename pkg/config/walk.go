package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bounds on the YAML tree. A config is a few hundred nodes; these only stop
// alias bombs ("billion laughs") and absurd nesting from eating memory or stack.
const (
	maxNodes = 200_000
	maxDepth = 64
)

// extensionPrefix starts keys that are ignored in any mapping that stands for a
// message, so that a file can hold anchors ("x-defaults: &defaults ...") the
// way docker compose files do. No proto field name contains a '-'.
const extensionPrefix = "x-"

// YAML core-schema tags as reported by yaml.Node.ShortTag.
const (
	tagNull      = "!!null"
	tagBool      = "!!bool"
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
	tagMerge     = "!!merge"
)

// walker checks a YAML tree against a message descriptor and builds the JSON
// value protojson will decode. It keeps going after a problem so that one run
// reports everything; a value with a problem is left out of the JSON.
type walker struct {
	problems []Problem
	pos      positions
	nodes    int
	depth    int
	active   map[*yaml.Node]bool
	aborted  bool
}

func newWalker() *walker {
	return &walker{pos: positions{}, active: map[*yaml.Node]bool{}}
}

// report records a problem at node n.
func (w *walker) report(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	w.problems = append(w.problems, p)
}

// enter accounts for one visited node and one level of nesting; it returns false
// once a bound is exceeded, after reporting it once.
func (w *walker) enter(n *yaml.Node, path string) bool {
	if w.aborted {
		return false
	}
	w.nodes++
	w.depth++
	switch {
	case w.nodes > maxNodes:
		w.report(n, path, "document too large: more than %d values after expanding aliases", maxNodes)
		w.aborted = true
	case w.depth > maxDepth:
		w.report(n, path, "document nested deeper than %d levels", maxDepth)
		w.aborted = true
	}
	return !w.aborted
}

func (w *walker) leave() { w.depth-- }

// deref follows aliases to the anchored node. It returns nil (after reporting)
// for an alias that refers to itself.
func (w *walker) deref(n *yaml.Node, path string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil || w.active[n.Alias] {
			w.report(n, path, "alias refers to itself")
			return nil
		}
		n = n.Alias
	}
	return n
}

// with marks an anchored node as being expanded while fn runs, so that a cycle
// through aliases is caught instead of recursing forever.
func (w *walker) with(n *yaml.Node, fn func()) {
	if n.Anchor == "" {
		fn()
		return
	}
	w.active[n] = true
	fn()
	delete(w.active, n)
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull)
}

// describe names what a YAML node is, for "expected X, got Y" messages. It never
// includes the value, which might be a secret.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case tagBool:
			return "a boolean"
		case tagInt:
			return "an integer"
		case tagFloat:
			return "a number"
		case tagNull:
			return "null"
		case tagTimestamp:
			return "a timestamp"
		default:
			return "a string"
		}
	}
	return "an unsupported YAML node"
}

// pair is one key/value of a mapping after merge keys are expanded.
type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's entries, expanding YAML merge keys ("<<: *base"):
// explicit keys come first and win over merged ones; among merged sources the
// first listed wins, as the YAML merge spec says.
func (w *walker) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != tagMerge {
			explicit = append(explicit, pair{k, v})
			continue
		}
		src := w.deref(v, path)
		if src == nil {
			continue
		}
		var sources []*yaml.Node
		switch src.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{src}
		case yaml.SequenceNode:
			for _, e := range src.Content {
				if e = w.deref(e, path); e != nil {
					sources = append(sources, e)
				}
			}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				w.report(v, path, "merge key \"<<\" needs a mapping or a list of mappings, got %s", describe(s))
				continue
			}
			if !w.enter(s, path) {
				return nil
			}
			w.with(s, func() { merged = append(merged, w.pairs(s, path)...) })
			w.leave()
		}
		if len(sources) == 0 {
			w.report(v, path, "merge key \"<<\" needs a mapping or a list of mappings, got %s", describe(src))
		}
	}
	if len(merged) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, p := range explicit {
		have[p.key.Value] = true
	}
	out := explicit
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// root walks the document's top node as message md.
func (w *walker) root(md protoreflect.MessageDescriptor, n *yaml.Node) (any, bool) {
	if !w.enter(n, "") {
		return nil, false
	}
	defer w.leave()
	t := w.deref(n, "")
	if t == nil {
		return nil, false
	}
	if isNull(t) {
		return nil, true
	}
	return w.message(md, n, t, "")
}

// value walks node n for field fd (singular, list or map) at path.
// ok is false when a problem was reported; a nil value with ok means "not set".
func (w *walker) value(fd protoreflect.FieldDescriptor, n *yaml.Node, path string) (any, bool) {
	if !w.enter(n, path) {
		return nil, false
	}
	defer w.leave()
	t := w.deref(n, path)
	if t == nil {
		return nil, false
	}
	if isNull(t) {
		return nil, true
	}
	var out any
	ok := true
	w.with(t, func() {
		switch {
		case fd.IsMap():
			out, ok = w.mapValue(fd, n, t, path)
		case fd.IsList():
			out, ok = w.list(fd, n, t, path)
		default:
			out, ok = w.single(fd, n, t, path)
		}
	})
	return out, ok
}

func (w *walker) list(fd protoreflect.FieldDescriptor, n, t *yaml.Node, path string) (any, bool) {
	if t.Kind != yaml.SequenceNode {
		w.report(n, path, "expected a list, got %s", describe(t))
		return nil, false
	}
	out := make([]any, 0, len(t.Content))
	ok := true
	for i, e := range t.Content {
		epath := joinIndex(path, i)
		w.pos[epath] = position{e.Line, e.Column}
		v, eok := w.element(fd, e, epath)
		if eok {
			out = append(out, v)
		}
		ok = ok && eok
	}
	return out, ok
}

// element walks one list element or map value, which must not be null.
func (w *walker) element(fd protoreflect.FieldDescriptor, e *yaml.Node, path string) (any, bool) {
	if !w.enter(e, path) {
		return nil, false
	}
	defer w.leave()
	t := w.deref(e, path)
	if t == nil {
		return nil, false
	}
	if isNull(t) {
		w.report(e, path, "value is missing")
		return nil, false
	}
	var out any
	ok := true
	w.with(t, func() { out, ok = w.single(fd, e, t, path) })
	return out, ok
}

func (w *walker) mapValue(fd protoreflect.FieldDescriptor, n, t *yaml.Node, path string) (any, bool) {
	if t.Kind != yaml.MappingNode {
		w.report(n, path, "expected a mapping, got %s", describe(t))
		return nil, false
	}
	out := map[string]any{}
	first := map[string]int{}
	ok := true
	for _, p := range w.pairs(t, path) {
		k := w.deref(p.key, path)
		if k == nil || k.Kind != yaml.ScalarNode {
			w.report(p.key, path, "map keys must be scalars")
			ok = false
			continue
		}
		kpath := joinKey(path, k.Value)
		if line, dup := first[k.Value]; dup {
			w.report(p.key, kpath, "duplicate key (first set on line %d)", line)
			ok = false
			continue
		}
		first[k.Value] = p.key.Line
		w.pos[kpath] = position{p.value.Line, p.value.Column}
		key, kok := w.mapKey(fd.MapKey(), p.key, k, kpath)
		v, vok := w.element(fd.MapValue(), p.value, kpath)
		if kok && vok {
			out[key] = v
		}
		ok = ok && kok && vok
	}
	return out, ok
}

// mapKey checks a map key against the key kind; protojson wants every key as a
// JSON string.
func (w *walker) mapKey(fd protoreflect.FieldDescriptor, n, k *yaml.Node, path string) (string, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(k.Value) {
			w.report(n, path, "key is not valid UTF-8")
			return "", false
		}
		return k.Value, true
	case protoreflect.BoolKind:
		v, ok := w.boolean(n, k, path)
		return strconv.FormatBool(v), ok
	default:
		v, ok := w.integer(fd, n, k, path)
		if !ok {
			return "", false
		}
		return string(v.(json.Number)), true
	}
}

// single walks a non-null value of a singular field (or one list element or map
// value) into its protojson form.
func (w *walker) single(fd protoreflect.FieldDescriptor, n, t *yaml.Node, path string) (any, bool) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.message(fd.Message(), n, t, path)
	case protoreflect.EnumKind:
		return w.enum(fd.Enum(), n, t, path)
	}
	if t.Kind != yaml.ScalarNode {
		w.report(n, path, "expected %s, got %s", kindName(fd.Kind()), describe(t))
		return nil, false
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return w.str(n, t, path)
	case protoreflect.BytesKind:
		return w.bytes(n, t, path)
	case protoreflect.BoolKind:
		return w.boolean(n, t, path)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return w.float(fd.Kind() == protoreflect.FloatKind, n, t, path)
	default:
		return w.integer(fd, n, t, path)
	}
}

// kindName says what a scalar kind looks like in YAML.
func kindName(k protoreflect.Kind) string {
	switch k {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "a base64 string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a non-negative integer"
	default:
		return "an integer"
	}
}

// str accepts any scalar text except booleans: an unquoted 2024-10-21 or 42 in a
// string field means the text the user typed, but "true" in a string field is
// far more likely a misplaced flag. The value is never echoed (it may be a secret).
func (w *walker) str(n, t *yaml.Node, path string) (any, bool) {
	switch t.ShortTag() {
	case tagStr, tagInt, tagFloat, tagTimestamp, tagBinary:
	default:
		w.report(n, path, "expected a string, got %s (quote it if you mean the text)", describe(t))
		return nil, false
	}
	if !utf8.ValidString(t.Value) {
		w.report(n, path, "string is not valid UTF-8")
		return nil, false
	}
	return t.Value, true
}

func (w *walker) bytes(n, t *yaml.Node, path string) (any, bool) {
	s := strings.TrimSpace(t.Value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return s, true
		}
	}
	w.report(n, path, "expected a base64 string")
	return nil, false
}

func (w *walker) boolean(n, t *yaml.Node, path string) (bool, bool) {
	if t.ShortTag() == tagBool {
		if v, err := strconv.ParseBool(strings.ToLower(t.Value)); err == nil {
			return v, true
		}
	}
	w.report(n, path, "expected true or false, got %s", describe(t))
	return false, false
}

// integer parses YAML integers (decimal, 0x, 0o, 0b, underscores) and quoted
// integers, and checks the range of the field's kind.
func (w *walker) integer(fd protoreflect.FieldDescriptor, n, t *yaml.Node, path string) (any, bool) {
	tag := t.ShortTag()
	if tag != tagInt && tag != tagStr && tag != tagFloat {
		w.report(n, path, "expected %s, got %s", kindName(fd.Kind()), describe(t))
		return nil, false
	}
	// YAML resolves integers beyond 64 bits as floats, so floats get a try too.
	neg, mag, err := parseInt(t.Value)
	switch {
	case errors.Is(err, strconv.ErrRange):
		w.report(n, path, "%s is out of range for %s", t.Value, fd.Kind())
		return nil, false
	case err != nil && tag == tagFloat:
		w.report(n, path, "expected %s, got a number", kindName(fd.Kind()))
		return nil, false
	case err != nil:
		w.report(n, path, "expected %s, got %q", kindName(fd.Kind()), t.Value)
		return nil, false
	}
	var lo int64
	var hi uint64
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		lo, hi = math.MinInt32, math.MaxInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		lo, hi = 0, math.MaxUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		lo, hi = 0, math.MaxUint64
	default:
		lo, hi = math.MinInt64, math.MaxInt64
	}
	switch {
	case neg && lo == 0 && mag != 0:
		w.report(n, path, "must not be negative")
		return nil, false
	case neg && mag > uint64(-(lo+1))+1:
		w.report(n, path, "%s is too small (minimum %d)", t.Value, lo)
		return nil, false
	case !neg && mag > hi:
		w.report(n, path, "%s is too large (maximum %d)", t.Value, hi)
		return nil, false
	}
	if neg && mag != 0 {
		return json.Number("-" + strconv.FormatUint(mag, 10)), true
	}
	return json.Number(strconv.FormatUint(mag, 10)), true
}

// parseInt splits an integer literal into sign and magnitude. A leading zero
// followed by digits is decimal ("010" is ten), unlike Go's base-0 parsing.
func parseInt(s string) (neg bool, mag uint64, err error) {
	s = strings.TrimSpace(s)
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '-' || s[0] == '+' {
		return false, 0, strconv.ErrSyntax
	}
	base := 0
	if len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9' {
		base = 10
	}
	mag, err = strconv.ParseUint(s, base, 64)
	return neg, mag, err
}

func (w *walker) float(is32 bool, n, t *yaml.Node, path string) (any, bool) {
	tag := t.ShortTag()
	if tag != tagFloat && tag != tagInt && tag != tagStr {
		w.report(n, path, "expected a number, got %s", describe(t))
		return nil, false
	}
	switch strings.ToLower(t.Value) {
	case ".nan", "nan":
		return "NaN", true
	case ".inf", "+.inf", "infinity", "+infinity":
		return "Infinity", true
	case "-.inf", "-infinity":
		return "-Infinity", true
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t.Value, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		w.report(n, path, "expected a number, got %q", t.Value)
		return nil, false
	}
	if is32 && math.Abs(f) > math.MaxFloat32 {
		w.report(n, path, "%s is out of range for a 32-bit float", t.Value)
		return nil, false
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
}

func (w *walker) enum(ed protoreflect.EnumDescriptor, n, t *yaml.Node, path string) (any, bool) {
	if t.Kind == yaml.ScalarNode {
		if t.ShortTag() == tagInt {
			if neg, mag, err := parseInt(t.Value); err == nil && mag <= math.MaxInt32 {
				num := int32(mag)
				if neg {
					num = -num
				}
				if ed.Values().ByNumber(protoreflect.EnumNumber(num)) != nil {
					return json.Number(strconv.Itoa(int(num))), true
				}
			}
		} else if ev := ed.Values().ByName(protoreflect.Name(t.Value)); ev != nil {
			return t.Value, true
		}
	}
	names := make([]string, 0, ed.Values().Len())
	for i := range ed.Values().Len() {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	got := describe(t)
	if t.Kind == yaml.ScalarNode {
		got = strconv.Quote(t.Value)
	}
	w.report(n, path, "invalid value %s (want one of %s)", got, strings.Join(names, ", "))
	return nil, false
}

// message walks a mapping into a message, or a scalar into a well-known type.
func (w *walker) message(md protoreflect.MessageDescriptor, n, t *yaml.Node, path string) (any, bool) {
	if wkt, ok := w.wellKnown(md, n, t, path); ok != nil {
		return wkt, *ok
	}
	if t.Kind != yaml.MappingNode {
		w.report(n, path, "expected a mapping, got %s", describe(t))
		return nil, false
	}
	out := map[string]any{}
	firstLine := map[protoreflect.FieldNumber]int{}
	oneofs := map[protoreflect.FullName]string{}
	ok := true
	for _, p := range w.pairs(t, path) {
		k := w.deref(p.key, path)
		if k == nil || k.Kind != yaml.ScalarNode {
			w.report(p.key, path, "field names must be strings")
			ok = false
			continue
		}
		if strings.HasPrefix(k.Value, extensionPrefix) {
			continue // a place for YAML anchors, as in docker compose files
		}
		fd := md.Fields().ByName(protoreflect.Name(k.Value))
		if fd == nil {
			fd = md.Fields().ByJSONName(k.Value)
		}
		if fd == nil {
			w.report(p.key, joinField(path, k.Value), "unknown field%s", suggest(md, k.Value))
			ok = false
			continue
		}
		fpath := joinField(path, string(fd.Name()))
		if line, dup := firstLine[fd.Number()]; dup {
			w.report(p.key, fpath, "duplicate field (first set on line %d)", line)
			ok = false
			continue
		}
		firstLine[fd.Number()] = p.key.Line
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other, set := oneofs[od.FullName()]; set {
				w.report(p.key, fpath, "only one of %q and %q may be set", other, fd.Name())
				ok = false
				continue
			}
			oneofs[od.FullName()] = string(fd.Name())
		}
		w.pos[fpath] = position{p.value.Line, p.value.Column}
		v, vok := w.value(fd, p.value, fpath)
		if vok && v != nil {
			out[string(fd.Name())] = v
		}
		ok = ok && vok
	}
	return out, ok
}
