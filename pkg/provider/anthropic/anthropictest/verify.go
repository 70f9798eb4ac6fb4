package anthropictest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// verify checks a request against the Messages API's documented rules. It fills
// rec.Model and rec.Stream and returns the status to answer with and the problems.
func (s *Server) verify(r *http.Request, body []byte, rec *Request) (int, []string) {
	var p problems
	if r.Method != http.MethodPost {
		return 405, []string{"method " + r.Method + " not allowed"}
	}
	pathModel, pathStream, ok := s.matchPath(r.URL.Path)
	if !ok {
		return 404, []string{"unknown path " + r.URL.Path}
	}
	if st, msg := s.checkAuth(r.Header); st != 0 {
		return st, []string{msg}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		p.add("content-type must be application/json, got %q", ct)
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return 400, []string{"body is not a JSON object"}
	}
	rec.Stream, _ = m["stream"].(bool)
	if v, present := m["stream"]; present {
		if _, isBool := v.(bool); !isBool {
			p.add("stream: must be a boolean")
		}
	}

	for k := range m {
		if !knownTopLevel(k, s.vertex) {
			p.add("%s: Extra inputs are not permitted", k)
		}
	}
	if s.vertex {
		rec.Model = pathModel
		if _, has := m["model"]; has {
			p.add("model: Extra inputs are not permitted (Vertex takes the model from the URL)")
		}
		if v, _ := m["anthropic_version"].(string); v != "vertex-2023-10-16" {
			p.add("anthropic_version: must be \"vertex-2023-10-16\", got %q", v)
		}
		if rec.Stream != pathStream {
			p.add("stream=%v does not match the :%s method", rec.Stream, map[bool]string{true: "streamRawPredict", false: "rawPredict"}[pathStream])
		}
	} else {
		model, _ := m["model"].(string)
		rec.Model = model
		if model == "" {
			p.add("model: Field required")
		}
	}
	if s.version >= "2026-10-21" && !s.vertex {
		for _, k := range []string{"temperature", "top_p", "top_k"} {
			if _, has := m[k]; has {
				p.add("%s: Extra inputs are not permitted", k)
			}
		}
	}

	maxTokens, okMax := intField(m, "max_tokens")
	if !okMax {
		p.add("max_tokens: Field required")
	} else if maxTokens < 0 {
		p.add("max_tokens: Input should be greater than or equal to 0")
	}
	checkSystem(&p, m["system"])
	checkMessages(&p, m["messages"])
	checkTools(&p, m["tools"], m["tool_choice"])
	checkThinking(&p, m, maxTokens)
	if md, has := m["metadata"]; has {
		obj, isObj := md.(map[string]any)
		if !isObj {
			p.add("metadata: must be an object")
		}
		for k := range obj {
			if k != "user_id" {
				p.add("metadata.%s: Extra inputs are not permitted", k)
			}
		}
	}
	if ss, has := m["stop_sequences"]; has {
		arr, isArr := ss.([]any)
		if !isArr {
			p.add("stop_sequences: must be an array of strings")
		}
		for i, v := range arr {
			if _, isStr := v.(string); !isStr {
				p.add("stop_sequences.%d: must be a string", i)
			}
		}
	}
	if len(p) > 0 {
		return 400, p
	}
	return 200, nil
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func knownTopLevel(k string, vertex bool) bool {
	switch k {
	case "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
		"temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config",
		"service_tier", "container", "mcp_servers", "context_management", "inference_geo", "speed",
		"diagnostics", "cache_control":
		return true
	case "anthropic_version":
		return vertex
	}
	return false
}

// matchPath returns the Vertex model and stream flag from the path.
func (s *Server) matchPath(path string) (model string, stream, ok bool) {
	if !s.vertex {
		return "", false, path == "/v1/messages"
	}
	prefix := "/v1/projects/" + s.project + "/locations/" + s.location + "/publishers/anthropic/models/"
	rest, found := strings.CutPrefix(path, prefix)
	if !found {
		return "", false, false
	}
	model, method, found := strings.Cut(rest, ":")
	if !found || model == "" {
		return "", false, false
	}
	switch method {
	case "rawPredict":
		return model, false, true
	case "streamRawPredict":
		return model, true, true
	}
	return "", false, false
}

func (s *Server) checkAuth(h http.Header) (int, string) {
	if s.vertex {
		if h.Get("x-api-key") != "" {
			return 400, "x-api-key must not be sent to Vertex AI"
		}
		if h.Get("Authorization") != "Bearer "+s.token {
			return 401, "missing or invalid OAuth bearer token"
		}
		return 0, ""
	}
	// The API takes x-api-key, or (SDKs since API version 2026-10-21)
	// "Authorization: Bearer <key>"; x-api-key wins when both are present.
	if key := h.Get("x-api-key"); key != "" {
		if key != s.apiKey {
			return 401, "invalid x-api-key"
		}
	} else if h.Get("Authorization") != "Bearer "+s.apiKey {
		return 401, "x-api-key header is required"
	}
	v := h.Get("anthropic-version")
	if v == "" {
		return 400, "anthropic-version: header is required"
	}
	if s.version != "" && v != s.version {
		return 400, fmt.Sprintf("anthropic-version: expected %q, got %q", s.version, v)
	}
	return 0, ""
}

func intField(m map[string]any, k string) (int, bool) {
	n, isNum := m[k].(json.Number)
	if !isNum {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		return 0, false
	}
	return int(i), true
}

func checkSystem(p *problems, v any) {
	switch sys := v.(type) {
	case nil, string:
	case []any:
		for i, b := range sys {
			blk, _ := b.(map[string]any)
			if blk["type"] != "text" {
				p.add("system.%d: only text blocks are allowed", i)
				continue
			}
			checkBlockKeys(p, fmt.Sprintf("system.%d", i), blk, "type", "text", "cache_control", "citations")
			checkText(p, fmt.Sprintf("system.%d", i), blk)
		}
	default:
		p.add("system: must be a string or an array of text blocks")
	}
}

func checkText(p *problems, where string, blk map[string]any) {
	t, isStr := blk["text"].(string)
	if !isStr {
		p.add("%s.text: Field required", where)
	} else if strings.TrimSpace(t) == "" {
		p.add("%s: text content blocks must contain non-whitespace text", where)
	}
}

func checkBlockKeys(p *problems, where string, blk map[string]any, allowed ...string) {
	for k := range blk {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			p.add("%s.%s: Extra inputs are not permitted", where, k)
		}
	}
	if cc, has := blk["cache_control"]; has {
		ccm, _ := cc.(map[string]any)
		if ccm["type"] != "ephemeral" {
			p.add("%s.cache_control.type: must be \"ephemeral\"", where)
		}
	}
}

