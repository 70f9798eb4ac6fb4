package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Frontend is the Anthropic Messages input schema (POST /v1/messages). It implements
// provider.Frontend. The zero value is ready to use.
type Frontend struct{}

// NewFrontend returns the Anthropic Messages frontend.
func NewFrontend() *Frontend { return &Frontend{} }

// Schema implements provider.Frontend.
func (*Frontend) Schema() provider.Schema { return provider.SchemaAnthropic }

// inbound holds the request fields the frontend maps; everything else goes to Extra.
type inbound struct {
	Model         string                     `json:"model"`
	MaxTokens     *int                       `json:"max_tokens"`
	System        Content                    `json:"system"`
	Messages      []Message                  `json:"messages"`
	Tools         []json.RawMessage          `json:"tools"`
	ToolChoice    *ToolChoice                `json:"tool_choice"`
	Thinking      *Thinking                  `json:"thinking"`
	Temperature   *float64                   `json:"temperature"`
	TopP          *float64                   `json:"top_p"`
	TopK          *int                       `json:"top_k"`
	StopSequences []string                   `json:"stop_sequences"`
	Stream        bool                       `json:"stream"`
	Metadata      map[string]any             `json:"metadata"`
	OutputConfig  map[string]json.RawMessage `json:"-"`
}

// known lists the top-level fields inbound maps.
func knownField(k string) bool {
	switch k {
	case "model", "max_tokens", "system", "messages", "tools", "tool_choice", "thinking", "temperature",
		"top_p", "top_k", "stop_sequences", "stream", "metadata", "output_config":
		return true
	}
	return false
}

// ParseChatRequest implements provider.Frontend.
func (f *Frontend) ParseChatRequest(body []byte) (*canonical.Request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, badRequest("", "request body is not a JSON object: %v", err)
	}
	var in inbound
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("", "invalid request: %v", err)
	}
	if raw, ok := fields["output_config"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in.OutputConfig); err != nil {
			return nil, badRequest("output_config", "output_config must be an object")
		}
	}
	if in.Model == "" {
		return nil, badRequest("model", "model: field required")
	}
	if len(in.Messages) == 0 {
		return nil, badRequest("messages", "messages: at least one message is required")
	}
	req := &canonical.Request{
		Model:       in.Model,
		Temperature: in.Temperature,
		TopP:        in.TopP,
		TopK:        in.TopK,
		Stop:        in.StopSequences,
		Stream:      in.Stream,
		// Anthropic streams always report usage; the caller expects it.
		IncludeUsage: in.Stream,
	}
	if in.MaxTokens != nil {
		if *in.MaxTokens < 0 {
			return nil, badRequest("max_tokens", "max_tokens must be non-negative")
		}
		req.MaxTokens = *in.MaxTokens
	}
	for _, b := range in.System {
		if b.Type == "text" {
			req.System = append(req.System, canonical.Part{Type: canonical.PartText, Text: b.Text, CacheControl: toCanonicalCache(b.CacheControl)})
		}
	}
	for i, m := range in.Messages {
		msgs, err := parseMessage(i, m)
		if err != nil {
			return nil, err
		}
		req.Messages = append(req.Messages, msgs...)
	}
	if err := parseTools(req, in.Tools); err != nil {
		return nil, err
	}
	if tc := in.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			req.ToolChoice = &canonical.ToolChoice{Mode: canonical.ToolChoiceAuto}
		case "any":
			req.ToolChoice = &canonical.ToolChoice{Mode: canonical.ToolChoiceRequired}
		case "tool":
			if tc.Name == "" {
				return nil, badRequest("tool_choice.name", "tool_choice of type tool needs a name")
			}
			req.ToolChoice = &canonical.ToolChoice{Mode: canonical.ToolChoiceNamed, Name: tc.Name}
		case "none":
			req.ToolChoice = &canonical.ToolChoice{Mode: canonical.ToolChoiceNone}
		default:
			return nil, badRequest("tool_choice.type", "unknown tool_choice type %q", tc.Type)
		}
		if tc.DisableParallelToolUse {
			no := false
			req.ParallelToolCalls = &no
		}
	}
	if th := in.Thinking; th != nil {
		switch th.Type {
		case "enabled":
			req.Reasoning = &canonical.Reasoning{BudgetTokens: th.BudgetTokens}
		case "disabled":
			req.Reasoning = &canonical.Reasoning{Disabled: true}
		default:
			// adaptive (and future modes): other backends get a medium effort, an
			// Anthropic backend gets the caller's config verbatim via Extra.
			req.Reasoning = &canonical.Reasoning{Effort: "medium"}
			setExtra(req, "thinking", fields["thinking"])
		}
	}
	if uid, ok := in.Metadata["user_id"].(string); ok && uid != "" {
		req.User = uid
		req.Metadata = map[string]string{"user_id": uid}
	}
	if err := parseOutputConfig(req, in.OutputConfig); err != nil {
		return nil, err
	}
	for k, v := range fields {
		if !knownField(k) {
			setExtra(req, k, v)
		}
	}
	return req, nil
}

