package anthropic

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llm-router/llm-router/pkg/sse"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeEventMatchesReflect checks the fast event decoder against json.Unmarshal:
// whenever it accepts an event, it fills the same streamEvent.
func FuzzDecodeEventMatchesReflect(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		var r sse.Reader
		for _, ev := range append(r.Feed(b), r.Flush()...) {
			f.Add(append([]byte(nil), ev.Data...))
		}
	}
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \u00e9\n"}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":null}`,
		`{"type":"content_block_delta","Index":2,"delta":{"text":"x"}}`,
		`{"type":"content_block_delta","index":1.0}`,
		`{"type":"ping","message":null,"content_block":null,"error":null}`,
		`{"type":"x","delta":{"type":"custom","text":null,"Text":"y"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got streamEvent
		var delta streamDelta
		if !decodeEventFast(data, &got, &delta) {
			return
		}
		var want streamEvent
		require.NoError(t, json.Unmarshal(data, &want), "fast path accepted %q", data)
		require.True(t, reflect.DeepEqual(want, got), "%q:\nwant %+v\n got %+v", data, want, got)
	})
}
