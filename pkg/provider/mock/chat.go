package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider/openai"
)

// Special prompts.
const (
	directiveError       = "mock:error"
	directiveSlow        = "mock:slow"
	directiveStreamError = "mock:stream-error"
)

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	body = withDeployment(r, body)
	req, err := openai.ParseChatRequest(body)
	if err != nil {
		writeCanonicalError(w, err)
		return
	}
	text := lastUserText(req)
	directive := strings.TrimSpace(text)
	if rest, ok := strings.CutPrefix(directive, directiveError); ok {
		status, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || status < 400 || status > 599 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "messages", "",
				"mock:error needs an HTTP status between 400 and 599", 0)
			return
		}
		statusError(w, status)
		return
	}
	if rest, ok := strings.CutPrefix(directive, directiveSlow); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "messages", "",
				"mock:slow needs a duration such as 300ms", 0)
			return
		}
		if sleep(r.Context(), d) != nil {
			return // the client went away
		}
	}
	streamError := directive == directiveStreamError
	if streamError && !req.Stream {
		statusError(w, http.StatusInternalServerError)
		return
	}
	resp := s.answer(req, text, hashOf(body))
	if !req.Stream {
		out, err := openai.EncodeChatResponse(resp)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "server_error", "", "", err.Error(), 0)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.stream(w, req, resp, streamError)
}

// toolToCall decides whether to answer with a tool call, and to which tool.
func toolToCall(req *canonical.Request, text string) (string, bool) {
	if len(req.Tools) == 0 {
		return "", false
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Mode {
		case canonical.ToolChoiceNone:
			return "", false
		case canonical.ToolChoiceNamed:
			return tc.Name, true
		case canonical.ToolChoiceRequired:
			return req.Tools[0].Name, true
		}
	}
	rest, ok := strings.CutPrefix(text, "call ")
	if !ok {
		return "", false
	}
	// "call get_weather …" picks that tool; anything else calls the first one.
	for _, t := range req.Tools {
		if rest == t.Name || strings.HasPrefix(rest, t.Name+" ") {
			return t.Name, true
		}
	}
	return req.Tools[0].Name, true
}

// answer builds the deterministic response: an echo of text (cut to max_tokens, by
// words) or a tool call, with usage from the real tokenizer.
func (s *server) answer(req *canonical.Request, text string, h uint64) *canonical.Response {
	c := s.opts.Counter
	resp := &canonical.Response{
		ID:      fmt.Sprintf("chatcmpl-mock-%016x", h),
		Model:   req.Model,
		Created: s.opts.Created,
	}
	msg := canonical.Message{Role: canonical.RoleAssistant}
	finish := canonical.FinishStop
	completion := 0
	if name, ok := toolToCall(req, text); ok {
		args, _ := json.Marshal(map[string]string{"text": text})
		msg.ToolCalls = []canonical.ToolCall{{ID: fmt.Sprintf("call_mock_%016x", h), Name: name, Arguments: string(args)}}
		finish = canonical.FinishToolCalls
		completion = c.CountText(req.Model, name) + c.CountText(req.Model, string(args))
	} else {
		echo := text
		completion = c.CountText(req.Model, echo)
		if req.MaxTokens > 0 && completion > req.MaxTokens {
			echo, completion = s.truncate(req.Model, echo, req.MaxTokens)
			finish = canonical.FinishLength
		}
		msg.Content = []canonical.Part{{Type: canonical.PartText, Text: echo}}
	}
	n := max(req.N, 1)
	for i := range n {
		resp.Choices = append(resp.Choices, canonical.Choice{Index: i, Message: msg, FinishReason: finish})
	}
	resp.Usage = canonical.Usage{InputTokens: c.EstimateRequest(req.Model, req), OutputTokens: completion * n}
	return resp
}

// truncate keeps the longest prefix of whole words within limit tokens.
func (s *server) truncate(model, text string, limit int) (string, int) {
	words := splitWords(text)
	out, n := "", 0
	for _, w := range words {
		m := s.opts.Counter.CountText(model, out+w)
		if m > limit {
			break
		}
		out, n = out+w, m
	}
	return out, n
}

// splitWords splits text before each space run, so the pieces concatenate back to
// text: "Hello big world" → "Hello", " big", " world".
func splitWords(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' && text[i-1] != ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// splitFragments cuts s into up to n roughly equal pieces (at least one), on byte
// boundaries that do not split UTF-8 sequences.
func splitFragments(s string, n int) []string {
	if len(s) <= n || n <= 1 {
		return []string{s}
	}
	size := (len(s) + n - 1) / n
	var out []string
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && s[end]&0xC0 == 0x80 {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// stream writes resp as chat.completion.chunk events: the echo word by word, tool
// arguments in four fragments, then usage (when asked) and [DONE].
func (s *server) stream(w http.ResponseWriter, req *canonical.Request, resp *canonical.Response, streamError bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := openai.NewChatStreamEncoder(&canonical.Request{Model: req.Model, IncludeUsage: req.IncludeUsage})
	var buf []byte
	emit := func(ev canonical.StreamEvent) bool {
		buf = enc.Encode(buf[:0], &ev)
		if len(buf) == 0 {
			return true
		}
		if _, err := w.Write(buf); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !emit(canonical.StreamEvent{Type: canonical.EventStart, ID: resp.ID, Model: resp.Model, Created: resp.Created}) {
		return
	}
	if streamError {
		emit(canonical.StreamEvent{Type: canonical.EventTextDelta, Text: "partial"})
		emit(canonical.StreamEvent{Type: canonical.EventError, Err: &canonical.Error{
			Status: http.StatusInternalServerError, Kind: canonical.ErrInternal,
			Message: "mock stream error: the server had an error while processing your request",
		}})
		return
	}
	for _, c := range resp.Choices {
		for _, p := range c.Message.Content {
			for _, word := range splitWords(p.Text) {
				if !emit(canonical.StreamEvent{Type: canonical.EventTextDelta, Index: c.Index, Text: word}) {
					return
				}
			}
		}
		for ti, tc := range c.Message.ToolCalls {
			if !emit(canonical.StreamEvent{Type: canonical.EventToolCallStart, Index: c.Index, ToolIndex: ti,
				ToolCall: canonical.ToolCall{ID: tc.ID, Name: tc.Name}}) {
				return
			}
			for _, frag := range splitFragments(tc.Arguments, 4) {
				if !emit(canonical.StreamEvent{Type: canonical.EventToolCallDelta, Index: c.Index, ToolIndex: ti,
					ToolCall: canonical.ToolCall{ID: tc.ID, Arguments: frag}}) {
					return
				}
			}
		}
		if !emit(canonical.StreamEvent{Type: canonical.EventFinish, Index: c.Index, FinishReason: c.FinishReason}) {
			return
		}
	}
	if emit(canonical.StreamEvent{Type: canonical.EventUsage, Usage: resp.Usage}) {
		emit(canonical.StreamEvent{Type: canonical.EventDone})
	}
}
