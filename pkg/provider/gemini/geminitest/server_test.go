package geminitest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func post(t *testing.T, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(out)
}

var key = map[string]string{"x-goog-api-key": DefaultAPIKey}

const hi = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`

func TestReplies(t *testing.T) {
	s := NewServer(t)
	resp, body := post(t, s.URL+"/v1beta/models/gemini-2.5-flash:generateContent", key, hi)
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from the mock."}]},"finishReason":"STOP"}],
		"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":14},"modelVersion":"gemini-2.5-flash"}`, body)
	r := s.LastRequest()
	require.Equal(t, "gemini-2.5-flash", r.Model)
	require.Equal(t, "generateContent", r.RPC)
	require.Equal(t, "user", r.JSON()["contents"].([]any)[0].(map[string]any)["role"])

	// The key may come as a query parameter; v1 paths work too.
	resp, _ = post(t, s.URL+"/v1/models/gemini-2.5-flash:generateContent?key="+DefaultAPIKey, nil, hi)
	require.Equal(t, 200, resp.StatusCode)

	s.Enqueue(
		Reply{ResponseID: "r", ModelVersion: "mv", Candidates: []Candidate{
			{Parts: []Part{Text("a"), {Call: &Call{ID: "id1", Name: "f", Args: `{"x":1}`}, ThoughtSignature: "c2ln"}}},
			{Parts: []Part{Thought("t")}, FinishReason: "MAX_TOKENS"},
		}, Usage: Usage{Prompt: 1, Candidates: 2, Cached: 3, Thoughts: 4, ToolUsePrompt: 5}},
		Reply{BlockReason: "SAFETY"},
		Reply{RawBody: []byte(`{"raw":1}`), Status: 201, Header: map[string]string{"x-h": "v"}},
		ErrorReply(404, "NOT_FOUND", "models/x is not found"),
	)
	s.SetDefault(TextReply("default"))
	_, body = post(t, s.URL+"/v1beta/models/m:generateContent", key, hi)
	require.JSONEq(t, `{"responseId":"r","modelVersion":"mv","candidates":[
		{"content":{"role":"model","parts":[{"text":"a"},{"functionCall":{"id":"id1","name":"f","args":{"x":1}},"thoughtSignature":"c2ln"}]},"finishReason":"STOP"},
		{"content":{"role":"model","parts":[{"text":"t","thought":true}]},"finishReason":"MAX_TOKENS","index":1}],
		"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"cachedContentTokenCount":3,"thoughtsTokenCount":4,"toolUsePromptTokenCount":5,"totalTokenCount":12}}`, body)
	_, body = post(t, s.URL+"/v1beta/models/m:generateContent", key, hi)
	require.JSONEq(t, `{"promptFeedback":{"blockReason":"SAFETY"},"modelVersion":"m","usageMetadata":{"promptTokenCount":0,"candidatesTokenCount":0,"totalTokenCount":0}}`, body)
	resp, body = post(t, s.URL+"/v1beta/models/m:generateContent", key, hi)
	require.Equal(t, 201, resp.StatusCode)
	require.Equal(t, "v", resp.Header.Get("x-h"))
	require.Equal(t, `{"raw":1}`, body)
	resp, body = post(t, s.URL+"/v1beta/models/m:generateContent", key, hi)
	require.Equal(t, 404, resp.StatusCode)
	require.JSONEq(t, `{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}`, body)
	_, body = post(t, s.URL+"/v1beta/models/m:generateContent", key, hi)
	require.Contains(t, body, "default")
	require.Len(t, s.Requests(), 7)
}

