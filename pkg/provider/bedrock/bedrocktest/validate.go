package bedrocktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// The mock's own, independent reading of the documented request schemas. Bodies
// are decoded strictly (unknown fields are violations) and then checked against
// the rules Bedrock enforces.

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

// ConverseRequest is the Converse / ConverseStream request body.
type ConverseRequest struct {
	Messages        []ConverseMessage `json:"messages"`
	System          []ConverseBlock   `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int     `json:"maxTokens"`
		Temperature   *float64 `json:"temperature"`
		TopP          *float64 `json:"topP"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
				Strict *bool `json:"strict"`
			} `json:"toolSpec"`
			CachePoint *CachePoint     `json:"cachePoint"`
			SystemTool json.RawMessage `json:"systemTool"`
		} `json:"tools"`
		ToolChoice *struct {
			Auto *struct{} `json:"auto"`
			Any  *struct{} `json:"any"`
			Tool *struct {
				Name string `json:"name"`
			} `json:"tool"`
		} `json:"toolChoice"`
	} `json:"toolConfig"`
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields"`
	PromptVariables                   json.RawMessage   `json:"promptVariables"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths"`
	RequestMetadata                   map[string]string `json:"requestMetadata"`
	PerformanceConfig                 json.RawMessage   `json:"performanceConfig"`
	ServiceTier                       json.RawMessage   `json:"serviceTier"`
	OutputConfig                      *struct {
		TextFormat *struct {
			Type      string `json:"type"`
			Structure struct {
				JSONSchema *struct {
					Schema      string `json:"schema"`
					Name        string `json:"name"`
					Description string `json:"description"`
				} `json:"jsonSchema"`
			} `json:"structure"`
		} `json:"textFormat"`
		Effort json.RawMessage `json:"effort"`
	} `json:"outputConfig"`
}

// ConverseMessage is one message of a Converse request.
type ConverseMessage struct {
	Role    string          `json:"role"`
	Content []ConverseBlock `json:"content"`
}

// ConverseBlock is the ContentBlock union.
type ConverseBlock struct {
	Text    *string `json:"text"`
	Image   *Image  `json:"image"`
	ToolUse *struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		Type      string          `json:"type"`
	} `json:"toolUse"`
	ToolResult *struct {
		ToolUseID string `json:"toolUseId"`
		Content   []struct {
			Text     *string         `json:"text"`
			Image    *Image          `json:"image"`
			JSON     json.RawMessage `json:"json"`
			Document json.RawMessage `json:"document"`
			Video    json.RawMessage `json:"video"`
		} `json:"content"`
		Status string `json:"status"`
		Type   string `json:"type"`
	} `json:"toolResult"`
	ReasoningContent *struct {
		ReasoningText *struct {
			Text      string `json:"text"`
			Signature string `json:"signature"`
		} `json:"reasoningText"`
		RedactedContent []byte `json:"redactedContent"`
	} `json:"reasoningContent"`
	CachePoint       *CachePoint     `json:"cachePoint"`
	Document         json.RawMessage `json:"document"`
	Video            json.RawMessage `json:"video"`
	Audio            json.RawMessage `json:"audio"`
	GuardContent     json.RawMessage `json:"guardContent"`
	CitationsContent json.RawMessage `json:"citationsContent"`
	SearchResult     json.RawMessage `json:"searchResult"`
}

// Image is an ImageBlock.
type Image struct {
	Format string `json:"format"`
	Source struct {
		Bytes      *string         `json:"bytes"`
		S3Location json.RawMessage `json:"s3Location"`
	} `json:"source"`
}

// CachePoint is a CachePointBlock.
type CachePoint struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

func members(vs ...bool) int {
	n := 0
	for _, v := range vs {
		if v {
			n++
		}
	}
	return n
}

func checkImage(img *Image, where string) error {
	switch img.Format {
	case "png", "jpeg", "gif", "webp":
	default:
		return fmt.Errorf("%s.format %q is not one of png, jpeg, gif, webp", where, img.Format)
	}
	if img.Source.Bytes == nil {
		if img.Source.S3Location != nil {
			return nil
		}
		return fmt.Errorf("%s.source needs bytes", where)
	}
	if _, err := base64.StdEncoding.DecodeString(*img.Source.Bytes); err != nil {
		return fmt.Errorf("%s.source.bytes is not base64", where)
	}
	return nil
}

func checkCachePoint(cp *CachePoint, where string) error {
	if cp.Type != "default" {
		return fmt.Errorf("%s.cachePoint.type %q is not \"default\"", where, cp.Type)
	}
	if cp.TTL != "" && cp.TTL != "5m" && cp.TTL != "1h" {
		return fmt.Errorf("%s.cachePoint.ttl %q is not 5m or 1h", where, cp.TTL)
	}
	return nil
}

