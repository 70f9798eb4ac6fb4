package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// budgetForEffort returns the thinking budget used for a reasoning effort when no
// explicit budget is given. Anthropic's minimum is 1024; the steps roughly double,
// topping out where a default 4096-token answer still fits in a 64k max_tokens.
func budgetForEffort(effort string) (int, bool) {
	switch effort {
	case "minimal":
		return 1024, true
	case "low":
		return 2048, true
	case "medium":
		return 8192, true
	case "high":
		return 16384, true
	case "xhigh":
		return 32768, true
	case "max":
		return 49152, true
	}
	return 0, false
}

// minThinkingBudget is the smallest budget_tokens Anthropic accepts.
const minThinkingBudget = 1024

// passthroughField reports top-level Messages fields that canonical.Request cannot
// express but that pass through from Extra. They are all Anthropic-only names, so an
// OpenAI caller's Extra can never carry them by accident.
func passthroughField(key string) bool {
	switch key {
	case "container", "mcp_servers", "context_management", "inference_geo", "speed", "diagnostics", "cache_control":
		return true
	}
	return false
}

// isServerToolType matches versioned Anthropic server/client-executed tool types such
// as web_search_20250305, bash_20250124 or text_editor_20250728.
func isServerToolType(t string) bool {
	const date = 8
	if len(t) < date+2 || t[0] < 'a' || t[0] > 'z' || t[len(t)-date-1] != '_' {
		return false
	}
	for i := len(t) - date; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	for i := 1; i < len(t)-date-1; i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// badRequest builds a 400 canonical error.
func badRequest(param, format string, args ...any) *canonical.Error {
	return &canonical.Error{Status: 400, Kind: canonical.ErrInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// toMessages translates a canonical request. It returns the typed body plus raw
// fields to append verbatim.
func (b *Backend) toMessages(req *canonical.Request) (*MessagesRequest, []rawField, error) {
	if req.N > 1 {
		return nil, nil, badRequest("n", "n=%d is not supported by Anthropic models: the Messages API returns one completion per request", req.N)
	}
	mr := &MessagesRequest{StopSequences: req.Stop}

	system := systemBlocks(req.System)
	msgs, sysExtra, err := convertMessages(req.Messages)
	if err != nil {
		return nil, nil, err
	}
	system = append(system, sysExtra...)
	mr.System = SystemPrompt(system)
	mr.Messages = msgs

	// Tools.
	mr.Tools = make([]json.RawMessage, 0, len(req.Tools))
	for i, t := range req.Tools {
		if t.Name == "" {
			return nil, nil, badRequest(fmt.Sprintf("tools[%d].function.name", i), "tool name is required")
		}
		raw, err := encodeTool(&t)
		if err != nil {
			return nil, nil, badRequest(fmt.Sprintf("tools[%d].function.parameters", i), "tool parameters must be a JSON Schema object: %v", err)
		}
		mr.Tools = append(mr.Tools, raw)
	}
	mr.encodedTools = len(mr.Tools)
	mr.Tools = append(mr.Tools, serverTools(req.Extra["tools"])...)
	if len(mr.Tools) > 0 {
		mr.ToolChoice = toolChoice(req.ToolChoice, req.ParallelToolCalls)
	}

	// Sampling. API versions from 2026-10-21 reject these parameters outright.
	if b.vertex || b.version < samplingRemovedVersion {
		mr.Temperature, mr.TopP, mr.TopK = req.Temperature, req.TopP, req.TopK
	}

	// max_tokens is required; thinking must fit inside it.
	maxTokens := req.MaxTokens
	callerMax := maxTokens > 0
	if !callerMax {
		maxTokens = b.defaultMaxTokens
	}
	var extra []rawField
	if raw, ok := req.Extra["thinking"]; ok && req.Reasoning != nil && req.Reasoning.BudgetTokens == 0 && !req.Reasoning.Disabled {
		// An Anthropic caller's own thinking config (e.g. adaptive) passes verbatim.
		extra = append(extra, rawField{"thinking", raw})
		mr.Temperature, mr.TopP, mr.TopK = nil, nil, nil
	} else if th, err := thinking(req.Reasoning, &maxTokens, callerMax); err != nil {
		return nil, nil, err
	} else if th != nil {
		mr.Thinking = th
		if th.Type == "enabled" {
			// Extended thinking rejects temperature/top_k and most top_p values.
			mr.Temperature, mr.TopP, mr.TopK = nil, nil, nil
		}
	}
	mr.MaxTokens = maxTokens

	// Metadata: the API accepts user_id only.
	user := req.User
	if user == "" {
		user = req.Metadata["user_id"]
	}
	if user != "" {
		mr.Metadata = &Metadata{UserID: user}
	}

	// Structured output via output_config.format (see docs/providers.md for why).
	oc, err := outputConfig(req)
	if err != nil {
		return nil, nil, err
	}
	mr.OutputConfig = oc

	for k, v := range req.Extra {
		switch {
		case passthroughField(k):
			extra = append(extra, rawField{k, v})
		case k == "service_tier":
			var tier string
			if json.Unmarshal(v, &tier) == nil && (tier == "auto" || tier == "standard_only") {
				extra = append(extra, rawField{k, v})
			}
		}
	}
	sortFields(extra)
	return mr, extra, nil
}

// encodeTool renders a function tool as the API wants it, with its parameters schema
// (an empty object schema when absent) compacted; it fails when the schema is not a
// JSON object.
func encodeTool(t *canonical.Tool) (json.RawMessage, error) {
	schema := bytes.TrimSpace(t.Parameters)
	if len(schema) == 0 || string(schema) == "null" {
		schema = []byte(`{"type":"object","properties":{}}`)
	}
	out := make([]byte, 0, len(schema)+len(t.Name)+len(t.Description)+64)
	out = append(out, `{"name":`...)
	out = jsonwire.AppendString(out, t.Name)
	if t.Description != "" {
		out = append(out, `,"description":`...)
		out = jsonwire.AppendString(out, t.Description)
	}
	out = append(out, `,"input_schema":`...)
	ok := schema[0] == '{'
	if ok {
		out, ok = jsonwire.AppendCompact(out, schema, true)
	}
	if !ok {
		_, err := compactObject(schema) // the error, in json.Compact's words
		if err == nil {
			// Valid but deeper than the fast path follows.
			return json.Marshal(toolJSON{t.Name, t.Description, schema, t.Strict, cacheControl(t.CacheControl)})
		}
		return nil, err
	}
	if t.Strict {
		out = append(out, `,"strict":true`...)
	}
	if cc := cacheControl(t.CacheControl); cc != nil {
		out = append(out, `,"cache_control":{"type":`...)
		out = jsonwire.AppendString(out, cc.Type)
		if cc.TTL != "" {
			out = append(out, `,"ttl":`...)
			out = jsonwire.AppendString(out, cc.TTL)
		}
		out = append(out, '}')
	}
	return append(out, '}'), nil
}

// toolJSON is a function tool definition as sent to the API.
type toolJSON struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	Strict       bool            `json:"strict,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
}

// sortFields orders passthrough fields by key so request bodies are deterministic.
func sortFields(f []rawField) {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j].key < f[j-1].key; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
}

// serverTools returns the Anthropic server tools an Anthropic caller sent (kept in
// Extra["tools"] by the frontend because canonical.Tool describes functions only).
func serverTools(raw json.RawMessage) []json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var tools []json.RawMessage
	if json.Unmarshal(raw, &tools) != nil {
		return nil
	}
	out := tools[:0]
	for _, t := range tools {
		var head struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &head) == nil && head.Name != "" && isServerToolType(head.Type) {
			out = append(out, t)
		}
	}
	return out
}

// outputConfig maps response_format and any passthrough output_config (effort).
func outputConfig(req *canonical.Request) (*OutputConfig, error) {
	var oc OutputConfig
	var rest map[string]json.RawMessage
	if raw, ok := req.Extra["output_config"]; ok {
		if json.Unmarshal(raw, &rest) != nil {
			rest = nil
		}
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" {
		schema, err := compactObject(rf.Schema)
		if err != nil {
			return nil, badRequest("response_format.json_schema.schema", "response_format json_schema needs a JSON Schema object: %v", err)
		}
		oc.Format = &OutputFormat{Type: "json_schema", Schema: schema}
	}
	if oc.Format == nil && len(rest) == 0 {
		return nil, nil
	}
	if len(rest) > 0 {
		var effort string
		if e, ok := rest["effort"]; ok && json.Unmarshal(e, &effort) == nil {
			oc.Effort = effort
		}
		if oc.Format == nil {
			if f, ok := rest["format"]; ok {
				var of OutputFormat
				if json.Unmarshal(f, &of) == nil && of.Type != "" {
					oc.Format = &of
				}
			}
		}
	}
	if oc.Format == nil && oc.Effort == "" {
		return nil, nil
	}
	out := oc // only a config that is used escapes to the heap
	return &out, nil
}

// thinking maps canonical reasoning to Anthropic's thinking config, adjusting
// maxTokens so that budget_tokens < max_tokens as the API requires.
func thinking(r *canonical.Reasoning, maxTokens *int, callerMax bool) (*Thinking, error) {
	if r == nil {
		return nil, nil
	}
	if r.Disabled || r.Effort == "none" {
		return &Thinking{Type: "disabled"}, nil
	}
	budget := r.BudgetTokens
	if budget == 0 {
		if r.Effort == "" {
			return nil, nil
		}
		b, ok := budgetForEffort(r.Effort)
		if !ok {
			return nil, badRequest("reasoning_effort", "unknown reasoning effort %q", r.Effort)
		}
		budget = b
	}
	if budget < minThinkingBudget {
		budget = minThinkingBudget
	}
	if budget >= *maxTokens {
		if !callerMax {
			// No caller cap: leave the default answer room on top of the budget.
			*maxTokens += budget
		} else {
			// The caller's cap covers thinking too (as OpenAI's max_completion_tokens
			// covers reasoning): shrink the budget to fit.
			budget = *maxTokens - 1
			if budget < minThinkingBudget {
				return nil, badRequest("max_tokens", "max_tokens must be greater than %d when reasoning is enabled for Anthropic models", minThinkingBudget)
			}
		}
	}
	return &Thinking{Type: "enabled", BudgetTokens: budget}, nil
}

// toolChoice maps the canonical tool choice.
func toolChoice(tc *canonical.ToolChoice, parallel *bool) *ToolChoice {
	disable := parallel != nil && !*parallel
	if tc == nil {
		if !disable {
			return nil
		}
		return &ToolChoice{Type: "auto", DisableParallelToolUse: true}
	}
	switch tc.Mode {
	case canonical.ToolChoiceNone:
		return &ToolChoice{Type: "none"}
	case canonical.ToolChoiceRequired:
		return &ToolChoice{Type: "any", DisableParallelToolUse: disable}
	case canonical.ToolChoiceNamed:
		return &ToolChoice{Type: "tool", Name: tc.Name, DisableParallelToolUse: disable}
	default:
		return &ToolChoice{Type: "auto", DisableParallelToolUse: disable}
	}
}

func cacheControl(c *canonical.CacheControl) *CacheControl {
	if c == nil {
		return nil
	}
	typ := c.Type
	if typ == "" {
		typ = "ephemeral"
	}
	return &CacheControl{Type: typ, TTL: c.TTL}
}

// systemBlocks renders system parts as text blocks (Anthropic's system accepts text
// only). A single unmarked block is later sent as the string shorthand.
func systemBlocks(parts []canonical.Part) Content {
	var out Content
	for _, p := range parts {
		if p.Type != canonical.PartText || strings.TrimSpace(p.Text) == "" {
			continue
		}
		out = append(out, ContentBlock{Type: "text", Text: p.Text, CacheControl: cacheControl(p.CacheControl)})
	}
	return out
}

// convertMessages builds alternating user/assistant turns. System messages found in
// the conversation are returned separately to join the top-level system prompt.
func convertMessages(in []canonical.Message) ([]Message, Content, error) {
	out := make([]Message, 0, len(in))
	var system Content
	// Every part and tool call makes at most one block (a tool message exactly one):
	// carve each turn's blocks from one allocation.
	n := 0
	for i := range in {
		if in[i].Role == canonical.RoleTool {
			n++
			continue
		}
		n += len(in[i].Content) + len(in[i].ToolCalls)
	}
	slab := make(Content, 0, n)
	for i, m := range in {
		var role string
		blocks := slab[len(slab):]
		switch m.Role {
		case canonical.RoleSystem:
			system = append(system, systemBlocks(m.Content)...)
			continue
		case canonical.RoleUser:
			role = "user"
			for j, p := range m.Content {
				b, ok, err := userBlock(p, i, j)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					blocks = append(blocks, b)
				}
			}
		case canonical.RoleTool:
			role = "user"
			if m.ToolCallID == "" {
				return nil, nil, badRequest(fmt.Sprintf("messages[%d].tool_call_id", i), "tool message needs tool_call_id")
			}
			blocks = append(blocks, toolResultBlock(&canonical.ToolResult{ToolCallID: m.ToolCallID, Content: m.Content}))
		case canonical.RoleAssistant:
			role = "assistant"
			for _, p := range m.Content {
				if b, ok := assistantBlock(p); ok {
					blocks = append(blocks, b)
				}
			}
			for j, tc := range m.ToolCalls {
				input, err := toolInput(tc.Arguments)
				if err != nil {
					return nil, nil, badRequest(fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j),
						"tool call %q arguments must be a JSON object: %v", tc.Name, err)
				}
				blocks = append(blocks, ContentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input})
			}
		default:
			return nil, nil, badRequest(fmt.Sprintf("messages[%d].role", i), "unsupported role %q", m.Role)
		}
		if len(blocks) == 0 {
			continue
		}
		if len(blocks) <= cap(slab)-len(slab) { // still in the slab (always, by the count)
			slab = slab[:len(slab)+len(blocks)]
		}
		blocks = blocks[:len(blocks):len(blocks)]
		if n := len(out); n > 0 && out[n-1].Role == role {
			// Anthropic requires alternating roles: merge consecutive turns.
			out[n-1].Content = append(out[n-1].Content, blocks...)
			continue
		}
		out = append(out, Message{Role: role, Content: blocks})
	}
	if len(out) == 0 {
		return nil, nil, badRequest("messages", "at least one non-empty user or assistant message is required")
	}
	for i := range out {
		if out[i].Role == "user" {
			toolResultsFirst(out[i].Content)
		}
	}
	// The API rejects a final assistant (prefill) turn ending in whitespace.
	if last := &out[len(out)-1]; last.Role == "assistant" {
		if c := last.Content; c[len(c)-1].Type == "text" {
			c[len(c)-1].Text = strings.TrimRight(c[len(c)-1].Text, " \t\r\n")
			if c[len(c)-1].Text == "" {
				last.Content = c[:len(c)-1]
				if len(last.Content) == 0 {
					out = out[:len(out)-1]
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, nil, badRequest("messages", "at least one non-empty user or assistant message is required")
	}
	return out, system, nil
}

// toolResultsFirst moves tool_result blocks to the front of a user turn, keeping
// order; the API requires them before any other content.
func toolResultsFirst(c Content) {
	n := 0
	for _, b := range c {
		if b.Type == "tool_result" {
			n++
		}
	}
	if n == 0 || n == len(c) {
		return
	}
	sorted := make(Content, 0, len(c))
	for _, b := range c {
		if b.Type == "tool_result" {
			sorted = append(sorted, b)
		}
	}
	for _, b := range c {
		if b.Type != "tool_result" {
			sorted = append(sorted, b)
		}
	}
	copy(c, sorted)
}

// toolInput parses tool call arguments into the object Anthropic's input needs.
func toolInput(args string) (json.RawMessage, error) {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage("{}"), nil
	}
	if !jsonwire.Valid([]byte(args)) {
		return nil, fmt.Errorf("invalid JSON")
	}
	return compactObject([]byte(args))
}

// userBlock converts part j of user message i; ok is false for parts Anthropic cannot
// take in a user turn (thinking) and for empty text.
func userBlock(p canonical.Part, i, j int) (ContentBlock, bool, error) {
	switch p.Type {
	case canonical.PartText:
		if strings.TrimSpace(p.Text) == "" {
			return ContentBlock{}, false, nil
		}
		return ContentBlock{Type: "text", Text: p.Text, CacheControl: cacheControl(p.CacheControl)}, true, nil
	case canonical.PartImage:
		b, err := imageBlock(p.Image, partParam(i, j))
		if err != nil {
			return ContentBlock{}, false, err
		}
		b.CacheControl = cacheControl(p.CacheControl)
		return b, true, nil
	case canonical.PartToolResult:
		if p.ToolResult == nil || p.ToolResult.ToolCallID == "" {
			return ContentBlock{}, false, badRequest(partParam(i, j), "tool result needs a tool_call_id")
		}
		b := toolResultBlock(p.ToolResult)
		if p.CacheControl != nil {
			b.CacheControl = cacheControl(p.CacheControl)
		}
		return b, true, nil
	default:
		return ContentBlock{}, false, nil
	}
}

// partParam names part j of message i for error params.
func partParam(i, j int) string { return fmt.Sprintf("messages[%d].content[%d]", i, j) }

// assistantBlock converts one part of an assistant turn. Thinking without a signature
// (from another provider) is dropped: the API rejects unsigned thinking blocks.
func assistantBlock(p canonical.Part) (ContentBlock, bool) {
	switch p.Type {
	case canonical.PartText:
		if strings.TrimSpace(p.Text) == "" {
			return ContentBlock{}, false
		}
		return ContentBlock{Type: "text", Text: p.Text, CacheControl: cacheControl(p.CacheControl)}, true
	case canonical.PartThinking:
		if p.Signature == "" {
			return ContentBlock{}, false
		}
		return ContentBlock{Type: "thinking", Thinking: p.Text, Signature: p.Signature}, true
	case canonical.PartRedactedThinking:
		if p.Data == "" {
			return ContentBlock{}, false
		}
		return ContentBlock{Type: "redacted_thinking", Data: p.Data}, true
	default:
		return ContentBlock{}, false
	}
}

// toolResultBlock renders a tool result; the last cache marker among its parts moves
// to the block, where the API expects it.
func toolResultBlock(tr *canonical.ToolResult) ContentBlock {
	b := ContentBlock{Type: "tool_result", ToolUseID: tr.ToolCallID, IsError: tr.IsError}
	var content Content
	for _, p := range tr.Content {
		if p.CacheControl != nil {
			b.CacheControl = cacheControl(p.CacheControl)
		}
		switch p.Type {
		case canonical.PartText:
			if p.Text != "" {
				content = append(content, ContentBlock{Type: "text", Text: p.Text})
			}
		case canonical.PartImage:
			if img, err := imageBlock(p.Image, ""); err == nil {
				content = append(content, img)
			}
		}
	}
	if len(content) > 0 {
		b.Content = &content
	}
	return b
}

// imageBlock renders an image (or PDF) as an image or document block.
func imageBlock(img *canonical.Image, param string) (ContentBlock, error) {
	if img == nil {
		return ContentBlock{}, badRequest(param, "image part without image")
	}
	mediaType, data, u := img.MediaType, img.Data, img.URL
	if data == "" && strings.HasPrefix(u, "data:") {
		mt, d, ok := parseDataURL(u)
		if !ok {
			return ContentBlock{}, badRequest(param, "malformed data: URL (want data:<media type>;base64,<data>)")
		}
		mediaType, data, u = mt, d, ""
	}
	kind := "image"
	if mediaType == "application/pdf" || (data == "" && strings.HasSuffix(strings.ToLower(urlPath(u)), ".pdf")) {
		kind = "document"
	}
	if data != "" {
		if mediaType == "" {
			return ContentBlock{}, badRequest(param, "inline image needs a media type")
		}
		return ContentBlock{Type: kind, Source: &Source{Type: "base64", MediaType: mediaType, Data: data}}, nil
	}
	if u == "" {
		return ContentBlock{}, badRequest(param, "image needs a URL or inline data")
	}
	return ContentBlock{Type: kind, Source: &Source{Type: "url", URL: u}}, nil
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

// urlPath returns the URL without query or fragment.
func urlPath(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
