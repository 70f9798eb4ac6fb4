package coheretest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type result struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, s *Server, path, key, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func recorder(t *testing.T, opts ...Option) (*Server, *[]error) {
	var errs []error
	return NewServer(t, append(opts, WithViolationHandler(func(err error) { errs = append(errs, err) }))...), &errs
}

func TestChatValidation(t *testing.T) {
	s, errs := recorder(t)
	const tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	const call = `{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`
	bad := map[string]string{
		"unknown field":         `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`,
		"no model":              `{"messages":[{"role":"user","content":"hi"}]}`,
		"no messages":           `{"model":"m","messages":[]}`,
		"unknown role":          `{"model":"m","messages":[{"role":"chatbot","content":"hi"}]}`,
		"empty user":            `{"model":"m","messages":[{"role":"user"}]}`,
		"empty system":          `{"model":"m","messages":[{"role":"system","content":[]}]}`,
		"image in system":       `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		"text without text":     `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`,
		"image without url":     `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`,
		"document without doc":  `{"model":"m","messages":[{"role":"user","content":[{"type":"document"}]}]}`,
		"thinking without text": `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking"}]}]}`,
		"unknown item field":    `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}`,
		"empty assistant":       `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant"}]}`,
		"bad tool call":         `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{"}}]}]}`,
		"tool_call_id on user":  `{"model":"m","messages":[{"role":"user","content":"hi","tool_call_id":"x"}]}`,
		"tool_plan on user":     `{"model":"m","messages":[{"role":"user","content":"hi","tool_plan":"x"}]}`,
		"orphan tool message":   `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"zz","content":"x"}]}`,
		"empty tool message":    `{"model":"m","messages":[{"role":"user","content":"hi"},` + call + `,{"role":"tool","tool_call_id":"c1","content":[]}]}`,
		"image in tool message": `{"model":"m","messages":[{"role":"user","content":"hi"},` + call + `,{"role":"tool","tool_call_id":"c1","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		"bad tool":              `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"retrieval","function":{"name":"f"}}]}`,
		"bad tool params":       `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]}`,
		"lower-case choice":     `{"model":"m","messages":[{"role":"user","content":"hi"}],` + tools + `,"tool_choice":"required"}`,
		"choice without tools":  `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"REQUIRED"}`,
		"bad response format":   `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema"}}`,
		"schema not object":     `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object","json_schema":[]}}`,
		"max tokens zero":       `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`,
		"six stop sequences":    `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop_sequences":["a","b","c","d","e","f"]}`,
		"negative temperature":  `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":-1}`,
		"p out of range":        `{"model":"m","messages":[{"role":"user","content":"hi"}],"p":1}`,
		"k out of range":        `{"model":"m","messages":[{"role":"user","content":"hi"}],"k":501}`,
		"penalty out of range":  `{"model":"m","messages":[{"role":"user","content":"hi"}],"presence_penalty":2}`,
		"bad thinking":          `{"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"on"}}`,
		"trailing data":         `{"model":"m","messages":[{"role":"user","content":"hi"}]} {}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			*errs = nil
			r := post(t, s, "/v2/chat", DefaultAPIKey, body)
			require.Equal(t, 400, r.status, r.body)
			require.Contains(t, r.body, `"message"`)
			require.Len(t, *errs, 1)
		})
	}
	*errs = nil
	good := `{"model":"m","stream":false,"messages":[
		{"role":"system","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},{"type":"document","document":{"data":"d"}}]},
		{"role":"assistant","tool_plan":"p","content":[{"type":"thinking","thinking":"t"}],"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"r"}]},
		{"role":"assistant","content":"done"}],
		` + tools + `,"strict_tools":true,"tool_choice":"NONE","response_format":{"type":"json_object","json_schema":{"type":"object"}},
		"max_tokens":5,"stop_sequences":["x"],"temperature":0.1,"seed":1,"frequency_penalty":0.1,"presence_penalty":0.2,"k":3,"p":0.5,
		"thinking":{"type":"enabled","token_budget":100},"safety_mode":"OFF","logprobs":false}`
	r := post(t, s, "/v2/chat", DefaultAPIKey, good)
	require.Equal(t, 200, r.status, r.body)
	require.JSONEq(t, `{"id":"mock-chat-id","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Hello from the Cohere mock."}]},
		"usage":{"billed_units":{"input_tokens":11,"output_tokens":6},"tokens":{"input_tokens":211,"output_tokens":6}}}`, r.body)
	require.Empty(t, *errs)
}

func TestAuthRoutingAndErrors(t *testing.T) {
	s, errs := recorder(t, WithAPIKey("sekret"))
	const ok = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	require.Equal(t, 401, post(t, s, "/v2/chat", "", ok).status)
	require.Equal(t, 401, post(t, s, "/v2/chat", "wrong", ok).status)
	require.Equal(t, 404, post(t, s, "/v1/chat", "sekret", ok).status)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v2/chat", nil)
	req.Header.Set("Authorization", "bearer sekret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/v2/chat", strings.NewReader(ok))
	req.Header.Set("Authorization", "Bearer sekret")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode, "missing content-type")
	require.Len(t, *errs, 5)
	require.Len(t, s.Violations(), 5)
	require.Len(t, s.Requests(), 5)

	s.Enqueue(Reply{Error: &Error{Status: 429, Message: "slow"}}, Reply{Error: &Error{Status: 500, Message: "boom"}})
	r := post(t, s, "/v2/chat", "sekret", ok)
	require.Equal(t, 429, r.status)
	require.JSONEq(t, `{"id":"mock-error-id","message":"slow"}`, r.body)
	require.Equal(t, 500, post(t, s, "/v2/embed", "sekret", `{"model":"e","texts":["a"],"input_type":"clustering"}`).status)
	require.Equal(t, "sekret", s.APIKey())
}

func TestDefaultViolationHandlerFailsTheTest(t *testing.T) {
	ft := &fakeTB{TB: t}
	s := NewServer(ft)
	require.Equal(t, 401, post(t, s, "/v2/chat", "", `{}`).status)
	require.True(t, ft.failed)
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Errorf(string, ...any) { f.failed = true }

type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

func parseSSE(t *testing.T, body string, crlf bool) []sseEvent {
	nl := "\n"
	if crlf {
		nl = "\r\n"
		require.NotContains(t, strings.ReplaceAll(body, "\r\n", ""), "\n")
	}
	var out []sseEvent
	for _, block := range strings.Split(strings.TrimSuffix(body, nl+nl), nl+nl) {
		var ev sseEvent
		for _, line := range strings.Split(block, nl) {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				ev.raw = v
				if v != "[DONE]" {
					require.NoError(t, json.Unmarshal([]byte(v), &ev.data))
					require.Equal(t, ev.name, ev.data["type"], "event name matches data type")
				}
			}
		}
		out = append(out, ev)
	}
	return out
}

func TestStreams(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		opts := []Option{}
		if crlf {
			opts = append(opts, WithCRLF())
		}
		s, errs := recorder(t, opts...)
		s.Enqueue(
			Reply{Thinking: "think about it", ToolPlan: "call the tool now", ToolCalls: []ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":"ü"}`}}, Text: "and some text", ChunkSize: 5},
			Reply{Text: "abc def", StreamError: "crashed"},
			Reply{StreamError: "crashed early"},
		)
		const req = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		r := post(t, s, "/v2/chat", DefaultAPIKey, req)
		require.Equal(t, "text/event-stream", r.header.Get("Content-Type"))
		evs := parseSSE(t, r.body, crlf)
		var names []string
		var args, plan string
		for _, e := range evs {
			names = append(names, e.name)
			if e.name == "tool-call-delta" {
				args += e.data["delta"].(map[string]any)["message"].(map[string]any)["tool_calls"].(map[string]any)["function"].(map[string]any)["arguments"].(string)
			}
			if e.name == "tool-plan-delta" {
				plan += e.data["delta"].(map[string]any)["message"].(map[string]any)["tool_plan"].(string)
			}
		}
		require.Equal(t, "message-start", names[0])
		require.Equal(t, "[DONE]", evs[len(evs)-1].raw)
		require.Equal(t, "message-end", names[len(names)-2])
		require.Contains(t, names, "tool-call-start")
		require.Contains(t, names, "content-end")
		require.JSONEq(t, `{"a":"ü"}`, args)
		require.Equal(t, "call the tool now", plan)

		evs = parseSSE(t, post(t, s, "/v2/chat", DefaultAPIKey, req).body, crlf)
		end := evs[len(evs)-2].data["delta"].(map[string]any)
		require.Equal(t, "ERROR", end["finish_reason"])
		require.Equal(t, "crashed", end["error"])
		evs = parseSSE(t, post(t, s, "/v2/chat", DefaultAPIKey, req).body, crlf)
		require.Len(t, evs, 3)
		require.Empty(t, *errs)
	}
}

