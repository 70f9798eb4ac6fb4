package openai

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/llm-router/llm-router/pkg/jsonscan"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// NewUsageScanner returns a scanner for an untranslated OpenAI-family response.
// For a non-streamed body it buffers a copy and reads "usage" at the end; for a
// stream it watches SSE events (split anywhere) for the usage chunk, and with strip
// removes the usage-only chunk (empty choices) the caller did not ask for.
func NewUsageScanner(stream, strip bool) provider.UsageScanner {
	if !stream {
		return &bodyUsageScanner{}
	}
	return &streamUsageScanner{strip: strip, atLineStart: true}
}

// maxBufferedBody bounds what a non-stream scanner copies; Envoy buffers bodies to
// a few MiB, and a usage-less giant body is not worth holding twice.
const maxBufferedBody = 32 << 20

type bodyUsageScanner struct {
	buf      []byte
	overflow bool
	usage    canonical.Usage
}

// Scan implements provider.UsageScanner.
func (s *bodyUsageScanner) Scan(chunk []byte, endOfStream bool) []byte {
	whole := endOfStream && len(s.buf) == 0 // the common case: one buffered body, no copy
	if !s.overflow && !whole {
		if len(s.buf)+len(chunk) > maxBufferedBody {
			s.overflow, s.buf = true, nil
		} else {
			s.buf = append(s.buf, chunk...)
		}
	}
	if endOfStream && !s.overflow {
		body := s.buf
		if whole {
			body = chunk
		}
		// Find the top-level "usage" member without decoding the rest of the body.
		var raw []byte
		if jsonscan.Fields(body, func(key string, v []byte) {
			if key == "usage" {
				raw = v
			}
		}) == nil && len(raw) > 0 && raw[0] == '{' {
			if u, ok := readUsage(raw); ok {
				s.usage = u
			}
		}
		s.buf = nil
	}
	return chunk
}

// Usage implements provider.UsageScanner.
func (s *bodyUsageScanner) Usage() canonical.Usage { return s.usage }

// streamUsageScanner finds event boundaries itself instead of using sse.Reader so it
// can forward the original bytes untouched, and only parses events that mention
// "usage" with an object value.
type streamUsageScanner struct {
	strip bool
	// pending holds the bytes of the incomplete event at the end of the last chunk
	// (when stripping, these bytes have not been forwarded yet).
	pending     []byte
	atLineStart bool // the last byte seen ended a line
	lastCR      bool // the last byte seen was CR (a following LF belongs to it)
	// crEnd is true when the last chunk ended on the CR that ends an event; the
	// event is in pending until the next byte shows whether an LF belongs to it.
	crEnd bool
	// forwarded is true when part of the event in progress was already forwarded
	// (it outgrew maxPendingEvent), so it can no longer be dropped.
	forwarded bool
	usage     canonical.Usage
	out       []byte
}

// maxPendingEvent bounds how much of one event is held back while stripping.
const maxPendingEvent = 1 << 20

// Usage implements provider.UsageScanner.
func (s *streamUsageScanner) Usage() canonical.Usage { return s.usage }

