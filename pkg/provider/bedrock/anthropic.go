package bedrock

import (
	"encoding/json"
	"fmt"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// toAnthropic translates a canonical request into the Anthropic Messages body that
// Claude on Bedrock InvokeModel expects.
func toAnthropic(req *canonical.Request, defaultMaxTokens int) (*anRequest, error) {
	if req.N > 1 {
		return nil, invalid("n", "Claude returns one choice per request; n=%d is not supported", req.N)
	}
	out := &anRequest{
		AnthropicVersion: bedrockAnthropicVersion,
		MaxTokens:        req.MaxTokens,
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		TopK:             req.TopK,
		StopSequences:    req.Stop,
	}
	for _, p := range req.System {
		if p.Type != canonical.PartText {
			return nil, invalid("messages", "system content must be text, got %s", p.Type)
		}
		if p.Text == "" {
			continue
		}
		out.System = append(out.System, anBlock{Type: "text", Text: ptr(p.Text), CacheControl: anCache(p.CacheControl)})
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		param := fmt.Sprintf("messages[%d]", i)
		if m.Role == canonical.RoleSystem {
			for _, p := range m.Content {
				if p.Type == canonical.PartText && p.Text != "" {
					out.System = append(out.System, anBlock{Type: "text", Text: ptr(p.Text)})
				}
			}
			continue
		}
		role, blocks, err := anthropicBlocks(m, param)
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			continue
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, anMessage{Role: role, Content: blocks})
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "at least one non-empty user or assistant message is required")
	}

	for i, t := range req.Tools {
		if t.Name == "" {
			return nil, invalid(fmt.Sprintf("tools[%d].function.name", i), "tool name is required")
		}
		out.Tools = append(out.Tools, anTool{Name: t.Name, Description: t.Description, InputSchema: toolSchema(t.Parameters), CacheControl: anCache(t.CacheControl)})
	}
	tc, err := anthropicToolChoice(req)
	if err != nil {
		return nil, err
	}
	out.ToolChoice = tc

	if r := req.Reasoning; r != nil {
		if r.Disabled {
			out.Thinking = &anThinking{Type: "disabled"}
		} else {
			out.Thinking = &anThinking{Type: "enabled", BudgetTokens: effortBudget(r)}
		}
	}
	if out.MaxTokens == 0 {
		out.MaxTokens = defaultMaxTokens
		// Claude requires max_tokens > budget_tokens; when the caller set no limit,
		// leave room for the answer after the thinking budget.
		if out.Thinking != nil && out.Thinking.BudgetTokens >= out.MaxTokens {
			out.MaxTokens = out.Thinking.BudgetTokens + defaultMaxTokens
		}
	}

	if uid := firstNonEmpty(req.Metadata["user_id"], req.User); uid != "" {
		out.Metadata = &anMetadata{UserID: uid}
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" && len(rf.Schema) > 0 {
		out.OutputConfig = &anOutputConfig{Format: &anOutputFormat{Type: "json_schema", Schema: rf.Schema}}
	}
	return out, nil
}

func anCache(cc *canonical.CacheControl) *anCacheControl {
	if cc == nil {
		return nil
	}
	t := cc.Type
	if t == "" {
		t = "ephemeral"
	}
	return &anCacheControl{Type: t, TTL: cc.TTL}
}

func anthropicToolChoice(req *canonical.Request) (*anToolChoice, error) {
	noParallel := req.ParallelToolCalls != nil && !*req.ParallelToolCalls
	ch := req.ToolChoice
	if ch == nil {
		if noParallel && len(req.Tools) > 0 {
			return &anToolChoice{Type: "auto", DisableParallelToolUse: true}, nil
		}
		return nil, nil
	}
	switch ch.Mode {
	case canonical.ToolChoiceAuto:
		return &anToolChoice{Type: "auto", DisableParallelToolUse: noParallel}, nil
	case canonical.ToolChoiceRequired:
		return &anToolChoice{Type: "any", DisableParallelToolUse: noParallel}, nil
	case canonical.ToolChoiceNone:
		return &anToolChoice{Type: "none"}, nil
	case canonical.ToolChoiceNamed:
		if ch.Name == "" {
			return nil, invalid("tool_choice", "named tool choice without a name")
		}
		return &anToolChoice{Type: "tool", Name: ch.Name, DisableParallelToolUse: noParallel}, nil
	}
	return nil, invalid("tool_choice", "unsupported tool choice %q", ch.Mode)
}

