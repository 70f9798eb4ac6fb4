package cohere

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// toChat translates a canonical request into a v2 chat body.
func toChat(req *canonical.Request, t provider.Target) (*chatRequest, error) {
	if t.Model == "" {
		return nil, invalid("model", "a Cohere model is required")
	}
	if req.N > 1 {
		return nil, invalid("n", "Cohere returns one choice per request; n=%d is not supported", req.N)
	}
	out := &chatRequest{
		Model:            t.Model,
		Stream:           t.Stream,
		MaxTokens:        req.MaxTokens,
		StopSequences:    req.Stop,
		Temperature:      req.Temperature,
		Seed:             req.Seed,
		FrequencyPenalty: req.FrequencyPenalty,
		PresencePenalty:  req.PresencePenalty,
		K:                req.TopK,
		P:                req.TopP,
	}

	var system []contentItem
	for _, p := range req.System {
		if p.Type != canonical.PartText {
			return nil, invalid("messages", "system content must be text, got %s", p.Type)
		}
		if p.Text != "" {
			system = append(system, textItem(p.Text))
		}
	}
	if len(system) > 0 {
		out.Messages = append(out.Messages, message{Role: "system", Content: system})
	}
	for i := range req.Messages {
		msgs, err := chatMessages(&req.Messages[i], fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "at least one message is required")
	}

	if err := chatTools(req, out); err != nil {
		return nil, err
	}

	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			out.ResponseFormat = &responseFormat{Type: "json_object"}
		case "json_schema":
			out.ResponseFormat = &responseFormat{Type: "json_object", JSONSchema: rf.Schema}
		}
	}
	if r := req.Reasoning; r != nil {
		if r.Disabled {
			out.Thinking = &thinking{Type: "disabled"}
		} else {
			out.Thinking = &thinking{Type: "enabled", TokenBudget: r.BudgetTokens}
		}
	}
	return out, nil
}

func textItem(s string) contentItem { return contentItem{Type: "text", Text: &s} }

