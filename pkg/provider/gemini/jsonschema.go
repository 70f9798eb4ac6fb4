package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Gemini's function parameters and responseSchema take an OpenAPI 3.0 Schema subset,
// not JSON Schema. convertSchema rewrites a JSON Schema into that subset:
//
//   - type names are upper-cased; ["string","null"] becomes STRING + nullable;
//   - local $ref (#/$defs/…, #/definitions/…) is inlined, recursion stops at maxRefDepth;
//   - oneOf becomes anyOf; allOf is merged; a {"type":"null"} branch becomes nullable;
//   - const becomes a one-value enum; enums with non-string values are dropped (their
//     values are listed in the description instead), since Gemini enums are strings;
//   - formats Gemini rejects (anything but date-time/enum for strings, int32/int64,
//     float/double) are dropped;
//   - keywords outside the subset (additionalProperties, $schema, $id, examples,
//     patternProperties, not, if/then/else, exclusiveMinimum, multipleOf, …) are
//     dropped;
//   - an object with no properties loses its empty "properties" (Gemini rejects it).

// maxRefDepth bounds $ref inlining; recursive schemas are cut there.
const maxRefDepth = 8

// maxNodes bounds the converted schema's size: several recursive $refs per level
// would otherwise expand exponentially (a cheap denial of service through a tool
// definition).
const maxNodes = 5000

// convertSchema converts raw JSON Schema. It returns nil for an object schema with no
// properties (a function without parameters).
func convertSchema(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: data after the schema")
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema must be a JSON object")
	}
	c := schemaConverter{root: obj, budget: maxNodes}
	out := c.node(obj, 0)
	if c.budget < 0 {
		return nil, fmt.Errorf("schema too large once $ref is expanded (over %d nodes)", maxNodes)
	}
	if out["type"] == "OBJECT" && out["properties"] == nil && out["anyOf"] == nil {
		return nil, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return b, nil
}

type schemaConverter struct {
	root   map[string]any
	budget int // nodes left to produce
}

// resolve returns the schema a local $ref points to.
func (c *schemaConverter) resolve(ref string) (map[string]any, bool) {
	if ref == "#" {
		return c.root, true
	}
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = c.root
	for _, seg := range strings.Split(path, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		cur = m[seg]
	}
	m, isMap := cur.(map[string]any)
	return m, isMap
}

