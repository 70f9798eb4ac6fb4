package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func scanAll(s interface {
	Scan([]byte, bool) []byte
}, input []byte, sizes []int) []byte {
	var out []byte
	rest := input
	for _, n := range sizes {
		n = min(n, len(rest))
		out = append(out, s.Scan(rest[:n], false)...)
		rest = rest[n:]
	}
	return append(out, s.Scan(rest, true)...)
}

// withoutUsageChunk removes the usage-only chunk from an SSE stream, the reference
// for what stripping must produce.
func withoutUsageChunk(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out []byte
	for _, ev := range bytes.SplitAfter(raw, []byte("\n\n")) {
		if bytes.Contains(ev, []byte(`"choices":[],`)) && bytes.Contains(ev, []byte(`"usage":{`)) {
			continue
		}
		out = append(out, ev...)
	}
	return out
}

func TestUsageScannerStream(t *testing.T) {
	raw, err := os.ReadFile("testdata/streams/text.sse")
	require.NoError(t, err)
	want := canonical.Usage{InputTokens: 9, OutputTokens: 4, CachedInputTokens: 2, ReasoningTokens: 1}
	stripped := withoutUsageChunk(t, raw)
	require.Less(t, len(stripped), len(raw))

	crlf := bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
	cr := bytes.ReplaceAll(raw, []byte("\n"), []byte("\r"))
	variants := map[string][2][]byte{
		"lf":   {raw, stripped},
		"crlf": {crlf, bytes.ReplaceAll(stripped, []byte("\n"), []byte("\r\n"))},
		"cr":   {cr, bytes.ReplaceAll(stripped, []byte("\n"), []byte("\r"))},
	}
	for name, v := range variants {
		input, wantStripped := v[0], v[1]
		for split := 0; split <= len(input); split++ {
			s := NewUsageScanner(true, false)
			require.Equal(t, string(input), string(scanAll(s, input, []int{split})), "%s keep, split %d", name, split)
			require.Equal(t, want, s.Usage(), "%s keep, split %d", name, split)

			s = NewUsageScanner(true, true)
			require.Equal(t, string(wantStripped), string(scanAll(s, input, []int{split})), "%s strip, split %d", name, split)
			require.Equal(t, want, s.Usage(), "%s strip, split %d", name, split)
		}
		ones := make([]int, len(input))
		for i := range ones {
			ones[i] = 1
		}
		s := NewUsageScanner(true, true)
		require.Equal(t, string(wantStripped), string(scanAll(s, input, ones)), "%s byte by byte", name)
		require.Equal(t, want, s.Usage())
	}
}

