package openai

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func invalid(param, format string, args ...any) *canonical.Error {
	e := canonical.NewError(canonical.ErrInvalidRequest, format, args...)
	e.Param = param
	return e
}

// ParseChatRequest decodes an OpenAI Chat Completions body into canonical form.
// Errors are *canonical.Error with status 400 and, where known, the offending param.
func ParseChatRequest(body []byte) (*canonical.Request, error) {
	var w ChatRequest
	s := getWireSlices()
	defer putWireSlices(s)
	extra, ok := decodeChatRequest(body, &w, s)
	if !ok {
		return parseChatRequestReflect(body)
	}
	req, err := chatRequestToCanonical(&w)
	if err != nil {
		return nil, err
	}
	req.Extra = extra
	return req, nil
}

// parseChatRequestReflect is ParseChatRequest through encoding/json, for the bodies
// the fast path leaves alone (malformed ones included): it decides their result and
// error text.
func parseChatRequestReflect(body []byte) (*canonical.Request, error) {
	var w ChatRequest
	if err := json.Unmarshal(body, &w); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, invalid(jsonErrorParam(err), "Invalid request body: %v", err)
		}
		return nil, invalid("", "We could not parse the JSON body of your request: %v", err)
	}
	if firstByte(body) != '{' {
		return nil, invalid("", "the request body must be a JSON object")
	}
	req, err := chatRequestToCanonical(&w)
	if err != nil {
		return nil, err
	}
	// The body is valid JSON (Unmarshal checked it); collect the members ChatRequest
	// does not map with the scanner instead of decoding the body a second time.
	err = topLevelMembers(body, func(key string, value []byte) {
		if isChatRequestField(key) {
			return
		}
		if req.Extra == nil {
			req.Extra = make(map[string]json.RawMessage)
		}
		req.Extra[key] = append(json.RawMessage(nil), value...)
	})
	if err != nil {
		return nil, invalid("", "We could not parse the JSON body of your request: %v", err)
	}
	return req, nil
}

// jsonErrorParam names the field of a json.UnmarshalTypeError, if any.
func jsonErrorParam(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return te.Field
	}
	return ""
}

func chatRequestToCanonical(w *ChatRequest) (*canonical.Request, error) {
	if w.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	if len(w.Messages) == 0 {
		return nil, invalid("messages", "'messages' must contain at least one message")
	}
	req := &canonical.Request{
		Model:             w.Model,
		ParallelToolCalls: w.ParallelToolCalls,
		Temperature:       w.Temperature,
		TopP:              w.TopP,
		TopK:              w.TopK,
		PresencePenalty:   w.PresencePenalty,
		FrequencyPenalty:  w.FrequencyPenalty,
		Stop:              []string(w.Stop),
		Seed:              w.Seed,
		User:              w.User,
		Stream:            w.Stream,
		Metadata:          w.Metadata,
	}
	if w.N != nil {
		if *w.N < 1 {
			return nil, invalid("n", "%d is less than the minimum of 1 - 'n'", *w.N)
		}
		req.N = *w.N
	}
	switch {
	case w.MaxCompletionTokens != nil:
		req.MaxTokens = *w.MaxCompletionTokens
	case w.MaxTokens != nil:
		req.MaxTokens = *w.MaxTokens
	}
	if req.MaxTokens < 0 {
		return nil, invalid("max_tokens", "max_tokens must be positive")
	}
	if w.StreamOptions != nil {
		req.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	if w.ReasoningEffort != "" {
		req.Reasoning = &canonical.Reasoning{Effort: w.ReasoningEffort}
	}
	req.Messages = make([]canonical.Message, 0, len(w.Messages))
	slab := newPartSlab(w.Messages)
	for i := range w.Messages {
		if err := addMessage(req, &w.Messages[i], i, &slab); err != nil {
			return nil, err
		}
	}
	if len(req.Messages) == 0 {
		req.Messages = nil // as when appended to a nil slice (system messages only)
	}
	if len(w.Tools) > 0 {
		req.Tools = make([]canonical.Tool, 0, len(w.Tools))
	}
	for i, t := range w.Tools {
		if t.Type != "function" && t.Type != "" {
			return nil, invalid(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported; only function tools can be routed", t.Type)
		}
		if t.Function.Name == "" {
			return nil, invalid(fmt.Sprintf("tools[%d].function.name", i), "tool function name is required")
		}
		req.Tools = append(req.Tools, canonical.Tool{
			Name:        t.Function.Name,
			Description: t.Function.Description,
			Parameters:  t.Function.Parameters,
			Strict:      t.Function.Strict != nil && *t.Function.Strict,
		})
	}
	if w.ToolChoice != nil {
		tc, err := toolChoiceToCanonical(w.ToolChoice)
		if err != nil {
			return nil, err
		}
		req.ToolChoice = tc
	}
	if rf := w.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "":
		case "json_object":
			req.ResponseFormat = &canonical.ResponseFormat{Type: "json_object"}
		case "json_schema":
			if rf.JSONSchema == nil {
				return nil, invalid("response_format.json_schema", "response_format of type json_schema requires json_schema")
			}
			req.ResponseFormat = &canonical.ResponseFormat{
				Type:   "json_schema",
				Name:   rf.JSONSchema.Name,
				Schema: rf.JSONSchema.Schema,
				Strict: rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict,
			}
		default:
			return nil, invalid("response_format.type", "response_format type %q is not supported", rf.Type)
		}
	}
	return req, nil
}

