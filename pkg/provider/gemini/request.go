package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// maxStopSequences is the most stopSequences the API accepts.
const maxStopSequences = 5

// toGemini translates a canonical chat request for model.
func toGemini(req *canonical.Request, model string) (*GenerateContentRequest, error) {
	if len(req.Stop) > maxStopSequences {
		return nil, badRequest("stop", "Gemini accepts at most %d stop sequences, got %d", maxStopSequences, len(req.Stop))
	}
	major := majorVersion(model)
	gr := &GenerateContentRequest{}
	system := textParts(req.System)
	contents, sysExtra, err := convertMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	system = append(system, sysExtra...)
	if len(system) > 0 {
		gr.SystemInstruction = &Content{Parts: system}
	}
	if major >= 3 {
		addDummySignatures(contents)
	}
	gr.Contents = contents

	if len(req.Tools) > 0 {
		decls := make([]FunctionDeclaration, 0, len(req.Tools))
		for i, t := range req.Tools {
			if t.Name == "" {
				return nil, badRequest(fmt.Sprintf("tools[%d].function.name", i), "tool name is required")
			}
			params, err := convertSchema(t.Parameters)
			if err != nil {
				return nil, badRequest(fmt.Sprintf("tools[%d].function.parameters", i), "tool parameters: %v", err)
			}
			decls = append(decls, FunctionDeclaration{Name: t.Name, Description: t.Description, Parameters: params})
		}
		gr.Tools = []Tool{{FunctionDeclarations: decls}}
		gr.ToolConfig = toolConfig(req.ToolChoice)
	}

	gc := &GenerationConfig{
		StopSequences:    req.Stop,
		MaxOutputTokens:  req.MaxTokens,
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		TopK:             req.TopK,
		Seed:             req.Seed,
		PresencePenalty:  req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty,
	}
	if req.N > 1 {
		gc.CandidateCount = req.N
	}
	if rf := req.ResponseFormat; rf != nil && (rf.Type == "json_object" || rf.Type == "json_schema") {
		gc.ResponseMimeType = "application/json"
		if rf.Type == "json_schema" {
			schema, err := convertSchema(rf.Schema)
			if err != nil {
				return nil, badRequest("response_format.json_schema.schema", "response schema: %v", err)
			}
			gc.ResponseSchema = schema
		}
	}
	if gc.ThinkingConfig, err = thinkingConfig(req.Reasoning, major); err != nil {
		return nil, err
	}
	if !isZeroConfig(gc) {
		gr.GenerationConfig = gc
	}
	return gr, nil
}

func isZeroConfig(gc *GenerationConfig) bool {
	return len(gc.StopSequences) == 0 && gc.ResponseMimeType == "" && gc.CandidateCount == 0 && gc.MaxOutputTokens == 0 &&
		gc.Temperature == nil && gc.TopP == nil && gc.TopK == nil && gc.Seed == nil && gc.PresencePenalty == nil &&
		gc.FrequencyPenalty == nil && gc.ThinkingConfig == nil
}

// toolConfig maps the canonical tool choice; nil leaves Gemini's default (AUTO).
func toolConfig(tc *canonical.ToolChoice) *ToolConfig {
	if tc == nil {
		return nil
	}
	fc := &FunctionCallingConfig{}
	switch tc.Mode {
	case canonical.ToolChoiceNone:
		fc.Mode = "NONE"
	case canonical.ToolChoiceRequired:
		fc.Mode = "ANY"
	case canonical.ToolChoiceNamed:
		fc.Mode = "ANY"
		fc.AllowedFunctionNames = []string{tc.Name}
	default:
		fc.Mode = "AUTO"
	}
	return &ToolConfig{FunctionCallingConfig: fc}
}

// thinkingConfig maps reasoning: a budget for Gemini 2.x, a level for Gemini 3+, which
// prefers thinkingLevel (it still accepts an explicit budget).
func thinkingConfig(r *canonical.Reasoning, major int) (*ThinkingConfig, error) {
	if r == nil {
		return nil, nil
	}
	if r.Disabled || r.Effort == "none" {
		if major >= 3 {
			// Gemini 3 cannot switch thinking off; LOW is the least every model accepts.
			return &ThinkingConfig{ThinkingLevel: "LOW"}, nil
		}
		zero := 0
		return &ThinkingConfig{ThinkingBudget: &zero}, nil
	}
	if r.BudgetTokens > 0 {
		b := r.BudgetTokens
		return &ThinkingConfig{ThinkingBudget: &b, IncludeThoughts: true}, nil
	}
	if r.Effort == "" {
		return nil, nil
	}
	level, budget, ok := effortSettings(r.Effort)
	if !ok {
		return nil, badRequest("reasoning_effort", "unknown reasoning effort %q", r.Effort)
	}
	if major >= 3 {
		return &ThinkingConfig{ThinkingLevel: level, IncludeThoughts: true}, nil
	}
	return &ThinkingConfig{ThinkingBudget: &budget, IncludeThoughts: true}, nil
}

