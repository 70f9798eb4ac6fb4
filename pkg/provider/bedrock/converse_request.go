package bedrock

import (
	"fmt"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// toConverse translates a canonical chat request into a Converse request body.
func toConverse(req *canonical.Request, model string) (*converseRequest, error) {
	if req.N > 1 {
		return nil, invalid("n", "Bedrock returns one choice per request; n=%d is not supported", req.N)
	}
	out := &converseRequest{}

	for _, p := range req.System {
		if p.Type != canonical.PartText {
			return nil, invalid("messages", "system content must be text, got %s", p.Type)
		}
		if p.Text != "" {
			out.System = append(out.System, cvContentBlock{Text: ptr(p.Text)})
		}
		if cp := cachePoint(p.CacheControl); cp != nil {
			out.System = append(out.System, cvContentBlock{CachePoint: cp})
		}
	}

	usedTools := map[string]bool{}
	for i := range req.Messages {
		m := &req.Messages[i]
		param := fmt.Sprintf("messages[%d]", i)
		if m.Role == canonical.RoleSystem {
			// Canonical requests keep system text in req.System; tolerate stragglers.
			for _, p := range m.Content {
				if p.Type == canonical.PartText && p.Text != "" {
					out.System = append(out.System, cvContentBlock{Text: ptr(p.Text)})
				}
			}
			continue
		}
		role, blocks, err := converseBlocks(m, param, usedTools)
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			continue
		}
		// Converse requires alternating roles: merge consecutive turns of one role
		// (typically several OpenAI tool messages answering parallel calls).
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, cvMessage{Role: role, Content: blocks})
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "at least one non-empty user or assistant message is required")
	}

	if req.MaxTokens > 0 || req.Temperature != nil || req.TopP != nil || len(req.Stop) > 0 {
		out.InferenceConfig = &cvInferenceConfig{
			MaxTokens:     req.MaxTokens,
			Temperature:   req.Temperature,
			TopP:          req.TopP,
			StopSequences: req.Stop,
		}
	}

	tc, err := converseTools(req, usedTools)
	if err != nil {
		return nil, err
	}
	out.ToolConfig = tc

	out.AdditionalModelRequestFields = additionalFields(req, model)
	if r := req.Reasoning; r != nil && !r.Disabled && isClaude(model) && req.MaxTokens == 0 {
		// Claude needs maxTokens above the thinking budget; with no caller limit,
		// leave room for the answer after the thinking.
		if out.InferenceConfig == nil {
			out.InferenceConfig = &cvInferenceConfig{}
		}
		out.InferenceConfig.MaxTokens = effortBudget(r) + defaultMaxTokens
	}

	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" && len(rf.Schema) > 0 {
		name := rf.Name
		if name == "" {
			name = "response"
		}
		out.OutputConfig = &cvOutputConfig{TextFormat: &cvOutputFormat{
			Type: "json_schema",
			Structure: cvOutputStructure{JSONSchema: cvJSONSchemaDefinition{
				Schema: compactJSON(rf.Schema),
				Name:   name,
			}},
		}}
	}

	if len(req.Metadata) > 0 {
		out.RequestMetadata = req.Metadata
	}
	return out, nil
}