// validateConverse applies the checks Bedrock makes on a Converse request.
func validateConverse(body []byte) (*ConverseRequest, error) {
	var req ConverseRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("request body does not match the Converse schema: %w", err)
	}
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("messages must not be empty")
	}
	for i, b := range req.System {
		if members(b.Text != nil, b.CachePoint != nil, b.GuardContent != nil) != 1 {
			return nil, fmt.Errorf("system[%d] must set exactly one member", i)
		}
		if b.Text != nil && strings.TrimSpace(*b.Text) == "" {
			return nil, fmt.Errorf("system[%d].text is blank", i)
		}
	}
	toolUses := map[string]bool{}
	usesTools := false
	for i, m := range req.Messages {
		where := fmt.Sprintf("messages[%d]", i)
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("%s.role %q is not user or assistant", where, m.Role)
		}
		if i == 0 && m.Role != "user" {
			return nil, fmt.Errorf("a conversation must start with a user message")
		}
		if i > 0 && req.Messages[i-1].Role == m.Role {
			return nil, fmt.Errorf("%s: roles must alternate between user and assistant", where)
		}
		if len(m.Content) == 0 {
			return nil, fmt.Errorf("%s.content must not be empty", where)
		}
		for j, b := range m.Content {
			bw := fmt.Sprintf("%s.content[%d]", where, j)
			n := members(b.Text != nil, b.Image != nil, b.ToolUse != nil, b.ToolResult != nil, b.ReasoningContent != nil,
				b.CachePoint != nil, b.Document != nil, b.Video != nil, b.Audio != nil, b.GuardContent != nil,
				b.CitationsContent != nil, b.SearchResult != nil)
			if n != 1 {
				return nil, fmt.Errorf("%s must set exactly one member, has %d", bw, n)
			}
			switch {
			case b.Text != nil && strings.TrimSpace(*b.Text) == "":
				return nil, fmt.Errorf("the text field in the ContentBlock object at %s is blank", bw)
			case b.Image != nil:
				if err := checkImage(b.Image, bw+".image"); err != nil {
					return nil, err
				}
			case b.ToolUse != nil:
				if m.Role != "assistant" {
					return nil, fmt.Errorf("%s: toolUse only in assistant messages", bw)
				}
				tu := b.ToolUse
				if tu.ToolUseID == "" || tu.Name == "" {
					return nil, fmt.Errorf("%s.toolUse needs toolUseId and name", bw)
				}
				if t := bytes.TrimSpace(tu.Input); len(t) == 0 || t[0] != '{' {
					return nil, fmt.Errorf("%s.toolUse.input must be a JSON object", bw)
				}
				toolUses[tu.ToolUseID] = true
				usesTools = true
			case b.ToolResult != nil:
				if m.Role != "user" {
					return nil, fmt.Errorf("%s: toolResult only in user messages", bw)
				}
				tr := b.ToolResult
				if !toolUses[tr.ToolUseID] {
					return nil, fmt.Errorf("%s.toolResult.toolUseId %q answers no earlier toolUse", bw, tr.ToolUseID)
				}
				if tr.Status != "" && tr.Status != "success" && tr.Status != "error" {
					return nil, fmt.Errorf("%s.toolResult.status %q", bw, tr.Status)
				}
				for k, c := range tr.Content {
					if members(c.Text != nil, c.Image != nil, c.JSON != nil, c.Document != nil, c.Video != nil) != 1 {
						return nil, fmt.Errorf("%s.toolResult.content[%d] must set exactly one member", bw, k)
					}
					if c.Image != nil {
						if err := checkImage(c.Image, fmt.Sprintf("%s.toolResult.content[%d].image", bw, k)); err != nil {
							return nil, err
						}
					}
				}
				usesTools = true
			case b.ReasoningContent != nil:
				rc := b.ReasoningContent
				if members(rc.ReasoningText != nil, rc.RedactedContent != nil) != 1 {
					return nil, fmt.Errorf("%s.reasoningContent must set exactly one member", bw)
				}
			case b.CachePoint != nil:
				if err := checkCachePoint(b.CachePoint, bw); err != nil {
					return nil, err
				}
			}
		}
	}
	if ic := req.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil && *ic.MaxTokens < 1 {
			return nil, fmt.Errorf("inferenceConfig.maxTokens must be >= 1")
		}
		if ic.Temperature != nil && (*ic.Temperature < 0 || *ic.Temperature > 1) {
			return nil, fmt.Errorf("inferenceConfig.temperature must be within [0, 1]")
		}
		if ic.TopP != nil && (*ic.TopP < 0 || *ic.TopP > 1) {
			return nil, fmt.Errorf("inferenceConfig.topP must be within [0, 1]")
		}
	}
	if usesTools && req.ToolConfig == nil {
		return nil, fmt.Errorf("the toolConfig field must be defined when using toolUse and toolResult content blocks")
	}
	if tc := req.ToolConfig; tc != nil {
		if len(tc.Tools) == 0 {
			return nil, fmt.Errorf("toolConfig.tools must not be empty")
		}
		names := map[string]bool{}
		for i, t := range tc.Tools {
			if members(t.ToolSpec != nil, t.CachePoint != nil, t.SystemTool != nil) != 1 {
				return nil, fmt.Errorf("toolConfig.tools[%d] must set exactly one member", i)
			}
			if t.ToolSpec != nil {
				if t.ToolSpec.Name == "" || !json.Valid(t.ToolSpec.InputSchema.JSON) || bytes.TrimSpace(t.ToolSpec.InputSchema.JSON)[0] != '{' {
					return nil, fmt.Errorf("toolConfig.tools[%d].toolSpec needs a name and an object inputSchema.json", i)
				}
				names[t.ToolSpec.Name] = true
			}
			if t.CachePoint != nil {
				if err := checkCachePoint(t.CachePoint, fmt.Sprintf("toolConfig.tools[%d]", i)); err != nil {
					return nil, err
				}
			}
		}
		if ch := tc.ToolChoice; ch != nil {
			if members(ch.Auto != nil, ch.Any != nil, ch.Tool != nil) != 1 {
				return nil, fmt.Errorf("toolConfig.toolChoice must set exactly one member")
			}
			if ch.Tool != nil && !names[ch.Tool.Name] {
				return nil, fmt.Errorf("toolConfig.toolChoice.tool.name %q is not a declared tool", ch.Tool.Name)
			}
		}
	}
	if oc := req.OutputConfig; oc != nil && oc.TextFormat != nil {
		tf := oc.TextFormat
		if tf.Type != "json_schema" || tf.Structure.JSONSchema == nil || !json.Valid([]byte(tf.Structure.JSONSchema.Schema)) {
			return nil, fmt.Errorf("outputConfig.textFormat needs type json_schema and a JSON schema string")
		}
	}
	if len(req.AdditionalModelRequestFields) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(req.AdditionalModelRequestFields, &obj); err != nil {
			return nil, fmt.Errorf("additionalModelRequestFields must be a JSON object")
		}
	}
	return &req, nil
}

