package anthropictest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func post(t *testing.T, url string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func okHeaders() map[string]string {
	return map[string]string{"x-api-key": DefaultAPIKey, "anthropic-version": DefaultVersion}
}

const okBody = `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

func TestValidRequestAndJSONReply(t *testing.T) {
	s := NewServer(t)
	resp, body := post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.JSONEq(t, `{"id":"msg_mock01","type":"message","role":"assistant","model":"m",
		"content":[{"type":"text","text":"Hello from the mock."}],"stop_reason":"end_turn","stop_sequence":null,
		"usage":{"input_tokens":12,"output_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"service_tier":"standard"}}`, string(body))
	r := s.LastRequest()
	require.Equal(t, "m", r.Model)
	require.False(t, r.Stream)
	require.Empty(t, r.Problems)
	require.Equal(t, "m", r.JSON()["model"])

	// Bearer auth (SDKs from API version 2026-10-21) is accepted too.
	resp, _ = post(t, s.URL+"/v1/messages", map[string]string{"x-api-key": "", "Authorization": "Bearer " + DefaultAPIKey, "anthropic-version": DefaultVersion}, okBody)
	require.Equal(t, 200, resp.StatusCode)
	require.Len(t, s.Requests(), 2)
}

func TestScriptedReplies(t *testing.T) {
	s := NewServer(t)
	s.Enqueue(
		ErrorReply(0, "rate_limit_error", "slow down"),
		Reply{ErrorType: "overloaded_error", ErrorMessage: "Overloaded", Header: map[string]string{"retry-after": "3"}},
		Reply{RawBody: []byte(`{"raw":true}`)},
		Reply{ID: "msg_x", Model: "other", Blocks: []Block{RedactedThinking("d"), ToolUse("t1", "f", "")}, StopSequence: "S", StopReason: "stop_sequence"},
	)
	s.SetDefault(TextReply("default"))
	resp, body := post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.Equal(t, 429, resp.StatusCode)
	require.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_mock"}`, string(body))
	resp, _ = post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.Equal(t, 529, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("retry-after"))
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.Equal(t, `{"raw":true}`, string(body))
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.JSONEq(t, `{"id":"msg_x","type":"message","role":"assistant","model":"other",
		"content":[{"type":"redacted_thinking","data":"d"},{"type":"tool_use","id":"t1","name":"f","input":{}}],
		"stop_reason":"stop_sequence","stop_sequence":"S",
		"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"service_tier":"standard"}}`, string(body))
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), okBody)
	require.Contains(t, string(body), "default")

	for typ, status := range map[string]int{"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
		"permission_error": 403, "not_found_error": 404, "request_too_large": 413, "timeout_error": 504, "api_error": 500} {
		require.Equal(t, status, statusForType(typ))
	}
}

