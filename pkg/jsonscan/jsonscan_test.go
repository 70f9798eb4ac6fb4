package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/bench"
)

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  error
	}{
		{"simple", `{"model":"gpt","stream":true}`, map[string]string{"model": `"gpt"`, "stream": "true"}, nil},
		{"nested and ws", " {\n\"a\" : {\"b\":[1,2,{\"c\":null}]},\t\"model\":\"x\\\"y\" } ", map[string]string{"a": `{"b":[1,2,{"c":null}]}`, "model": `"x\"y"`}, nil},
		{"empty object", `{}`, map[string]string{}, nil},
		{"numbers", `{"t":-1.5e3,"n":0}`, map[string]string{"t": "-1.5e3", "n": "0"}, nil},
		{"empty array", `{"a":[],"b":{}}`, map[string]string{"a": "[]", "b": "{}"}, nil},
		{"array top", `[1]`, nil, ErrNotObject},
		{"empty", ``, nil, ErrNotObject},
		{"truncated", `{"model":"gp`, nil, ErrSyntax},
		{"missing colon", `{"model" "x"}`, nil, ErrSyntax},
		{"trailing junk", `{"a":1} x`, nil, ErrSyntax},
		{"bad literal", `{"a":tru}`, nil, ErrSyntax},
		{"control char", "{\"a\":\"\x01\"}", nil, ErrSyntax},
		{"unquoted key", `{a:1}`, nil, ErrSyntax},
		{"missing comma", `{"a":1 "b":2}`, nil, ErrSyntax},
		{"bad value", `{"a":}`, nil, ErrSyntax},
		{"unclosed nested", `{"a":[1,2}`, nil, ErrSyntax},
		{"nested bad key", `{"a":{1:2}}`, nil, ErrSyntax},
		{"nested missing colon", `{"a":{"b" 2}}`, nil, ErrSyntax},
		{"nested truncated", `{"a":{"b":2`, nil, ErrSyntax},
		{"bad first key", `{1:2}`, nil, ErrSyntax},
		{"truncated after value", `{"a":1`, nil, ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			err := Fields([]byte(tc.in), func(k string, v []byte) { got[k] = string(v) })
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStringAndBool(t *testing.T) {
	s, ok := String([]byte(`"a\nb"`))
	require.True(t, ok)
	require.Equal(t, "a\nb", s)
	s, ok = String([]byte(`"plain"`))
	require.True(t, ok)
	require.Equal(t, "plain", s)
	_, ok = String([]byte(`12`))
	require.False(t, ok)
	_, ok = String([]byte(`"\x"`))
	require.False(t, ok)
	v, ok := Bool([]byte("true"))
	require.True(t, v && ok)
	v, ok = Bool([]byte("false"))
	require.True(t, !v && ok)
	_, ok = Bool([]byte("1"))
	require.False(t, ok)
}

func TestDeepNestingRejected(t *testing.T) {
	deep := make([]byte, 0, 2100)
	deep = append(deep, `{"a":`...)
	for i := 0; i < 1000; i++ {
		deep = append(deep, '[')
	}
	require.ErrorIs(t, Fields(deep, func(string, []byte) {}), ErrSyntax)
}

// FuzzFields checks that every document encoding/json accepts as an object is accepted
// and yields the same top-level keys.
func FuzzFields(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`, `{}`, `{"a":{"b":[1,"2",null,true]}}`, `[]`, `{"a\u0041":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys := map[string]bool{}
		err := Fields(data, func(k string, v []byte) {
			keys[k] = true
			if !json.Valid(v) {
				// A member value that encoding/json rejects is allowed only when the
				// whole document is invalid too.
				keys["\x00invalid"] = true
			}
		})
		var ref map[string]json.RawMessage
		refErr := json.Unmarshal(data, &ref)
		if refErr == nil && ref != nil {
			require.NoError(t, err, "valid object rejected: %q", data)
			require.False(t, keys["\x00invalid"])
			for k := range keys {
				if k == "\x00invalid" || strings.ContainsRune(k, '\\') || !utf8.ValidString(k) {
					continue // keys with escapes or invalid UTF-8 are passed raw
				}
				_, ok := ref[k]
				require.True(t, ok, "key %q not in the reference decode of %q", k, data)
			}
		}
	})
}

func BenchmarkFields(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"temperature":0.2,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Write a haiku about gateways and tokens and latency budgets please."}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = Fields(body, func(string, []byte) {})
	}
}

// BenchmarkFieldsChat scans the bodies of `llm-router bench`'s chat exchange: the
// 2.2 KB request (model, stream, max_tokens are read) and the 1.1 KB response (usage).
func BenchmarkFieldsChat(b *testing.B) {
	sc := bench.ChatScenario("bench", "key")
	for _, tc := range []struct {
		name string
		body []byte
	}{{"request", sc.Body}, {"response", sc.Response}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				if err := Fields(tc.body, func(string, []byte) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestHasControl(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 {
				return true
			}
		}
		return false
	}
	// Every byte value at every position of buffers up to 20 bytes, on backgrounds
	// just above and far above the limit.
	for _, bg := range []byte{0x20, 'a', 0x7f, 0x80, 0xff} {
		for n := 0; n <= 20; n++ {
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := []byte(strings.Repeat(string([]byte{bg}), n))
					b[pos] = byte(c)
					require.Equal(t, naive(b), hasControl(b), "bg %#x len %d pos %d byte %#x", bg, n, pos, c)
				}
			}
		}
	}
}

// skipStringReference is the previous implementation, which checked control characters
// one byte at a time.
func skipStringReference(data []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, ErrSyntax
		}
		q := j + k
		n := 0
		for b := q - 1; b > i && data[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			for _, c := range data[i+1 : q] {
				if c < 0x20 {
					return 0, ErrSyntax
				}
			}
			return q + 1, nil
		}
		j = q + 1
	}
}

func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"a\\"b`, `"\\\""`, "\"a\x01b\"", "\"\\\x01\"", `"abcdefghijklmnopq\"rstuvwxyz"`, `"unterminated\`, `"é🔑"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != '"' {
			data = append([]byte{'"'}, data...)
		}
		got, err := skipString(data, 0)
		want, wantErr := skipStringReference(data, 0)
		require.Equal(t, wantErr, err, "%q", data)
		require.Equal(t, want, got, "%q", data)
	})
}
