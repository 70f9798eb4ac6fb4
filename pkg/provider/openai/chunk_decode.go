package openai

import (
	"slices"

	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// chunkStore is decoder-owned storage the fast chunk decoder points ChatChunk's
// pointer fields at, so that a chunk decodes without allocating anything but the
// strings the decoder passes on.
type chunkStore struct {
	choices []choiceStore
	usage   Usage
	prompt  PromptTokensDetails
	compl   CompletionTokensDetails
}

// choiceStore backs one ChunkChoice's pointers.
type choiceStore struct {
	content, refusal, reasoningContent, reasoning, finish string
	toolCalls                                             []ToolCallDelta
	toolIndex                                             []int
}

// decodeChunk is the stream decoder's fast path: it fills d.chunk from data as
// json.Unmarshal would, as far as event() looks, without reflection. It skips the id,
// object and model strings once the stream has started (event() no longer reads
// them). ok is false for anything it does not handle like encoding/json (errors,
// x_groq, syntax or type errors, duplicate or case-folded keys); event() then decodes
// the chunk with encoding/json.
func (d *streamDecoder) decodeChunk(data []byte) (ok bool) {
	c := &d.chunk
	reuse := c.Choices[:cap(c.Choices)]
	clear(reuse)
	*c = ChatChunk{Choices: reuse[:0]}
	r := jsonwire.NewReader(data)
	if !r.Open('{') {
		return false
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "id" && seen.First(0):
			d.chunkString(&r, &c.ID)
		case k == "object" && seen.First(1):
			d.chunkString(&r, &c.Object)
		case k == "model" && seen.First(2):
			d.chunkString(&r, &c.Model)
		case k == "created" && seen.First(3):
			if !r.Null() {
				c.Created = r.Int()
			}
		case k == "choices" && seen.First(4):
			d.decodeChoices(&r)
		case k == "usage" && seen.First(5):
			if !r.Null() {
				c.Usage = d.decodeUsage(&r)
			}
		case k == "error" && seen.First(6), k == "x_groq" && seen.First(7):
			if !r.Null() {
				return false // rare: leave to encoding/json
			}
		case jsonwire.MayFold(key, isChunkField):
			return false
		default:
			r.Skip()
		}
	}
	return r.End()
}

func isChunkField(k string) bool {
	switch k {
	case "id", "object", "created", "model", "choices", "usage", "error", "x_groq":
		return true
	}
	return false
}

// chunkString reads an envelope string, or only validates it once the stream started.
func (d *streamDecoder) chunkString(r *jsonwire.Reader, dst *string) {
	if r.Null() {
		return
	}
	if d.started {
		r.StringSpan()
		return
	}
	*dst = r.String()
}

func (d *streamDecoder) decodeChoices(r *jsonwire.Reader) {
	c := &d.chunk
	if r.Null() {
		c.Choices = nil
		return
	}
	if !r.Open('[') {
		return
	}
	for i := 0; r.More(']', i); i++ {
		if i >= maxChoices {
			r.Fail() // keep the storage bounded; encoding/json handles the rest
			return
		}
		c.Choices = append(c.Choices, ChunkChoice{})
		for len(d.store.choices) <= i {
			d.store.choices = append(d.store.choices, choiceStore{})
		}
		d.decodeChoice(r, &c.Choices[i], &d.store.choices[i])
	}
}

