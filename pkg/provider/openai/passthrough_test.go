package openai

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRewriteChatRequest(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		model     string
		stream    bool
		want      string
		wantUsage bool
	}{
		{"replace model", `{"model":"gpt","messages":[]}`, "gpt-4o", false, `{"model":"gpt-4o","messages":[]}`, false},
		{"keeps layout", "{ \"messages\" : [ ] ,\n \"model\" :\t\"a\" }", "b", false, "{ \"messages\" : [ ] ,\n \"model\" :\t\"b\" }", false},
		{"non-string model", `{"model":12,"x":1}`, "m", false, `{"model":"m","x":1}`, false},
		{"insert model", `{"messages":[]}`, "m", false, `{"model":"m","messages":[]}`, false},
		{"insert model empty object", `{ }`, "m", false, `{"model":"m" }`, false},
		{"duplicate models all replaced", `{"model":"a","model":"b"}`, "m", false, `{"model":"m","model":"m"}`, false},
		{"escaped key", `{"mod\u0065l":"a"}`, "m", false, `{"mod\u0065l":"m"}`, false},
		{"nested model untouched", `{"model":"a","metadata":{"model":"x"},"messages":[{"model":"y"}]}`, "m", false,
			`{"model":"m","metadata":{"model":"x"},"messages":[{"model":"y"}]}`, false},
		{"model in string untouched", `{"x":"\"model\":\"a\"","model":"a"}`, "m", false, `{"x":"\"model\":\"a\"","model":"m"}`, false},
		{"model needing escapes", `{"model":"a"}`, "we\"ird\n", false, `{"model":"we\"ird\n"}`, false},
		{"stream adds options", `{"model":"a","stream":true}`, "m", true, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, false},
		{"stream caller asked", `{"model":"a","stream":true,"stream_options":{"include_usage":true}}`, "m", true,
			`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, true},
		{"stream caller false", `{"model":"a","stream_options":{"include_usage":false},"stream":true}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":true},"stream":true}`, false},
		{"stream options empty object", `{"model":"a","stream_options":{ }}`, "m", true, `{"model":"m","stream_options":{ "include_usage":true}}`, false},
		{"stream options other member", `{"model":"a","stream_options":{"include_obfuscation":false}}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":true,"include_obfuscation":false}}`, false},
		{"stream options null", `{"model":"a","stream_options":null}`, "m", true, `{"model":"m","stream_options":{"include_usage":true}}`, false},
		{"stream options include_usage null", `{"model":"a","stream_options":{"include_usage":null}}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":true}}`, false},
		{"last duplicate wins", `{"model":"a","stream_options":{"include_usage":true},"stream_options":{}}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}`, false},
		{"last include_usage wins", `{"model":"a","stream_options":{"include_usage":false,"include_usage":true}}`, "m", true,
			`{"model":"m","stream_options":{"include_usage":false,"include_usage":true}}`, true},
		{"non-stream leaves options", `{"model":"a","stream_options":{"include_usage":false}}`, "m", false,
			`{"model":"m","stream_options":{"include_usage":false}}`, false},
		{"empty object stream", `{}`, "m", true, `{"model":"m","stream_options":{"include_usage":true}}`, false},
		{"unicode and escapes", `{"messages":[{"content":"h\u00e9\\\"llo 🌍 \n"}],"model":"a"}`, "m", false,
			`{"messages":[{"content":"h\u00e9\\\"llo 🌍 \n"}],"model":"m"}`, false},
		{"numbers", `{"model":"a","temperature":-0.5e+2,"n":0,"top_p":1.0E-3}`, "m", false, `{"model":"m","temperature":-0.5e+2,"n":0,"top_p":1.0E-3}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, usage, err := RewriteChatRequest([]byte(tt.body), tt.model, tt.stream)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
			require.Equal(t, tt.wantUsage, usage)
			require.True(t, json.Valid(out))
		})
	}
}

func TestRewriteChatRequestInvalid(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"model"}`, `{"model":}`, `{"model":"a",}`, `{"model":"a"} x`,
		`{"model":"a" "b":1}`, `{model:"a"}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":.5}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"unterminated}`,
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":{"b":1,}}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`, "\xEF\xBB\xBF{}",
		`{"a":[` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `]}`,
	} {
		_, _, err := RewriteChatRequest([]byte(body), "m", true)
		require.Error(t, err, "body %q", body)
		var v map[string]any
		if json.Unmarshal([]byte(body), &v) == nil {
			require.Nil(t, v, "reference accepted %q as an object", body)
		}
	}
	// 10000 levels deep is still accepted, like encoding/json.
	deep := `{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`
	_, _, err := RewriteChatRequest([]byte(deep), "m", false)
	require.NoError(t, err)
}

// referenceRewrite is what RewriteChatRequest must be equivalent to, via encoding/json.
func referenceRewrite(body []byte, model string, stream bool) (map[string]any, bool, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, err
	}
	if m == nil || firstByte(body) != '{' {
		return nil, false, fmt.Errorf("not an object")
	}
	// The model goes on the wire as JSON, where invalid UTF-8 becomes U+FFFD.
	mj, _ := json.Marshal(model)
	var wireModel string
	_ = json.Unmarshal(mj, &wireModel)
	m["model"] = wireModel
	wants := false
	if stream {
		if so, ok := m["stream_options"].(map[string]any); ok {
			wants = so["include_usage"] == true
			so["include_usage"] = true
		} else {
			m["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	return m, wants, nil
}

func checkRewrite(t *testing.T, body []byte, model string, stream bool) {
	want, wantUsage, refErr := referenceRewrite(body, model, stream)
	out, usage, err := RewriteChatRequest(body, model, stream)
	if refErr != nil {
		if err == nil {
			t.Fatalf("reference rejected %q (%v) but rewrite accepted it: %q", body, refErr, out)
		}
		return
	}
	if err != nil {
		t.Fatalf("rewrite rejected valid %q: %v", body, err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("rewrite produced invalid JSON %q from %q: %v", out, body, err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("rewrite of %q:\n got %q\nwant %v", body, out, want)
	}
	if usage != wantUsage {
		t.Fatalf("callerWantsUsage = %v, want %v for %q", usage, wantUsage, body)
	}
}

func FuzzRewriteChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`), "m", true)
	f.Add([]byte(`{"stream_options":{"include_usage":true},"model":"x"}`), "m", true)
	f.Add([]byte(`{"mod\u0065l":1,"stream_options":null}`), "a\"b", true)
	f.Add([]byte(`{ "a" : [ 1 , { "b" : "\ud83c\udf0d" } ] }`), "m", false)
	f.Add(benchBody(), "gpt-4o-2024-08-06", true)
	f.Fuzz(func(t *testing.T, body []byte, model string, stream bool) {
		checkRewrite(t, body, model, stream)
	})
}

// benchBody is a realistic 2 KB chat request with two tools.
func benchBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant that answers questions about the weather and books flights. Be concise."},`)
	b.WriteString(`{"role":"user","content":"What is the weather like in Paris today, and can you find me a flight from London to Paris tomorrow morning? I prefer direct flights and an aisle seat if possible."},`)
	b.WriteString(`{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\",\"unit\":\"celsius\"}"}}]},`)
	b.WriteString(`{"role":"tool","tool_call_id":"call_abc123","content":"{\"temperature\":18,\"conditions\":\"partly cloudy\",\"humidity\":62,\"wind\":\"12 km/h NW\"}"}],`)
	b.WriteString(`"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a location. Returns temperature, conditions, humidity and wind.","parameters":{"type":"object","properties":{"location":{"type":"string","description":"City and country, e.g. Paris, France"},"unit":{"type":"string","enum":["celsius","fahrenheit"],"description":"Temperature unit"}},"required":["location"],"additionalProperties":false},"strict":true}},`)
	b.WriteString(`{"type":"function","function":{"name":"search_flights","description":"Search for flights between two airports on a given date, optionally filtered by time of day, number of stops and seat preference.","parameters":{"type":"object","properties":{"origin":{"type":"string","description":"IATA code of the departure airport"},"destination":{"type":"string","description":"IATA code of the arrival airport"},"date":{"type":"string","format":"date","description":"Departure date (YYYY-MM-DD)"},"time_of_day":{"type":"string","enum":["morning","afternoon","evening","night"]},"max_stops":{"type":"integer","minimum":0,"maximum":3},"seat":{"type":"string","enum":["window","aisle","middle","any"]}},"required":["origin","destination","date"],"additionalProperties":false},"strict":true}}],`)
	b.WriteString(`"tool_choice":"auto","parallel_tool_calls":true,"temperature":0.2,"top_p":0.95,"max_completion_tokens":1024,"user":"user-1234","metadata":{"team":"travel","env":"prod"},"stream":true}`)
	return b.Bytes()
}

func TestBenchBodyIsRealistic(t *testing.T) {
	b := benchBody()
	require.True(t, json.Valid(b))
	require.InDelta(t, 2048, len(b), 300)
	req, err := ParseChatRequest(b)
	require.NoError(t, err)
	require.Len(t, req.Tools, 2)
	checkRewrite(t, b, "gpt-4o-2024-08-06", true)
}

func BenchmarkRewriteChatRequest(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := RewriteChatRequest(body, "gpt-4o-2024-08-06", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewriteReference is the full unmarshal/marshal RewriteChatRequest avoids.
func BenchmarkRewriteReference(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m, _, err := referenceRewrite(body, "gpt-4o-2024-08-06", true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHasSpecial(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return true
			}
		}
		return false
	}
	word := func(b []byte) uint64 {
		var x uint64
		for i := 7; i >= 0; i-- {
			x = x<<8 | uint64(b[i])
		}
		return x
	}
	// Every byte value at every position, among ordinary and high (UTF-8) bytes.
	for _, fill := range []byte{'a', 0x80, 0xff, 0x21, 0x5d} {
		for pos := 0; pos < 8; pos++ {
			for v := 0; v < 256; v++ {
				b := bytes.Repeat([]byte{fill}, 8)
				b[pos] = byte(v)
				require.Equal(t, naive(b), hasSpecial(word(b)), "fill %x pos %d byte %x", fill, pos, v)
			}
		}
	}
}

// strReference is the previous scanner.str (byte-wise after the eight-byte skip), kept
// to check that the quote-search fast path ends strings and reports errors (message
// and offset) exactly as it did.
func (s *scanner) strReference() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.errf("expected string")
	}
	s.i++
	for s.i < len(s.b) {
		for s.i+8 <= len(s.b) && !hasSpecial(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return s.errf("unexpected end of JSON input")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 || !isHex(s.b[s.i+2]) || !isHex(s.b[s.i+3]) || !isHex(s.b[s.i+4]) || !isHex(s.b[s.i+5]) {
					return s.errf("invalid \\u escape")
				}
				s.i += 6
			default:
				return s.errf("invalid escape")
			}
		case c < 0x20:
			return s.errf("control character in string")
		default:
			s.i++
		}
	}
	return s.errf("unexpected end of JSON input")
}

func FuzzScannerString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"a\\"b`, `"\u00e9x"`, `"\u00zz"`, `"\q"`, "\"a\x01b\"", "\"a\\\x01\"", `"abcdefghijklmnopq\"rstuvwxyz"`, `"unterminated\`, `"é🔑"`, `"`, `x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := scanner{b: data}
		want := scanner{b: data}
		err := got.str()
		wantErr := want.strReference()
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%q: err %v, want %v", data, err, wantErr)
		}
		if got.i != want.i {
			t.Fatalf("%q: ends at %d, want %d", data, got.i, want.i)
		}
	})
}

func TestHasControl(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{' '}, n)
				b[pos] = byte(c)
				require.Equal(t, c < 0x20, hasControl(b), "len %d pos %d byte %#x", n, pos, c)
			}
		}
	}
}