func (c *schemaConverter) node(in map[string]any, depth int) map[string]any {
	c.budget--
	if c.budget < 0 {
		return map[string]any{"type": "OBJECT"}
	}
	if ref, ok := in["$ref"].(string); ok {
		target, found := c.resolve(ref)
		if !found || depth >= maxRefDepth {
			return map[string]any{"type": "OBJECT"}
		}
		// Sibling keywords (description, …) override the referenced schema's.
		merged := make(map[string]any, len(target)+len(in))
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range in {
			if k != "$ref" {
				merged[k] = v
			}
		}
		return c.node(merged, depth+1)
	}
	if all, ok := in["allOf"].([]any); ok {
		in = mergeAllOf(in, all)
	}
	out := map[string]any{}
	nullable := false

	switch t := in["type"].(type) {
	case string:
		if t == "null" {
			out["type"] = "NULL"
		} else {
			out["type"] = strings.ToUpper(t)
		}
	case []any:
		var types []string
		for _, v := range t {
			s, _ := v.(string)
			if s == "null" {
				nullable = true
			} else if s != "" {
				types = append(types, strings.ToUpper(s))
			}
		}
		switch len(types) {
		case 0:
			out["type"] = "NULL"
		case 1:
			out["type"] = types[0]
		default:
			variants := make([]any, 0, len(types))
			for _, ty := range types {
				v := c.node(withType(in, strings.ToLower(ty)), depth)
				variants = append(variants, v)
			}
			out["anyOf"] = variants
		}
	}

	for _, k := range []string{"anyOf", "oneOf"} {
		list, ok := in[k].([]any)
		if !ok {
			continue
		}
		var variants []any
		for _, v := range list {
			m, isMap := v.(map[string]any)
			if !isMap {
				continue
			}
			if m["type"] == "null" && len(m) == 1 {
				nullable = true
				continue
			}
			variants = append(variants, c.node(m, depth))
		}
		if len(variants) == 1 && out["type"] == nil {
			for kk, vv := range variants[0].(map[string]any) {
				if _, set := out[kk]; !set {
					out[kk] = vv
				}
			}
		} else if len(variants) > 0 {
			out["anyOf"] = variants
		}
	}

	for _, k := range []string{"title", "description", "pattern", "minLength", "maxLength", "minItems", "maxItems",
		"minimum", "maximum", "minProperties", "maxProperties", "example", "default", "propertyOrdering"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	if n, ok := in["nullable"].(bool); ok && n {
		nullable = true
	}
	if v, ok := in["const"]; ok {
		in = withEnum(in, []any{v})
	}
	if list, ok := in["enum"].([]any); ok {
		c.enum(out, list)
	}

	if props, ok := in["properties"].(map[string]any); ok && len(props) > 0 {
		converted := make(map[string]any, len(props))
		for name, p := range props {
			if pm, isMap := p.(map[string]any); isMap {
				converted[name] = c.node(pm, depth)
			} else {
				converted[name] = map[string]any{} // `true` schema: any value
			}
		}
		out["properties"] = converted
		if req, ok := in["required"].([]any); ok {
			var kept []any
			for _, r := range req {
				if s, isStr := r.(string); isStr && converted[s] != nil {
					kept = append(kept, s)
				}
			}
			if len(kept) > 0 {
				out["required"] = kept
			}
		}
	}
	switch items := in["items"].(type) {
	case map[string]any:
		out["items"] = c.node(items, depth)
	case []any: // tuple form: Gemini has one item schema
		if len(items) > 0 {
			if m, ok := items[0].(map[string]any); ok {
				out["items"] = c.node(m, depth)
			}
		}
	}

	if out["type"] == nil && out["anyOf"] == nil {
		switch {
		case out["properties"] != nil:
			out["type"] = "OBJECT"
		case out["items"] != nil:
			out["type"] = "ARRAY"
		case out["enum"] != nil:
			out["type"] = "STRING"
		}
	}
	if f, ok := in["format"].(string); ok && formatAllowed(out["type"], f) {
		out["format"] = f
	}
	if nullable {
		out["nullable"] = true
	}
	return out
}

// enum keeps string enums and turns others into a description note.
func (c *schemaConverter) enum(out map[string]any, list []any) {
	strs := make([]any, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			vals := make([]string, 0, len(list))
			for _, x := range list {
				b, _ := json.Marshal(x)
				vals = append(vals, string(b))
			}
			note := "Allowed values: " + strings.Join(vals, ", ") + "."
			if d, _ := out["description"].(string); d != "" {
				note = d + " " + note
			}
			out["description"] = note
			return
		}
		strs = append(strs, s)
	}
	out["enum"] = strs
	if out["type"] == nil {
		out["type"] = "STRING"
	}
}

func formatAllowed(typ any, f string) bool {
	switch typ {
	case "STRING":
		return f == "date-time" || f == "enum"
	case "INTEGER":
		return f == "int32" || f == "int64"
	case "NUMBER":
		return f == "float" || f == "double"
	}
	return false
}

func withType(in map[string]any, t string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if k != "anyOf" && k != "oneOf" {
			out[k] = v
		}
	}
	out["type"] = t
	return out
}

func withEnum(in map[string]any, enum []any) map[string]any {
	out := make(map[string]any, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	out["enum"] = enum
	return out
}

// mergeAllOf folds allOf members into one schema: properties and required are united,
// other keywords taken from the first member that sets them.
func mergeAllOf(in map[string]any, all []any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if k != "allOf" {
			out[k] = v
		}
	}
	props, _ := out["properties"].(map[string]any)
	mergedProps := map[string]any{}
	for k, v := range props {
		mergedProps[k] = v
	}
	required := map[string]bool{}
	if req, ok := out["required"].([]any); ok {
		for _, r := range req {
			if s, isStr := r.(string); isStr {
				required[s] = true
			}
		}
	}
	for _, m := range all {
		sub, ok := m.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range sub {
			switch k {
			case "properties":
				if p, isMap := v.(map[string]any); isMap {
					for pk, pv := range p {
						mergedProps[pk] = pv
					}
				}
			case "required":
				if req, isArr := v.([]any); isArr {
					for _, r := range req {
						if s, isStr := r.(string); isStr {
							required[s] = true
						}
					}
				}
			default:
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	if len(mergedProps) > 0 {
		out["properties"] = mergedProps
	}
	if len(required) > 0 {
		names := make([]string, 0, len(required))
		for r := range required {
			names = append(names, r)
		}
		sort.Strings(names)
		req := make([]any, len(names))
		for i, n := range names {
			req[i] = n
		}
		out["required"] = req
	}
	return out
}
