package cache

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// FuzzCanonicalize checks, for any input: no panic; a valid JSON object without
// duplicate keys canonicalizes; the output is valid JSON equal (as a value) to the input
// minus the dropped fields; canonicalizing is idempotent; invalid JSON is rejected.
func FuzzCanonicalize(f *testing.F) {
	if b, err := os.ReadFile("testdata/request_2k.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"a":1.0,"b":[true,false,null],"c":{"d":"\u00e9\ud83d\ude00"}}`))
	f.Add([]byte(`{"stream":true,"model":"m","messages":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		valid := json.Valid(in)
		if err != nil {
			if !valid {
				return
			}
			if t := bytes.TrimLeft(in, " \t\r\n"); len(t) == 0 || t[0] != '{' {
				return // ErrNotObject
			}
			// Valid objects may still be refused for duplicates or depth only.
			if err == ErrDuplicateKey || err == ErrTooDeep {
				return
			}
			t.Fatalf("valid object %q refused: %v", in, err)
		}
		if !valid {
			t.Fatalf("invalid JSON %q accepted as %q", in, out)
		}
		again, err := Canonicalize(out)
		if err != nil {
			// Canonical output keeps invalid UTF-8 bytes, which Canonicalize accepts:
			// any error here is a bug.
			t.Fatalf("canonical output %q does not re-canonicalize: %v", out, err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if !bytes.Equal(bytes.ToValidUTF8(in, nil), in) {
			return // encoding/json would replace the bytes we keep; skip the value check
		}
		var a, b map[string]any
		if err := json.Unmarshal(in, &a); err != nil {
			return
		}
		for _, k := range DroppedFields {
			delete(a, k)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		// DeepEqual compares numbers with ==, so -0 and 0 agree as they should.
		if !reflect.DeepEqual(a, b) && !hasLoneSurrogate(in) {
			t.Fatalf("value changed:\n in  %q\n out %q", in, out)
		}
	})
}

// hasLoneSurrogate reports a \uD800-\uDFFF escape that is not part of a valid pair:
// encoding/json turns those into U+FFFD while Canonicalize keeps them distinct.
func hasLoneSurrogate(b []byte) bool {
	pendingHigh := false
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			if pendingHigh {
				return true
			}
			continue
		}
		if b[i+1] != 'u' || i+6 > len(b) {
			if pendingHigh {
				return true
			}
			i++ // skip the escaped character
			continue
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			return false // invalid input is rejected before this check
		}
		i += 5
		switch {
		case v >= 0xd800 && v < 0xdc00:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case v >= 0xdc00 && v <= 0xdfff:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return pendingHigh
}

// FuzzDecodeEntry checks that any stored value decodes or fails cleanly, and that what
// decodes survives a re-encode unchanged.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(&Entry{Status: 200, ContentType: "application/json", Body: []byte(`{"x":1}`), Model: "m", CreatedAt: time.Unix(1700000000, 0)}))
	f.Add(encodeEntry(&Entry{Stream: true}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := decodeEntry(in)
		if err != nil {
			return
		}
		e2, err := decodeEntry(encodeEntry(e))
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if e.Status != e2.Status || e.ContentType != e2.ContentType || e.Model != e2.Model || e.Stream != e2.Stream ||
			e.Usage != e2.Usage || !bytes.Equal(e.Body, e2.Body) || !e.CreatedAt.Equal(e2.CreatedAt) {
			t.Fatalf("round trip changed the entry: %+v vs %+v", e, e2)
		}
	})
}

func TestHasLoneSurrogate(t *testing.T) {
	for in, want := range map[string]bool{
		`"\ud83d\ude00"`: false,
		`"\ud83d"`:       true,
		`"\ude00"`:       true,
		`"\ud83dx"`:      true,
		`"\ud83d\n"`:     true,
		`"\\ud83d"`:      false,
		`"\u0041"`:       false,
	} {
		if hasLoneSurrogate([]byte(in)) != want {
			t.Errorf("%s: want %v", in, want)
		}
	}
}
