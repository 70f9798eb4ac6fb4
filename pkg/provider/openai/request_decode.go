package openai

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// decodeChatRequest is ParseChatRequest's fast path: it fills w exactly as
// json.Unmarshal would and collects the members ChatRequest does not map, in one pass
// without reflection. ok is false for anything it does not handle the same way as
// encoding/json (syntax or type errors, duplicate or case-folded field names, escaped
// keys, null in odd places); the caller then takes the encoding/json path, which
// decides the result and the error text as before.
//
// Messages and tools are decoded into the arrays of scratch: w aliases them until
// scratch is reused.
func decodeChatRequest(body []byte, w *ChatRequest, scratch *wireSlices) (extra map[string]json.RawMessage, ok bool) {
	r := jsonwire.NewSharingReader(body)
	if !r.Open('{') {
		return nil, false
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		f := chatRequestField(key)
		if f < 0 {
			if jsonwire.MayFold(key, isChatRequestField) {
				return nil, false
			}
			raw := r.Raw()
			if r.Failed() {
				return nil, false
			}
			if extra == nil {
				extra = make(map[string]json.RawMessage)
			}
			extra[string(key)] = bytes.Clone(raw)
			continue
		}
		if !seen.First(f) {
			return nil, false
		}
		switch f {
		case 0:
			r.OptString(&w.Model)
		case 1:
			w.Messages = decodeMessages(&r, &scratch.messages)
		case 2:
			w.Tools = decodeTools(&r, &scratch.tools)
		case 3:
			w.ToolChoice = decodeToolChoice(&r)
		case 4:
			w.ParallelToolCalls = r.BoolPtr()
		case 5:
			w.ResponseFormat = decodeResponseFormat(&r)
		case 6:
			if !r.Null() {
				w.Stream = r.Bool()
			}
		case 7:
			w.StreamOptions = decodeStreamOptions(&r)
		case 8:
			w.MaxTokens = r.IntPtr()
		case 9:
			w.MaxCompletionTokens = r.IntPtr()
		case 10:
			w.Temperature = r.FloatPtr()
		case 11:
			w.TopP = r.FloatPtr()
		case 12:
			w.TopK = r.IntPtr()
		case 13:
			w.PresencePenalty = r.FloatPtr()
		case 14:
			w.FrequencyPenalty = r.FloatPtr()
		case 15:
			w.Stop = decodeStop(&r)
		case 16:
			w.N = r.IntPtr()
		case 17:
			if !r.Null() {
				n := r.Int()
				w.Seed = &n
			}
		case 18:
			r.OptString(&w.User)
		case 19:
			r.OptString(&w.ReasoningEffort)
		case 20:
			w.Metadata = decodeStringMap(&r)
		}
	}
	if !r.End() {
		return nil, false
	}
	return extra, true
}

// wireSlices are the arrays decodeChatRequest decodes messages and tools into. They
// only live while ParseChatRequest converts them (canonical.Request copies what it
// keeps), so they are pooled.
type wireSlices struct {
	messages []Message
	tools    []Tool
}

var wirePool = sync.Pool{New: func() any { return new(wireSlices) }}

func getWireSlices() *wireSlices {
	s := wirePool.Get().(*wireSlices)
	s.messages, s.tools = s.messages[:0], s.tools[:0]
	return s
}

// putWireSlices returns s to the pool, dropping what the arrays point to.
func putWireSlices(s *wireSlices) {
	if cap(s.messages) > maxPooledMessages {
		return
	}
	clear(s.messages[:cap(s.messages)])
	clear(s.tools[:cap(s.tools)])
	wirePool.Put(s)
}

// maxPooledMessages keeps unusually long conversations' arrays out of the pool.
const maxPooledMessages = 256

// chatRequestField numbers the members ChatRequest maps (see isChatRequestField).
func chatRequestField(k []byte) int {
	switch string(k) {
	case "model":
		return 0
	case "messages":
		return 1
	case "tools":
		return 2
	case "tool_choice":
		return 3
	case "parallel_tool_calls":
		return 4
	case "response_format":
		return 5
	case "stream":
		return 6
	case "stream_options":
		return 7
	case "max_tokens":
		return 8
	case "max_completion_tokens":
		return 9
	case "temperature":
		return 10
	case "top_p":
		return 11
	case "top_k":
		return 12
	case "presence_penalty":
		return 13
	case "frequency_penalty":
		return 14
	case "stop":
		return 15
	case "n":
		return 16
	case "seed":
		return 17
	case "user":
		return 18
	case "reasoning_effort":
		return 19
	case "metadata":
		return 20
	}
	return -1
}

