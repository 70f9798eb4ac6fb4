package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wellKnown handles the google.protobuf types whose JSON form is not an object.
// It returns ok == nil for ordinary messages.
func (w *walker) wellKnown(md protoreflect.MessageDescriptor, n, t *yaml.Node, path string) (any, *bool) {
	result := func(v any, ok bool) (any, *bool) { return v, &ok }
	switch md.FullName() {
	case "google.protobuf.Duration":
		return result(w.duration(n, t, path))
	case "google.protobuf.Timestamp":
		if t.Kind == yaml.ScalarNode {
			if ts, err := time.Parse(time.RFC3339Nano, t.Value); err == nil {
				return result(ts.UTC().Format(time.RFC3339Nano), true)
			}
		}
		w.report(n, path, "expected an RFC 3339 timestamp such as \"2025-01-02T15:04:05Z\"")
		return result(nil, false)
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return result(w.single(md.Fields().ByNumber(1), n, t, path))
	case "google.protobuf.FieldMask":
		return result(w.str(n, t, path))
	case "google.protobuf.Empty":
		if t.Kind == yaml.MappingNode && len(t.Content) == 0 {
			return result(map[string]any{}, true)
		}
		w.report(n, path, "expected an empty mapping {}")
		return result(nil, false)
	case "google.protobuf.Struct":
		if t.Kind != yaml.MappingNode {
			w.report(n, path, "expected a mapping, got %s", describe(t))
			return result(nil, false)
		}
		return result(w.generic(n, t, path))
	case "google.protobuf.ListValue":
		if t.Kind != yaml.SequenceNode {
			w.report(n, path, "expected a list, got %s", describe(t))
			return result(nil, false)
		}
		return result(w.generic(n, t, path))
	case "google.protobuf.Value", "google.protobuf.Any":
		return result(w.generic(n, t, path))
	}
	return nil, nil
}

// duration accepts Go duration strings ("30s", "1m30s", "500ms", "1.5h") and
// the bare integer 0. A bare non-zero number is refused because its unit would
// be a guess.
func (w *walker) duration(n, t *yaml.Node, path string) (any, bool) {
	if t.Kind != yaml.ScalarNode {
		w.report(n, path, "expected a duration such as \"30s\", got %s", describe(t))
		return nil, false
	}
	switch t.ShortTag() {
	case tagInt, tagFloat:
		if f, err := strconv.ParseFloat(t.Value, 64); err == nil && f == 0 {
			return "0s", true
		}
		w.report(n, path, "duration %s needs a unit, e.g. \"%ss\"", t.Value, t.Value)
		return nil, false
	case tagStr:
	default:
		w.report(n, path, "expected a duration such as \"30s\", got %s", describe(t))
		return nil, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(t.Value))
	if err != nil || d == math.MinInt64 {
		w.report(n, path, "invalid duration %q (use e.g. \"30s\", \"1m30s\", \"500ms\")", t.Value)
		return nil, false
	}
	return formatDuration(d), true
}

// formatDuration renders d in protojson's Duration syntax: seconds with an
// optional fraction and an "s" suffix.
func formatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	secs, nanos := d/time.Second, d%time.Second
	if nanos == 0 {
		return fmt.Sprintf("%s%ds", sign, secs)
	}
	return fmt.Sprintf("%s%d.%09ds", sign, secs, nanos)
}

// generic converts any YAML value to plain JSON (for Struct, Value, Any).
func (w *walker) generic(n, t *yaml.Node, path string) (any, bool) {
	switch t.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		ok := true
		for _, p := range w.pairs(t, path) {
			k := w.deref(p.key, path)
			if k == nil || k.Kind != yaml.ScalarNode {
				w.report(p.key, path, "map keys must be scalars")
				ok = false
				continue
			}
			kpath := joinKey(path, k.Value)
			v, vok := w.genericChild(p.value, kpath)
			if vok {
				out[k.Value] = v
			}
			ok = ok && vok
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(t.Content))
		ok := true
		for i, e := range t.Content {
			v, eok := w.genericChild(e, joinIndex(path, i))
			out = append(out, v)
			ok = ok && eok
		}
		return out, ok
	case yaml.ScalarNode:
		switch t.ShortTag() {
		case tagNull:
			return nil, true
		case tagBool:
			b, ok := w.boolean(n, t, path)
			return b, ok
		case tagInt, tagFloat:
			f, err := strconv.ParseFloat(strings.ReplaceAll(t.Value, "_", ""), 64)
			if neg, mag, ierr := parseInt(t.Value); ierr == nil {
				if neg {
					return json.Number("-" + strconv.FormatUint(mag, 10)), true
				}
				return json.Number(strconv.FormatUint(mag, 10)), true
			}
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				w.report(n, path, "number %q cannot be represented in JSON", t.Value)
				return nil, false
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
		default:
			return w.str(n, t, path)
		}
	}
	w.report(n, path, "unsupported YAML value")
	return nil, false
}

func (w *walker) genericChild(n *yaml.Node, path string) (any, bool) {
	if !w.enter(n, path) {
		return nil, false
	}
	defer w.leave()
	t := w.deref(n, path)
	if t == nil {
		return nil, false
	}
	var out any
	ok := true
	w.with(t, func() { out, ok = w.generic(n, t, path) })
	return out, ok
}
