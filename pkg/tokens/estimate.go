package tokens

import (
	"encoding/json"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// Per-message overheads of OpenAI's chat format, from OpenAI's cookbook "How to count
// tokens with tiktoken": every message is wrapped in <|start|>{role/name}\n{content}<|end|>
// (3 tokens plus the role), a name costs one more token, and every reply is primed with
// <|start|>assistant<|message|> (3 tokens).
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	replyPriming     = 3
	// toolCallOverhead approximates the wrapping of one tool call in an assistant turn.
	toolCallOverhead = 3
)

// Image token costs for OpenAI vision models: a low-detail image costs a flat 85 tokens;
// a high-detail image costs 85 + 170 per 512px tile. The gateway does not download
// images, so "auto"/"high" assume a 1024×1024 image (4 tiles = 765 tokens).
const (
	imageLowDetailTokens  = 85
	imageHighDetailTokens = 765
)

// Function-definition overheads from the same cookbook (num_tokens_for_tools).
type toolOverheads struct {
	funcInit, propInit, propKey, enumInit, enumItem, funcEnd int
}

var (
	o200kTools  = toolOverheads{funcInit: 7, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12}
	cl100kTools = toolOverheads{funcInit: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12}
)

// EstimateRequest returns the prompt tokens req costs on model, following OpenAI's
// counting rules: message overheads, names, tool calls and results, images, and
// function definitions. For OpenAI models it matches prompt_tokens to within a few
// tokens; for other vendors it is an estimate.
func (c *Counter) EstimateRequest(model string, req *canonical.Request) int {
	if req == nil {
		return 0
	}
	count := c.encoder(model).count

	n := replyPriming
	if len(req.System) > 0 {
		n += tokensPerMessage + count(string(canonical.RoleSystem)) + partsTokens(count, req.System)
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		n += tokensPerMessage + count(string(m.Role)) + partsTokens(count, m.Content)
		if m.Name != "" {
			n += count(m.Name) + tokensPerName
		}
		for _, tc := range m.ToolCalls {
			n += toolCallOverhead + count(tc.Name) + count(tc.Arguments)
		}
	}
	if len(req.Tools) > 0 {
		ov := cl100kTools
		if EncodingFor(model) == O200kBase {
			ov = o200kTools
		}
		n += toolsTokens(count, ov, req.Tools)
	}
	if rf := req.ResponseFormat; rf != nil && len(rf.Schema) > 0 {
		n += count(rf.Name) + count(string(rf.Schema))
	}
	return n
}

func partsTokens(count func(string) int, parts []canonical.Part) int {
	n := 0
	for i := range parts {
		p := &parts[i]
		switch p.Type {
		case canonical.PartText, canonical.PartThinking:
			n += count(p.Text)
		case canonical.PartImage:
			if p.Image != nil && p.Image.Detail == "low" {
				n += imageLowDetailTokens
			} else {
				n += imageHighDetailTokens
			}
		case canonical.PartToolResult:
			if p.ToolResult != nil {
				n += partsTokens(count, p.ToolResult.Content)
			}
		}
	}
	return n
}

// toolSchema is the part of a JSON Schema the cookbook's counting rule reads.
type toolSchema struct {
	Properties map[string]struct {
		Type        json.RawMessage `json:"type"`
		Description string          `json:"description"`
		Enum        []any           `json:"enum"`
	} `json:"properties"`
}

func toolsTokens(count func(string) int, ov toolOverheads, tools []canonical.Tool) int {
	n := 0
	for i := range tools {
		t := &tools[i]
		n += ov.funcInit
		n += count(t.Name + ":" + strings.TrimSuffix(t.Description, "."))
		var schema toolSchema
		if len(t.Parameters) == 0 || json.Unmarshal(t.Parameters, &schema) != nil {
			// An unparsable schema still costs its text.
			n += count(string(t.Parameters))
			continue
		}
		if len(schema.Properties) == 0 {
			continue
		}
		n += ov.propInit
		for name, p := range schema.Properties {
			n += ov.propKey
			if len(p.Enum) > 0 {
				n += ov.enumInit
				for _, item := range p.Enum {
					n += ov.enumItem
					if s, ok := item.(string); ok {
						n += count(s)
					} else if b, err := json.Marshal(item); err == nil {
						n += count(string(b))
					}
				}
			}
			typ := strings.Trim(string(p.Type), `"`)
			n += count(name + ":" + typ + ":" + strings.TrimSuffix(p.Description, "."))
		}
	}
	return n + ov.funcEnd
}