// decodeMessages reads the messages array into the reused array *store; null elements
// are left to encoding/json.
func decodeMessages(r *jsonwire.Reader, store *[]Message) []Message {
	if r.Null() || !r.Open('[') {
		return nil
	}
	msgs := (*store)[:0]
	if msgs == nil {
		msgs = make([]Message, 0, 8)
	}
	for i := 0; r.More(']', i); i++ {
		msgs = append(msgs, Message{})
		decodeMessage(r, &msgs[i])
	}
	*store = msgs
	return msgs
}

func decodeMessage(r *jsonwire.Reader, m *Message) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		f := -1
		switch string(key) {
		case "role":
			f = 0
		case "content":
			f = 1
		case "name":
			f = 2
		case "refusal":
			f = 3
		case "reasoning_content":
			f = 4
		case "reasoning":
			f = 5
		case "tool_calls":
			f = 6
		case "tool_call_id":
			f = 7
		}
		if f < 0 {
			if jsonwire.MayFold(key, isMessageField) {
				r.Fail()
			}
			r.Skip()
			continue
		}
		if !seen.First(f) {
			r.Fail()
			return
		}
		switch f {
		case 0:
			r.OptString(&m.Role)
		case 1:
			m.Content = decodeContent(r)
		case 2:
			r.OptString(&m.Name)
		case 3:
			m.Refusal = r.StringPtr()
		case 4:
			r.OptString(&m.ReasoningContent)
		case 5:
			r.OptString(&m.Reasoning)
		case 6:
			m.ToolCalls = decodeToolCalls(r)
		case 7:
			r.OptString(&m.ToolCallID)
		}
	}
}

func isMessageField(k string) bool {
	switch k {
	case "role", "content", "name", "refusal", "reasoning_content", "reasoning", "tool_calls", "tool_call_id":
		return true
	}
	return false
}

// decodeContent reads null, a string or an array of parts (see Content.UnmarshalJSON).
func decodeContent(r *jsonwire.Reader) Content {
	switch r.Peek() {
	case 'n':
		r.Null()
		return Content{}
	case '"':
		s := r.String()
		return Content{Text: &s}
	case '[':
	default:
		r.Fail()
		return Content{}
	}
	r.Open('[')
	parts := []ContentPart{}
	for i := 0; r.More(']', i); i++ {
		parts = append(parts, ContentPart{})
		decodeContentPart(r, &parts[i])
	}
	return Content{Parts: parts}
}

func decodeContentPart(r *jsonwire.Reader, p *ContentPart) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "type" && seen.First(0):
			r.OptString(&p.Type)
		case k == "text" && seen.First(1):
			p.Text = r.StringPtr()
		case k == "refusal" && seen.First(2):
			p.Refusal = r.StringPtr()
		case k == "image_url" && seen.First(3):
			p.ImageURL = decodeImageURL(r)
		case jsonwire.MayFold(key, isContentPartField):
			r.Fail() // also duplicates, which MayFold reports as fields
		default:
			r.Skip()
		}
	}
}

func isContentPartField(k string) bool {
	return k == "type" || k == "text" || k == "refusal" || k == "image_url"
}