func (d *streamDecoder) decodeChoice(r *jsonwire.Reader, ch *ChunkChoice, st *choiceStore) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "index" && seen.First(0):
			if !r.Null() {
				ch.Index = int(r.Int())
			}
		case k == "delta" && seen.First(1):
			if !r.Null() {
				decodeDelta(r, &ch.Delta, st)
			}
		case k == "finish_reason" && seen.First(2):
			ch.FinishReason = optStringIn(r, &st.finish)
		case jsonwire.MayFold(key, func(k string) bool { return k == "index" || k == "delta" || k == "finish_reason" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// optStringIn reads a nullable string into *store and returns a pointer to it, or nil
// for null. Common finish reasons reuse constant strings.
func optStringIn(r *jsonwire.Reader, store *string) *string {
	if r.Null() {
		return nil
	}
	s := r.StringSpan()
	switch {
	case r.Equal(s, "stop"):
		*store = "stop"
	case r.Equal(s, "length"):
		*store = "length"
	case r.Equal(s, "tool_calls"):
		*store = "tool_calls"
	default:
		*store = r.Text(s)
	}
	return store
}

func decodeDelta(r *jsonwire.Reader, dl *Delta, st *choiceStore) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "role" && seen.First(0):
			if !r.Null() {
				if s := r.StringSpan(); r.Equal(s, "assistant") {
					dl.Role = "assistant"
				} else {
					dl.Role = r.Text(s)
				}
			}
		case k == "content" && seen.First(1):
			dl.Content = optTextIn(r, &st.content)
		case k == "refusal" && seen.First(2):
			dl.Refusal = optTextIn(r, &st.refusal)
		case k == "reasoning_content" && seen.First(3):
			dl.ReasoningContent = optTextIn(r, &st.reasoningContent)
		case k == "reasoning" && seen.First(4):
			dl.Reasoning = optTextIn(r, &st.reasoning)
		case k == "tool_calls" && seen.First(5):
			dl.ToolCalls = decodeToolCallDeltas(r, st)
		case jsonwire.MayFold(key, isDeltaField):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

func isDeltaField(k string) bool {
	switch k {
	case "role", "content", "refusal", "reasoning_content", "reasoning", "tool_calls":
		return true
	}
	return false
}

// optTextIn reads a nullable string into *store; the empty string (the role chunk's
// content) needs no allocation.
func optTextIn(r *jsonwire.Reader, store *string) *string {
	if r.Null() {
		return nil
	}
	*store = r.String()
	return store
}

// decodeToolCallDeltas reads tool-call fragments into the choice's reused storage.
func decodeToolCallDeltas(r *jsonwire.Reader, st *choiceStore) []ToolCallDelta {
	if r.Null() || !r.Open('[') {
		return nil
	}
	out := st.toolCalls[:0]
	for i := 0; r.More(']', i); i++ {
		if i >= maxToolCalls {
			r.Fail()
			return nil
		}
		out = append(out, ToolCallDelta{})
		if len(st.toolIndex) <= i {
			st.toolIndex = append(st.toolIndex, 0)
		}
		decodeToolCallDelta(r, &out[i], &st.toolIndex[i])
	}
	if out == nil {
		out = []ToolCallDelta{} // as encoding/json decodes []: empty, not nil (no allocation)
	}
	st.toolCalls = out
	return out
}

func decodeToolCallDelta(r *jsonwire.Reader, tc *ToolCallDelta, index *int) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "index" && seen.First(0):
			if !r.Null() {
				*index = int(r.Int())
				tc.Index = index
			}
		case k == "id" && seen.First(1):
			r.OptString(&tc.ID)
		case k == "type" && seen.First(2):
			if !r.Null() {
				if s := r.StringSpan(); r.Equal(s, "function") {
					tc.Type = "function"
				} else {
					tc.Type = r.Text(s)
				}
			}
		case k == "function" && seen.First(3):
			decodeFunctionCall(r, (*FunctionCall)(&tc.Function))
		case jsonwire.MayFold(key, func(k string) bool { return k == "index" || k == "id" || k == "type" || k == "function" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// decodeUsage reads usage into the decoder's storage.
func (d *streamDecoder) decodeUsage(r *jsonwire.Reader) *Usage {
	s := &d.store
	s.usage = Usage{}
	if !r.Open('{') {
		return nil
	}
	u := &s.usage
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "prompt_tokens" && seen.First(0):
			optInt(r, &u.PromptTokens)
		case k == "completion_tokens" && seen.First(1):
			optInt(r, &u.CompletionTokens)
		case k == "total_tokens" && seen.First(2):
			optInt(r, &u.TotalTokens)
		case k == "prompt_cache_hit_tokens" && seen.First(3):
			optInt(r, &u.PromptCacheHitTokens)
		case k == "prompt_tokens_details" && seen.First(4):
			if !r.Null() {
				s.prompt = PromptTokensDetails{}
				u.PromptTokensDetails = &s.prompt
				intFields(r, []string{"cached_tokens", "audio_tokens"},
					[]*int{&s.prompt.CachedTokens, &s.prompt.AudioTokens})
			}
		case k == "completion_tokens_details" && seen.First(5):
			if !r.Null() {
				s.compl = CompletionTokensDetails{}
				u.CompletionTokensDetails = &s.compl
				intFields(r, []string{"reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens"},
					[]*int{&s.compl.ReasoningTokens, &s.compl.AudioTokens, &s.compl.AcceptedPredictionTokens, &s.compl.RejectedPredictionTokens})
			}
		case jsonwire.MayFold(key, isUsageField):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return u
}

func isUsageField(k string) bool {
	switch k {
	case "prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens",
		"prompt_tokens_details", "completion_tokens_details":
		return true
	}
	return false
}

// intFields reads an object whose members names[i] are integers stored in dsts[i].
func intFields(r *jsonwire.Reader, names []string, dsts []*int) {
	if !r.Open('{') {
		return
	}
	isField := func(k string) bool { return slices.Contains(names, k) }
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		f := slices.Index(names, string(key))
		switch {
		case f >= 0 && seen.First(f):
			optInt(r, dsts[f])
		case f >= 0 || jsonwire.MayFold(key, isField):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

func optInt(r *jsonwire.Reader, dst *int) {
	if !r.Null() {
		*dst = int(r.Int())
	}
}
