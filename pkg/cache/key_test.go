package cache

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func canon(t *testing.T, s string) string {
	t.Helper()
	out, err := Canonicalize([]byte(s))
	require.NoError(t, err, s)
	return string(out)
}

func TestCanonicalizeGolden(t *testing.T) {
	// The golden file was produced independently (Python's json.dumps with sorted keys
	// and compact separators, dropped fields removed, 1.0 written as 1).
	body, err := os.ReadFile("testdata/request_2k.json")
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/request_2k.canonical.json")
	require.NoError(t, err)
	got, err := Canonicalize(body)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	// Idempotent.
	again, err := Canonicalize(got)
	require.NoError(t, err)
	require.Equal(t, string(got), string(again))
}

func TestCanonicalizeForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{` { } `, `{}`},
		{`{"b":1,"a":[1, 2 ,{"d":null,"c":true}],"e":false}`, `{"a":[1,2,{"c":true,"d":null}],"b":1,"e":false}`},
		{`{"a":[]}`, `{"a":[]}`},
		{`{"a":[ ]}`, `{"a":[]}`},
		{`{"a":{}}`, `{"a":{}}`},
		{`{"model":"x","stream":true,"stream_options":{"include_usage":true},"user":"u","metadata":{"k":"v"},"n":1}`, `{"n":1}`},
		// Dropped only at the top level.
		{`{"a":{"stream":true,"user":"u"}}`, `{"a":{"stream":true,"user":"u"}}`},
		// Escaped spelling of a dropped field is the same field.
		{`{"str\u0065am":true,"x":1}`, `{"x":1}`},
		// Numbers.
		{`{"a":1.0,"b":1e0,"c":-0,"d":-0.0,"e":1E+2,"f":0.5,"g":1e-7,"h":12345678901234567890,"i":1e400,"j":2.5e20}`,
			`{"a":1,"b":1,"c":0,"d":0,"e":100,"f":0.5,"g":1e-07,"h":12345678901234567890,"i":1e400,"j":2.5e+20}`},
		// Strings.
		{`{"s":"caf\u00e9 \/ \"q\" \\ \b\f\n\r\t \u0001 \u001F \u20AC"}`, "{\"s\":\"café / \\\"q\\\" \\\\ \\b\\f\\n\\r\\t \\u0001 \\u001f €\"}"},
		{`{"s":"\ud83d\ude00"}`, `{"s":"😀"}`},
		{`{"s":"\ud83d"}`, `{"s":"\ud83d"}`},
		{`{"s":"\ud83d\u0041"}`, `{"s":"\ud83dA"}`},
		{`{"s":"\udc00x"}`, `{"s":"\udc00x"}`},
		{"{\"s\":\"\xff\xfe\"}", "{\"s\":\"\xff\xfe\"}"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, canon(t, tc.in), tc.in)
	}
}