func toolChoiceToCanonical(tc *ToolChoice) (*canonical.ToolChoice, error) {
	switch tc.Mode {
	case "auto":
		return &canonical.ToolChoice{Mode: canonical.ToolChoiceAuto}, nil
	case "none":
		return &canonical.ToolChoice{Mode: canonical.ToolChoiceNone}, nil
	case "required":
		return &canonical.ToolChoice{Mode: canonical.ToolChoiceRequired}, nil
	case "":
	default:
		return nil, invalid("tool_choice", "tool_choice %q is not one of none, auto, required", tc.Mode)
	}
	if tc.Type == "function" && tc.Function != nil && tc.Function.Name != "" {
		return &canonical.ToolChoice{Mode: canonical.ToolChoiceNamed, Name: tc.Function.Name}, nil
	}
	return nil, invalid("tool_choice", "tool_choice of type %q is not supported", tc.Type)
}

// partSlab hands out the messages' part slices from one allocation.
type partSlab []canonical.Part

// newPartSlab sizes a slab for the content of msgs.
func newPartSlab(msgs []Message) partSlab {
	n := 0
	for i := range msgs {
		if msgs[i].Content.Text != nil {
			n++
		}
		n += len(msgs[i].Content.Parts)
	}
	return make(partSlab, 0, n)
}

// take returns an empty slice with room for n parts.
func (s *partSlab) take(n int) []canonical.Part {
	l := len(*s)
	if l+n > cap(*s) {
		return make([]canonical.Part, 0, n)
	}
	*s = (*s)[:l+n]
	return (*s)[l : l : l+n]
}

// textParts converts the content of message i.
func textParts(c Content, i int, allowImages bool, slab *partSlab) ([]canonical.Part, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return append(slab.take(1), canonical.Part{Type: canonical.PartText, Text: *c.Text}), nil
	}
	if len(c.Parts) == 0 {
		return nil, nil
	}
	parts := slab.take(len(c.Parts))
	for j, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, invalid(partParam(i, j)+".text", "text content part requires text")
			}
			parts = append(parts, canonical.Part{Type: canonical.PartText, Text: *p.Text})
		case "refusal":
			if p.Refusal != nil {
				parts = append(parts, canonical.Part{Type: canonical.PartText, Text: *p.Refusal})
			}
		case "image_url":
			if !allowImages {
				return nil, invalid(partParam(i, j)+".type", "image content is only allowed in user messages")
			}
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(partParam(i, j)+".image_url", "image_url content part requires image_url.url")
			}
			img, err := parseImageURL(p.ImageURL)
			if err != nil {
				return nil, invalid(partParam(i, j)+".image_url.url", "%v", err)
			}
			parts = append(parts, canonical.Part{Type: canonical.PartImage, Image: img})
		default:
			return nil, invalid(partParam(i, j)+".type", "content part type %q is not supported by the gateway", p.Type)
		}
	}
	return parts, nil
}