func TestStreamReply(t *testing.T) {
	s := NewServer(t, WithChunkSize(3), WithCRLF())
	s.Enqueue(Reply{
		Blocks:     []Block{Thinking("ab", "sig"), Text("héllo"), ToolUse("t", "f", `{"a":1}`)},
		Usage:      Usage{Input: 5, Output: 9, Thinking: 2},
		Pings:      true,
		DeltaSize:  2,
		ChunkDelay: time.Microsecond,
	})
	resp, body := post(t, s.URL+"/v1/messages", okHeaders(), `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	text := string(body)
	require.NotContains(t, strings.ReplaceAll(text, "\r\n", ""), "\n", "CRLF line ends only")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	for _, want := range []string{
		"event: message_start\n",
		`"usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":5,"output_tokens":1}`,
		"event: ping\n",
		`{"signature":"","thinking":"","type":"thinking"}`,
		`"delta":{"thinking":"ab","type":"thinking_delta"}`,
		`"delta":{"signature":"sig","type":"signature_delta"}`,
		`"delta":{"text":"hé","type":"text_delta"}`,
		`"delta":{"partial_json":"{\"","type":"input_json_delta"}`,
		`"delta":{"stop_reason":"tool_use","stop_sequence":null}`,
		`"output_tokens_details":{"thinking_tokens":2}`,
		"event: message_stop\n",
	} {
		require.Contains(t, text, want)
	}

	// Error event after N events, and truncation.
	s.Enqueue(Reply{Blocks: []Block{Text("abcdef")}, StreamError: &StreamError{AfterEvents: 2, Type: "overloaded_error", Message: "Overloaded"}})
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	text = strings.ReplaceAll(string(body), "\r\n", "\n")
	require.Equal(t, 3, strings.Count(text, "event: "))
	require.True(t, strings.HasSuffix(text, "event: error\ndata: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\"},\"type\":\"error\"}\n\n"))

	for after := 0; after <= 5; after++ { // a one-block text stream has 6 events
		s.Enqueue(Reply{Blocks: []Block{Text("ab")}, StreamError: &StreamError{AfterEvents: after, Type: "api_error"}})
		_, body = post(t, s.URL+"/v1/messages", okHeaders(), `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		require.Contains(t, string(body), "event: error", "after %d", after)
	}

	s.Enqueue(Reply{Blocks: []Block{Text("abc")}, CutAfterBytes: 40})
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Len(t, bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), 40)

	s.Enqueue(Reply{RawBody: []byte("data: raw\n\n")})
	_, body = post(t, s.URL+"/v1/messages", okHeaders(), `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, "data: raw\r\n\r\n", string(body))
}

func TestCountTokens(t *testing.T) {
	s := NewServer(t)
	resp, body := post(t, s.URL+"/v1/messages/count_tokens", okHeaders(), okBody)
	require.Equal(t, 200, resp.StatusCode)
	var out map[string]int
	require.NoError(t, json.Unmarshal(body, &out))
	require.Positive(t, out["input_tokens"])
	resp, _ = post(t, s.URL+"/v1/messages/count_tokens", map[string]string{"anthropic-version": DefaultVersion}, okBody)
	require.Equal(t, 401, resp.StatusCode)
}

// TestVerifyRejects checks that each documented rule is enforced.
func TestVerifyRejects(t *testing.T) {
	s := NewServer(t, ExpectInvalid())
	msgs := func(m string) string { return `{"model":"m","max_tokens":10,"messages":` + m + `}` }
	user := `{"role":"user","content":"hi"}`
	cases := []struct {
		name   string
		header map[string]string
		path   string
		body   string
		status int
		msg    string
	}{
		{"no key", map[string]string{"x-api-key": ""}, "", okBody, 401, "x-api-key header is required"},
		{"wrong key", map[string]string{"x-api-key": "nope"}, "", okBody, 401, "invalid x-api-key"},
		{"no version", map[string]string{"anthropic-version": ""}, "", okBody, 400, "anthropic-version: header is required"},
		{"wrong version", map[string]string{"anthropic-version": "2020-01-01"}, "", okBody, 400, "expected"},
		{"content type", map[string]string{"Content-Type": "text/plain"}, "", okBody, 400, "content-type"},
		{"path", nil, "/v1/complete", okBody, 404, "unknown path"},
		{"not json", nil, "", `{`, 400, "not a JSON object"},
		{"unknown field", nil, "", `{"model":"m","max_tokens":1,"messages":[` + user + `],"n":2}`, 400, "n: Extra inputs are not permitted"},
		{"no model", nil, "", `{"max_tokens":1,"messages":[` + user + `]}`, 400, "model: Field required"},
		{"no max_tokens", nil, "", `{"model":"m","messages":[` + user + `]}`, 400, "max_tokens: Field required"},
		{"negative max_tokens", nil, "", `{"model":"m","max_tokens":-1,"messages":[` + user + `]}`, 400, "max_tokens: Input should be greater than or equal to 0"},
		{"stream type", nil, "", `{"model":"m","max_tokens":1,"stream":"yes","messages":[` + user + `]}`, 400, "stream: must be a boolean"},
		{"no messages", nil, "", msgs(`[]`), 400, "at least one message"},
		{"bad role", nil, "", msgs(`[{"role":"system","content":"x"}]`), 400, "Input should be 'user' or 'assistant'"},
		{"not alternating", nil, "", msgs(`[` + user + `,` + user + `]`), 400, "roles must alternate"},
		{"message extra key", nil, "", msgs(`[{"role":"user","content":"x","name":"bob"}]`), 400, "messages.0.name: Extra inputs"},
		{"empty string content", nil, "", msgs(`[{"role":"user","content":" "}]`), 400, "text content must be non-empty"},
		{"empty array content", nil, "", msgs(`[{"role":"user","content":[]}]`), 400, "must not be empty"},
		{"content type", nil, "", msgs(`[{"role":"user","content":5}]`), 400, "must be a string or an array"},
		{"empty text block", nil, "", msgs(`[{"role":"user","content":[{"type":"text","text":"  "}]}]`), 400, "non-whitespace text"},
		{"text block without text", nil, "", msgs(`[{"role":"user","content":[{"type":"text"}]}]`), 400, "text: Field required"},
		{"bad media type", nil, "", msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"x"}}]}]`), 400, "unsupported"},
		{"no image data", nil, "", msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]`), 400, "source.data: Field required"},
		{"pdf media type", nil, "", msgs(`[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"image/png","data":"x"}}]}]`), 400, "unsupported"},
		{"bad url", nil, "", msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"ftp://x"}}]}]`), 400, "http(s) URL"},
		{"text source on image", nil, "", msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"text","data":"x"}}]}]`), 400, "documents only"},
		{"unknown source", nil, "", msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"file"}}]}]`), 400, "unknown source type"},
		{"image in assistant", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]`), 400, "not allowed in assistant"},
		{"tool_use in user", nil, "", msgs(`[{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]`), 400, "only allowed in assistant"},
		{"bad tool id", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a.b","name":"f","input":{}}]}]`), 400, "should match pattern"},
		{"tool_use no name", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","input":{}}]}]`), 400, "name: Field required"},
		{"tool_use input", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"x"}]}]`), 400, "valid dictionary"},
		{"unanswered tool_use", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},` + user + `]`), 400, "without `tool_result` blocks"},
		{"unknown tool_result", nil, "", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"zz"}]}]`), 400, "unexpected `tool_use_id`"},
		{"tool_result after text", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":[{"type":"text","text":"x"},{"type":"tool_result","tool_use_id":"a"}]}]`), 400, "must come first"},
		{"tool_result in assistant", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"a"}]}]`), 400, "only allowed in user"},
		{"tool_result content", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"tool_use"}]}]}]`), 400, "not allowed in tool_result"},
		{"thinking in user", nil, "", msgs(`[{"role":"user","content":[{"type":"thinking","thinking":"x","signature":"s"}]}]`), 400, "only allowed in assistant"},
		{"thinking no signature", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]`), 400, "signature: Field required"},
		{"thinking no text", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"thinking","signature":"s"}]}]`), 400, "thinking: Field required"},
		{"redacted no data", nil, "", msgs(`[` + user + `,{"role":"assistant","content":[{"type":"redacted_thinking"}]}]`), 400, "data: Field required"},
		{"unknown block", nil, "", msgs(`[{"role":"user","content":[{"type":"video"}]}]`), 400, "unknown content block type"},
		{"cache_control type", nil, "", msgs(`[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"forever"}}]}]`), 400, "cache_control.type"},
		{"system type", nil, "", `{"model":"m","max_tokens":1,"system":5,"messages":[` + user + `]}`, 400, "system: must be"},
		{"system block", nil, "", `{"model":"m","max_tokens":1,"system":[{"type":"image"}],"messages":[` + user + `]}`, 400, "only text blocks"},
		{"tools type", nil, "", `{"model":"m","max_tokens":1,"tools":{},"messages":[` + user + `]}`, 400, "tools: must be an array"},
		{"tool name", nil, "", `{"model":"m","max_tokens":1,"tools":[{"name":"a b","input_schema":{"type":"object"}}],"messages":[` + user + `]}`, 400, "tools.0.name"},
		{"tool dup", nil, "", `{"model":"m","max_tokens":1,"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"a","input_schema":{"type":"object"}}],"messages":[` + user + `]}`, 400, "unique"},
		{"tool schema", nil, "", `{"model":"m","max_tokens":1,"tools":[{"name":"a"}],"messages":[` + user + `]}`, 400, "input_schema: Field required"},
		{"tool schema type", nil, "", `{"model":"m","max_tokens":1,"tools":[{"name":"a","input_schema":{"type":"array"}}],"messages":[` + user + `]}`, 400, "input_schema.type"},
		{"tool extra", nil, "", `{"model":"m","max_tokens":1,"tools":[{"name":"a","input_schema":{"type":"object"},"parameters":{}}],"messages":[` + user + `]}`, 400, "tools.0.parameters"},
		{"tool_choice type", nil, "", `{"model":"m","max_tokens":1,"tool_choice":{"type":"required"},"messages":[` + user + `]}`, 400, "tool_choice.type"},
		{"tool_choice name", nil, "", `{"model":"m","max_tokens":1,"tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"tool","name":"x"},"messages":[` + user + `]}`, 400, "not defined"},
		{"thinking budget", nil, "", `{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":100},"messages":[` + user + `]}`, 400, "greater than or equal to 1024"},
		{"thinking vs max", nil, "", `{"model":"m","max_tokens":1500,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[` + user + `]}`, 400, "greater than thinking.budget_tokens"},
		{"thinking temperature", nil, "", `{"model":"m","max_tokens":5000,"temperature":0.5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[` + user + `]}`, 400, "temperature may only be set to 1"},
		{"thinking top_k", nil, "", `{"model":"m","max_tokens":5000,"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[` + user + `]}`, 400, "top_k"},
		{"thinking forced tool", nil, "", `{"model":"m","max_tokens":5000,"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":1024},"messages":[` + user + `]}`, 400, "forces tool use"},
		{"thinking type", nil, "", `{"model":"m","max_tokens":5000,"thinking":{"type":"always"},"messages":[` + user + `]}`, 400, "thinking.type"},
		{"metadata key", nil, "", `{"model":"m","max_tokens":1,"metadata":{"session":"x"},"messages":[` + user + `]}`, 400, "metadata.session"},
		{"metadata type", nil, "", `{"model":"m","max_tokens":1,"metadata":"x","messages":[` + user + `]}`, 400, "metadata: must be an object"},
		{"stop type", nil, "", `{"model":"m","max_tokens":1,"stop_sequences":"x","messages":[` + user + `]}`, 400, "stop_sequences: must be an array"},
		{"stop item", nil, "", `{"model":"m","max_tokens":1,"stop_sequences":[1],"messages":[` + user + `]}`, 400, "stop_sequences.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := okHeaders()
			for k, v := range tc.header {
				h[k] = v
			}
			path := tc.path
			if path == "" {
				path = "/v1/messages"
			}
			resp, body := post(t, s.URL+path, h, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			require.Contains(t, string(body), tc.msg)
			require.Contains(t, string(body), `"type":"error"`)
		})
	}

	req, err := http.NewRequest(http.MethodGet, s.URL+"/v1/messages", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)
}

