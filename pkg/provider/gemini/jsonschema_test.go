package gemini

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvertSchemaGolden(t *testing.T) {
	for _, name := range goldenCases(t, "testdata/schema", ".in.json") {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata/schema", name+".in.json"))
			require.NoError(t, err)
			out, err := convertSchema(in)
			require.NoError(t, err)
			goldenJSON(t, filepath.Join("testdata/schema", name+".out.json"), out)
		})
	}
}

func TestConvertSchemaCases(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", ``, ``},
		{"null", `null`, ``},
		{"no properties", `{"type":"object","properties":{}}`, ``},
		{"object without properties", `{"type":"object","additionalProperties":{"type":"string"}}`, ``},
		{"null type", `{"type":"object","properties":{"x":{"type":"null"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"NULL"}}}`},
		{"only null in array", `{"type":"object","properties":{"x":{"type":["null"]}}}`, `{"type":"OBJECT","properties":{"x":{"type":"NULL","nullable":true}}}`},
		{"nullable flag", `{"type":"object","properties":{"x":{"type":"string","nullable":true}}}`, `{"type":"OBJECT","properties":{"x":{"type":"STRING","nullable":true}}}`},
		{"enum infers string", `{"type":"object","properties":{"x":{"enum":["a","b"]}}}`, `{"type":"OBJECT","properties":{"x":{"type":"STRING","enum":["a","b"]}}}`},
		{"items infer array", `{"type":"object","properties":{"x":{"items":{"type":"number","format":"float"}}}}`, `{"type":"OBJECT","properties":{"x":{"type":"ARRAY","items":{"type":"NUMBER","format":"float"}}}}`},
		{"props infer object", `{"properties":{"x":{"type":"boolean","format":"weird"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"BOOLEAN"}}}`},
		{"bad ref", `{"type":"object","properties":{"x":{"$ref":"other.json#/a"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"OBJECT"}}}`},
		{"missing ref", `{"type":"object","properties":{"x":{"$ref":"#/$defs/none"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"OBJECT"}}}`},
		{"escaped ref", `{"type":"object","properties":{"x":{"$ref":"#/definitions/a~1b"}},"definitions":{"a/b":{"type":"string"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"STRING"}}}`},
		{"ref through non-object", `{"type":"object","properties":{"x":{"$ref":"#/properties/x/type/y"}}}`, `{"type":"OBJECT","properties":{"x":{"type":"OBJECT"}}}`},
		{"anyOf keeps several", `{"type":"object","properties":{"x":{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"},5]}}}`, `{"type":"OBJECT","properties":{"x":{"anyOf":[{"type":"STRING"},{"type":"INTEGER"}],"nullable":true}}}`},
		{"allOf with required on parent", `{"allOf":[{"properties":{"a":{"type":"string"}}},7],"required":["a"],"description":"d"}`, `{"type":"OBJECT","description":"d","properties":{"a":{"type":"STRING"}},"required":["a"]}`},
		{"empty tuple", `{"type":"object","properties":{"x":{"type":"array","items":[]}}}`, `{"type":"OBJECT","properties":{"x":{"type":"ARRAY"}}}`},
		{"kept keywords", `{"type":"object","minProperties":1,"maxProperties":3,"properties":{"s":{"type":"string","pattern":"^a","minLength":1,"example":"ab","default":"a"},"a":{"type":"array","maxItems":2,"items":{"type":"string"}}},"propertyOrdering":["s","a"]}`,
			`{"type":"OBJECT","minProperties":1,"maxProperties":3,"propertyOrdering":["s","a"],"properties":{"s":{"type":"STRING","pattern":"^a","minLength":1,"example":"ab","default":"a"},"a":{"type":"ARRAY","maxItems":2,"items":{"type":"STRING"}}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := convertSchema(json.RawMessage(tc.in))
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, out)
				return
			}
			require.JSONEq(t, tc.want, string(out))
		})
	}
	for _, bad := range []string{`[]`, `"s"`, `{`, `{"a":1} x`} {
		_, err := convertSchema(json.RawMessage(bad))
		require.Error(t, err, bad)
	}
}

func TestConvertSchemaBoundsRefExpansion(t *testing.T) {
	// Four self-references per level would expand to 4^8 nodes without the budget.
	bomb := `{"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#"},"c":{"$ref":"#"},"d":{"$ref":"#"}}}`
	_, err := convertSchema(json.RawMessage(bomb))
	require.ErrorContains(t, err, "too large")
}