func TestUsageScannerStreamCases(t *testing.T) {
	usageOnly := `data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}` + "\n\n"
	content := `data: {"id":"c","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}` + "\n\n"
	t.Run("usage with choices is kept", func(t *testing.T) {
		in := `data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}` + "\n\n"
		s := NewUsageScanner(true, true)
		require.Equal(t, in, string(s.Scan([]byte(in), true)))
		require.Equal(t, 1, s.Usage().InputTokens)
	})
	t.Run("groq x_groq usage", func(t *testing.T) {
		raw, err := os.ReadFile("testdata/streams/groq.sse")
		require.NoError(t, err)
		s := NewUsageScanner(true, true)
		require.Equal(t, string(raw), string(s.Scan(raw, true)))
		require.Equal(t, canonical.Usage{InputTokens: 50, OutputTokens: 12}, s.Usage())
	})
	t.Run("unterminated usage chunk at end is stripped", func(t *testing.T) {
		s := NewUsageScanner(true, true)
		out := scanAll(s, []byte(content+strings.TrimSuffix(usageOnly, "\n\n")), []int{len(content) + 5})
		require.Equal(t, content, string(out))
		require.Equal(t, 3, s.Usage().InputTokens)
	})
	t.Run("no usage", func(t *testing.T) {
		s := NewUsageScanner(true, true)
		out := s.Scan([]byte(content), false)
		require.Equal(t, content, string(out))
		require.True(t, s.Usage().IsZero())
		require.Empty(t, s.Scan(nil, true))
	})
	t.Run("usage mentioned in text", func(t *testing.T) {
		in := `data: {"id":"c","choices":[{"index":0,"delta":{"content":"\"usage\": {x"}}],"usage":null}` + "\n\n"
		s := NewUsageScanner(true, true)
		require.Equal(t, in, string(s.Scan([]byte(in), true)))
		require.True(t, s.Usage().IsZero())
	})
	t.Run("usage with spaces", func(t *testing.T) {
		in := `data: {"id": "c", "choices": [], "usage" : {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}}` + "\n\n"
		s := NewUsageScanner(true, true)
		require.Empty(t, s.Scan([]byte(in), false))
		require.Equal(t, 7, s.Usage().InputTokens)
	})
	t.Run("oversized event is forwarded, not held", func(t *testing.T) {
		big := "data: " + strings.Repeat("x", maxPendingEvent+1)
		s := NewUsageScanner(true, true)
		out := s.Scan([]byte(big), false)
		require.Len(t, out, len(big))
		out = s.Scan([]byte("\n\n"+usageOnly), true)
		require.Equal(t, "\n\n", string(out))
		require.Equal(t, 3, s.Usage().InputTokens)
	})
	t.Run("strip drops only the usage chunk among several events in one chunk", func(t *testing.T) {
		in := content + usageOnly + "data: [DONE]\n\n"
		s := NewUsageScanner(true, true)
		require.Equal(t, content+"data: [DONE]\n\n", string(s.Scan([]byte(in), false)))
	})
}

func TestUsageScannerBody(t *testing.T) {
	raw, err := os.ReadFile("testdata/responses/openai_text.json")
	require.NoError(t, err)
	s := NewUsageScanner(false, true)
	var out []byte
	for i := 0; i < len(raw); i += 17 {
		end := min(i+17, len(raw))
		out = append(out, s.Scan(raw[i:end], end == len(raw))...)
	}
	require.Equal(t, raw, out)
	require.Equal(t, canonical.Usage{InputTokens: 19, OutputTokens: 10, CachedInputTokens: 12, ReasoningTokens: 3}, s.Usage())

	s = NewUsageScanner(false, false)
	s.Scan([]byte(`{"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}`), true)
	require.Equal(t, 8, s.Usage().InputTokens, "embeddings usage")

	s = NewUsageScanner(false, false)
	s.Scan([]byte(`not json`), true)
	require.True(t, s.Usage().IsZero())

	s = NewUsageScanner(false, false)
	big := make([]byte, maxBufferedBody)
	s.Scan(big, false)
	s.Scan([]byte(`{"usage":{"prompt_tokens":1}}`), true)
	require.True(t, s.Usage().IsZero(), "over-large bodies are not buffered")
}

func FuzzUsageScanner(f *testing.F) {
	raw, _ := os.ReadFile("testdata/streams/text.sse")
	f.Add(raw, uint16(10), true)
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n"), uint16(3), true)
	f.Add([]byte("data: x\r\r\n\ndata: {\"usage\" :{}}\n"), uint16(1), false)
	f.Fuzz(func(t *testing.T, input []byte, step uint16, strip bool) {
		n := int(step%64) + 1
		var sizes []int
		for i := 0; i+n < len(input); i += n {
			sizes = append(sizes, n)
		}
		a := NewUsageScanner(true, strip)
		split := scanAll(a, input, sizes)
		b := NewUsageScanner(true, strip)
		whole := b.Scan(bytes.Clone(input), true)
		if !bytes.Equal(split, whole) {
			t.Fatalf("split by %d forwards %q, whole forwards %q", n, split, whole)
		}
		if a.Usage() != b.Usage() {
			t.Fatalf("usage differs: %+v vs %+v", a.Usage(), b.Usage())
		}
		if !strip && !bytes.Equal(whole, input) {
			t.Fatalf("without strip the bytes must pass unchanged")
		}
		if len(whole) > len(input) {
			t.Fatalf("output grew")
		}
	})
}