func TestStreams(t *testing.T) {
	s := NewServer(t, WithChunkSize(4))
	s.Enqueue(Reply{Parts: []Part{Thought("abcdefghij"), {Text: "xyz", ThoughtSignature: "c2ln"}, FunctionCall("f", "", "")}, TextChunk: 4, ChunkDelay: time.Microsecond})
	resp, body := post(t, s.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", key, hi)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := strings.Split(strings.TrimSuffix(body, "\r\n\r\n"), "\r\n\r\n")
	require.Len(t, events, 6) // 3 thought chunks, 1 text, 1 call, 1 final
	require.Contains(t, events[0], `"text":"abcd","thought":true`)
	require.Contains(t, events[3], `"text":"xyz","thoughtSignature":"c2ln"`)
	require.Contains(t, events[4], `"functionCall":{"name":"f"}`)
	require.Contains(t, events[5], `"finishReason":"STOP"`)
	require.True(t, s.LastRequest().Stream)

	// Without alt=sse: one JSON array.
	s.Enqueue(TextReply("ab"))
	resp, body = post(t, s.URL+"/v1beta/models/m:streamGenerateContent", key, hi)
	require.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(body, "[{") && strings.HasSuffix(body, "}]"))

	// Error chunk, truncation, LF line ends, raw bodies, multiple candidates.
	lf := NewServer(t, WithLineEnd("\n"))
	lf.Enqueue(Reply{Parts: []Part{Text("0123456789abcdef")}, StreamError: &StreamError{AfterChunks: 1, Error: Error{Code: 500, Status: "INTERNAL", Message: "boom"}}})
	_, body = post(t, lf.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", key, hi)
	require.Equal(t, 2, strings.Count(body, "data: "))
	require.Contains(t, body, `data: {"error":{"code":500,"message":"boom","status":"INTERNAL"}}`+"\n\n")
	lf.Enqueue(Reply{Parts: []Part{Text("abc")}, CutAfterBytes: 20, LineEnd: "\r\n"})
	_, body = post(t, lf.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", key, hi)
	require.Len(t, body, 20)
	lf.Enqueue(Reply{RawBody: []byte("data: x\n\n")})
	_, body = post(t, lf.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", key, hi)
	require.Equal(t, "data: x\n\n", body)
	lf.Enqueue(Reply{Candidates: []Candidate{{Parts: []Part{Text("a")}}, {Parts: []Part{Text("b")}, FinishReason: "SAFETY"}}})
	_, body = post(t, lf.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", key, hi)
	require.Contains(t, body, `"index":1`)
	require.Contains(t, body, `"finishReason":"SAFETY"`)
}

func TestEmbeddings(t *testing.T) {
	s := NewServer(t)
	_, body := post(t, s.URL+"/v1beta/models/e:batchEmbedContents", key,
		`{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]},"outputDimensionality":2,"taskType":"RETRIEVAL_QUERY"}]}`)
	require.JSONEq(t, `{"embeddings":[{"values":[1,0.5]}]}`, body)
	s.Enqueue(Reply{Embeddings: [][]float32{{9}}}, Reply{RawBody: []byte(`{}`)})
	_, body = post(t, s.URL+"/v1beta/models/e:batchEmbedContents", key, `{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]}}]}`)
	require.JSONEq(t, `{"embeddings":[{"values":[9]}]}`, body)
	_, body = post(t, s.URL+"/v1beta/models/e:batchEmbedContents", key, `{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]}}]}`)
	require.Equal(t, `{}`, body)

	v := NewServer(t, WithVertex("p", "l", "tok"))
	auth := map[string]string{"Authorization": "Bearer tok"}
	v.Enqueue(Reply{TokenCount: 7})
	_, body = post(t, v.URL+"/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict", auth,
		`{"instances":[{"content":"a","task_type":"CLUSTERING"}],"parameters":{"outputDimensionality":1,"autoTruncate":true}}`)
	require.JSONEq(t, `{"predictions":[{"embeddings":{"values":[1],"statistics":{"truncated":false,"token_count":7}}}],"metadata":{"billableCharacterCount":10}}`, body)
}

func TestVerifyRejects(t *testing.T) {
	s := NewServer(t, ExpectInvalid())
	g := func(contents string) string { return `{"contents":` + contents + `}` }
	u := `{"role":"user","parts":[{"text":"hi"}]}`
	call := `{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]}`
	with := func(extra string) string { return `{"contents":[` + u + `],` + extra + `}` }
	cases := []struct {
		name, path, body string
		header           map[string]string
		status           int
		msg              string
	}{
		{"no key", "", hi, map[string]string{"x-goog-api-key": ""}, 400, "API key not valid"},
		{"content type", "", hi, map[string]string{"Content-Type": "text/plain"}, 400, "content-type"},
		{"unknown path", "/v1beta/models/m:chat", hi, nil, 404, "unknown path"},
		{"nested model path", "/v1beta/models/a/b:generateContent", hi, nil, 404, "unknown path"},
		{"predict on ai studio", "/v1beta/models/m:predict", hi, nil, 404, "unknown path"},
		{"no rpc", "/v1beta/models/m", hi, nil, 404, "unknown path"},
		{"not json", "", `[`, nil, 400, "Invalid JSON payload"},
		{"unknown top field", "", with(`"temperature":1`), nil, 400, `Unknown name \"temperature\"`},
		{"no contents", "", `{}`, nil, 400, "contents is not specified"},
		{"bad role", "", g(`[{"role":"assistant","parts":[{"text":"x"}]}]`), nil, 400, "valid role"},
		{"not alternating", "", g(`[` + u + `,` + u + `]`), nil, 400, "alternate between user and model"},
		{"empty parts", "", g(`[{"role":"user","parts":[]}]`), nil, 400, "must not be empty"},
		{"two data fields", "", g(`[{"role":"user","parts":[{"text":"x","inlineData":{"mimeType":"image/png","data":"AA=="}}]}]`), nil, 400, "exactly one"},
		{"unknown part field", "", g(`[{"role":"user","parts":[{"text":"x","image":"y"}]}]`), nil, 400, `Unknown name \"image\"`},
		{"bad base64", "", g(`[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"***"}}]}]`), nil, 400, "Base64 decoding failed"},
		{"no mime", "", g(`[{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}]`), nil, 400, "mime_type"},
		{"no file uri", "", g(`[{"role":"user","parts":[{"fileData":{"mimeType":"image/png"}}]}]`), nil, 400, "file_uri"},
		{"bad signature", "", g(`[` + u + `,{"role":"model","parts":[{"text":"x","thoughtSignature":"!!"}]}]`), nil, 400, "thought_signature"},
		{"call in user", "", g(`[{"role":"user","parts":[{"functionCall":{"name":"f"}}]}]`), nil, 400, "only allowed in model"},
		{"call without name", "", g(`[` + u + `,{"role":"model","parts":[{"functionCall":{"args":{}}}]}]`), nil, 400, "Name cannot be empty"},
		{"call args", "", g(`[` + u + `,{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]`), nil, 400, "function_call.args"},
		{"response in model", "", g(`[` + u + `,{"role":"model","parts":[{"functionResponse":{"name":"f","response":{}}}]}]`), nil, 400, "only allowed in user"},
		{"response not object", "", g(`[` + u + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":"x"}}]}]`), nil, 400, "function_response.response"},
		{"response without name", "", g(`[` + u + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"response":{}}}]}]`), nil, 400, "Name cannot be empty"},
		{"missing response", "", g(`[` + u + `,` + call + `,` + u + `]`), nil, 400, "number of function response parts"},
		{"stray response", "", g(`[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]`), nil, 400, "immediately after a function call turn"},
		{"system not text", "", with(`"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}`), nil, 400, "only text"},
		{"system unknown", "", with(`"systemInstruction":{"text":"x"}`), nil, 400, `Unknown name \"text\"`},
		{"tool unknown", "", with(`"tools":[{"functions":[]}]`), nil, 400, `Unknown name \"functions\"`},
		{"fn name", "", with(`"tools":[{"functionDeclarations":[{"name":"1bad"}]}]`), nil, 400, "Invalid function name"},
		{"fn name chars", "", with(`"tools":[{"functionDeclarations":[{"name":"a b"}]}]`), nil, 400, "Invalid function name"},
		{"schema keyword", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING"}},"additionalProperties":false}}]}]`), nil, 400, `Unknown name \"additionalProperties\"`},
		{"schema empty props", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{}}}]}]`), nil, 400, "should be non-empty for OBJECT type"},
		{"schema type", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"DICT"}}]}]`), nil, 400, "DICT"},
		{"schema required", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING"}},"required":["b"]}}]}]`), nil, 400, "property is not defined"},
		{"schema enum", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"INTEGER","enum":[1]}}}}]}]`), nil, 400, "enum values must be strings"},
		{"schema format", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING","format":"uri"}}}}]}]`), nil, 400, "only 'enum' and 'date-time'"},
		{"schema nested", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"ARRAY","items":{"anyOf":[{"const":1}]}}}}}]}]`), nil, 400, `Unknown name \"const\"`},
		{"schema not object", "", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":[]}]}]`), nil, 400, "schema must be an object"},
		{"mode", "", with(`"toolConfig":{"functionCallingConfig":{"mode":"REQUIRED"}}`), nil, 400, "REQUIRED"},
		{"allowed with auto", "", with(`"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO","allowedFunctionNames":["f"]}}`), nil, 400, "only allowed with mode ANY"},
		{"allowed unknown", "", with(`"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}`), nil, 400, "not a declared function"},
		{"gen unknown", "", with(`"generationConfig":{"max_tokens":1}`), nil, 400, `Unknown name \"max_tokens\"`},
		{"stops", "", with(`"generationConfig":{"stopSequences":["1","2","3","4","5","6"]}`), nil, 400, "at most 5"},
		{"mime", "", with(`"generationConfig":{"responseMimeType":"text/xml"}`), nil, 400, "unsupported"},
		{"schema without mime", "", with(`"generationConfig":{"responseSchema":{"type":"STRING"}}`), nil, 400, "responseMimeType must be application/json"},
		{"candidates", "", with(`"generationConfig":{"candidateCount":9}`), nil, 400, "between 1 and 8"},
		{"max tokens", "", with(`"generationConfig":{"maxOutputTokens":0}`), nil, 400, "must be positive"},
		{"thinking both", "/v1beta/models/gemini-3-pro:generateContent", with(`"generationConfig":{"thinkingConfig":{"thinkingBudget":1,"thinkingLevel":"LOW"}}`), nil, 400, "only one of thinking budget"},
		{"thinking level on 2.5", "/v1beta/models/gemini-2.5-pro:generateContent", with(`"generationConfig":{"thinkingConfig":{"thinkingLevel":"LOW"}}`), nil, 400, "not supported for this model"},
		{"thinking level value", "/v1beta/models/gemini-3-pro:generateContent", with(`"generationConfig":{"thinkingConfig":{"thinkingLevel":"ULTRA"}}`), nil, 400, "thinking_level"},
		{"gemini 3 signature", "/v1beta/models/gemini-3-pro:generateContent", g(`[` + u + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]`), nil, 400, "missing a `thought_signature`"},
		{"embed model", "/v1beta/models/e:batchEmbedContents", `{"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]}`, nil, 400, "must match the batch model"},
		{"embed empty", "/v1beta/models/e:batchEmbedContents", `{"requests":[]}`, nil, 400, "must not be empty"},
		{"embed parts", "/v1beta/models/e:batchEmbedContents", `{"requests":[{"model":"models/e","content":{}}]}`, nil, 400, "content.parts"},
		{"embed task", "/v1beta/models/e:batchEmbedContents", `{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]},"taskType":"SEARCH"}]}`, nil, 400, "task_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"x-goog-api-key": DefaultAPIKey}
			for k, v := range tc.header {
				h[k] = v
			}
			path := tc.path
			if path == "" {
				path = "/v1beta/models/gemini-2.5-flash:generateContent"
			}
			resp, body := post(t, s.URL+path, h, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.msg)
			require.Contains(t, body, `"error"`)
		})
	}
	req, err := http.NewRequest(http.MethodGet, s.URL+"/v1beta/models/m:generateContent", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)
}