// converseBlocks converts one canonical message into a Converse role and blocks.
func converseBlocks(m *canonical.Message, param string, usedTools map[string]bool) (string, []cvContentBlock, error) {
	var blocks []cvContentBlock
	switch m.Role {
	case canonical.RoleUser, canonical.RoleAssistant:
		for j := range m.Content {
			p := &m.Content[j]
			pp := fmt.Sprintf("%s.content[%d]", param, j)
			b, err := converseBlock(p, pp)
			if err != nil {
				return "", nil, err
			}
			if b != nil {
				blocks = append(blocks, *b)
			}
			if cp := cachePoint(p.CacheControl); cp != nil {
				blocks = append(blocks, cvContentBlock{CachePoint: cp})
			}
		}
		if m.Role == canonical.RoleAssistant {
			for j, tc := range m.ToolCalls {
				in, err := toolInput(tc.Arguments, fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j))
				if err != nil {
					return "", nil, err
				}
				usedTools[tc.Name] = true
				blocks = append(blocks, cvContentBlock{ToolUse: &cvToolUse{ToolUseID: tc.ID, Name: tc.Name, Input: in}})
			}
			return "assistant", blocks, nil
		}
		return "user", blocks, nil
	case canonical.RoleTool:
		content, err := toolResultContent(m.Content, param)
		if err != nil {
			return "", nil, err
		}
		blocks = append(blocks, cvContentBlock{ToolResult: &cvToolResult{ToolUseID: m.ToolCallID, Content: content}})
		for _, p := range m.Content {
			if cp := cachePoint(p.CacheControl); cp != nil {
				blocks = append(blocks, cvContentBlock{CachePoint: cp})
				break
			}
		}
		return "user", blocks, nil
	}
	return "", nil, invalid(param+".role", "unsupported role %q", m.Role)
}

// converseBlock converts a content part; it returns nil for parts Converse drops
// (empty text, which Bedrock rejects as "blank").
func converseBlock(p *canonical.Part, param string) (*cvContentBlock, error) {
	switch p.Type {
	case canonical.PartText:
		if p.Text == "" {
			return nil, nil
		}
		return &cvContentBlock{Text: ptr(p.Text)}, nil
	case canonical.PartImage:
		img, err := converseImage(p.Image, param)
		if err != nil {
			return nil, err
		}
		return &cvContentBlock{Image: img}, nil
	case canonical.PartThinking:
		return &cvContentBlock{ReasoningContent: &cvReasoning{ReasoningText: &cvReasoningText{Text: p.Text, Signature: p.Signature}}}, nil
	case canonical.PartRedactedThinking:
		return &cvContentBlock{ReasoningContent: &cvReasoning{RedactedContent: p.Data}}, nil
	case canonical.PartToolResult:
		if p.ToolResult == nil {
			return nil, invalid(param, "tool_result part without result")
		}
		content, err := toolResultContent(p.ToolResult.Content, param)
		if err != nil {
			return nil, err
		}
		tr := &cvToolResult{ToolUseID: p.ToolResult.ToolCallID, Content: content}
		if p.ToolResult.IsError {
			tr.Status = "error"
		}
		return &cvContentBlock{ToolResult: tr}, nil
	}
	return nil, invalid(param, "unsupported content part type %q", p.Type)
}

func converseImage(img *canonical.Image, param string) (*cvImage, error) {
	mt, data, err := inlineImage(img, param)
	if err != nil {
		return nil, err
	}
	format, err := imageFormat(mt, param)
	if err != nil {
		return nil, err
	}
	return &cvImage{Format: format, Source: cvImageSource{Bytes: data}}, nil
}

func toolResultContent(parts []canonical.Part, param string) ([]cvToolResultContent, error) {
	out := make([]cvToolResultContent, 0, len(parts))
	for j := range parts {
		p := &parts[j]
		switch p.Type {
		case canonical.PartText:
			out = append(out, cvToolResultContent{Text: ptr(p.Text)})
		case canonical.PartImage:
			img, err := converseImage(p.Image, fmt.Sprintf("%s.content[%d]", param, j))
			if err != nil {
				return nil, err
			}
			out = append(out, cvToolResultContent{Image: img})
		default:
			return nil, invalid(param, "tool result content must be text or image, got %s", p.Type)
		}
	}
	if len(out) == 0 {
		// The API requires at least one block; an empty result is an empty text.
		out = append(out, cvToolResultContent{Text: ptr("")})
	}
	return out, nil
}