// effortSettings maps an effort to a Gemini 3 thinkingLevel and a Gemini 2.5
// thinkingBudget (2.5 Flash allows up to 24576 tokens, 2.5 Pro up to 32768).
func effortSettings(effort string) (level string, budget int, ok bool) {
	switch effort {
	case "minimal":
		return "MINIMAL", 512, true
	case "low":
		return "LOW", 1024, true
	case "medium":
		return "MEDIUM", 8192, true
	case "high":
		return "HIGH", 24576, true
	case "xhigh", "max":
		return "HIGH", 32768, true
	}
	return "", 0, false
}

// textParts renders the text parts of system content.
func textParts(parts []canonical.Part) []Part {
	var out []Part
	for _, p := range parts {
		if p.Type == canonical.PartText && p.Text != "" {
			out = append(out, Part{Text: p.Text})
		}
	}
	return out
}

// convertMessages builds contents with roles user/model, merging consecutive turns of
// one role (Gemini requires alternation) and resolving tool results to the names of
// the calls they answer.
func convertMessages(in []canonical.Message) ([]Content, []Part, error) {
	var out []Content
	var system []Part
	names := map[string]string{} // tool call id → function name, latest wins
	for i, m := range in {
		var role string
		var parts []Part
		switch m.Role {
		case canonical.RoleSystem:
			system = append(system, textParts(m.Content)...)
			continue
		case canonical.RoleUser:
			role = "user"
			for j, p := range m.Content {
				param := fmt.Sprintf("messages[%d].content[%d]", i, j)
				switch p.Type {
				case canonical.PartText:
					if p.Text != "" {
						parts = append(parts, Part{Text: p.Text})
					}
				case canonical.PartImage:
					mp, err := mediaPart(p.Image, param)
					if err != nil {
						return nil, nil, err
					}
					parts = append(parts, mp)
				case canonical.PartToolResult:
					if p.ToolResult == nil {
						return nil, nil, badRequest(param, "tool result part without a result")
					}
					fr, err := functionResponse(names, p.ToolResult.ToolCallID, "", p.ToolResult.Content, p.ToolResult.IsError, param)
					if err != nil {
						return nil, nil, err
					}
					parts = append(parts, fr)
				}
			}
		case canonical.RoleTool:
			role = "user"
			fr, err := functionResponse(names, m.ToolCallID, m.Name, m.Content, false, fmt.Sprintf("messages[%d].tool_call_id", i))
			if err != nil {
				return nil, nil, err
			}
			parts = append(parts, fr)
		case canonical.RoleAssistant:
			role = "model"
			for _, p := range m.Content {
				// Thought summaries are not sent back: Gemini reads nothing from
				// unsigned thought text.
				if p.Type == canonical.PartText && p.Text != "" {
					parts = append(parts, Part{Text: p.Text})
				}
			}
			for j, tc := range m.ToolCalls {
				args, err := callArgs(tc.Arguments)
				if err != nil {
					return nil, nil, badRequest(fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j),
						"tool call %q arguments must be a JSON object: %v", tc.Name, err)
				}
				names[tc.ID] = tc.Name
				_, sig := splitCallID(tc.ID)
				parts = append(parts, Part{FunctionCall: &FunctionCall{Name: tc.Name, Args: args}, ThoughtSignature: sig})
			}
		default:
			return nil, nil, badRequest(fmt.Sprintf("messages[%d].role", i), "unsupported role %q", m.Role)
		}
		if len(parts) == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Parts = append(out[n-1].Parts, parts...)
			continue
		}
		out = append(out, Content{Role: role, Parts: parts})
	}
	if len(out) == 0 {
		return nil, nil, badRequest("messages", "at least one non-empty user or assistant message is required")
	}
	for i := range out {
		if out[i].Role == "user" {
			responsesFirst(out[i].Parts)
		}
	}
	return out, system, nil
}