// chatMessages converts one canonical message. A user message carrying tool
// results (Anthropic style) becomes tool messages followed by the user message.
func chatMessages(m *canonical.Message, param string) ([]message, error) {
	switch m.Role {
	case canonical.RoleSystem:
		var items []contentItem
		for _, p := range m.Content {
			if p.Type == canonical.PartText && p.Text != "" {
				items = append(items, textItem(p.Text))
			}
		}
		if len(items) == 0 {
			return nil, nil
		}
		return []message{{Role: "system", Content: items}}, nil
	case canonical.RoleUser:
		var out []message
		var items []contentItem
		for j := range m.Content {
			p := &m.Content[j]
			pp := fmt.Sprintf("%s.content[%d]", param, j)
			switch p.Type {
			case canonical.PartText:
				if p.Text != "" {
					items = append(items, textItem(p.Text))
				}
			case canonical.PartImage:
				iu, err := imageItem(p.Image, pp)
				if err != nil {
					return nil, err
				}
				items = append(items, contentItem{Type: "image_url", ImageURL: iu})
			case canonical.PartToolResult:
				if p.ToolResult == nil {
					return nil, invalid(pp, "tool_result part without result")
				}
				content, err := toolContent(p.ToolResult.Content, pp)
				if err != nil {
					return nil, err
				}
				out = append(out, message{Role: "tool", ToolCallID: p.ToolResult.ToolCallID, Content: content})
			case canonical.PartThinking, canonical.PartRedactedThinking:
				// Not part of a user turn in Cohere; dropped.
			default:
				return nil, invalid(pp, "unsupported content part type %q", p.Type)
			}
		}
		if len(items) > 0 {
			out = append(out, message{Role: "user", Content: items})
		}
		return out, nil
	case canonical.RoleAssistant:
		msg := message{Role: "assistant"}
		var plan []string
		for j := range m.Content {
			p := &m.Content[j]
			switch p.Type {
			case canonical.PartText:
				if p.Text != "" {
					msg.Content = append(msg.Content, textItem(p.Text))
				}
			case canonical.PartThinking:
				plan = append(plan, p.Text)
			case canonical.PartRedactedThinking:
			default:
				return nil, invalid(fmt.Sprintf("%s.content[%d]", param, j), "assistant content must be text, got %s", p.Type)
			}
		}
		for j, tc := range m.ToolCalls {
			args := strings.TrimSpace(tc.Arguments)
			if args == "" {
				args = "{}"
			}
			if !json.Valid([]byte(args)) {
				return nil, invalid(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments are not valid JSON")
			}
			msg.ToolCalls = append(msg.ToolCalls, toolCall{ID: tc.ID, Type: "function", Function: toolFunction{Name: tc.Name, Arguments: args}})
		}
		// Cohere's only place for the model's reasoning in history is tool_plan,
		// which accompanies tool calls; other thinking is dropped.
		if len(msg.ToolCalls) > 0 && len(plan) > 0 {
			msg.ToolPlan = strings.Join(plan, "\n")
		}
		if len(msg.Content) == 0 && len(msg.ToolCalls) == 0 {
			return nil, nil
		}
		return []message{msg}, nil
	case canonical.RoleTool:
		content, err := toolContent(m.Content, param)
		if err != nil {
			return nil, err
		}
		return []message{{Role: "tool", ToolCallID: m.ToolCallID, Content: content}}, nil
	}
	return nil, invalid(param+".role", "unsupported role %q", m.Role)
}

// imageItem passes image URLs through (Cohere fetches them) and turns inline data
// into a data: URL.
func imageItem(img *canonical.Image, param string) (*imageURL, error) {
	if img == nil {
		return nil, invalid(param, "image part without image")
	}
	u := img.URL
	if u == "" {
		if img.Data == "" || img.MediaType == "" {
			return nil, invalid(param, "image needs a URL or media type and data")
		}
		u = "data:" + img.MediaType + ";base64," + img.Data
	}
	return &imageURL{URL: u, Detail: img.Detail}, nil
}

func toolContent(parts []canonical.Part, param string) ([]contentItem, error) {
	items := make([]contentItem, 0, len(parts))
	for j := range parts {
		p := &parts[j]
		if p.Type != canonical.PartText {
			return nil, invalid(fmt.Sprintf("%s.content[%d]", param, j), "Cohere tool results must be text, got %s", p.Type)
		}
		items = append(items, textItem(p.Text))
	}
	if len(items) == 0 {
		items = append(items, textItem(""))
	}
	return items, nil
}

// chatTools sets tools and tool_choice. Cohere has REQUIRED and NONE but no named
// choice: a named choice is expressed as REQUIRED with only that tool declared.
func chatTools(req *canonical.Request, out *chatRequest) error {
	tools := req.Tools
	if ch := req.ToolChoice; ch != nil {
		switch ch.Mode {
		case canonical.ToolChoiceAuto:
		case canonical.ToolChoiceRequired:
			out.ToolChoice = "REQUIRED"
		case canonical.ToolChoiceNone:
			out.ToolChoice = "NONE"
		case canonical.ToolChoiceNamed:
			var only []canonical.Tool
			for _, t := range tools {
				if t.Name == ch.Name {
					only = append(only, t)
				}
			}
			if len(only) == 0 {
				return invalid("tool_choice", "tool_choice names %q, which is not among the tools", ch.Name)
			}
			tools = only
			out.ToolChoice = "REQUIRED"
		default:
			return invalid("tool_choice", "unsupported tool choice %q", ch.Mode)
		}
	}
	for i, t := range tools {
		if t.Name == "" {
			return invalid(fmt.Sprintf("tools[%d].function.name", i), "tool name is required")
		}
		params := t.Parameters
		if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, tool{Type: "function", Function: toolFunctionDef{Name: t.Name, Description: t.Description, Parameters: params}})
		if t.Strict {
			out.StrictTools = true
		}
	}
	if len(out.Tools) == 0 {
		// tool_choice without tools is meaningless (and rejected).
		out.ToolChoice = ""
	}
	return nil
}
