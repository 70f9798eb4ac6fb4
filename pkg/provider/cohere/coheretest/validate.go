package coheretest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The mock's own reading of Cohere's v2 request schemas: bodies are decoded
// strictly (unknown fields are violations) and checked against the documented
// constraints.

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON body")
	}
	return nil
}

// ChatRequest is the POST /v2/chat body.
type ChatRequest struct {
	Model           string          `json:"model"`
	Messages        []Message       `json:"messages"`
	Tools           []Tool          `json:"tools"`
	StrictTools     *bool           `json:"strict_tools"`
	Documents       json.RawMessage `json:"documents"`
	CitationOptions json.RawMessage `json:"citation_options"`
	ResponseFormat  *struct {
		Type       string          `json:"type"`
		JSONSchema json.RawMessage `json:"json_schema"`
	} `json:"response_format"`
	SafetyMode       string   `json:"safety_mode"`
	MaxTokens        *int     `json:"max_tokens"`
	StopSequences    []string `json:"stop_sequences"`
	Temperature      *float64 `json:"temperature"`
	Seed             *int64   `json:"seed"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	K                *int     `json:"k"`
	P                *float64 `json:"p"`
	Logprobs         *bool    `json:"logprobs"`
	ToolChoice       string   `json:"tool_choice"`
	Thinking         *struct {
		Type        string `json:"type"`
		TokenBudget *int   `json:"token_budget"`
	} `json:"thinking"`
	Stream *bool `json:"stream"`
}

// Message is a v2 chat message of any role.
type Message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []ChatToolCall  `json:"tool_calls"`
	ToolPlan   *string         `json:"tool_plan"`
	ToolCallID string          `json:"tool_call_id"`
	Citations  json.RawMessage `json:"citations"`
}

// ChatToolCall is an assistant tool call on the wire.
type ChatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Tool is a function tool definition.
type Tool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// ContentItem is a content block of a message.
type ContentItem struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Thinking *string `json:"thinking"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
	Document json.RawMessage `json:"document"`
}

// contentItems reads a string-or-list content field and checks each item's type
// is one allowed for the role.
func contentItems(raw json.RawMessage, where string, allowed ...string) ([]ContentItem, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, nil
	}
	if t[0] == '"' {
		return []ContentItem{{Type: "text"}}, nil
	}
	var items []ContentItem
	if err := strictDecode(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for i, it := range items {
		ok := false
		for _, a := range allowed {
			ok = ok || it.Type == a
		}
		if !ok {
			return nil, fmt.Errorf("%s[%d]: type %q is not allowed here", where, i, it.Type)
		}
		switch it.Type {
		case "text":
			if it.Text == nil {
				return nil, fmt.Errorf("%s[%d]: text item without text", where, i)
			}
		case "thinking":
			if it.Thinking == nil {
				return nil, fmt.Errorf("%s[%d]: thinking item without thinking", where, i)
			}
		case "image_url":
			if it.ImageURL == nil || it.ImageURL.URL == "" {
				return nil, fmt.Errorf("%s[%d]: image_url item without url", where, i)
			}
		case "document":
			if it.Document == nil {
				return nil, fmt.Errorf("%s[%d]: document item without document", where, i)
			}
		}
	}
	return items, nil
}

