package envoyconfig

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestNodeJSON(t *testing.T) {
	tests := []struct {
		name, yaml, json string
	}{
		{"scalars keep YAML 1.2 types", `{a: 1, b: "1", c: true, d: "true", e: 1.5, f: null, g: ~, h: on}`,
			`{"a":1,"b":"1","c":true,"d":"true","e":1.5,"f":null,"g":null,"h":"on"}`},
		{"special floats", `[.inf, -.inf, .nan]`, `["Infinity","-Infinity","NaN"]`},
		{"hex and big ints", `[0x1F, 18446744073709551615]`, `[31,18446744073709551615]`},
		{"dates stay strings", `{v: 2024-10-21}`, `{"v":"2024-10-21"}`},
		{"anchors and merge keys", "base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\nlist: [*b]\n",
			`{"base":{"x":1,"y":2},"use":{"y":3,"x":1},"list":[{"x":1,"y":2}]}`},
		{"merge of several maps", "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b]}\n", `{"a":{"x":1},"b":{"y":2},"c":{"x":1,"y":2}}`},
		{"unicode and escapes", `{k: "é\"\n"}`, `{"k":"é\"\n"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := parseYAMLDocs([]byte(tc.yaml))
			require.NoError(t, err)
			got, err := nodeJSON(docs[0])
			require.NoError(t, err)
			require.JSONEq(t, tc.json, string(got))
			if !strings.Contains(tc.name, "merge") {
				require.Equal(t, tc.json, string(got), "key order is kept")
			}
		})
	}
}

func TestNodeJSONErrors(t *testing.T) {
	for _, doc := range []string{
		"{a: 1, a: 2}",      // duplicate key
		"{? [a]: 1}",        // non-scalar key
		"{<<: [1]}",         // merge of a non-mapping
		"{v: !!int abc}",    // bad int
		"{v: !!bool maybe}", // bad bool
		"{v: !!float x}",    // bad float
	} {
		docs, err := parseYAMLDocs([]byte(doc))
		if err != nil {
			continue // the parser already refused it
		}
		_, err = nodeJSON(docs[0])
		require.Error(t, err, doc)
	}
}

// TestAliasBomb makes sure alias expansion is bounded (a "billion laughs" document).
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	docs, err := parseYAMLDocs([]byte(b.String()))
	require.NoError(t, err)
	_, err = nodeJSON(docs[0])
	require.ErrorContains(t, err, "too large")
	ps := Validate([]byte(b.String()), nil)
	require.NotEmpty(t, ps)
}

func TestRenderYAMLQuotesAmbiguousStrings(t *testing.T) {
	s, err := structpb.NewStruct(map[string]any{"b": "true", "n": "5", "o": "on", "y": "yes", "x": "plain", "f": 1.5, "i": 2.0, "null": nil, "list": []any{"*"}})
	require.NoError(t, err)
	out, err := RenderYAML(s)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, yaml.Unmarshal(out, &back))
	require.Equal(t, map[string]any{"b": "true", "n": "5", "o": "on", "y": "yes", "x": "plain", "f": 1.5, "i": 2, "null": nil, "list": []any{"*"}}, back)
	require.Contains(t, string(out), "o: \"on\"", "YAML 1.1 booleans are quoted for older readers")
}

func TestJSONNodeRejectsTrailingData(t *testing.T) {
	_, err := jsonNode([]byte(`{} {}`))
	require.Error(t, err)
	_, err = jsonNode([]byte(`{"a":`))
	require.Error(t, err)
	_, err = jsonNode([]byte(`[1,`))
	require.Error(t, err)
}