func anthropicBlocks(m *canonical.Message, param string) (string, []anBlock, error) {
	var blocks []anBlock
	switch m.Role {
	case canonical.RoleUser, canonical.RoleAssistant:
		for j := range m.Content {
			b, err := anthropicBlock(&m.Content[j], fmt.Sprintf("%s.content[%d]", param, j))
			if err != nil {
				return "", nil, err
			}
			if b != nil {
				blocks = append(blocks, *b)
			}
		}
		if m.Role == canonical.RoleAssistant {
			for j, tc := range m.ToolCalls {
				in, err := toolInput(tc.Arguments, fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j))
				if err != nil {
					return "", nil, err
				}
				blocks = append(blocks, anBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: in})
			}
			return "assistant", blocks, nil
		}
		return "user", blocks, nil
	case canonical.RoleTool:
		content, cc, err := anthropicToolResultContent(m.Content, param)
		if err != nil {
			return "", nil, err
		}
		return "user", []anBlock{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: content, CacheControl: cc}}, nil
	}
	return "", nil, invalid(param+".role", "unsupported role %q", m.Role)
}

func anthropicBlock(p *canonical.Part, param string) (*anBlock, error) {
	cc := anCache(p.CacheControl)
	switch p.Type {
	case canonical.PartText:
		if p.Text == "" {
			return nil, nil
		}
		return &anBlock{Type: "text", Text: ptr(p.Text), CacheControl: cc}, nil
	case canonical.PartImage:
		src, err := anthropicImage(p.Image, param)
		if err != nil {
			return nil, err
		}
		return &anBlock{Type: "image", Source: src, CacheControl: cc}, nil
	case canonical.PartThinking:
		return &anBlock{Type: "thinking", Thinking: ptr(p.Text), Signature: p.Signature}, nil
	case canonical.PartRedactedThinking:
		return &anBlock{Type: "redacted_thinking", Data: p.Data}, nil
	case canonical.PartToolResult:
		if p.ToolResult == nil {
			return nil, invalid(param, "tool_result part without result")
		}
		content, _, err := anthropicToolResultContent(p.ToolResult.Content, param)
		if err != nil {
			return nil, err
		}
		return &anBlock{Type: "tool_result", ToolUseID: p.ToolResult.ToolCallID, Content: content, IsError: p.ToolResult.IsError, CacheControl: cc}, nil
	}
	return nil, invalid(param, "unsupported content part type %q", p.Type)
}

func anthropicImage(img *canonical.Image, param string) (*anImageSource, error) {
	mt, data, err := inlineImage(img, param)
	if err != nil {
		return nil, err
	}
	if _, err := imageFormat(mt, param); err != nil {
		return nil, err
	}
	return &anImageSource{Type: "base64", MediaType: mt, Data: data}, nil
}

// anthropicToolResultContent converts tool output; a cache marker on any part moves
// to the tool_result block, where Anthropic accepts it.
func anthropicToolResultContent(parts []canonical.Part, param string) ([]anBlock, *anCacheControl, error) {
	var out []anBlock
	var cc *anCacheControl
	for j := range parts {
		p := &parts[j]
		if p.CacheControl != nil {
			cc = anCache(p.CacheControl)
		}
		switch p.Type {
		case canonical.PartText:
			out = append(out, anBlock{Type: "text", Text: ptr(p.Text)})
		case canonical.PartImage:
			src, err := anthropicImage(p.Image, fmt.Sprintf("%s.content[%d]", param, j))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, anBlock{Type: "image", Source: src})
		default:
			return nil, nil, invalid(param, "tool result content must be text or image, got %s", p.Type)
		}
	}
	return out, cc, nil
}

// fromAnthropic decodes a Claude InvokeModel response body.
func fromAnthropic(body []byte) (*canonical.Response, error) {
	var r anResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamError("decode Claude response from Bedrock: %v", err)
	}
	msg := canonical.Message{Role: canonical.RoleAssistant}
	for _, b := range r.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: *b.Text})
			}
		case "thinking":
			t := ""
			if b.Thinking != nil {
				t = *b.Thinking
			}
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: t, Signature: b.Signature})
		case "redacted_thinking":
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartRedactedThinking, Data: b.Data})
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: b.ID, Name: b.Name, Arguments: compactJSON(b.Input)})
		}
	}
	resp := &canonical.Response{
		ID:                   r.ID,
		Model:                r.Model,
		Choices:              []canonical.Choice{{Message: msg, FinishReason: finishReason(r.StopReason)}},
		Usage:                anthropicUsage(r.Usage),
		ProviderFinishReason: r.StopReason,
	}
	if r.StopSequence != nil {
		resp.StopSequence = *r.StopSequence
	}
	return resp, nil
}

// anthropicUsage adds cache reads and writes into InputTokens (canonical convention).
func anthropicUsage(u anUsage) canonical.Usage {
	return canonical.Usage{
		InputTokens:         u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
		OutputTokens:        u.OutputTokens,
		CachedInputTokens:   u.CacheReadInputTokens,
		CacheCreationTokens: u.CacheCreationInputTokens,
	}
}