// checkMessages enforces roles, alternation, block shapes and tool pairing.
func checkMessages(p *problems, v any) {
	msgs, isArr := v.([]any)
	if !isArr || len(msgs) == 0 {
		p.add("messages: at least one message is required")
		return
	}
	prevRole := ""
	var pendingToolUse []string // tool_use ids of the previous assistant turn
	for i, raw := range msgs {
		msg, _ := raw.(map[string]any)
		where := fmt.Sprintf("messages.%d", i)
		checkBlockKeys(p, where, msg, "role", "content")
		role, _ := msg["role"].(string)
		if role != "user" && role != "assistant" {
			p.add("%s.role: Input should be 'user' or 'assistant'", where)
			continue
		}
		if role == prevRole {
			p.add("%s: roles must alternate between \"user\" and \"assistant\"", where)
		}
		prevRole = role
		blocks := contentBlocks(p, where, msg["content"])
		var toolUses []string
		answered := map[string]bool{}
		seenOther := false
		for j, blk := range blocks {
			bw := fmt.Sprintf("%s.content.%d", where, j)
			typ, _ := blk["type"].(string)
			switch typ {
			case "text":
				checkBlockKeys(p, bw, blk, "type", "text", "cache_control", "citations")
				checkText(p, bw, blk)
				seenOther = true
			case "image", "document":
				checkBlockKeys(p, bw, blk, "type", "source", "cache_control", "title", "context", "citations")
				checkSource(p, bw, blk["source"], typ)
				if role == "assistant" && typ == "image" {
					p.add("%s: image blocks are not allowed in assistant messages", bw)
				}
				seenOther = true
			case "tool_use":
				checkBlockKeys(p, bw, blk, "type", "id", "name", "input", "cache_control")
				if role != "assistant" {
					p.add("%s: tool_use blocks are only allowed in assistant messages", bw)
				}
				id, _ := blk["id"].(string)
				if !validID(id) {
					p.add("%s.id: String should match pattern '^[a-zA-Z0-9_-]+$'", bw)
				}
				if name, _ := blk["name"].(string); name == "" {
					p.add("%s.name: Field required", bw)
				}
				if _, isObj := blk["input"].(map[string]any); !isObj {
					p.add("%s.input: Input should be a valid dictionary", bw)
				}
				toolUses = append(toolUses, id)
			case "tool_result":
				checkBlockKeys(p, bw, blk, "type", "tool_use_id", "content", "is_error", "cache_control")
				if role != "user" {
					p.add("%s: tool_result blocks are only allowed in user messages", bw)
				}
				if seenOther {
					p.add("%s: tool_result blocks must come first in the user message content", bw)
				}
				id, _ := blk["tool_use_id"].(string)
				if !contains(pendingToolUse, id) {
					p.add("%s: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", bw, id)
				}
				answered[id] = true
				if c, has := blk["content"]; has {
					for k, inner := range contentBlocks(p, bw+".content", c) {
						it, _ := inner["type"].(string)
						if it != "text" && it != "image" && it != "document" && it != "search_result" {
							p.add("%s.content.%d: type %q not allowed in tool_result", bw, k, it)
						}
					}
				}
			case "thinking":
				checkBlockKeys(p, bw, blk, "type", "thinking", "signature")
				if role != "assistant" {
					p.add("%s: thinking blocks are only allowed in assistant messages", bw)
				}
				if sig, _ := blk["signature"].(string); sig == "" {
					p.add("%s.signature: Field required", bw)
				}
				if _, isStr := blk["thinking"].(string); !isStr {
					p.add("%s.thinking: Field required", bw)
				}
			case "redacted_thinking":
				checkBlockKeys(p, bw, blk, "type", "data")
				if d, _ := blk["data"].(string); d == "" {
					p.add("%s.data: Field required", bw)
				}
			default:
				p.add("%s.type: unknown content block type %q", bw, typ)
			}
		}
		if role == "user" {
			for _, id := range pendingToolUse {
				if !answered[id] {
					p.add("%s: `tool_use` ids were found without `tool_result` blocks immediately after: %s", where, id)
				}
			}
		}
		pendingToolUse = toolUses
	}
}