func setExtra(req *canonical.Request, k string, v json.RawMessage) {
	if req.Extra == nil {
		req.Extra = map[string]json.RawMessage{}
	}
	req.Extra[k] = v
}

// parseOutputConfig maps output_config.format to ResponseFormat and keeps the other
// keys (effort) for Anthropic backends.
func parseOutputConfig(req *canonical.Request, oc map[string]json.RawMessage) error {
	if len(oc) == 0 {
		return nil
	}
	rest := map[string]json.RawMessage{}
	for k, v := range oc {
		if k != "format" {
			rest[k] = v
			continue
		}
		var of OutputFormat
		if err := json.Unmarshal(v, &of); err != nil || of.Type != "json_schema" {
			return badRequest("output_config.format", "output_config.format must be {\"type\":\"json_schema\",\"schema\":{…}}")
		}
		req.ResponseFormat = &canonical.ResponseFormat{Type: "json_schema", Name: "output", Schema: of.Schema, Strict: true}
	}
	if len(rest) > 0 {
		raw, err := json.Marshal(rest)
		if err == nil {
			setExtra(req, "output_config", raw)
		}
	}
	return nil
}

// parseTools maps client tools; server tools (web_search_…, bash_…) are kept raw in
// Extra["tools"] for Anthropic backends.
func parseTools(req *canonical.Request, tools []json.RawMessage) error {
	var server []json.RawMessage
	for i, raw := range tools {
		var t struct {
			Tool
			Strict bool `json:"strict"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return badRequest(fmt.Sprintf("tools.%d", i), "invalid tool: %v", err)
		}
		if t.Type != "" && t.Type != "custom" {
			server = append(server, raw)
			continue
		}
		if t.Name == "" {
			return badRequest(fmt.Sprintf("tools.%d.name", i), "tool name is required")
		}
		req.Tools = append(req.Tools, canonical.Tool{
			Name: t.Name, Description: t.Description, Parameters: t.InputSchema,
			Strict: t.Strict, CacheControl: toCanonicalCache(t.CacheControl),
		})
	}
	if len(server) > 0 {
		raw, err := json.Marshal(server)
		if err == nil {
			setExtra(req, "tools", raw)
		}
	}
	return nil
}

// parseMessage converts one Messages turn. A user turn's tool_result blocks become
// RoleTool messages (placed first, as the API orders them), followed by a user message
// with the remaining content.
func parseMessage(i int, m Message) ([]canonical.Message, error) {
	param := func(j int) string { return fmt.Sprintf("messages.%d.content.%d", i, j) }
	switch m.Role {
	case "user":
		var tools []canonical.Message
		user := canonical.Message{Role: canonical.RoleUser}
		for j, b := range m.Content {
			if b.Type == "tool_result" {
				if b.ToolUseID == "" {
					return nil, badRequest(param(j)+".tool_use_id", "tool_result needs tool_use_id")
				}
				tm := canonical.Message{Role: canonical.RoleTool, ToolCallID: b.ToolUseID}
				if b.Content != nil {
					for _, c := range *b.Content {
						if p, ok := inputPart(c); ok {
							tm.Content = append(tm.Content, p)
						}
					}
				}
				if cc := toCanonicalCache(b.CacheControl); cc != nil {
					if len(tm.Content) == 0 {
						tm.Content = append(tm.Content, canonical.Part{Type: canonical.PartText})
					}
					tm.Content[len(tm.Content)-1].CacheControl = cc
				}
				tools = append(tools, tm)
				continue
			}
			if p, ok := inputPart(b); ok {
				user.Content = append(user.Content, p)
			}
		}
		if len(user.Content) > 0 || len(tools) == 0 {
			tools = append(tools, user)
		}
		return tools, nil
	case "assistant":
		msg := canonical.Message{Role: canonical.RoleAssistant}
		for j, b := range m.Content {
			switch b.Type {
			case "text":
				msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: b.Text, CacheControl: toCanonicalCache(b.CacheControl)})
			case "thinking":
				msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: b.Thinking, Signature: b.Signature})
			case "redacted_thinking":
				msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartRedactedThinking, Data: b.Data})
			case "tool_use":
				if b.ID == "" || b.Name == "" {
					return nil, badRequest(param(j), "tool_use needs id and name")
				}
				args := "{}"
				if len(bytes.TrimSpace(b.Input)) > 0 {
					c, err := compactObject(b.Input)
					if err != nil {
						return nil, badRequest(param(j)+".input", "tool_use input must be an object")
					}
					args = string(c)
				}
				msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: b.ID, Name: b.Name, Arguments: args})
			}
		}
		return []canonical.Message{msg}, nil
	default:
		return nil, badRequest(fmt.Sprintf("messages.%d.role", i), "unexpected role %q: expected user or assistant", m.Role)
	}
}

// inputPart converts a user-side block (text, image, document) to a canonical part.
func inputPart(b ContentBlock) (canonical.Part, bool) {
	cc := toCanonicalCache(b.CacheControl)
	switch b.Type {
	case "text":
		return canonical.Part{Type: canonical.PartText, Text: b.Text, CacheControl: cc}, true
	case "image", "document":
		if b.Source == nil {
			return canonical.Part{}, false
		}
		switch b.Source.Type {
		case "base64":
			return canonical.Part{Type: canonical.PartImage, CacheControl: cc,
				Image: &canonical.Image{MediaType: b.Source.MediaType, Data: b.Source.Data}}, true
		case "url":
			img := &canonical.Image{URL: b.Source.URL}
			if b.Type == "document" {
				img.MediaType = "application/pdf"
			}
			return canonical.Part{Type: canonical.PartImage, Image: img, CacheControl: cc}, true
		case "text":
			return canonical.Part{Type: canonical.PartText, Text: b.Source.Data, CacheControl: cc}, true
		}
	}
	// file sources, search results and other blocks have no canonical form.
	return canonical.Part{}, false
}

func toCanonicalCache(c *CacheControl) *canonical.CacheControl {
	if c == nil {
		return nil
	}
	return &canonical.CacheControl{Type: c.Type, TTL: c.TTL}
}

// EncodeChatResponse implements provider.Frontend: choice 0 as an Anthropic message.
func (f *Frontend) EncodeChatResponse(resp *canonical.Response) ([]byte, error) {
	out := MessagesResponse{
		ID:      resp.ID,
		Type:    "message",
		Role:    "assistant",
		Model:   resp.Model,
		Content: []ContentBlock{},
		Usage:   fromCanonicalUsage(resp.Usage),
	}
	if out.ID == "" {
		out.ID = "msg_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	var finish canonical.FinishReason
	if len(resp.Choices) > 0 {
		ch := resp.Choices[0]
		finish = ch.FinishReason
		for _, p := range ch.Message.Content {
			switch p.Type {
			case canonical.PartText:
				if p.Text != "" {
					out.Content = append(out.Content, ContentBlock{Type: "text", Text: p.Text})
				}
			case canonical.PartThinking:
				out.Content = append(out.Content, ContentBlock{Type: "thinking", Thinking: p.Text, Signature: p.Signature})
			case canonical.PartRedactedThinking:
				out.Content = append(out.Content, ContentBlock{Type: "redacted_thinking", Data: p.Data})
			}
		}
		for _, tc := range ch.Message.ToolCalls {
			out.Content = append(out.Content, ContentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: toolUseInput(tc.Arguments)})
		}
	}
	stop := stopReason(finish, resp.ProviderFinishReason, resp.StopSequence)
	out.StopReason = &stop
	if resp.StopSequence != "" && stop == "stop_sequence" {
		seq := resp.StopSequence
		out.StopSequence = &seq
	}
	return json.Marshal(out)
}

// toolUseInput renders arguments as the input object. Arguments another model left as
// invalid JSON are kept, wrapped, rather than lost.
func toolUseInput(args string) json.RawMessage {
	if c, err := toolInput(args); err == nil {
		return c
	}
	raw, _ := json.Marshal(map[string]string{"_raw_arguments": args})
	return raw
}

// EncodeError implements provider.Frontend.
func (f *Frontend) EncodeError(err *canonical.Error) []byte { return encodeError(err) }

// CountTokens answers POST /v1/messages/count_tokens: it parses body like a Messages
// request and returns {"input_tokens": estimate(req)}.
func CountTokens(body []byte, estimate func(*canonical.Request) int) ([]byte, error) {
	req, err := NewFrontend().ParseChatRequest(body)
	if err != nil {
		return nil, err
	}
	n := 0
	if estimate != nil {
		n = estimate(req)
	}
	return json.Marshal(struct {
		InputTokens int `json:"input_tokens"`
	}{n})
}