// parseImageURL turns an http(s) or data: URL into a canonical image. Data URLs
// become MediaType + base64 Data so that providers which only accept inline bytes
// (Anthropic, Bedrock) can be served.
func parseImageURL(u *ImageURL) (*canonical.Image, error) {
	if !strings.HasPrefix(u.URL, "data:") {
		return &canonical.Image{URL: u.URL, Detail: u.Detail}, nil
	}
	meta, data, ok := strings.Cut(u.URL[len("data:"):], ",")
	if !ok {
		return nil, fmt.Errorf("malformed data URL: no comma")
	}
	isBase64 := strings.HasSuffix(meta, ";base64")
	meta = strings.TrimSuffix(meta, ";base64")
	mediaType, _, _ := strings.Cut(meta, ";")
	if mediaType == "" {
		mediaType = "text/plain"
	}
	if !isBase64 {
		// Percent-encoded data (e.g. inline SVG): normalise to base64.
		plain, err := url.PathUnescape(data)
		if err != nil {
			return nil, fmt.Errorf("malformed data URL: %w", err)
		}
		data = base64.StdEncoding.EncodeToString([]byte(plain))
	}
	return &canonical.Image{MediaType: mediaType, Data: data, Detail: u.Detail}, nil
}

// msgParam names message i for error params; it is built only when there is an error.
func msgParam(i int) string { return fmt.Sprintf("messages[%d]", i) }

// partParam names part j of message i's content.
func partParam(i, j int) string { return fmt.Sprintf("messages[%d].content[%d]", i, j) }

func addMessage(req *canonical.Request, m *Message, i int, slab *partSlab) error {
	if m.Content.Text == nil && m.Content.Parts == nil && m.Role != "assistant" && m.Role != "" {
		// Only assistant turns (carrying tool calls) may have null content.
		return invalid(msgParam(i)+".content", "Invalid type for 'messages[%d].content': expected a string or an array of content parts, but got null instead", i)
	}
	switch m.Role {
	case "system", "developer":
		parts, err := textParts(m.Content, i, false, slab)
		if err != nil {
			return err
		}
		if req.System == nil {
			req.System = parts // capped: a later append copies
		} else {
			req.System = append(req.System, parts...)
		}
	case "user":
		parts, err := textParts(m.Content, i, true, slab)
		if err != nil {
			return err
		}
		req.Messages = append(req.Messages, canonical.Message{Role: canonical.RoleUser, Name: m.Name, Content: parts})
	case "assistant":
		parts, err := textParts(m.Content, i, false, slab)
		if err != nil {
			return err
		}
		if m.Refusal != nil && *m.Refusal != "" && len(parts) == 0 {
			parts = []canonical.Part{{Type: canonical.PartText, Text: *m.Refusal}}
		}
		msg := canonical.Message{Role: canonical.RoleAssistant, Name: m.Name, Content: parts}
		for j, tc := range m.ToolCalls {
			if tc.Function.Name == "" {
				return invalid(fmt.Sprintf("%s.tool_calls[%d].function.name", msgParam(i), j), "tool call function name is required")
			}
			msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		req.Messages = append(req.Messages, msg)
	case "tool":
		if m.ToolCallID == "" {
			return invalid(msgParam(i)+".tool_call_id", "tool messages require tool_call_id")
		}
		parts, err := textParts(m.Content, i, false, slab)
		if err != nil {
			return err
		}
		req.Messages = append(req.Messages, canonical.Message{Role: canonical.RoleTool, ToolCallID: m.ToolCallID, Content: parts})
	case "":
		return invalid(msgParam(i)+".role", "each message requires a role")
	default:
		return invalid(msgParam(i)+".role", "message role %q is not supported", m.Role)
	}
	return nil
}

// Dialect describes how an OpenAI-compatible server differs from OpenAI.
type Dialect struct {
	// MaxTokensField is the field that carries canonical MaxTokens: "max_tokens" (the
	// default, understood by every compatible server) or "max_completion_tokens"
	// (required by OpenAI's reasoning models).
	MaxTokensField string
	// TopK is true when the server accepts the non-OpenAI top_k parameter; OpenAI
	// rejects unknown parameters, so top_k is dropped otherwise.
	TopK bool
}

// EncodeChatRequest renders req as an OpenAI Chat Completions body for model. When
// req.Stream is set it always asks for usage (stream_options.include_usage), because
// the gateway accounts tokens whatever the caller asked for. Extra fields that are
// OpenAI parameters (see passthroughExtra) are merged in after the typed fields,
// which win on conflict.
func EncodeChatRequest(req *canonical.Request, model string, d Dialect) ([]byte, error) {
	if model == "" {
		model = req.Model
	}
	w := ChatRequest{
		Model:             model,
		ParallelToolCalls: req.ParallelToolCalls,
		Temperature:       req.Temperature,
		TopP:              req.TopP,
		PresencePenalty:   req.PresencePenalty,
		FrequencyPenalty:  req.FrequencyPenalty,
		Stop:              StringList(req.Stop),
		Seed:              req.Seed,
		User:              req.User,
		Stream:            req.Stream,
	}
	if d.TopK {
		w.TopK = req.TopK
	}
	if req.Stream {
		w.StreamOptions = &StreamOptions{IncludeUsage: true}
	}
	if req.MaxTokens > 0 {
		mt := req.MaxTokens
		if d.MaxTokensField == "max_completion_tokens" {
			w.MaxCompletionTokens = &mt
		} else {
			w.MaxTokens = &mt
		}
	}
	if req.N > 1 {
		n := req.N
		w.N = &n
	}
	if r := req.Reasoning; r != nil && !r.Disabled {
		w.ReasoningEffort = r.Effort
		if w.ReasoningEffort == "" && r.BudgetTokens > 0 {
			w.ReasoningEffort = effortForBudget(r.BudgetTokens)
		}
	}
	if len(req.Metadata) > 0 {
		// OpenAI only accepts metadata on stored completions; otherwise keep the one
		// entry every provider has a place for (Anthropic metadata.user_id → user).
		if _, stored := req.Extra["store"]; stored {
			w.Metadata = req.Metadata
		} else if uid := req.Metadata["user_id"]; uid != "" && w.User == "" {
			w.User = uid
		}
	}
	msgs, err := messagesFromCanonical(req)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, invalid("messages", "the request has no messages to send")
	}
	w.Messages = msgs
	for _, t := range req.Tools {
		ft := Tool{Type: "function", Function: FunctionDef{Name: t.Name, Description: t.Description, Parameters: t.Parameters}}
		if t.Strict {
			ft.Function.Strict = boolPtr(true)
		}
		w.Tools = append(w.Tools, ft)
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Mode {
		case canonical.ToolChoiceNamed:
			w.ToolChoice = &ToolChoice{Type: "function", Function: &FunctionName{Name: tc.Name}}
		case canonical.ToolChoiceAuto, canonical.ToolChoiceNone, canonical.ToolChoiceRequired:
			w.ToolChoice = &ToolChoice{Mode: string(tc.Mode)}
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			w.ResponseFormat = &ResponseFormat{Type: "json_object"}
		case "json_schema":
			name := rf.Name
			if name == "" {
				name = "response" // OpenAI requires a name
			}
			js := &JSONSchema{Name: name, Schema: rf.Schema}
			if rf.Strict {
				js.Strict = boolPtr(true)
			}
			w.ResponseFormat = &ResponseFormat{Type: "json_schema", JSONSchema: js}
		}
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode openai chat request: %w", err)
	}
	return mergeExtra(body, req.Extra), nil
}

