package cohere

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

var update = flag.Bool("update", false, "rewrite golden .want.json files")

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		var v any
		require.NoError(t, json.Unmarshal(got, &v))
		pretty, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(pretty, '\n'), 0o644))
	}
	require.JSONEq(t, string(readFile(t, path)), string(got))
}

type requestFixture struct {
	Target  provider.Target   `json:"target"`
	Request canonical.Request `json:"request"`
}

func TestChatRequestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/chat_request/*.json")
	require.NoError(t, err)
	b := NewBackend("/prefix", "sk-test")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			var fx requestFixture
			require.NoError(t, json.Unmarshal(readFile(t, f), &fx))
			up, err := b.BuildChatRequest(context.Background(), &fx.Request, fx.Target)
			require.NoError(t, err)
			require.Equal(t, "POST", up.Method)
			require.Equal(t, "/prefix/v2/chat", up.Path)
			require.Equal(t, "Bearer sk-test", up.Header.Get("Authorization"))
			golden(t, strings.TrimSuffix(f, ".json")+".want.json", up.Body)
		})
	}
	require.NotZero(t, n)
}

func TestChatResponseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/chat_response/*.body.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			resp, err := NewBackend("", "").DecodeChatResponse(readFile(t, f))
			require.NoError(t, err)
			golden(t, strings.TrimSuffix(f, ".body.json")+".want.json", []byte(toJSON(t, resp)))
		})
	}
}

type streamResult struct {
	Events      []canonical.StreamEvent `json:"events"`
	FinishError string                  `json:"finish_error"`
}

func decodeParts(t testing.TB, d provider.StreamDecoder, parts ...[]byte) streamResult {
	var res streamResult
	var err error
	for _, p := range parts {
		res.Events, err = d.Decode(res.Events, p)
		require.NoError(t, err)
	}
	res.Events, err = d.Finish(res.Events)
	if err != nil {
		res.FinishError = err.Error()
	}
	return res
}

// Each SSE fixture is decoded whole, split at every byte boundary, byte by byte,
// and with CRLF line ends (also split everywhere): all must match the golden.
func TestStreamGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/stream/*.sse")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	newDecoder := NewBackend("", "").NewChatStreamDecoder
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lf := readFile(t, f)
			whole := decodeParts(t, newDecoder(), lf)
			golden(t, strings.TrimSuffix(f, ".sse")+".want.json", []byte(toJSON(t, whole)))
			want := toJSON(t, whole)
			crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
			for _, body := range [][]byte{lf, crlf} {
				for i := 0; i <= len(body); i++ {
					if got := toJSON(t, decodeParts(t, newDecoder(), body[:i], body[i:])); got != want {
						require.Equal(t, want, got, "split at %d", i)
					}
				}
				parts := make([][]byte, len(body))
				for i := range body {
					parts[i] = body[i : i+1]
				}
				require.Equal(t, want, toJSON(t, decodeParts(t, newDecoder(), parts...)))
			}
		})
	}
}

func TestStreamIgnoresInputAfterEnd(t *testing.T) {
	body := readFile(t, "testdata/stream/text.sse")
	d := NewBackend("", "").NewChatStreamDecoder()
	evs, err := d.Decode(nil, body)
	require.NoError(t, err)
	n := len(evs)
	evs, err = d.Decode(evs, body)
	require.NoError(t, err)
	evs, err = d.Finish(evs)
	require.NoError(t, err)
	require.Len(t, evs, n)
}