// Scan implements provider.UsageScanner.
func (s *streamUsageScanner) Scan(chunk []byte, endOfStream bool) []byte {
	win, scanFrom := chunk, 0
	inPlace := len(s.pending) == 0 // win is chunk itself
	if !inPlace {
		scanFrom = len(s.pending)
		s.pending = append(s.pending, chunk...)
		win = s.pending
	}
	s.out = s.out[:0]
	copying := false // s.out holds the output so far; otherwise it is win[:evStart]
	evStart := 0
	complete := func(end int) {
		keep := s.event(win[evStart:end])
		if s.strip {
			switch {
			case !keep && !copying:
				copying = true
				s.out = append(s.out, win[:evStart]...)
			case keep && copying:
				s.out = append(s.out, win[evStart:end]...)
			}
		}
		evStart = end
	}
	if s.crEnd {
		// The last chunk ended an event with CR; its LF, if any, belongs to it.
		s.crEnd = false
		end := scanFrom
		if end < len(win) && win[end] == '\n' {
			end++
			s.lastCR = false
		}
		complete(end)
		scanFrom = end
	}
	for i := scanFrom; i < len(win); i++ {
		// Jump to the next line break; everything before it is line content.
		j := nextEOL(win[i:])
		if j != 0 {
			s.atLineStart, s.lastCR = false, false
			if j < 0 {
				break
			}
			i += j
		}
		c := win[i]
		if c == '\n' && s.lastCR {
			s.lastCR = false
			continue
		}
		s.lastCR = c == '\r'
		if !s.atLineStart {
			s.atLineStart = true
			continue
		}
		// A blank line: the event ends after this line break (and its LF, if CRLF).
		end := i + 1
		if c == '\r' {
			if end == len(win) && !endOfStream {
				// Wait for the next byte: dropping the event now could orphan its LF.
				s.crEnd = true
				break
			}
			if end < len(win) && win[end] == '\n' {
				end++
				i++
				s.lastCR = false
			}
		}
		complete(end)
	}
	tail := win[evStart:]
	if !s.strip {
		if endOfStream {
			if len(tail) > 0 {
				s.event(tail)
			}
			s.pending = s.pending[:0]
		} else {
			s.pending = append(s.pending[:0], tail...) // copy handles the overlap
		}
		return chunk
	}
	hold := !endOfStream
	if endOfStream && len(tail) > 0 && !s.event(tail) {
		tail = nil // the stream ended on an unterminated usage-only chunk
	}
	if hold && len(tail) > maxPendingEvent {
		hold, s.forwarded = false, true
	}
	if hold {
		if !copying {
			s.out = append(s.out, win[:evStart]...)
		}
		s.pending = append(s.pending[:0], tail...)
		return s.out
	}
	s.pending = s.pending[:0]
	if !copying {
		if inPlace && tail != nil {
			return chunk // nothing dropped or held: forward the chunk itself
		}
		s.out = append(s.out, win[:evStart]...)
	}
	return append(s.out, tail...)
}

// event inspects one complete event and reports whether to forward it.
func (s *streamUsageScanner) event(ev []byte) bool {
	if s.forwarded {
		// Its beginning is already on the wire; it cannot be dropped now.
		s.forwarded = false
		return true
	}
	if !mentionsUsageObject(ev) {
		return true
	}
	var r sse.Reader
	keep := true
	for _, e := range r.Feed(ev) {
		keep = s.usageEvent(e.Data) && keep
	}
	// Feed's events are only valid until the next call, so Flush comes after.
	for _, e := range r.Flush() {
		keep = s.usageEvent(e.Data) && keep
	}
	return keep
}

// usageEvent records the usage of one event's data and reports whether to forward it.
func (s *streamUsageScanner) usageEvent(data []byte) bool {
	var c struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   *Usage            `json:"usage"`
		XGroq   *struct {
			Usage *Usage `json:"usage"`
		} `json:"x_groq"`
	}
	if json.Unmarshal(data, &c) != nil {
		return true
	}
	switch {
	case c.Usage != nil:
		s.usage = usageToCanonical(c.Usage)
		return !s.strip || len(c.Choices) > 0
	case c.XGroq != nil && c.XGroq.Usage != nil:
		s.usage = usageToCanonical(c.XGroq.Usage)
	}
	return true
}

// nextEOL returns the index of the first CR or LF in b, or -1.
func nextEOL(b []byte) int {
	n := bytes.IndexByte(b, '\n')
	if n < 0 {
		n = len(b)
	}
	if r := bytes.IndexByte(b[:n], '\r'); r >= 0 {
		return r
	}
	if n == len(b) {
		return -1
	}
	return n
}

// mentionsUsageObject is a cheap pre-filter: does b contain "usage" followed by a
// colon and an object? Every chunk carries "usage":null when usage is requested, so
// the check must look at the value.
func mentionsUsageObject(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`"usage"`))
		if i < 0 {
			return false
		}
		b = b[i+len(`"usage"`):]
		j := 0
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
			j++
		}
		if j < len(b) && b[j] == ':' {
			j++
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
				j++
			}
			if j < len(b) && b[j] == '{' {
				return true
			}
		}
	}
}