func TestChatJSONWithToolsAndThinking(t *testing.T) {
	s, _ := recorder(t)
	s.Enqueue(Reply{Thinking: "t", Text: "x", ToolPlan: "p", ToolCalls: []ToolCall{{ID: "1", Name: "f"}}, Usage: Usage{InputTokens: 1, OutputTokens: 2}})
	r := post(t, s, "/v2/chat", DefaultAPIKey, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	require.JSONEq(t, `{"id":"mock-chat-id","finish_reason":"TOOL_CALL","message":{"role":"assistant",
		"content":[{"type":"thinking","thinking":"t"},{"type":"text","text":"x"}],"tool_plan":"p",
		"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		"usage":{"billed_units":{"input_tokens":1,"output_tokens":2},"tokens":{"input_tokens":201,"output_tokens":2}}}`, r.body)
}

func TestEmbed(t *testing.T) {
	s, errs := recorder(t)
	r := post(t, s, "/v2/embed", DefaultAPIKey, `{"model":"embed-v4.0","texts":["a b","c"],"input_type":"search_document","embedding_types":["float"],"output_dimension":256,"truncate":"END"}`)
	require.Equal(t, 200, r.status, r.body)
	var resp struct {
		Embeddings struct {
			Float [][]float32 `json:"float"`
		} `json:"embeddings"`
		Meta struct {
			BilledUnits struct {
				InputTokens int `json:"input_tokens"`
			} `json:"billed_units"`
		} `json:"meta"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &resp))
	require.Len(t, resp.Embeddings.Float, 2)
	require.Len(t, resp.Embeddings.Float[0], 256)
	require.Equal(t, 3, resp.Meta.BilledUnits.InputTokens)
	s.Enqueue(Reply{Embedding: []float32{9}})
	r = post(t, s, "/v2/embed", DefaultAPIKey, `{"model":"e","texts":["a"],"input_type":"classification"}`)
	require.Contains(t, r.body, `"float":[[9]]`)
	require.Empty(t, *errs)

	bad := map[string]string{
		"no model":       `{"texts":["a"],"input_type":"clustering"}`,
		"bad input type": `{"model":"e","texts":["a"],"input_type":"query"}`,
		"no input":       `{"model":"e","input_type":"clustering"}`,
		"too many texts": `{"model":"e","texts":[` + strings.Repeat(`"a",`, 96) + `"a"],"input_type":"clustering"}`,
		"bad type":       `{"model":"e","texts":["a"],"input_type":"clustering","embedding_types":["double"]}`,
		"bad dimension":  `{"model":"e","texts":["a"],"input_type":"clustering","output_dimension":100}`,
		"bad truncate":   `{"model":"e","texts":["a"],"input_type":"clustering","truncate":"MIDDLE"}`,
		"unknown field":  `{"model":"e","texts":["a"],"input_type":"clustering","encoding_format":"float"}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			*errs = nil
			require.Equal(t, 400, post(t, s, "/v2/embed", DefaultAPIKey, body).status)
			require.Len(t, *errs, 1)
		})
	}
}