func contentBlocks(p *problems, where string, v any) []map[string]any {
	switch c := v.(type) {
	case string:
		if strings.TrimSpace(c) == "" {
			p.add("%s.content: text content must be non-empty", where)
		}
		return nil
	case []any:
		if len(c) == 0 {
			p.add("%s.content: must not be empty", where)
		}
		out := make([]map[string]any, 0, len(c))
		for _, b := range c {
			m, _ := b.(map[string]any)
			out = append(out, m)
		}
		return out
	default:
		p.add("%s.content: must be a string or an array of content blocks", where)
		return nil
	}
}

func checkSource(p *problems, where string, v any, blockType string) {
	src, _ := v.(map[string]any)
	switch src["type"] {
	case "base64":
		mt, _ := src["media_type"].(string)
		if d, _ := src["data"].(string); d == "" {
			p.add("%s.source.data: Field required", where)
		}
		ok := mt == "image/jpeg" || mt == "image/png" || mt == "image/gif" || mt == "image/webp"
		if blockType == "document" {
			ok = mt == "application/pdf"
		}
		if !ok {
			p.add("%s.source.media_type: unsupported %q", where, mt)
		}
	case "url":
		if u, _ := src["url"].(string); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			p.add("%s.source.url: must be an http(s) URL", where)
		}
	case "text":
		if blockType != "document" {
			p.add("%s.source: text sources are for documents only", where)
		}
	default:
		p.add("%s.source.type: unknown source type %v", where, src["type"])
	}
}

func checkTools(p *problems, tools, choice any) {
	arr, _ := tools.([]any)
	if tools != nil && arr == nil {
		p.add("tools: must be an array")
	}
	names := map[string]bool{}
	for i, raw := range arr {
		t, _ := raw.(map[string]any)
		where := fmt.Sprintf("tools.%d", i)
		name, _ := t["name"].(string)
		if typ, _ := t["type"].(string); typ != "" && typ != "custom" {
			names[name] = true // server tool: shape is tool-specific
			continue
		}
		checkBlockKeys(p, where, t, "type", "name", "description", "input_schema", "cache_control", "strict")
		if !validToolName(name) {
			p.add("%s.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", where)
		}
		if names[name] {
			p.add("%s.name: tool names must be unique", where)
		}
		names[name] = true
		schema, isObj := t["input_schema"].(map[string]any)
		if !isObj {
			p.add("%s.input_schema: Field required", where)
		} else if schema["type"] != "object" {
			p.add("%s.input_schema.type: must be \"object\"", where)
		}
	}
	if choice == nil {
		return
	}
	tc, _ := choice.(map[string]any)
	switch tc["type"] {
	case "auto", "any", "none":
		checkBlockKeys(p, "tool_choice", tc, "type", "disable_parallel_tool_use")
	case "tool":
		checkBlockKeys(p, "tool_choice", tc, "type", "name", "disable_parallel_tool_use")
		if name, _ := tc["name"].(string); !names[name] {
			p.add("tool_choice.name: tool %q is not defined in tools", name)
		}
	default:
		p.add("tool_choice.type: must be auto, any, tool or none")
	}
}

func checkThinking(p *problems, m map[string]any, maxTokens int) {
	raw, has := m["thinking"]
	if !has {
		return
	}
	th, _ := raw.(map[string]any)
	switch th["type"] {
	case "enabled":
		checkBlockKeys(p, "thinking", th, "type", "budget_tokens", "display")
		budget, ok := intField(th, "budget_tokens")
		if !ok || budget < 1024 {
			p.add("thinking.budget_tokens: Input should be greater than or equal to 1024")
		}
		if budget >= maxTokens {
			p.add("max_tokens must be greater than thinking.budget_tokens")
		}
		if t, has := m["temperature"]; has && fmt.Sprint(t) != "1" {
			p.add("temperature may only be set to 1 when thinking is enabled")
		}
		if _, has := m["top_k"]; has {
			p.add("top_k is not compatible with thinking")
		}
		if tc, _ := m["tool_choice"].(map[string]any); tc["type"] == "any" || tc["type"] == "tool" {
			p.add("Thinking may not be enabled when tool_choice forces tool use.")
		}
	case "disabled", "adaptive":
	default:
		p.add("thinking.type: must be enabled, disabled or adaptive")
	}
}

func validID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validToolName(s string) bool { return len(s) <= 128 && validID(s) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