// readUsage decodes an OpenAI "usage" object as json.Unmarshal into Usage would,
// and reports false where json.Unmarshal fails. OpenAI's own objects (the known
// members, integer values, details objects) are read directly without reflection or
// allocation; anything else (another member, a key with escapes or in another case, a
// value that is not a plain integer) goes through encoding/json, so the result is
// the same either way.
func readUsage(raw []byte) (canonical.Usage, bool) {
	var f usageFields
	if readUsageFast(raw, &f) {
		return f.canonical(), true
	}
	var u Usage
	if json.Unmarshal(raw, &u) != nil {
		return canonical.Usage{}, false
	}
	return usageToCanonical(&u), true
}

// usageFields is a Usage read by readUsageFast: the top-level counts, and each
// details object's members with whether it appeared (kept out of pointers so that
// decoding allocates nothing).
type usageFields struct {
	top                      Usage // details pointers unused
	prompt                   PromptTokensDetails
	completion               CompletionTokensDetails
	hasPrompt, hasCompletion bool
}

// canonical converts f as usageToCanonical converts the equivalent Usage.
func (f *usageFields) canonical() canonical.Usage {
	u, prompt, completion := f.top, f.prompt, f.completion
	if f.hasPrompt {
		u.PromptTokensDetails = &prompt
	}
	if f.hasCompletion {
		u.CompletionTokensDetails = &completion
	}
	return usageToCanonical(&u)
}

// readUsageFast fills f from raw when raw holds only the members Usage declares,
// spelled exactly, with plain integer values (details: objects of the same kind). It
// reports false, with f in an unspecified state, for anything else.
func readUsageFast(raw []byte, f *usageFields) bool {
	ok := true
	err := jsonscan.Fields(raw, func(key string, v []byte) {
		if !ok {
			return
		}
		switch key {
		case "prompt_tokens":
			f.top.PromptTokens, ok = plainInt(v)
		case "completion_tokens":
			f.top.CompletionTokens, ok = plainInt(v)
		case "total_tokens":
			f.top.TotalTokens, ok = plainInt(v)
		case "prompt_cache_hit_tokens":
			f.top.PromptCacheHitTokens, ok = plainInt(v)
		case "prompt_tokens_details":
			// Like encoding/json, a repeated details object decodes into the same struct.
			f.hasPrompt = true
			ok = len(v) > 0 && v[0] == '{' && jsonscan.Fields(v, func(k string, n []byte) {
				switch {
				case !ok:
				case k == "cached_tokens":
					f.prompt.CachedTokens, ok = plainInt(n)
				case k == "audio_tokens":
					f.prompt.AudioTokens, ok = plainInt(n)
				default:
					ok = false
				}
			}) == nil && ok
		case "completion_tokens_details":
			f.hasCompletion = true
			ok = len(v) > 0 && v[0] == '{' && jsonscan.Fields(v, func(k string, n []byte) {
				switch {
				case !ok:
				case k == "reasoning_tokens":
					f.completion.ReasoningTokens, ok = plainInt(n)
				case k == "audio_tokens":
					f.completion.AudioTokens, ok = plainInt(n)
				case k == "accepted_prediction_tokens":
					f.completion.AcceptedPredictionTokens, ok = plainInt(n)
				case k == "rejected_prediction_tokens":
					f.completion.RejectedPredictionTokens, ok = plainInt(n)
				default:
					ok = false
				}
			}) == nil && ok
		default:
			ok = false
		}
	})
	return err == nil && ok
}

// maxIntDigits is the most digits any value of int has room for.
const maxIntDigits = 9 + 9*(strconv.IntSize/64)

// plainInt decodes a JSON integer (-?(0|[1-9][0-9]*)) short enough for an int, which
// encoding/json stores the same way; ok is false for anything else.
func plainInt(v []byte) (n int, ok bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > maxIntDigits || (v[0] == '0' && len(v) > 1) {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