// AnthropicRequest is the Claude Messages body on Bedrock InvokeModel: no "model"
// and no "stream" (both are rejected as unknown fields), anthropic_version required.
type AnthropicRequest struct {
	AnthropicVersion string             `json:"anthropic_version"`
	AnthropicBeta    []string           `json:"anthropic_beta"`
	MaxTokens        int                `json:"max_tokens"`
	System           json.RawMessage    `json:"system"`
	Messages         []AnthropicMessage `json:"messages"`
	Tools            []struct {
		Name         string          `json:"name"`
		Description  string          `json:"description"`
		InputSchema  json.RawMessage `json:"input_schema"`
		CacheControl json.RawMessage `json:"cache_control"`
		Type         string          `json:"type"`
	} `json:"tools"`
	ToolChoice *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	StopSequences []string        `json:"stop_sequences"`
	Thinking      json.RawMessage `json:"thinking"`
	Metadata      json.RawMessage `json:"metadata"`
	OutputConfig  json.RawMessage `json:"output_config"`
}

// AnthropicMessage is one Messages turn; content is a string or a block list.
type AnthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// AnthropicBlock is a content block.
type AnthropicBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Source    json.RawMessage `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   *bool           `json:"is_error"`
	Thinking  *string         `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
	Citations json.RawMessage `json:"citations"`
	Title     string          `json:"title"`
	Context   string          `json:"context"`

	CacheControl *struct {
		Type string `json:"type"`
		TTL  string `json:"ttl"`
	} `json:"cache_control"`
}

func anthropicBlocks(raw json.RawMessage, where string) ([]AnthropicBlock, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		return nil, nil
	}
	var blocks []AnthropicBlock
	if err := strictDecode(raw, &blocks); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for i, b := range blocks {
		bw := fmt.Sprintf("%s[%d]", where, i)
		switch b.Type {
		case "text":
			if b.Text == nil {
				return nil, fmt.Errorf("%s: text block without text", bw)
			}
		case "image", "document":
			if b.Source == nil {
				return nil, fmt.Errorf("%s: %s block without source", bw, b.Type)
			}
		case "tool_use":
			if b.ID == "" || b.Name == "" || len(b.Input) == 0 {
				return nil, fmt.Errorf("%s: tool_use needs id, name and input", bw)
			}
		case "tool_result":
			if b.ToolUseID == "" {
				return nil, fmt.Errorf("%s: tool_result needs tool_use_id", bw)
			}
			if len(b.Content) > 0 {
				if _, err := anthropicBlocks(b.Content, bw+".content"); err != nil {
					return nil, err
				}
			}
		case "thinking":
			if b.Thinking == nil || b.Signature == "" {
				return nil, fmt.Errorf("%s: thinking block needs thinking and signature", bw)
			}
		case "redacted_thinking":
			if b.Data == "" {
				return nil, fmt.Errorf("%s: redacted_thinking needs data", bw)
			}
		default:
			return nil, fmt.Errorf("%s: unknown block type %q", bw, b.Type)
		}
		if cc := b.CacheControl; cc != nil && cc.Type != "ephemeral" {
			return nil, fmt.Errorf("%s.cache_control.type must be ephemeral", bw)
		}
	}
	return blocks, nil
}

