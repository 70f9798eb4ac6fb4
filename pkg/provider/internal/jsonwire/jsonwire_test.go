package jsonwire

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var seeds = []string{
	`{"a":[1,-2.5e+3,true,false,null,"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00"],"b":{}}`,
	`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"bad\xffutf8\"", "\"\xe2\x80\xa8<&>\"",
	`  [ ]  `, `0`, `-0`, `01`, `1.`, `1e`, `-`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `[1 2]`,
	`"\x"`, "\"\x01\"", `"abc`, `nul`, `1e400`, `-9223372036854775808`, `9223372036854775808`,
	`1.5`, `{"k\u0061":1}`, `{ "a" : { "b" : [ "<tag>" , 1 ] } }`, `tru`, `{"a":1}x`,
}

// FuzzReader checks that the reader accepts exactly what encoding/json accepts and
// decodes strings and numbers to the same values.
func FuzzReader(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		r.Skip()
		readerOK := r.End()
		valid := json.Valid(data)
		if readerOK {
			require.True(t, valid, "reader accepted invalid JSON %q", data)
		} else if valid {
			require.Greater(t, bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")), maxDepth-1, "reader rejected valid JSON %q", data)
		}
		if !valid {
			return
		}
		var want any
		if json.Unmarshal(data, &want) != nil {
			return // a number out of float64 range
		}
		switch w := want.(type) {
		case string:
			r := NewReader(data)
			require.Equal(t, w, r.String())
			rs := NewSharingReader(data)
			require.Equal(t, w, rs.String())
		case float64:
			r := NewReader(data)
			require.Equal(t, w, r.Float())
			var n int64
			ri := NewReader(data)
			got := ri.Int()
			if json.Unmarshal(data, &n) == nil {
				require.False(t, ri.Failed())
				require.Equal(t, n, got)
			} else {
				require.True(t, ri.Failed())
			}
		}
		wantCompact, err := json.Marshal(json.RawMessage(data))
		require.NoError(t, err)
		gotCompact, ok := AppendCompact([]byte("x"), data, true)
		require.Equal(t, readerOK, ok)
		if ok {
			require.Equal(t, "x"+string(wantCompact), string(gotCompact))
			var plain bytes.Buffer
			require.NoError(t, json.Compact(&plain, data))
			got, _ := AppendCompact(nil, data, false)
			require.Equal(t, plain.String(), string(got))
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\xff", "\u2028\u2029", "日本", "<a&b>", "\b\f\n\r\t\x00\x1f\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendString(nil, s)))
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, 0.1, 1e-7, 1e-6, 1e20, 1e21, 123456789.125, -3.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got, ok := AppendFloat(nil, v)
		want, err := json.Marshal(v)
		require.Equal(t, err == nil, ok)
		if ok {
			require.Equal(t, string(want), string(got))
		}
	})
}

func TestReaderObject(t *testing.T) {
	r := NewSharingReader([]byte(` {"a" : "x\ny", "b":[1, 2], "c":null} `))
	require.True(t, r.Open('{'))
	var keys []string
	for i := 0; r.More('}', i); i++ {
		k := string(r.Key())
		keys = append(keys, k)
		switch k {
		case "a":
			require.Equal(t, "x\ny", r.String())
		case "b":
			require.Equal(t, "[1, 2]", string(r.Raw()))
		case "c":
			require.True(t, r.Null())
		}
	}
	require.True(t, r.End())
	require.Equal(t, []string{"a", "b", "c"}, keys)

	deep := NewReader([]byte(strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)))
	deep.Skip()
	require.True(t, deep.Failed())
	esc := NewReader([]byte(`{"\u0061":1}`))
	esc.Open('{')
	esc.More('}', 0)
	esc.Key()
	require.True(t, esc.Failed(), "escaped keys are left to encoding/json")
}

func TestCompactRejectsInvalid(t *testing.T) {
	out, ok := AppendCompact([]byte("x"), []byte(`{"a":}`), true)
	require.False(t, ok)
	require.Equal(t, "x", string(out))
}

// benchDoc is a 2 KB chat request with prose, escapes and a schema.
var benchDoc = []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant that answers questions about the weather and books flights. Be concise."},{"role":"user","content":"What is the weather like in Paris today, and can you find me a flight from London to Paris tomorrow morning? I prefer direct flights and an aisle seat if possible."},{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\",\"unit\":\"celsius\"}"}}]},{"role":"tool","tool_call_id":"call_abc123","content":"{\"temperature\":18,\"conditions\":\"partly cloudy\",\"humidity\":62,\"wind\":\"12 km/h NW\"}"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a location. Returns temperature, conditions, humidity and wind.","parameters":{"type":"object","properties":{"location":{"type":"string","description":"City and country, e.g. Paris, France"},"unit":{"type":"string","enum":["celsius","fahrenheit"],"description":"Temperature unit"}},"required":["location"],"additionalProperties":false},"strict":true}}],"temperature":0.2,"user":"user-1234"}`)

func BenchmarkSkip(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		r := NewReader(benchDoc)
		r.Skip()
		if !r.End() {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkAppendCompact(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	out := make([]byte, 0, 4096)
	for b.Loop() {
		out, _ = AppendCompact(out[:0], benchDoc, true)
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 6)
	b.SetBytes(int64(len(s)))
	out := make([]byte, 0, 512)
	for b.Loop() {
		out = AppendString(out[:0], s)
	}
}

// TestOptionalValues checks the nullable readers against encoding/json's pointer and
// keep-on-null semantics.
func TestOptionalValues(t *testing.T) {
	tests := []struct{ in string }{
		{`["x","y",true,7,1.5]`},
		{`[null,null,null,null,null]`},
		{`[null,"",false,-3,0]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var ref []json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(tt.in), &ref))
			wantS := "kept"
			_ = json.Unmarshal(ref[0], &wantS)
			var wantSP *string
			var wantBP *bool
			var wantIP *int
			var wantFP *float64
			require.NoError(t, json.Unmarshal(ref[1], &wantSP))
			require.NoError(t, json.Unmarshal(ref[2], &wantBP))
			require.NoError(t, json.Unmarshal(ref[3], &wantIP))
			require.NoError(t, json.Unmarshal(ref[4], &wantFP))

			r := NewReader([]byte(tt.in))
			require.True(t, r.Open('['))
			gotS := "kept"
			var gotSP *string
			var gotBP *bool
			var gotIP *int
			var gotFP *float64
			for i := 0; r.More(']', i); i++ {
				switch i {
				case 0:
					r.OptString(&gotS)
				case 1:
					gotSP = r.StringPtr()
				case 2:
					gotBP = r.BoolPtr()
				case 3:
					gotIP = r.IntPtr()
				case 4:
					gotFP = r.FloatPtr()
				}
			}
			require.True(t, r.End())
			require.Equal(t, wantS, gotS)
			require.Equal(t, wantSP, gotSP)
			require.Equal(t, wantBP, gotBP)
			require.Equal(t, wantIP, gotIP)
			require.Equal(t, wantFP, gotFP)
		})
	}
}