func validateChat(body []byte) (*ChatRequest, error) {
	var req ChatRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("invalid request body: %w", err)
	}
	if req.Model == "" {
		return nil, fmt.Errorf("model is required")
	}
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("messages must not be empty")
	}
	calls := map[string]bool{}
	for i, m := range req.Messages {
		where := fmt.Sprintf("messages[%d]", i)
		if m.Role != "tool" && m.ToolCallID != "" {
			return nil, fmt.Errorf("%s: tool_call_id is only valid on tool messages", where)
		}
		if m.Role != "assistant" && (m.ToolCalls != nil || m.ToolPlan != nil) {
			return nil, fmt.Errorf("%s: tool_calls and tool_plan are only valid on assistant messages", where)
		}
		switch m.Role {
		case "system":
			items, err := contentItems(m.Content, where+".content", "text")
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return nil, fmt.Errorf("%s: system message without content", where)
			}
		case "user":
			items, err := contentItems(m.Content, where+".content", "text", "image_url", "document")
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return nil, fmt.Errorf("%s: user message without content", where)
			}
		case "assistant":
			items, err := contentItems(m.Content, where+".content", "text", "thinking")
			if err != nil {
				return nil, err
			}
			if len(items) == 0 && len(m.ToolCalls) == 0 {
				return nil, fmt.Errorf("%s: assistant message needs content or tool_calls", where)
			}
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || !json.Valid([]byte(tc.Function.Arguments)) {
					return nil, fmt.Errorf("%s.tool_calls[%d] needs id, type function, a name and JSON arguments", where, j)
				}
				calls[tc.ID] = true
			}
		case "tool":
			if !calls[m.ToolCallID] {
				return nil, fmt.Errorf("%s: tool_call_id %q answers no earlier tool call", where, m.ToolCallID)
			}
			items, err := contentItems(m.Content, where+".content", "text", "document")
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return nil, fmt.Errorf("%s: tool message without content", where)
			}
		default:
			return nil, fmt.Errorf("%s: unknown role %q", where, m.Role)
		}
	}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return nil, fmt.Errorf("tools[%d] needs type function and a name", i)
		}
		if p := bytes.TrimSpace(t.Function.Parameters); len(p) > 0 && p[0] != '{' {
			return nil, fmt.Errorf("tools[%d].function.parameters must be a JSON schema object", i)
		}
	}
	switch req.ToolChoice {
	case "":
	case "REQUIRED", "NONE":
		if len(req.Tools) == 0 {
			return nil, fmt.Errorf("tool_choice needs tools")
		}
	default:
		return nil, fmt.Errorf("tool_choice must be REQUIRED or NONE, got %q", req.ToolChoice)
	}
	if rf := req.ResponseFormat; rf != nil {
		switch {
		case rf.Type == "text" && rf.JSONSchema == nil:
		case rf.Type == "json_object":
			if rf.JSONSchema != nil && !bytes.HasPrefix(bytes.TrimSpace(rf.JSONSchema), []byte("{")) {
				return nil, fmt.Errorf("response_format.json_schema must be an object")
			}
		default:
			return nil, fmt.Errorf("response_format.type must be text or json_object")
		}
	}
	if req.MaxTokens != nil && *req.MaxTokens < 1 {
		return nil, fmt.Errorf("max_tokens must be positive")
	}
	if len(req.StopSequences) > 5 {
		return nil, fmt.Errorf("at most 5 stop_sequences")
	}
	if req.Temperature != nil && *req.Temperature < 0 {
		return nil, fmt.Errorf("temperature must be non-negative")
	}
	if req.P != nil && (*req.P < 0.01 || *req.P > 0.99) {
		return nil, fmt.Errorf("p must be within [0.01, 0.99]")
	}
	if req.K != nil && (*req.K < 0 || *req.K > 500) {
		return nil, fmt.Errorf("k must be within [0, 500]")
	}
	for name, v := range map[string]*float64{"frequency_penalty": req.FrequencyPenalty, "presence_penalty": req.PresencePenalty} {
		if v != nil && (*v < 0 || *v > 1) {
			return nil, fmt.Errorf("%s must be within [0, 1]", name)
		}
	}
	if th := req.Thinking; th != nil && th.Type != "enabled" && th.Type != "disabled" {
		return nil, fmt.Errorf("thinking.type must be enabled or disabled")
	}
	return &req, nil
}

// EmbedRequest is the POST /v2/embed body.
type EmbedRequest struct {
	Model           string          `json:"model"`
	Texts           []string        `json:"texts"`
	Images          []string        `json:"images"`
	Inputs          json.RawMessage `json:"inputs"`
	InputType       string          `json:"input_type"`
	EmbeddingTypes  []string        `json:"embedding_types"`
	OutputDimension *int            `json:"output_dimension"`
	Truncate        string          `json:"truncate"`
	MaxTokens       *int            `json:"max_tokens"`
}

func validateEmbed(body []byte) (*EmbedRequest, error) {
	var req EmbedRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("invalid request body: %w", err)
	}
	if req.Model == "" {
		return nil, fmt.Errorf("model is required")
	}
	switch req.InputType {
	case "search_document", "search_query", "classification", "clustering", "image":
	default:
		return nil, fmt.Errorf("input_type %q is not valid", req.InputType)
	}
	if len(req.Texts) == 0 && len(req.Images) == 0 && req.Inputs == nil {
		return nil, fmt.Errorf("one of texts, images or inputs is required")
	}
	if len(req.Texts) > 96 {
		return nil, fmt.Errorf("at most 96 texts per call")
	}
	for _, et := range req.EmbeddingTypes {
		switch et {
		case "float", "int8", "uint8", "binary", "ubinary", "base64":
		default:
			return nil, fmt.Errorf("embedding_types: %q is not valid", et)
		}
	}
	if d := req.OutputDimension; d != nil && *d != 256 && *d != 512 && *d != 1024 && *d != 1536 {
		return nil, fmt.Errorf("output_dimension must be 256, 512, 1024 or 1536")
	}
	switch req.Truncate {
	case "", "NONE", "START", "END":
	default:
		return nil, fmt.Errorf("truncate must be NONE, START or END")
	}
	return &req, nil
}
