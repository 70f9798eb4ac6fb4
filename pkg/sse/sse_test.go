package sse

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type ev struct{ Event, Data, ID string }

func collect(out []ev, evs []Event) []ev {
	for _, e := range evs {
		out = append(out, ev{string(e.Event), string(e.Data), string(e.ID)})
	}
	return out
}

// feedAll feeds input in pieces of the given sizes (the rest in one piece) and
// flushes at the end.
func feedAll(input string, sizes ...int) []ev {
	var r Reader
	var out []ev
	b := []byte(input)
	for _, n := range sizes {
		if n > len(b) {
			n = len(b)
		}
		out = collect(out, r.Feed(b[:n]))
		b = b[n:]
	}
	out = collect(out, r.Feed(b))
	return collect(out, r.Flush())
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []ev
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a", ""}, {"", "b", ""}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{{"", "a", ""}, {"", "b", ""}}},
		{"cr", "data: a\r\rdata: b\r\r", []ev{{"", "a", ""}, {"", "b", ""}}},
		{"no space", "data:a\n\n", []ev{{"", "a", ""}}},
		{"two spaces keep one", "data:  a\n\n", []ev{{"", " a", ""}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb", ""}}},
		{"event and id", "event: message_start\nid: 7\ndata: {}\n\n", []ev{{"message_start", "{}", "7"}}},
		{"comment ignored", ": ping\n\ndata: x\n\n", []ev{{"", "x", ""}}},
		{"unknown field ignored", "retry: 100\nfoo: bar\ndata: x\n\n", []ev{{"", "x", ""}}},
		{"field without colon", "data\n\n", []ev{{"", "", ""}}},
		{"event without data is not dispatched", "event: ping\n\ndata: x\n\n", []ev{{"", "x", ""}}},
		{"missing final blank line flushed", "data: a\n\ndata: b", []ev{{"", "a", ""}, {"", "b", ""}}},
		{"missing final blank line after newline", "data: a\n", []ev{{"", "a", ""}}},
		{"bom", "\xEF\xBB\xBFdata: a\n\n", []ev{{"", "a", ""}}},
		{"bom only at start", "data: \xEF\xBB\xBFa\n\n", []ev{{"", "\xEF\xBB\xBFa", ""}}},
		{"blank lines between", "\n\n\ndata: a\n\n\n\n", []ev{{"", "a", ""}}},
		{"done", "data: [DONE]\n\n", []ev{{"", "[DONE]", ""}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, feedAll(tt.input))
			// The same events whatever the split points.
			for i := 0; i <= len(tt.input); i++ {
				require.Equal(t, tt.want, feedAll(tt.input, i), "split at %d", i)
			}
			ones := make([]int, len(tt.input))
			for i := range ones {
				ones[i] = 1
			}
			require.Equal(t, tt.want, feedAll(tt.input, ones...), "byte by byte")
		})
	}
}

func TestReaderEventsValidUntilNextFeed(t *testing.T) {
	var r Reader
	evs := r.Feed([]byte("data: first\n\ndata: second\n\nevent: e\ndata: third\n\n"))
	require.Len(t, evs, 3)
	// Several events from one Feed must not overwrite each other.
	require.Equal(t, "first", string(evs[0].Data))
	require.Equal(t, "second", string(evs[1].Data))
	require.Equal(t, "third", string(evs[2].Data))
	require.Equal(t, "e", string(evs[2].Event))
}

func TestReaderPending(t *testing.T) {
	var r Reader
	require.False(t, r.Pending())
	r.Feed([]byte("data: partial"))
	require.True(t, r.Pending())
	r.Feed([]byte("\n"))
	require.True(t, r.Pending(), "an undispatched event is pending")
	require.Len(t, r.Feed([]byte("\n")), 1)
	require.False(t, r.Pending())
	r.Feed([]byte("\r"))
	require.False(t, r.Pending())
	require.Empty(t, r.Feed([]byte("\n")))
}