func decodeImageURL(r *jsonwire.Reader) *ImageURL {
	if r.Null() || !r.Open('{') {
		return nil
	}
	u := &ImageURL{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "url" && seen.First(0):
			r.OptString(&u.URL)
		case k == "detail" && seen.First(1):
			r.OptString(&u.Detail)
		case jsonwire.MayFold(key, func(k string) bool { return k == "url" || k == "detail" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return u
}

func decodeToolCalls(r *jsonwire.Reader) []ToolCall {
	if r.Null() || !r.Open('[') {
		return nil
	}
	calls := make([]ToolCall, 0, 2)
	for i := 0; r.More(']', i); i++ {
		calls = append(calls, ToolCall{})
		tc := &calls[i]
		if !r.Open('{') {
			return nil
		}
		var seen jsonwire.Seen
		for j := 0; r.More('}', j); j++ {
			key := r.Key()
			switch k := string(key); {
			case k == "id" && seen.First(0):
				r.OptString(&tc.ID)
			case k == "type" && seen.First(1):
				r.OptString(&tc.Type)
			case k == "function" && seen.First(2):
				decodeFunctionCall(r, &tc.Function)
			case jsonwire.MayFold(key, func(k string) bool { return k == "id" || k == "type" || k == "function" }):
				r.Fail()
			default:
				r.Skip()
			}
		}
	}
	return calls
}

func decodeFunctionCall(r *jsonwire.Reader, fc *FunctionCall) {
	if r.Null() || !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "name" && seen.First(0):
			r.OptString(&fc.Name)
		case k == "arguments" && seen.First(1):
			r.OptString(&fc.Arguments)
		case jsonwire.MayFold(key, func(k string) bool { return k == "name" || k == "arguments" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// decodeTools reads the tools array into the reused array *store.
func decodeTools(r *jsonwire.Reader, store *[]Tool) []Tool {
	if r.Null() || !r.Open('[') {
		return nil
	}
	tools := (*store)[:0]
	if tools == nil {
		tools = make([]Tool, 0, 4)
	}
	for i := 0; r.More(']', i); i++ {
		tools = append(tools, Tool{})
		t := &tools[i]
		if !r.Open('{') {
			return nil
		}
		var seen jsonwire.Seen
		for j := 0; r.More('}', j); j++ {
			key := r.Key()
			switch k := string(key); {
			case k == "type" && seen.First(0):
				r.OptString(&t.Type)
			case k == "function" && seen.First(1):
				decodeFunctionDef(r, &t.Function)
			case jsonwire.MayFold(key, func(k string) bool { return k == "type" || k == "function" }):
				r.Fail()
			default:
				r.Skip()
			}
		}
	}
	*store = tools
	return tools
}

func decodeFunctionDef(r *jsonwire.Reader, fd *FunctionDef) {
	if r.Null() || !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "name" && seen.First(0):
			r.OptString(&fd.Name)
		case k == "description" && seen.First(1):
			r.OptString(&fd.Description)
		case k == "parameters" && seen.First(2):
			fd.Parameters = bytes.Clone(r.Raw())
		case k == "strict" && seen.First(3):
			fd.Strict = r.BoolPtr()
		case jsonwire.MayFold(key, func(k string) bool {
			return k == "name" || k == "description" || k == "parameters" || k == "strict"
		}):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// decodeToolChoice reads the string or object form (see ToolChoice.UnmarshalJSON).
func decodeToolChoice(r *jsonwire.Reader) *ToolChoice {
	switch r.Peek() {
	case 'n':
		r.Null()
		return nil
	case '"':
		return &ToolChoice{Mode: r.String()}
	case '{':
	default:
		r.Fail()
		return nil
	}
	r.Open('{')
	tc := &ToolChoice{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "type" && seen.First(0):
			r.OptString(&tc.Type)
		case k == "function" && seen.First(1):
			tc.Function = decodeFunctionName(r)
		case jsonwire.MayFold(key, func(k string) bool { return k == "type" || k == "function" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return tc
}

func decodeFunctionName(r *jsonwire.Reader) *FunctionName {
	if r.Null() || !r.Open('{') {
		return nil
	}
	fn := &FunctionName{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "name" && seen.First(0):
			r.OptString(&fn.Name)
		case jsonwire.MayFold(key, func(k string) bool { return k == "name" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return fn
}

func decodeResponseFormat(r *jsonwire.Reader) *ResponseFormat {
	if r.Null() || !r.Open('{') {
		return nil
	}
	rf := &ResponseFormat{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "type" && seen.First(0):
			r.OptString(&rf.Type)
		case k == "json_schema" && seen.First(1):
			rf.JSONSchema = decodeJSONSchema(r)
		case jsonwire.MayFold(key, func(k string) bool { return k == "type" || k == "json_schema" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return rf
}

func decodeJSONSchema(r *jsonwire.Reader) *JSONSchema {
	if r.Null() || !r.Open('{') {
		return nil
	}
	js := &JSONSchema{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "name" && seen.First(0):
			r.OptString(&js.Name)
		case k == "description" && seen.First(1):
			r.OptString(&js.Description)
		case k == "schema" && seen.First(2):
			js.Schema = bytes.Clone(r.Raw())
		case k == "strict" && seen.First(3):
			js.Strict = r.BoolPtr()
		case jsonwire.MayFold(key, func(k string) bool {
			return k == "name" || k == "description" || k == "schema" || k == "strict"
		}):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return js
}

func decodeStreamOptions(r *jsonwire.Reader) *StreamOptions {
	if r.Null() || !r.Open('{') {
		return nil
	}
	so := &StreamOptions{}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "include_usage" && seen.First(0):
			if !r.Null() {
				so.IncludeUsage = r.Bool()
			}
		case jsonwire.MayFold(key, func(k string) bool { return k == "include_usage" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
	return so
}

// decodeStop reads a string or an array of strings (see StringList.UnmarshalJSON).
func decodeStop(r *jsonwire.Reader) StringList {
	switch r.Peek() {
	case 'n':
		r.Null()
		return nil
	case '"':
		return StringList{r.String()}
	}
	if !r.Open('[') {
		return nil
	}
	l := StringList{}
	for i := 0; r.More(']', i); i++ {
		l = append(l, r.String())
	}
	return l
}

// decodeStringMap reads an object of strings into a map; later duplicates win, as in
// encoding/json.
func decodeStringMap(r *jsonwire.Reader) map[string]string {
	if r.Null() || !r.Open('{') {
		return nil
	}
	m := make(map[string]string)
	for i := 0; r.More('}', i); i++ {
		k := string(r.Key())
		m[k] = r.String()
	}
	return m
}