func TestVertexVerify(t *testing.T) {
	s := NewServer(t, WithVertex("p", "l", "tok"), ExpectInvalid())
	base := s.URL + "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro"
	resp, _ := post(t, base+":generateContent", map[string]string{"Authorization": "Bearer tok"}, `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"labels":{"team":"a"}}`)
	require.Equal(t, 200, resp.StatusCode)
	for name, tc := range map[string]struct {
		url    string
		header map[string]string
		body   string
		status int
		msg    string
	}{
		"api key":         {base + ":generateContent", map[string]string{"x-goog-api-key": "k", "Authorization": "Bearer tok"}, hi, 400, "OAuth2"},
		"token":           {base + ":generateContent", map[string]string{"Authorization": "Bearer nope"}, hi, 401, "UNAUTHENTICATED"},
		"batch on vertex": {base + ":batchEmbedContents", map[string]string{"Authorization": "Bearer tok"}, hi, 404, "unknown path"},
		"predict fields":  {base + ":predict", map[string]string{"Authorization": "Bearer tok"}, `{"instances":[{"text":"a"}],"parameters":{"dims":3}}`, 400, "Unknown name"},
		"predict empty":   {base + ":predict", map[string]string{"Authorization": "Bearer tok"}, `{"instances":[]}`, 400, "must not be empty"},
		"predict task":    {base + ":predict", map[string]string{"Authorization": "Bearer tok"}, `{"instances":[{"content":"a","task_type":"X"}]}`, 400, "task_type"},
		"other project":   {s.URL + "/v1/projects/q/locations/l/publishers/google/models/m:generateContent", map[string]string{"Authorization": "Bearer tok"}, hi, 404, "unknown path"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := post(t, tc.url, tc.header, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.msg)
		})
	}
}
