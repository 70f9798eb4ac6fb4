package openai

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

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// compact turns v into JSON without zero-valued struct fields (Go names start with
// an upper-case letter; raw JSON inside, such as tool schemas, is left alone), so
// golden files show only what matters.
func compact(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var x any
	require.NoError(t, json.Unmarshal(b, &x))
	out, err := json.MarshalIndent(prune(x), "", "  ")
	require.NoError(t, err)
	return out
}

func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "" || k[0] < 'A' || k[0] > 'Z' {
				continue
			}
			e = prune(e)
			if isZero(e) {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		return v
	case []any:
		for i := range v {
			v[i] = prune(v[i])
		}
		return v
	}
	return x
}

func isZero(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case float64:
		return v == 0
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// checkGolden compares got (JSON) with the golden file semantically, or rewrites it
// with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, got, "", "  "))
		buf.WriteByte('\n')
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.JSONEq(t, string(want), string(got), path)
}

// checkGoldenBytes compares exact bytes (SSE output).
func checkGoldenBytes(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.Equal(t, string(want), string(got), path)
}

func inputs(t *testing.T, pattern string, exclude ...string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	var out []string
next:
	for _, f := range files {
		for _, e := range exclude {
			if strings.Contains(filepath.Base(f), e) {
				continue next
			}
		}
		out = append(out, f)
	}
	require.NotEmpty(t, out, pattern)
	return out
}

func stem(path string) string { return strings.TrimSuffix(path, filepath.Ext(path)) }

func testBackend(t *testing.T, d Dialect) *Backend {
	t.Helper()
	b, err := NewBackend(Config{BaseURL: "https://api.example.com/v1", APIKey: "sk-test", Dialect: d})
	require.NoError(t, err)
	return b
}

// TestRequestGolden parses caller bodies to canonical form and builds the upstream
// body an OpenAI backend sends for them.
func TestRequestGolden(t *testing.T) {
	b := testBackend(t, Dialect{MaxTokensField: "max_completion_tokens"})
	for _, in := range inputs(t, "testdata/requests/*.json", ".canonical", ".upstream") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			req, err := ParseChatRequest(body)
			require.NoError(t, err)
			checkGolden(t, stem(in)+".canonical.json", compact(t, req))
			up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "upstream-model", Stream: req.Stream})
			require.NoError(t, err)
			checkGolden(t, stem(in)+".upstream.json", up.Body)
		})
	}
}

// TestCanonicalGolden encodes canonical requests (as another frontend would produce
// them) for OpenAI and for a top_k-capable server.
func TestCanonicalGolden(t *testing.T) {
	for _, in := range inputs(t, "testdata/canonical/*.json", ".openai", ".vllm") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			var req canonical.Request
			require.NoError(t, json.Unmarshal(body, &req))
			out, err := EncodeChatRequest(&req, "gpt-4o", Dialect{MaxTokensField: "max_completion_tokens"})
			require.NoError(t, err)
			checkGolden(t, stem(in)+".openai.json", out)
			out, err = EncodeChatRequest(&req, "meta-llama/Llama-3.1-8B-Instruct", Dialect{MaxTokensField: "max_tokens", TopK: true})
			require.NoError(t, err)
			checkGolden(t, stem(in)+".vllm.json", out)
		})
	}
}

// TestResponseGolden decodes upstream responses and re-encodes them for callers.
func TestResponseGolden(t *testing.T) {
	for _, in := range inputs(t, "testdata/responses/*.json", ".canonical", ".encoded") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			resp, err := DecodeChatResponse(body)
			require.NoError(t, err)
			checkGolden(t, stem(in)+".canonical.json", compact(t, resp))
			out, err := EncodeChatResponse(resp)
			require.NoError(t, err)
			checkGolden(t, stem(in)+".encoded.json", out)
		})
	}
}

// eventView is a readable form of a canonical event for golden files.
type eventView struct {
	Type string
	canonical.StreamEvent
}

func typeName(t canonical.EventType) string {
	return [...]string{"?", "start", "text", "thinking", "tool_start", "tool_delta", "finish", "usage", "error", "done"}[t]
}

func viewEvents(evs []canonical.StreamEvent) []eventView {
	out := make([]eventView, len(evs))
	for i, e := range evs {
		out[i] = eventView{Type: typeName(e.Type), StreamEvent: e}
		out[i].StreamEvent.Type = 0
	}
	return out
}

func decodeAll(t *testing.T, input []byte, sizes func(n int) []int) ([]canonical.StreamEvent, error) {
	t.Helper()
	d := NewStreamDecoder()
	var evs []canonical.StreamEvent
	var err error
	rest := input
	for _, n := range sizes(len(input)) {
		n = min(n, len(rest))
		evs, err = d.Decode(evs, rest[:n])
		if err != nil {
			return evs, err
		}
		rest = rest[n:]
	}
	evs, err = d.Decode(evs, rest)
	if err != nil {
		return evs, err
	}
	return d.Finish(evs)
}

func whole(int) []int { return nil }

// TestStreamGolden decodes recorded streams, checks that any split point and any
// line ending gives the same events, and re-encodes them as OpenAI chunks.
func TestStreamGolden(t *testing.T) {
	for _, in := range inputs(t, "testdata/streams/*.sse", ".encoded") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			want, err := decodeAll(t, raw, whole)
			require.NoError(t, err)
			checkGolden(t, stem(in)+".events.json", compact(t, viewEvents(want)))

			crlf := bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
			cr := bytes.ReplaceAll(raw, []byte("\n"), []byte("\r"))
			for name, variant := range map[string][]byte{"lf": raw, "crlf": crlf, "cr": cr} {
				// Every split point for LF and CRLF; CR-only streams are rare, so a
				// stride keeps the test fast under -race.
				stride := 1
				if name == "cr" {
					stride = 11
				}
				for split := 0; split <= len(variant); split += stride {
					got, err := decodeAll(t, variant, func(int) []int { return []int{split} })
					require.NoError(t, err)
					require.Equal(t, want, got, "%s split at %d", name, split)
				}
				got, err := decodeAll(t, variant, func(n int) []int {
					ones := make([]int, n)
					for i := range ones {
						ones[i] = 1
					}
					return ones
				})
				require.NoError(t, err)
				require.Equal(t, want, got, "%s byte by byte", name)
			}

			enc := NewChatStreamEncoder(&canonical.Request{Model: "fallback", IncludeUsage: true})
			var out []byte
			for i := range want {
				out = enc.Encode(out, &want[i])
			}
			checkGoldenBytes(t, stem(in)+".encoded.sse", out)

			// What the encoder writes decodes to the same events.
			again, err := decodeAll(t, out, whole)
			require.NoError(t, err)
			require.Equal(t, len(want), len(again))
			for i := range want {
				if want[i].Type == canonical.EventError {
					require.Equal(t, canonical.EventError, again[i].Type)
					require.Equal(t, want[i].Err.Message, again[i].Err.Message)
					continue
				}
				require.Equal(t, want[i], again[i], "event %d", i)
			}
		})
	}
}
