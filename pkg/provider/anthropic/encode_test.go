package anthropic

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// FuzzEncodeRequestMatchesMarshal checks the hand-written request encoder against
// json.Marshal on requests built from fuzzed canonical requests (JSON-encoded
// canonical.Request values, seeded with the golden inputs).
func FuzzEncodeRequestMatchesMarshal(f *testing.F) {
	files, _ := filepath.Glob("testdata/request/*.in.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	bench, err := json.Marshal(benchChat())
	require.NoError(f, err)
	f.Add(bench)
	f.Add([]byte(`{"Model":"m","Temperature":1e-7,"TopP":1e21,"Stop":["<a&b>","\u2028"],"User":"u<>","Messages":[{"Role":"user","Content":[{"Type":"text","Text":"x\u0000\b\f<>&\u2029\ud800"}]}],"Tools":[{"Name":"f","Parameters":{ "a" : "<&>" }}]}`))
	f.Add([]byte(`{"Model":"m","Messages":[{"Role":"assistant","ToolCalls":[{"ID":"i","Name":"n","Arguments":" { \"a\" : [1, 2] } "}]},{"Role":"tool","ToolCallID":"i","Content":[{"Type":"image","Image":{"URL":"https://x/y.pdf"}}]}],"Reasoning":{"Effort":"high"},"ResponseFormat":{"Type":"json_schema","Schema":{"type":"object"}}}`))
	b := &Backend{version: DefaultVersion, defaultMaxTokens: DefaultMaxTokens}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req canonical.Request
		if json.Unmarshal(data, &req) != nil {
			return
		}
		for i := range req.Tools {
			// encodeTool against the json.Marshal it replaces.
			tool := &req.Tools[i]
			got, gotErr := encodeTool(tool)
			schema := tool.Parameters
			if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
				schema = json.RawMessage(`{"type":"object","properties":{}}`)
			} else if schema, err = compactObject(schema); err != nil {
				require.Equal(t, err, gotErr)
				continue
			}
			require.NoError(t, gotErr)
			want, err := json.Marshal(toolJSON{tool.Name, tool.Description, schema, tool.Strict, cacheControl(tool.CacheControl)})
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		}
		mr, _, err := b.toMessages(&req)
		if err != nil {
			return
		}
		for _, stream := range []bool{false, true} {
			mr.Stream = stream
			want, wantErr := json.Marshal(mr)
			got, ok := appendRequest(nil, mr)
			if wantErr != nil {
				require.False(t, ok, "marshal failed (%v) but the encoder did not", wantErr)
				continue
			}
			if ok {
				require.Equal(t, string(want), string(got))
			}
			enc, err := encodeRequest(mr)
			require.NoError(t, err)
			require.Equal(t, string(want), string(enc))
		}
	})
}

func TestEncodeRequestFallsBackForNaN(t *testing.T) {
	nan := math.NaN()
	mr := &MessagesRequest{MaxTokens: 1, Temperature: &nan, Messages: []Message{{Role: "user", Content: Content{{Type: "text", Text: "x"}}}}}
	_, err := encodeRequest(mr)
	_, want := json.Marshal(mr)
	require.Error(t, err)
	require.Equal(t, want.Error(), err.Error())
}