func TestReaderPartialBOM(t *testing.T) {
	var r Reader
	require.Empty(t, r.Feed([]byte("\xEF")))
	require.Empty(t, r.Flush())
	var r2 Reader
	require.Empty(t, r2.Feed([]byte("\xEF\xBB")))
	evs := r2.Feed([]byte("\xBFdata: x\n\n"))
	require.Len(t, evs, 1)
	require.Equal(t, "x", string(evs[0].Data))
}

func TestAppendEvent(t *testing.T) {
	require.Equal(t, "data: {}\n\n", string(AppendEvent(nil, "", []byte("{}"))))
	require.Equal(t, "event: ping\ndata: a\ndata: b\n\n", string(AppendEvent(nil, "ping", []byte("a\nb"))))
	require.Equal(t, "data: \n\n", string(AppendEvent(nil, "", nil)))
	// Round trip through the reader.
	out := AppendEvent(AppendEvent(nil, "x", []byte("1\n2")), "", []byte("3"))
	require.Equal(t, []ev{{"x", "1\n2", ""}, {"", "3", ""}}, feedAll(string(out)))
}

func TestIsDone(t *testing.T) {
	require.True(t, IsDone([]byte("[DONE]")))
	require.True(t, IsDone([]byte(" [DONE] ")))
	require.False(t, IsDone([]byte("[DONE")))
	require.False(t, IsDone([]byte(`{"done":true}`)))
}

// reference parses a whole SSE stream the simple way, straight from the WHATWG
// algorithm: split into lines on CRLF, LF or CR, then process fields.
func reference(input string) []ev {
	input = strings.TrimPrefix(input, "\xEF\xBB\xBF")
	var lines []string
	for len(input) > 0 {
		i := strings.IndexAny(input, "\r\n")
		if i < 0 {
			lines = append(lines, input)
			break
		}
		lines = append(lines, input[:i])
		if input[i] == '\r' && i+1 < len(input) && input[i+1] == '\n' {
			i++
		}
		input = input[i+1:]
	}
	lines = append(lines, "") // end of stream dispatches like Flush
	var out []ev
	var data, event, id strings.Builder
	hasData, hasAny := false, false
	for _, l := range lines {
		if l == "" {
			if hasAny && hasData {
				out = append(out, ev{event.String(), data.String(), id.String()})
			}
			data.Reset()
			event.Reset()
			hasData, hasAny = false, false
			continue
		}
		if l[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(l, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData, hasAny = true, true
		case "event":
			event.Reset()
			event.WriteString(value)
			hasAny = true
		case "id":
			id.Reset()
			id.WriteString(value)
			hasAny = true
		}
	}
	return out
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\ndata: b\n\n"), uint8(3))
	f.Add([]byte("event: x\rdata: 1\rdata: 2\r\r: c\n\n"), uint8(1))
	f.Add([]byte("\xEF\xBB\xBFid: 1\ndata\n\n"), uint8(2))
	f.Fuzz(func(t *testing.T, input []byte, step uint8) {
		want := reference(string(input))
		whole := feedAll(string(input))
		if fmt.Sprint(want) != fmt.Sprint(whole) {
			t.Fatalf("whole feed: got %q want %q", whole, want)
		}
		n := int(step%16) + 1
		var sizes []int
		for i := 0; i < len(input); i += n {
			sizes = append(sizes, n)
		}
		split := feedAll(string(input), sizes...)
		if fmt.Sprint(want) != fmt.Sprint(split) {
			t.Fatalf("split by %d: got %q want %q", n, split, want)
		}
	})
}

func BenchmarkReaderFeed(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	var r Reader
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if len(r.Feed(chunk)) != 1 {
			b.Fatal("want one event")
		}
	}
}

func BenchmarkReaderFeedSplit(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}` + "\r\n\r\n")
	half := len(chunk) / 2
	var r Reader
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		r.Feed(chunk[:half])
		if len(r.Feed(chunk[half:])) != 1 {
			b.Fatal("want one event")
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 200)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], "", data)
	}
}