// effortForBudget maps an explicit thinking budget (Anthropic/Gemini style) to the
// nearest OpenAI reasoning effort.
func effortForBudget(budget int) string {
	switch {
	case budget <= 2048:
		return "low"
	case budget <= 16384:
		return "medium"
	default:
		return "high"
	}
}

func boolPtr(b bool) *bool { return &b }

// passthroughExtra reports whether an Extra field may be sent to an OpenAI-family
// server. Extra may come from another input schema (Anthropic's thinking,
// output_config, container, …), which OpenAI rejects as unrecognized arguments, so
// only Chat Completions parameters the canonical form does not model pass. Callers
// that speak OpenAI to an OpenAI-family backend take the passthrough path and keep
// every field anyway.
func passthroughExtra(k string, v json.RawMessage) bool {
	switch k {
	case "logprobs", "top_logprobs", "logit_bias", "store", "modalities", "audio",
		"prediction", "web_search_options", "verbosity", "prompt_cache_key",
		"prompt_cache_retention", "safety_identifier", "functions", "function_call":
		return true
	case "service_tier":
		// Anthropic has a service_tier too, with other values ("standard_only").
		var tier string
		if json.Unmarshal(v, &tier) != nil {
			return false
		}
		switch tier {
		case "auto", "default", "flex", "scale", "priority":
			return true
		}
	}
	return false
}

