package gemini

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llm-router/llm-router/pkg/sse"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeChunkMatchesReflect checks the fast chunk decoder against json.Unmarshal:
// whenever it accepts a chunk, it produces the GenerateContentResponse encoding/json
// produces (less responseId and modelVersion, skipped once the stream has started).
func FuzzDecodeChunkMatchesReflect(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.sse")
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		var r sse.Reader
		for _, ev := range append(r.Feed(b), r.Flush()...) {
			f.Add(append([]byte(nil), ev.Data...), false)
		}
	}
	for _, s := range []string{
		`{"candidates": [{"content": {"parts": [{"text": "Hello, world"}],"role": "model"},"index":0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.5-flash","responseId": "r-s1"}`,
		`{"candidates":[{"content":{"parts":[{"text":"t","thought":true,"thoughtSignature":"c2ln"}]},"finishReason":"STOP","safetyRatings":[]}],"usageMetadata":{"Totaltokencount":1}}`,
		`{"candidates":[],"promptFeedback":null,"error":null}`,
		`{"candidates":[{"content":null,"index":1}],"usageMetadata":null}`,
		`{"candidates":[{"content":{"parts":[]}}]}`,
		`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]}}]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, started bool) {
		d := newStreamDecoder()
		d.started = started
		got, ok := d.decodeChunk(data)
		if !ok {
			return
		}
		var want GenerateContentResponse
		require.NoError(t, json.Unmarshal(data, &want), "fast path accepted %q", data)
		if started {
			want.ResponseID, want.ModelVersion = "", ""
		}
		require.True(t, reflect.DeepEqual(&want, got), "%q:\nwant %+v\n got %+v", data, want, *got)
	})
}