func TestCanonicalizeEquivalence(t *testing.T) {
	// Each group holds requests that must share a key.
	groups := [][]string{
		{
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0}`,
			`{"temperature":0.0,"messages":[{"content":"hi","role":"user"}],"model":"alias-of-gpt-4o"}`,
			"{\n  \"messages\" : [ { \"role\" : \"user\" , \"content\" : \"h\\u0069\" } ],\n  \"temperature\" : 0e0, \"stream\": true, \"user\": \"alice\"\n}",
			`{"messages":[{"role":"user","content":"hi"}],"temperature":-0,"metadata":{"trace":"1"},"stream_options":{"include_usage":true}}`,
		},
		{
			`{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}}}],"seed":7}`,
			`{"seed":7.0,"tools":[{"function":{"parameters":{"properties":{"b":{"type":"number"},"a":{"type":"string"}},"type":"object"},"name":"f"},"type":"function"}]}`,
		},
	}
	for _, g := range groups {
		first := canon(t, g[0])
		for _, s := range g[1:] {
			require.Equal(t, first, canon(t, s), s)
		}
	}
}

func TestCanonicalizeDifference(t *testing.T) {
	// Each pair differs in something that changes the answer, and must not share a key.
	pairs := [][2]string{
		{`{"messages":[{"role":"user","content":"hi"}]}`, `{"messages":[{"role":"user","content":"hi "}]}`},
		{`{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, `{"messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]}`},
		{`{"temperature":0}`, `{"temperature":0.0001}`},
		{`{"seed":1}`, `{"seed":2}`},
		{`{"seed":9007199254740993}`, `{"seed":9007199254740992}`},
		{`{"max_tokens":10}`, `{"max_tokens":"10"}`},
		{`{"n":1}`, `{"n":2}`},
		{`{"tools":[]}`, `{}`},
		{`{"x":null}`, `{}`},
		{`{"a":{"stream":true}}`, `{"a":{}}`},
		{`{"s":"\ud83d"}`, "{\"s\":\"\xed\xa0\xbd\"}"},
		{`{"s":"\\u0041"}`, `{"s":"A"}`},
		{`{"response_format":{"type":"json_object"}}`, `{"response_format":{"type":"text"}}`},
	}
	for _, p := range pairs {
		a, b := canon(t, p[0]), canon(t, p[1])
		require.NotEqual(t, a, b, "%s vs %s", p[0], p[1])
		require.NotEqual(t, Key("m", []byte(a), ""), Key("m", []byte(b), ""))
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	tests := []struct {
		in  string
		err error
	}{
		{``, ErrNotObject},
		{`   `, ErrNotObject},
		{`[1,2]`, ErrNotObject},
		{`"s"`, ErrNotObject},
		{`null`, ErrNotObject},
		{`nul`, ErrInvalidJSON},
		{`{`, ErrInvalidJSON},
		{`{"a"}`, ErrInvalidJSON},
		{`{"a":}`, ErrInvalidJSON},
		{`{"a":1,}`, ErrInvalidJSON},
		{`{"a":1 "b":2}`, ErrInvalidJSON},
		{`{a:1}`, ErrInvalidJSON},
		{`{"a":[1,]}`, ErrInvalidJSON},
		{`{"a":[1 2]}`, ErrInvalidJSON},
		{`{"a":[1`, ErrInvalidJSON},
		{`{"a":01}`, ErrInvalidJSON},
		{`{"a":1.}`, ErrInvalidJSON},
		{`{"a":1e}`, ErrInvalidJSON},
		{`{"a":-}`, ErrInvalidJSON},
		{`{"a":+1}`, ErrInvalidJSON},
		{`{"a":tru}`, ErrInvalidJSON},
		{`{"a":"x}`, ErrInvalidJSON},
		{`{"a":"\x"}`, ErrInvalidJSON},
		{`{"a":"\u12"}`, ErrInvalidJSON},
		{`{"a":"\u12g4"}`, ErrInvalidJSON},
		{`{"a":"\`, ErrInvalidJSON},
		{"{\"a\":\"\x01\"}", ErrInvalidJSON},
		{`{"a":1} x`, ErrInvalidJSON},
		{`{"a":1}{}`, ErrInvalidJSON},
		{`{"a":1,"a":2}`, ErrDuplicateKey},
		{`{"a":1,"\u0061":2}`, ErrDuplicateKey},
		{`{"x":{"b":1,"b":1}}`, ErrDuplicateKey},
		{`{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, ErrTooDeep},
	}
	for _, tc := range tests {
		_, err := Canonicalize([]byte(tc.in))
		require.ErrorIs(t, err, tc.err, "%q", tc.in)
	}
	// Dropped fields are still validated.
	_, err := Canonicalize([]byte(`{"stream":tru}`))
	require.ErrorIs(t, err, ErrInvalidJSON)
}

func TestCanonicalOutputIsJSONOfTheSameValue(t *testing.T) {
	in := `{"b":[1.5,{"y":"\u00e9","x":-2}],"a":"q\"\\\/","c":{"e":null,"d":true}}`
	out := canon(t, in)
	var a, b any
	require.NoError(t, json.Unmarshal([]byte(in), &a))
	require.NoError(t, json.Unmarshal([]byte(out), &b))
	require.Equal(t, a, b)
}

func TestKey(t *testing.T) {
	body, err := os.ReadFile("testdata/request_2k.canonical.json")
	require.NoError(t, err)
	// Computed independently (Python hashlib) from the layout in Key's doc comment.
	require.Equal(t, "0185cb5f7adef1529430b475379f89c3a732f5066dae60cc55b7ed6c28091d0f", Key("gpt-4o-mini", body, ""))
	require.Equal(t, "15f9c6916de5f44415d6bc72ec2767753ddbbe96e12d2faca2eabc4bb60947f3", ScopedKey("chat", "m", []byte("{}"), "key-1"))

	c := []byte(`{"a":1}`)
	k := Key("m", c, "")
	require.Len(t, k, 64)
	require.Equal(t, k, Key("m", c, ""))
	require.Equal(t, k, ScopedKey("", "m", c, ""))
	others := []string{
		Key("m2", c, ""),
		Key("m", c, "key-1"),
		Key("m", []byte(`{"a":2}`), ""),
		ScopedKey("messages", "m", c, ""),
		// Field boundaries are unambiguous.
		Key("m"+"key", c, ""),
		Key("m", c, "key"),
		ScopedKey("a", "bm", c, ""),
		ScopedKey("ab", "m", c, ""),
	}
	seen := map[string]bool{k: true}
	for _, o := range others {
		require.False(t, seen[o], o)
		seen[o] = true
	}
}