// responsesFirst moves functionResponse parts to the front of a user turn, so that the
// turn after a function-call turn starts with its answers.
func responsesFirst(parts []Part) {
	sorted := make([]Part, 0, len(parts))
	for _, p := range parts {
		if p.FunctionResponse != nil {
			sorted = append(sorted, p)
		}
	}
	if len(sorted) == 0 || len(sorted) == len(parts) {
		return
	}
	for _, p := range parts {
		if p.FunctionResponse == nil {
			sorted = append(sorted, p)
		}
	}
	copy(parts, sorted)
}

// addDummySignatures gives each model turn with function calls a thought signature on
// its first call when it has none, as Gemini 3 requires.
func addDummySignatures(contents []Content) {
	for i := range contents {
		c := &contents[i]
		if c.Role != "model" {
			continue
		}
		first := -1
		signed := false
		for j := range c.Parts {
			if c.Parts[j].FunctionCall == nil {
				continue
			}
			if first < 0 {
				first = j
			}
			if c.Parts[j].ThoughtSignature != "" {
				signed = true
			}
		}
		if first >= 0 && !signed {
			c.Parts[first].ThoughtSignature = dummySignature
		}
	}
}

// callArgs parses tool call arguments into the object functionCall.args needs.
func callArgs(args string) (json.RawMessage, error) {
	trimmed := strings.TrimSpace(args)
	if trimmed == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(trimmed)) {
		return nil, fmt.Errorf("invalid JSON")
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(trimmed)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// functionResponse renders a tool result. Gemini needs the function name (looked up
// from the call with that id) and an object response: a JSON object result is sent as
// is, anything else is wrapped as {"output": …} (or {"error": …} for a failed call),
// the keys Google documents.
func functionResponse(names map[string]string, id, fallbackName string, content []canonical.Part, isError bool, param string) (Part, error) {
	if id == "" && fallbackName == "" {
		return Part{}, badRequest(param, "tool result needs a tool_call_id")
	}
	name, ok := names[id]
	if !ok {
		name = fallbackName
	}
	if name == "" {
		return Part{}, badRequest(param, "tool result %q answers no earlier tool call; Gemini needs the function name", id)
	}
	var texts []string
	for _, p := range content {
		if p.Type == canonical.PartText {
			texts = append(texts, p.Text)
		}
	}
	text := strings.TrimSpace(strings.Join(texts, "\n"))
	var value json.RawMessage
	if text != "" && json.Valid([]byte(text)) {
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(text))
		value = buf.Bytes()
	} else {
		value, _ = json.Marshal(strings.Join(texts, "\n"))
	}
	var resp json.RawMessage
	switch {
	case isError:
		resp, _ = json.Marshal(map[string]json.RawMessage{"error": value})
	case value[0] == '{':
		resp = value
	default:
		resp, _ = json.Marshal(map[string]json.RawMessage{"output": value})
	}
	return Part{FunctionResponse: &FunctionResponse{Name: name, Response: resp}}, nil
}

// mediaPart renders an image (or other media) inline or by URI.
func mediaPart(img *canonical.Image, param string) (Part, error) {
	if img == nil {
		return Part{}, badRequest(param, "image part without image")
	}
	mediaType, data, u := img.MediaType, img.Data, img.URL
	if data == "" && strings.HasPrefix(u, "data:") {
		mt, d, ok := parseDataURL(u)
		if !ok {
			return Part{}, badRequest(param, "malformed data: URL (want data:<media type>;base64,<data>)")
		}
		mediaType, data = mt, d
	}
	if data != "" {
		if mediaType == "" {
			return Part{}, badRequest(param, "inline image needs a media type")
		}
		return Part{InlineData: &Blob{MimeType: mediaType, Data: data}}, nil
	}
	if u == "" {
		return Part{}, badRequest(param, "image needs a URL or inline data")
	}
	if mediaType == "" {
		mediaType = mimeFromURL(u)
	}
	return Part{FileData: &FileData{MimeType: mediaType, FileURI: u}}, nil
}

// mimeFromURL guesses a media type from a URL's extension (Vertex requires one).
func mimeFromURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	switch strings.ToLower(path.Ext(u)) {
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".pdf":
		return "application/pdf"
	case ".mp4":
		return "video/mp4"
	case ".mp3":
		return "audio/mp3"
	case ".wav":
		return "audio/wav"
	case ".txt":
		return "text/plain"
	}
	return "image/jpeg"
}

// parseDataURL splits data:<mt>;base64,<data>.
func parseDataURL(s string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(s, "data:")
	if !found {
		return "", "", false
	}
	meta, payload, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	mt, enc, found := strings.Cut(meta, ";")
	if !found || enc != "base64" || mt == "" || payload == "" {
		return "", "", false
	}
	return mt, payload, true
}