func TestVersion20261021RejectsSampling(t *testing.T) {
	s := NewServer(t, WithVersion("2026-10-21"), WithAPIKey("k"), ExpectInvalid())
	resp, body := post(t, s.URL+"/v1/messages", map[string]string{"x-api-key": "k", "anthropic-version": "2026-10-21"},
		`{"model":"m","max_tokens":1,"temperature":1,"messages":[{"role":"user","content":"x"}]}`)
	require.Equal(t, 400, resp.StatusCode)
	require.Contains(t, string(body), "temperature: Extra inputs are not permitted")

	any := NewServer(t, WithVersion(""))
	resp, _ = post(t, any.URL+"/v1/messages", map[string]string{"x-api-key": DefaultAPIKey, "anthropic-version": "2026-10-21"}, okBody)
	require.Equal(t, 200, resp.StatusCode)
}

func TestVertexMode(t *testing.T) {
	s := NewServer(t, WithVertex("p", "l", "tok"), ExpectInvalid())
	base := s.URL + "/v1/projects/p/locations/l/publishers/anthropic/models/claude@1"
	auth := map[string]string{"Authorization": "Bearer tok"}
	body := `{"anthropic_version":"vertex-2023-10-16","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`
	resp, _ := post(t, base+":rawPredict", auth, body)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "claude@1", s.LastRequest().Model)

	cases := []struct {
		name, url, body string
		header          map[string]string
		status          int
		msg             string
	}{
		{"model in body", base + ":rawPredict", `{"model":"x","anthropic_version":"vertex-2023-10-16","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, auth, 400, "model: Extra inputs"},
		{"version", base + ":rawPredict", `{"anthropic_version":"2023-06-01","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, auth, 400, "anthropic_version"},
		{"stream mismatch", base + ":rawPredict", `{"anthropic_version":"vertex-2023-10-16","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, auth, 400, "does not match"},
		{"bad token", base + ":rawPredict", body, map[string]string{"Authorization": "Bearer other"}, 401, "bearer"},
		{"api key leak", base + ":rawPredict", body, map[string]string{"Authorization": "Bearer tok", "x-api-key": "k"}, 400, "x-api-key"},
		{"bad method", base + ":predict", body, auth, 404, "unknown path"},
		{"no model", s.URL + "/v1/projects/p/locations/l/publishers/anthropic/models/:rawPredict", body, auth, 404, "unknown path"},
		{"other project", s.URL + "/v1/projects/q/locations/l/publishers/anthropic/models/m:rawPredict", body, auth, 404, "unknown path"},
		{"no method", base, body, auth, 404, "unknown path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := post(t, tc.url, tc.header, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(out))
			require.Contains(t, string(out), tc.msg)
		})
	}
}
