package geminitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// verify checks a request; it returns the error to answer with (nil when valid) and
// fills rec.
func (s *Server) verify(r *http.Request, body []byte, rec *Request) *Error {
	fail := func(code int, status, msg string) *Error {
		rec.Problems = append(rec.Problems, msg)
		return &Error{Code: code, Status: status, Message: msg}
	}
	if r.Method != http.MethodPost {
		return fail(405, "INVALID_ARGUMENT", "method "+r.Method+" not allowed")
	}
	model, rpc, ok := s.matchPath(r.URL.Path)
	if !ok {
		return fail(404, "NOT_FOUND", "unknown path "+r.URL.Path)
	}
	rec.Model, rec.RPC = model, rpc
	rec.Stream = rpc == "streamGenerateContent"
	if s.vertex {
		if r.Header.Get("x-goog-api-key") != "" {
			return fail(400, "INVALID_ARGUMENT", "API keys are not supported by this API; expected an OAuth2 access token")
		}
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			return fail(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		}
	} else {
		key := r.Header.Get("x-goog-api-key")
		if key == "" {
			key = r.URL.Query().Get("key")
		}
		if key != s.apiKey {
			e := fail(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
			e.Details = []map[string]any{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}}
			return e
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fail(400, "INVALID_ARGUMENT", "content-type must be application/json, got "+ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return fail(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
	}
	var p problems
	switch rpc {
	case "generateContent", "streamGenerateContent":
		s.checkGenerate(&p, m, model)
	case "batchEmbedContents":
		checkBatchEmbed(&p, m, model)
	case "predict":
		checkPredict(&p, m)
	}
	if len(p) > 0 {
		rec.Problems = p
		return &Error{Code: 400, Status: "INVALID_ARGUMENT", Message: p[0]}
	}
	return nil
}

// matchPath returns the model and method from the path.
func (s *Server) matchPath(path string) (model, rpc string, ok bool) {
	var rest string
	var found bool
	if s.vertex {
		rest, found = strings.CutPrefix(path, "/v1/projects/"+s.project+"/locations/"+s.location+"/publishers/google/models/")
	} else {
		rest, found = strings.CutPrefix(path, "/v1beta/models/")
		if !found {
			rest, found = strings.CutPrefix(path, "/v1/models/")
		}
	}
	if !found {
		return "", "", false
	}
	model, rpc, found = strings.Cut(rest, ":")
	if !found || model == "" || strings.Contains(model, "/") {
		return "", "", false
	}
	switch rpc {
	case "generateContent", "streamGenerateContent":
		return model, rpc, true
	case "batchEmbedContents":
		return model, rpc, !s.vertex
	case "predict":
		return model, rpc, s.vertex
	}
	return "", "", false
}

// unknownKeys reports fields the API would reject as unknown.
func unknownKeys(p *problems, where string, m map[string]any, allowed ...string) {
	for k := range m {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			p.add("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, where)
		}
	}
}

func majorVersion(model string) int {
	rest, ok := strings.CutPrefix(model, "gemini-")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (s *Server) checkGenerate(p *problems, m map[string]any, model string) {
	allowed := []string{"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent"}
	if s.vertex {
		allowed = append(allowed, "labels")
	}
	unknownKeys(p, "", m, allowed...)
	if si, ok := m["systemInstruction"]; ok {
		c, _ := si.(map[string]any)
		unknownKeys(p, "system_instruction", c, "role", "parts")
		for i, part := range asList(c["parts"]) {
			pm, _ := part.(map[string]any)
			if _, isText := pm["text"].(string); !isText {
				p.add("system_instruction.parts[%d]: only text is supported", i)
			}
		}
	}
	names := checkTools(p, m["tools"])
	checkToolConfig(p, m["toolConfig"], names)
	checkGenerationConfig(p, m["generationConfig"], majorVersion(model))
	checkContents(p, m["contents"], majorVersion(model) >= 3)
}

func asList(v any) []any { l, _ := v.([]any); return l }

func checkContents(p *problems, v any, gemini3 bool) {
	contents := asList(v)
	if len(contents) == 0 {
		p.add("* GenerateContentRequest.contents: contents is not specified")
		return
	}
	prevRole := ""
	var prevCalls []string
	for i, raw := range contents {
		c, _ := raw.(map[string]any)
		where := fmt.Sprintf("contents[%d]", i)
		unknownKeys(p, where, c, "role", "parts")
		role, _ := c["role"].(string)
		if role != "user" && role != "model" {
			p.add("%s.role: Please use a valid role: user, model.", where)
		}
		if role == prevRole {
			p.add("Please ensure that multiturn requests alternate between user and model.")
		}
		parts := asList(c["parts"])
		if len(parts) == 0 {
			p.add("* GenerateContentRequest.%s.parts: contents.parts must not be empty.", where)
		}
		var calls, responses []string
		firstCallSigned := false
		for j, rp := range parts {
			part, _ := rp.(map[string]any)
			pw := fmt.Sprintf("%s.parts[%d]", where, j)
			checkPart(p, pw, part)
			if fc, ok := part["functionCall"].(map[string]any); ok {
				if role != "model" {
					p.add("%s: functionCall is only allowed in model turns", pw)
				}
				name, _ := fc["name"].(string)
				if len(calls) == 0 {
					sig, _ := part["thoughtSignature"].(string)
					firstCallSigned = sig != ""
				}
				calls = append(calls, name)
			}
			if fr, ok := part["functionResponse"].(map[string]any); ok {
				if role != "user" {
					p.add("%s: functionResponse is only allowed in user turns", pw)
				}
				name, _ := fr["name"].(string)
				responses = append(responses, name)
			}
		}
		if gemini3 && len(calls) > 0 && !firstCallSigned {
			p.add("Function call `%s` in the `%d.` content block is missing a `thought_signature`.", calls[0], i)
		}
		if len(prevCalls) > 0 && role == "user" {
			if !sameNames(prevCalls, responses) {
				p.add("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
			}
		} else if len(responses) > 0 {
			p.add("Please ensure that function response turn comes immediately after a function call turn.")
		}
		prevRole, prevCalls = role, calls
	}
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, n := range a {
		count[n]++
	}
	for _, n := range b {
		count[n]--
		if count[n] < 0 {
			return false
		}
	}
	return true
}

// checkPart enforces one datum per part and each datum's shape.
func checkPart(p *problems, where string, part map[string]any) {
	unknownKeys(p, where, part, "text", "thought", "thoughtSignature", "inlineData", "fileData", "functionCall",
		"functionResponse", "executableCode", "codeExecutionResult", "videoMetadata", "mediaResolution", "partMetadata")
	data := 0
	for _, k := range []string{"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"} {
		if _, ok := part[k]; ok {
			data++
		}
	}
	if data != 1 {
		p.add("%s: a part must contain exactly one of text, inlineData, fileData, functionCall, functionResponse (found %d)", where, data)
	}
	if sig, ok := part["thoughtSignature"].(string); ok && !validBase64(sig) {
		p.add("Invalid value at '%s.thought_signature' (TYPE_BYTES), Base64 decoding failed", where)
	}
	if b, ok := part["inlineData"].(map[string]any); ok {
		unknownKeys(p, where+".inline_data", b, "mimeType", "data", "displayName")
		if mt, _ := b["mimeType"].(string); mt == "" {
			p.add("%s.inline_data.mime_type: required", where)
		}
		if d, _ := b["data"].(string); d == "" || !validBase64(d) {
			p.add("Invalid value at '%s.inline_data.data' (TYPE_BYTES), Base64 decoding failed", where)
		}
	}
	if f, ok := part["fileData"].(map[string]any); ok {
		unknownKeys(p, where+".file_data", f, "mimeType", "fileUri", "displayName")
		if u, _ := f["fileUri"].(string); u == "" {
			p.add("%s.file_data.file_uri: required", where)
		}
	}
	if fc, ok := part["functionCall"].(map[string]any); ok {
		unknownKeys(p, where+".function_call", fc, "id", "name", "args")
		if n, _ := fc["name"].(string); n == "" {
			p.add("%s.function_call.name: Name cannot be empty.", where)
		}
		if a, has := fc["args"]; has {
			if _, isObj := a.(map[string]any); !isObj {
				p.add("Invalid value at '%s.function_call.args' (type.googleapis.com/google.protobuf.Struct)", where)
			}
		}
	}
	if fr, ok := part["functionResponse"].(map[string]any); ok {
		unknownKeys(p, where+".function_response", fr, "id", "name", "response", "parts", "willContinue", "scheduling")
		if n, _ := fr["name"].(string); n == "" {
			p.add("%s.function_response.name: Name cannot be empty.", where)
		}
		if _, isObj := fr["response"].(map[string]any); !isObj {
			p.add("Invalid value at '%s.function_response.response' (type.googleapis.com/google.protobuf.Struct)", where)
		}
	}
}

// validBase64 accepts what proto3 JSON accepts for bytes: standard or URL-safe base64,
// with or without padding.
func validBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

// checkTools returns the declared function names.
func checkTools(p *problems, v any) map[string]bool {
	names := map[string]bool{}
	for i, raw := range asList(v) {
		t, _ := raw.(map[string]any)
		where := fmt.Sprintf("tools[%d]", i)
		unknownKeys(p, where, t, "functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext", "retrieval")
		for j, d := range asList(t["functionDeclarations"]) {
			fd, _ := d.(map[string]any)
			fw := fmt.Sprintf("%s.function_declarations[%d]", where, j)
			unknownKeys(p, fw, fd, "name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema", "behavior")
			name, _ := fd["name"].(string)
			if !validFunctionName(name) {
				p.add("* GenerateContentRequest.%s.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.", fw)
			}
			names[name] = true
			if params, has := fd["parameters"]; has {
				checkSchema(p, fw+".parameters", params)
			}
		}
	}
	return names
}

func validFunctionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if i == 0 && !letter {
			return false
		}
		if !letter && (c < '0' || c > '9') && c != '.' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// checkSchema enforces Gemini's OpenAPI Schema subset.
func checkSchema(p *problems, where string, v any) {
	s, ok := v.(map[string]any)
	if !ok {
		p.add("Invalid value at '%s': schema must be an object", where)
		return
	}
	unknownKeys(p, where, s, "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
		"properties", "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
		"anyOf", "propertyOrdering", "default", "items", "minimum", "maximum")
	typ, _ := s["type"].(string)
	switch strings.ToUpper(typ) {
	case "", "TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL":
	default:
		p.add("Invalid value at '%s.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), %q", where, typ)
	}
	props, hasProps := s["properties"].(map[string]any)
	if hasProps && len(props) == 0 && strings.EqualFold(typ, "OBJECT") {
		p.add("* GenerateContentRequest.%s.properties: should be non-empty for OBJECT type", where)
	}
	for name, sub := range props {
		checkSchema(p, where+".properties["+name+"]", sub)
	}
	for _, r := range asList(s["required"]) {
		if name, _ := r.(string); props[name] == nil {
			p.add("* GenerateContentRequest.%s.required[%s]: property is not defined", where, name)
		}
	}
	for _, e := range asList(s["enum"]) {
		if _, isStr := e.(string); !isStr {
			p.add("Invalid value at '%s.enum': enum values must be strings", where)
			break
		}
	}
	if f, ok := s["format"].(string); ok {
		okFormat := map[string]bool{"STRING": f == "date-time" || f == "enum", "INTEGER": f == "int32" || f == "int64", "NUMBER": f == "float" || f == "double"}[strings.ToUpper(typ)]
		if !okFormat {
			p.add("* GenerateContentRequest.%s.format: only 'enum' and 'date-time' are supported for STRING type", where)
		}
	}
	if items, has := s["items"]; has {
		checkSchema(p, where+".items", items)
	}
	for i, a := range asList(s["anyOf"]) {
		checkSchema(p, fmt.Sprintf("%s.any_of[%d]", where, i), a)
	}
}

func checkToolConfig(p *problems, v any, names map[string]bool) {
	if v == nil {
		return
	}
	tc, _ := v.(map[string]any)
	unknownKeys(p, "tool_config", tc, "functionCallingConfig", "retrievalConfig")
	fc, _ := tc["functionCallingConfig"].(map[string]any)
	unknownKeys(p, "tool_config.function_calling_config", fc, "mode", "allowedFunctionNames")
	mode, _ := fc["mode"].(string)
	switch mode {
	case "AUTO", "ANY", "NONE", "VALIDATED":
	default:
		p.add("Invalid value at 'tool_config.function_calling_config.mode', %q", mode)
	}
	allowed := asList(fc["allowedFunctionNames"])
	if len(allowed) > 0 && mode != "ANY" && mode != "VALIDATED" {
		p.add("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed with mode ANY")
	}
	for _, n := range allowed {
		if s, _ := n.(string); !names[s] {
			p.add("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: %q is not a declared function", s)
		}
	}
}

func checkGenerationConfig(p *problems, v any, major int) {
	if v == nil {
		return
	}
	gc, _ := v.(map[string]any)
	unknownKeys(p, "generation_config", gc, "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
		"responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
		"frequencyPenalty", "responseLogprobs", "logprobs", "thinkingConfig", "mediaResolution", "speechConfig")
	if stops := asList(gc["stopSequences"]); len(stops) > 5 {
		p.add("* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences are allowed")
	}
	if mt, has := gc["responseMimeType"].(string); has && mt != "text/plain" && mt != "application/json" && mt != "text/x.enum" {
		p.add("* GenerateContentRequest.generation_config.response_mime_type: unsupported %q", mt)
	}
	if schema, has := gc["responseSchema"]; has {
		if gc["responseMimeType"] != "application/json" && gc["responseMimeType"] != "text/x.enum" {
			p.add("* GenerateContentRequest.generation_config.response_schema: responseMimeType must be application/json")
		}
		checkSchema(p, "generation_config.response_schema", schema)
	}
	if n, ok := gc["candidateCount"].(json.Number); ok {
		if c, _ := n.Int64(); c < 1 || c > 8 {
			p.add("* GenerateContentRequest.generation_config.candidate_count: must be between 1 and 8")
		}
	}
	if n, ok := gc["maxOutputTokens"].(json.Number); ok {
		if c, _ := n.Int64(); c < 1 {
			p.add("* GenerateContentRequest.generation_config.max_output_tokens: must be positive")
		}
	}
	if tc, ok := gc["thinkingConfig"].(map[string]any); ok {
		unknownKeys(p, "generation_config.thinking_config", tc, "includeThoughts", "thinkingBudget", "thinkingLevel")
		_, hasBudget := tc["thinkingBudget"]
		level, hasLevel := tc["thinkingLevel"].(string)
		if hasBudget && hasLevel {
			p.add("You can only set only one of thinking budget and thinking level.")
		}
		if hasLevel {
			if major < 3 {
				p.add("Thinking level is not supported for this model.")
			}
			switch level {
			case "MINIMAL", "LOW", "MEDIUM", "HIGH":
			default:
				p.add("Invalid value at 'generation_config.thinking_config.thinking_level', %q", level)
			}
		}
	}
}

func checkBatchEmbed(p *problems, m map[string]any, model string) {
	unknownKeys(p, "", m, "requests")
	reqs := asList(m["requests"])
	if len(reqs) == 0 {
		p.add("* BatchEmbedContentsRequest.requests: must not be empty")
	}
	for i, raw := range reqs {
		r, _ := raw.(map[string]any)
		where := fmt.Sprintf("requests[%d]", i)
		unknownKeys(p, where, r, "model", "content", "taskType", "title", "outputDimensionality")
		if r["model"] != "models/"+model {
			p.add("* BatchEmbedContentsRequest.%s.model: Model names must match the batch model %q", where, "models/"+model)
		}
		c, _ := r["content"].(map[string]any)
		unknownKeys(p, where+".content", c, "role", "parts")
		if len(asList(c["parts"])) == 0 {
			p.add("* BatchEmbedContentsRequest.%s.content.parts: must not be empty", where)
		}
		if tt, has := r["taskType"].(string); has && !validTaskType(tt) {
			p.add("Invalid value at '%s.task_type', %q", where, tt)
		}
	}
}

func checkPredict(p *problems, m map[string]any) {
	unknownKeys(p, "", m, "instances", "parameters")
	inst := asList(m["instances"])
	if len(inst) == 0 {
		p.add("instances must not be empty")
	}
	for i, raw := range inst {
		r, _ := raw.(map[string]any)
		unknownKeys(p, fmt.Sprintf("instances[%d]", i), r, "content", "task_type", "title")
		if c, _ := r["content"].(string); c == "" {
			p.add("instances[%d].content: required", i)
		}
		if tt, has := r["task_type"].(string); has && !validTaskType(tt) {
			p.add("instances[%d].task_type: invalid %q", i, tt)
		}
	}
	if params, has := m["parameters"].(map[string]any); has {
		unknownKeys(p, "parameters", params, "autoTruncate", "outputDimensionality")
	}
}

func validTaskType(t string) bool {
	switch t {
	case "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
		"QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY":
		return true
	}
	return false
}
