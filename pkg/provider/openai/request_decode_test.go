package openai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeChatRequestMatchesReflect checks the fast request decoder against the
// encoding/json path it stands in for: whenever it accepts a body, the typed request
// and the unmapped members are exactly what encoding/json and the scanner produce.
func FuzzDecodeChatRequestMatchesReflect(f *testing.F) {
	addFiles(f, "testdata/requests/*.json")
	addFiles(f, "testdata/canonical/*.json")
	f.Add(benchBody())
	for _, s := range []string{
		`{"model":"m","Model":"x","messages":[]}`,
		`{"model":"m","model":"x"}`,
		`{"model":"m","messages":[{"role":"user","content":"a","ROLE":"x"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[]}],"stop":[],"metadata":{}}`,
		`{"model":null,"stream":null,"seed":null,"stop":null,"metadata":null,"tools":null}`,
		`{"model":"m","messages":[null]}`,
		`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":null,"strict":null}}]}`,
		`{"model":"m","tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{ "a" : 1 }}}}`,
		`{"model":"m\u00e9","messages":[{"role":"user","content":"\ud83d\ude00 \ud800 \n"}],"n":1.5}`,
		`{"model":"m","max_tokens":99999999999999999999,"temperature":1e400}`,
		`{"model":"m","extra":{"x":[1,2]},"extra":3,"\u006dodel":"y"}`,
		`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"bad\xff\"}],\"ſtop\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Decode once into fresh arrays and once into arrays dirtied by another body.
		var fast, reused ChatRequest
		extra, ok := decodeChatRequest(body, &fast, &wireSlices{})
		dirty := &wireSlices{}
		decodeChatRequest(benchBody(), &ChatRequest{}, dirty)
		_, reusedOK := decodeChatRequest(body, &reused, dirty)
		require.Equal(t, ok, reusedOK)
		if !ok {
			return
		}
		require.True(t, reflect.DeepEqual(fast, reused), "%q: reused storage changes the result", body)
		var want ChatRequest
		require.NoError(t, json.Unmarshal(body, &want), "fast path accepted %q", body)
		require.True(t, reflect.DeepEqual(want, fast), "%q:\nwant %+v\n got %+v", body, want, fast)
		var wantExtra map[string]json.RawMessage
		require.NoError(t, topLevelMembers(body, func(k string, v []byte) {
			if !isChatRequestField(k) {
				if wantExtra == nil {
					wantExtra = map[string]json.RawMessage{}
				}
				wantExtra[k] = append(json.RawMessage(nil), v...)
			}
		}))
		require.Equal(t, wantExtra, extra)
	})
}

// TestDecodeChatRequestFastPathTaken guards the benchmark: the realistic bodies must
// not fall back to encoding/json.
func TestDecodeChatRequestFastPathTaken(t *testing.T) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	files = append(files, "")
	for _, name := range files {
		if strings.HasSuffix(name, ".canonical.json") {
			continue
		}
		body := benchBody()
		if name != "" {
			var err error
			body, err = os.ReadFile(name)
			require.NoError(t, err)
		}
		var w ChatRequest
		_, ok := decodeChatRequest(body, &w, &wireSlices{})
		require.True(t, ok, name)
	}
}