func validateAnthropic(body []byte) (*AnthropicRequest, error) {
	var req AnthropicRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("request body does not match Claude's Messages schema on Bedrock: %w", err)
	}
	if req.AnthropicVersion != "bedrock-2023-05-31" {
		return nil, fmt.Errorf("anthropic_version must be bedrock-2023-05-31, got %q", req.AnthropicVersion)
	}
	if req.MaxTokens < 1 {
		return nil, fmt.Errorf("max_tokens is required")
	}
	if len(req.System) > 0 {
		if _, err := anthropicBlocks(req.System, "system"); err != nil {
			return nil, err
		}
	}
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("messages must not be empty")
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("messages[%d].role %q", i, m.Role)
		}
		if _, err := anthropicBlocks(m.Content, fmt.Sprintf("messages[%d].content", i)); err != nil {
			return nil, err
		}
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "any", "none":
		case "tool":
			if tc.Name == "" {
				return nil, fmt.Errorf("tool_choice type tool needs a name")
			}
		default:
			return nil, fmt.Errorf("tool_choice.type %q", tc.Type)
		}
	}
	for i, t := range req.Tools {
		if t.Name == "" || (t.Type == "" && len(t.InputSchema) == 0) {
			return nil, fmt.Errorf("tools[%d] needs name and input_schema", i)
		}
	}
	return &req, nil
}

// TitanEmbedRequest is the Amazon Titan Text Embeddings body.
type TitanEmbedRequest struct {
	InputText      *string  `json:"inputText"`
	Dimensions     *int     `json:"dimensions"`
	Normalize      *bool    `json:"normalize"`
	EmbeddingTypes []string `json:"embeddingTypes"`
}

func validateTitan(body []byte, model string) (*TitanEmbedRequest, error) {
	var req TitanEmbedRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("request body does not match the Titan embeddings schema: %w", err)
	}
	if req.InputText == nil || *req.InputText == "" {
		return nil, fmt.Errorf("inputText is required")
	}
	v2 := strings.Contains(model, "-v2")
	if !v2 && (req.Dimensions != nil || req.Normalize != nil || req.EmbeddingTypes != nil) {
		return nil, fmt.Errorf("Titan Embeddings G1 accepts only inputText") //nolint:staticcheck // ST1005: false positive, the string starts with a proper noun (the model's name).
	}
	if d := req.Dimensions; d != nil && *d != 256 && *d != 512 && *d != 1024 {
		return nil, fmt.Errorf("dimensions must be 256, 512 or 1024")
	}
	return &req, nil
}

// CohereEmbedRequest is the Cohere Embed body on Bedrock.
type CohereEmbedRequest struct {
	Texts           []string `json:"texts"`
	Images          []string `json:"images"`
	InputType       string   `json:"input_type"`
	Truncate        string   `json:"truncate"`
	EmbeddingTypes  []string `json:"embedding_types"`
	OutputDimension *int     `json:"output_dimension"`
	MaxTokens       *int     `json:"max_tokens"`
}

func validateCohereEmbed(body []byte) (*CohereEmbedRequest, error) {
	var req CohereEmbedRequest
	if err := strictDecode(body, &req); err != nil {
		return nil, fmt.Errorf("request body does not match the Cohere Embed schema: %w", err)
	}
	switch req.InputType {
	case "search_document", "search_query", "classification", "clustering", "image":
	default:
		return nil, fmt.Errorf("input_type %q is not valid", req.InputType)
	}
	if len(req.Texts) == 0 && len(req.Images) == 0 {
		return nil, fmt.Errorf("texts is required")
	}
	if len(req.Texts) > 96 {
		return nil, fmt.Errorf("at most 96 texts per call")
	}
	for _, et := range req.EmbeddingTypes {
		switch et {
		case "float", "int8", "uint8", "binary", "ubinary":
		default:
			return nil, fmt.Errorf("embedding_types: %q is not valid", et)
		}
	}
	return &req, nil
}
