package openai

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
// whenever it accepts a chunk, the ChatChunk it fills is the one encoding/json fills
// (less the envelope strings it skips once the stream has started).
func FuzzDecodeChunkMatchesReflect(f *testing.F) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		var r sse.Reader
		for _, ev := range append(r.Feed(b), r.Flush()...) {
			f.Add(append([]byte(nil), ev.Data...), false)
		}
	}
	for _, s := range []string{
		`{"id":"x","choices":[{"index":0,"delta":{"content":"a\u00e9\n","tool_calls":[{"index":1,"id":"c","type":"function","function":{"name":"f","arguments":"{"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":3}}}`,
		`{"id":"x","ID":"y","choices":null}`,
		`{"choices":[{"index":1.5}]}`,
		`{"choices":[{"delta":{"content":null,"Content":"x"}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":null,"index":null}]}}],"usage":null,"error":null,"x_groq":null}`,
		`{"usage":{"prompt_tokens_details":{"cached_tokens":1,"Cached_Tokens":2}}}`,
		`{"error":{"message":"m"}}`,
		`{"choices":[{"delta":{"tool_calls":[]}}]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, started bool) {
		d := &streamDecoder{started: started}
		if !d.decodeChunk(data) {
			return
		}
		var want ChatChunk
		require.NoError(t, json.Unmarshal(data, &want), "fast path accepted %q", data)
		if started {
			want.ID, want.Object, want.Model = "", "", ""
		}
		got := d.chunk
		if len(got.Choices) == 0 && len(want.Choices) == 0 {
			got.Choices, want.Choices = nil, nil // reused storage vs a fresh nil slice
		}
		require.True(t, reflect.DeepEqual(want, got), "%q:\nwant %+v\n got %+v", data, want, got)
	})
}