// mergeExtra appends extra's OpenAI parameters to the JSON object body, in sorted
// order so output is deterministic.
func mergeExtra(body []byte, extra map[string]json.RawMessage) []byte {
	if len(extra) == 0 {
		return body
	}
	keys := make([]string, 0, len(extra))
	for k, v := range extra {
		if !isChatRequestField(k) && passthroughExtra(k, v) && json.Valid(v) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return body
	}
	sort.Strings(keys)
	out := make([]byte, 0, len(body)+64*len(keys))
	out = append(out, body[:len(body)-1]...) // drop the closing brace
	for _, k := range keys {
		out = append(out, ',')
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = append(out, extra[k]...)
	}
	return append(out, '}')
}

func messagesFromCanonical(req *canonical.Request) ([]Message, error) {
	msgs := make([]Message, 0, len(req.Messages)+1)
	if len(req.System) > 0 {
		// One system message: every OpenAI-compatible server accepts a string, not all
		// accept an array here.
		var sb strings.Builder
		for i, p := range req.System {
			if p.Type != canonical.PartText {
				continue
			}
			if i > 0 && sb.Len() > 0 {
				sb.WriteString("\n\n")
			}
			sb.WriteString(p.Text)
		}
		s := sb.String()
		msgs = append(msgs, Message{Role: "system", Content: Content{Text: &s}})
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case canonical.RoleUser:
			var rest []canonical.Part
			for _, p := range m.Content {
				if p.Type != canonical.PartToolResult {
					rest = append(rest, p)
					continue
				}
				if p.ToolResult == nil {
					continue
				}
				// Anthropic-style tool results inside a user turn become OpenAI tool
				// messages, which must directly follow the assistant's tool calls.
				c, err := toolResultContent(p.ToolResult.Content, i)
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, Message{Role: "tool", ToolCallID: p.ToolResult.ToolCallID, Content: c})
			}
			if len(rest) > 0 || len(m.Content) == 0 {
				c, err := userContent(rest)
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, Message{Role: "user", Name: m.Name, Content: c})
			}
		case canonical.RoleAssistant:
			out := Message{Role: "assistant", Name: m.Name}
			if s, ok := joinText(m.Content); ok || len(m.ToolCalls) == 0 {
				out.Content = Content{Text: &s}
			}
			for _, tc := range m.ToolCalls {
				args := tc.Arguments
				if args == "" {
					args = "{}"
				}
				out.ToolCalls = append(out.ToolCalls, ToolCall{ID: tc.ID, Type: "function", Function: FunctionCall{Name: tc.Name, Arguments: args}})
			}
			msgs = append(msgs, out)
		case canonical.RoleTool:
			c, err := toolResultContent(m.Content, i)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, Message{Role: "tool", ToolCallID: m.ToolCallID, Content: c})
		case canonical.RoleSystem:
			s, _ := joinText(m.Content)
			msgs = append(msgs, Message{Role: "system", Content: Content{Text: &s}})
		default:
			return nil, invalid(fmt.Sprintf("messages[%d].role", i), "role %q cannot be sent to an OpenAI backend", m.Role)
		}
	}
	return msgs, nil
}

// joinText concatenates the text parts (thinking is not sent back to OpenAI-family
// servers; DeepSeek rejects it) and reports whether there were any.
func joinText(parts []canonical.Part) (string, bool) {
	var sb strings.Builder
	found := false
	for _, p := range parts {
		if p.Type == canonical.PartText {
			sb.WriteString(p.Text)
			found = true
		}
	}
	return sb.String(), found
}

func toolResultContent(parts []canonical.Part, i int) (Content, error) {
	for _, p := range parts {
		if p.Type == canonical.PartImage {
			return Content{}, invalid(fmt.Sprintf("messages[%d]", i), "images inside tool results cannot be sent to an OpenAI backend")
		}
	}
	s, _ := joinText(parts)
	return Content{Text: &s}, nil
}

func userContent(parts []canonical.Part) (Content, error) {
	if len(parts) == 1 && parts[0].Type == canonical.PartText {
		return Content{Text: &parts[0].Text}, nil
	}
	out := make([]ContentPart, 0, len(parts))
	for _, p := range parts {
		switch p.Type {
		case canonical.PartText:
			t := p.Text
			out = append(out, ContentPart{Type: "text", Text: &t})
		case canonical.PartImage:
			if p.Image == nil {
				continue
			}
			u := p.Image.URL
			if u == "" {
				u = "data:" + p.Image.MediaType + ";base64," + p.Image.Data
			}
			out = append(out, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: u, Detail: p.Image.Detail}})
		}
	}
	if len(out) == 0 {
		empty := ""
		return Content{Text: &empty}, nil
	}
	return Content{Parts: out}, nil
}