func BenchmarkUsageScannerChunk(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for _, strip := range []bool{false, true} {
		name := "keep"
		if strip {
			name = "strip"
		}
		b.Run(name, func(b *testing.B) {
			s := NewUsageScanner(true, strip)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				s.Scan(chunk, false)
			}
		})
		b.Run(name+"-split", func(b *testing.B) {
			s := NewUsageScanner(true, strip)
			half := len(chunk) / 2
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				s.Scan(chunk[:half], false)
				s.Scan(chunk[half:], false)
			}
		})
	}
}

func TestReadUsageFastPath(t *testing.T) {
	openaiUsage := []byte(`{"prompt_tokens":480,"completion_tokens":190,"total_tokens":670,"prompt_tokens_details":{"cached_tokens":128,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":64,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`)
	var f usageFields
	require.True(t, readUsageFast(openaiUsage, &f), "OpenAI's usage object takes the fast path")
	got, ok := readUsage(openaiUsage)
	require.True(t, ok)
	require.Equal(t, canonical.Usage{InputTokens: 480, OutputTokens: 190, CachedInputTokens: 128, ReasoningTokens: 64}, got)
	allocs := testing.AllocsPerRun(100, func() { _, _ = readUsage(openaiUsage) })
	require.Zero(t, allocs)

	for _, raw := range []string{
		`{"prompt_tokens":1,"queue_time":0.01}`,     // another member (Groq)
		`{"Prompt_Tokens":3}`,                       // encoding/json matches keys case-insensitively
		`{"prompt_tokens":1.0}`,                     // not an int: json fails
		`{"prompt_tokens":null}`,                    // null leaves the field
		`{"prompt_tokens_details":null}`,            // null pointer
		`{"prompt_tokens":12345678901234567890123}`, // overflow
		`{"prompt\u005ftokens":2}`,                  // escaped key
		`{"prompt_tokens":-0}`,
	} {
		var f usageFields
		if readUsageFast([]byte(raw), &f) {
			var ref Usage
			require.NoError(t, json.Unmarshal([]byte(raw), &ref), raw)
			require.Equal(t, ref, f.usage(), raw)
		}
	}
}

// FuzzReadUsage checks that the fast path agrees with encoding/json whenever it
// answers.
func FuzzReadUsage(f *testing.F) {
	for _, s := range []string{
		`{"prompt_tokens":480,"completion_tokens":190,"total_tokens":670}`,
		`{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":2},"prompt_tokens_details":{"audio_tokens":3}}`,
		`{"completion_tokens_details":{"reasoning_tokens":5,"accepted_prediction_tokens":1,"rejected_prediction_tokens":2,"audio_tokens":3}}`,
		`{"prompt_cache_hit_tokens":7,"total_tokens":-1}`,
		`{"prompt_tokens":01}`, `{"prompt_tokens":1e2}`, `{"total_tokens":"3"}`, `{}`, `{"a":[}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var f usageFields
		if !readUsageFast(raw, &f) {
			return
		}
		var ref Usage
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", raw, err)
		}
		if fast := f.usage(); !reflect.DeepEqual(ref, fast) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", raw, fast, ref)
		}
		if f.canonical() != usageToCanonical(&ref) {
			t.Fatalf("%q: canonical %+v, want %+v", raw, f.canonical(), usageToCanonical(&ref))
		}
	})
}

// usage is the Usage encoding/json would have produced, details pointers included.
func (f *usageFields) usage() Usage {
	u := f.top
	if f.hasPrompt {
		p := f.prompt
		u.PromptTokensDetails = &p
	}
	if f.hasCompletion {
		c := f.completion
		u.CompletionTokensDetails = &c
	}
	return u
}