func cachePoint(cc *canonical.CacheControl) *cvCachePoint {
	if cc == nil {
		return nil
	}
	return &cvCachePoint{Type: "default", TTL: cc.TTL}
}

// converseTools builds toolConfig. Converse has no "none" tool choice and insists on
// a toolConfig whenever the conversation holds toolUse/toolResult blocks, so for
// tool_choice "none" the tools are only sent when history needs them, and history
// that used tools the request no longer declares gets minimal declarations.
func converseTools(req *canonical.Request, usedTools map[string]bool) (*cvToolConfig, error) {
	none := req.ToolChoice != nil && req.ToolChoice.Mode == canonical.ToolChoiceNone
	historyNeedsTools := len(usedTools) > 0 || hasToolResults(req)
	if !historyNeedsTools && (none || len(req.Tools) == 0) {
		return nil, nil
	}
	if len(req.Tools) == 0 {
		tc := &cvToolConfig{}
		for _, name := range sortedKeys(usedTools) {
			tc.Tools = append(tc.Tools, cvTool{ToolSpec: &cvToolSpec{Name: name, InputSchema: cvInputSchema{JSON: emptySchema}}})
		}
		if len(tc.Tools) == 0 {
			return nil, nil
		}
		return tc, nil
	}
	tc := &cvToolConfig{}
	for i, t := range req.Tools {
		if t.Name == "" {
			return nil, invalid(fmt.Sprintf("tools[%d].function.name", i), "tool name is required")
		}
		tc.Tools = append(tc.Tools, cvTool{ToolSpec: &cvToolSpec{
			Name:        t.Name,
			Description: t.Description,
			InputSchema: cvInputSchema{JSON: toolSchema(t.Parameters)},
			Strict:      t.Strict,
		}})
		if cp := cachePoint(t.CacheControl); cp != nil {
			tc.Tools = append(tc.Tools, cvTool{CachePoint: cp})
		}
	}
	if ch := req.ToolChoice; ch != nil && !none {
		switch ch.Mode {
		case canonical.ToolChoiceAuto:
			tc.ToolChoice = &cvToolChoice{Auto: &struct{}{}}
		case canonical.ToolChoiceRequired:
			tc.ToolChoice = &cvToolChoice{Any: &struct{}{}}
		case canonical.ToolChoiceNamed:
			if ch.Name == "" {
				return nil, invalid("tool_choice", "named tool choice without a name")
			}
			tc.ToolChoice = &cvToolChoice{Tool: &cvSpecificTool{Name: ch.Name}}
		default:
			return nil, invalid("tool_choice", "unsupported tool choice %q", ch.Mode)
		}
	}
	return tc, nil
}

func hasToolResults(req *canonical.Request) bool {
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Role == canonical.RoleTool {
			return true
		}
		for j := range m.Content {
			if m.Content[j].Type == canonical.PartToolResult {
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	// Small maps: insertion sort keeps this dependency-free and deterministic.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// additionalFields carries model-family parameters Converse has no field for:
// top_k (Claude, Mistral, …; Nova wants inferenceConfig.topK) and reasoning
// (Claude "thinking", OpenAI open-weight models "reasoning_effort").
func additionalFields(req *canonical.Request, model string) map[string]any {
	f := map[string]any{}
	if req.TopK != nil {
		if isNova(model) {
			f["inferenceConfig"] = map[string]any{"topK": *req.TopK}
		} else {
			f["top_k"] = *req.TopK
		}
	}
	if r := req.Reasoning; r != nil {
		switch {
		case isClaude(model) && r.Disabled:
			f["thinking"] = map[string]any{"type": "disabled"}
		case isClaude(model):
			f["thinking"] = map[string]any{"type": "enabled", "budget_tokens": effortBudget(r)}
		case isOpenAIModel(model) && r.Effort != "" && !r.Disabled:
			f["reasoning_effort"] = r.Effort
		}
	}
	if len(f) == 0 {
		return nil
	}
	return f
}
