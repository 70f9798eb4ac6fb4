package openai

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func TestParseChatRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"not json", `{`, ""},
		{"not object", `[1]`, ""},
		{"wrong type", `{"model":"m","messages":"hi"}`, "messages"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"no messages", `{"model":"m","messages":[]}`, "messages"},
		{"missing role", `{"model":"m","messages":[{"content":"hi"}]}`, "messages[0].role"},
		{"bad role", `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role"},
		{"function role", `{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].role"},
		{"bad content", `{"model":"m","messages":[{"role":"user","content":42}]}`, ""},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`, "messages[0].content[0].type"},
		{"text part without text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages[0].content[0].text"},
		{"image without url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url"},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}`, "messages[0].content[0].type"},
		{"bad data url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"bad percent data url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain,%zz"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
		{"tool call without name", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name"},
		{"custom tool", `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{"tool without name", `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}`, "tools[0].function.name"},
		{"bad tool_choice string", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}`, "tool_choice"},
		{"allowed_tools choice", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"allowed_tools"}}`, "tool_choice"},
		{"tool_choice number", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":1}`, ""},
		{"json_schema without schema", `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"bad response format", `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}`, "response_format.type"},
		{"n zero", `{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}`, "n"},
		{"negative max tokens", `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`, "max_tokens"},
		{"bad stop", `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChatRequest([]byte(tt.body))
			require.Error(t, err)
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce), "%T", err)
			require.Equal(t, 400, ce.Status)
			require.Equal(t, canonical.ErrInvalidRequest, ce.Kind)
			if tt.param != "" {
				require.Equal(t, tt.param, ce.Param)
			}
			require.NotEmpty(t, ce.Message)
		})
	}
}

func TestParseChatRequestDetails(t *testing.T) {
	req, err := ParseChatRequest([]byte(`{"model":"m","max_tokens":5,"max_completion_tokens":9,"stop":null,
		"messages":[{"role":"user","content":""},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},
		{"role":"assistant","content":null,"refusal":"nope"},{"role":"user","content":[]}],
		"tool_choice":"required","response_format":{"type":"text"},"stream_options":{"include_usage":false}}`))
	require.NoError(t, err)
	require.Equal(t, 9, req.MaxTokens, "max_completion_tokens wins")
	require.Nil(t, req.Stop)
	require.Nil(t, req.Messages[0].Content)
	require.Equal(t, "no", req.Messages[1].Content[0].Text)
	require.Equal(t, "nope", req.Messages[2].Content[0].Text)
	require.Equal(t, &canonical.ToolChoice{Mode: canonical.ToolChoiceRequired}, req.ToolChoice)
	require.Nil(t, req.ResponseFormat)
	require.False(t, req.IncludeUsage)
	require.Nil(t, req.Extra)

	req, err = ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,hello"}}]}],"tool_choice":"auto"}`))
	require.NoError(t, err)
	require.Equal(t, &canonical.Image{MediaType: "text/plain", Data: "aGVsbG8="}, req.Messages[0].Content[0].Image)
	require.Equal(t, canonical.ToolChoiceAuto, req.ToolChoice.Mode)
}

func text(s string) []canonical.Part { return []canonical.Part{{Type: canonical.PartText, Text: s}} }

func encode(t *testing.T, req *canonical.Request, d Dialect) map[string]any {
	t.Helper()
	b, err := EncodeChatRequest(req, "", d)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestEncodeChatRequest(t *testing.T) {
	base := func() *canonical.Request {
		return &canonical.Request{Model: "m", Messages: []canonical.Message{{Role: canonical.RoleUser, Content: text("hi")}}}
	}

	m := encode(t, base(), Dialect{})
	require.Equal(t, "m", m["model"], "falls back to req.Model")
	require.NotContains(t, m, "stream_options")

	r := base()
	r.MaxTokens, r.N, r.TopK = 10, 1, new(int)
	m = encode(t, r, Dialect{MaxTokensField: "max_tokens"})
	require.EqualValues(t, 10, m["max_tokens"])
	require.NotContains(t, m, "n", "n=1 is the default")
	require.NotContains(t, m, "top_k", "OpenAI rejects top_k")

	r = base()
	r.Reasoning = &canonical.Reasoning{Disabled: true, Effort: "high"}
	require.NotContains(t, encode(t, r, Dialect{}), "reasoning_effort")
	for budget, want := range map[int]string{1024: "low", 8000: "medium", 32000: "high"} {
		r.Reasoning = &canonical.Reasoning{BudgetTokens: budget}
		require.Equal(t, want, encode(t, r, Dialect{})["reasoning_effort"])
	}

	r = base()
	r.Metadata = map[string]string{"user_id": "u1", "x": "y"}
	m = encode(t, r, Dialect{})
	require.Equal(t, "u1", m["user"])
	require.NotContains(t, m, "metadata", "metadata needs store")
	r.User = "explicit"
	require.Equal(t, "explicit", encode(t, r, Dialect{})["user"])

	r = base()
	r.Extra = map[string]json.RawMessage{"model": json.RawMessage(`"evil"`), "logit_bias": json.RawMessage(`{"50256":-100}`), "logprobs": json.RawMessage(`{`),
		"thinking": json.RawMessage(`{"type":"enabled","budget_tokens":1024}`), "container": json.RawMessage(`"c"`), "service_tier": json.RawMessage(`"standard_only"`)}
	m = encode(t, r, Dialect{})
	require.Equal(t, "m", m["model"], "typed fields win over Extra")
	require.Contains(t, m, "logit_bias")
	require.NotContains(t, m, "logprobs", "invalid JSON in Extra is dropped")
	require.NotContains(t, m, "thinking", "other schemas' fields are not sent to OpenAI")
	require.NotContains(t, m, "container")
	require.NotContains(t, m, "service_tier", "Anthropic's tier values mean nothing to OpenAI")
	r.Extra = map[string]json.RawMessage{"service_tier": json.RawMessage(`"flex"`)}
	require.Equal(t, "flex", encode(t, r, Dialect{})["service_tier"])
	r.Extra = map[string]json.RawMessage{"service_tier": json.RawMessage(`1`)}
	require.NotContains(t, encode(t, r, Dialect{}), "service_tier")

	r = base()
	r.ResponseFormat = &canonical.ResponseFormat{Type: "json_schema", Schema: json.RawMessage(`{"type":"object"}`)}
	r.ToolChoice = &canonical.ToolChoice{Mode: "weird"}
	m = encode(t, r, Dialect{})
	require.Equal(t, "response", m["response_format"].(map[string]any)["json_schema"].(map[string]any)["name"])
	require.NotContains(t, m, "tool_choice")

	// Role system inside messages (another frontend may produce it) and empty user turns.
	r = base()
	r.Messages = append(r.Messages, canonical.Message{Role: canonical.RoleSystem, Content: text("late")}, canonical.Message{Role: canonical.RoleUser})
	msgs := encode(t, r, Dialect{})["messages"].([]any)
	require.Equal(t, map[string]any{"role": "system", "content": "late"}, msgs[1])
	require.Equal(t, map[string]any{"role": "user", "content": ""}, msgs[2])

	// Images inside tool results cannot be expressed.
	r = base()
	r.Messages = []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartToolResult, ToolResult: &canonical.ToolResult{
		ToolCallID: "t", Content: []canonical.Part{{Type: canonical.PartImage, Image: &canonical.Image{URL: "https://x"}}}}}}}}
	_, err := EncodeChatRequest(r, "", Dialect{})
	require.Error(t, err)
	r.Messages[0] = canonical.Message{Role: canonical.RoleTool, ToolCallID: "t", Content: []canonical.Part{{Type: canonical.PartImage, Image: &canonical.Image{URL: "https://x"}}}}
	_, err = EncodeChatRequest(r, "", Dialect{})
	require.Error(t, err)

	r = base()
	r.Messages[0].Role = "robot"
	_, err = EncodeChatRequest(r, "", Dialect{})
	require.Error(t, err)

	// A user turn with only a nil tool result and a nil image is skipped cleanly.
	r = base()
	r.Messages = []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartToolResult}, {Type: canonical.PartImage}, {Type: canonical.PartThinking, Text: "x"}}}}
	msgs = encode(t, r, Dialect{})["messages"].([]any)
	require.Equal(t, []any{map[string]any{"role": "user", "content": ""}}, msgs)
}

func TestUnionTypes(t *testing.T) {
	var c Content
	require.NoError(t, json.Unmarshal([]byte(`null`), &c))
	require.Nil(t, c.Text)
	b, _ := json.Marshal(c)
	require.Equal(t, "null", string(b))
	require.Error(t, json.Unmarshal([]byte(`{}`), &c))
	require.Error(t, json.Unmarshal([]byte(`"\x"`), &c))
	require.Error(t, json.Unmarshal([]byte(`[1]`), &c))

	var tc ToolChoice
	require.NoError(t, json.Unmarshal([]byte(`"auto"`), &tc))
	b, _ = json.Marshal(tc)
	require.Equal(t, `"auto"`, string(b))
	require.Error(t, json.Unmarshal([]byte(`{"type":1}`), &tc))

	var sl StringList
	require.NoError(t, json.Unmarshal([]byte(`["a","b"]`), &sl))
	b, _ = json.Marshal(sl)
	require.Equal(t, `["a","b"]`, string(b))
	require.Error(t, json.Unmarshal([]byte(`"\q"`), &sl))

	var ns NullString
	for in, want := range map[string]NullString{
		`null`: {}, `"x"`: {"x", true}, `429`: {"429", true}, `true`: {"true", true}, `{"a":1}`: {`{"a":1}`, true},
	} {
		require.NoError(t, json.Unmarshal([]byte(in), &ns))
		require.Equal(t, want, ns, in)
	}
	b, _ = json.Marshal(NullString{})
	require.Equal(t, "null", string(b))

	var ed ErrorDetail
	require.NoError(t, json.Unmarshal([]byte(`"plain"`), &ed))
	require.Equal(t, "plain", ed.Message)
	require.Error(t, json.Unmarshal([]byte(`[]`), &ed))

	var in EmbeddingInput
	for raw, want := range map[string]EmbeddingInput{
		`"a"`:         {Texts: []string{"a"}, Single: true},
		`["a","b"]`:   {Texts: []string{"a", "b"}},
		`[1,2]`:       {Tokens: [][]int{{1, 2}}, SingleTokens: true},
		`[[1],[2,3]]`: {Tokens: [][]int{{1}, {2, 3}}},
		`[]`:          {Texts: []string{}},
	} {
		require.NoError(t, json.Unmarshal([]byte(raw), &in), raw)
		require.Equal(t, want, in, raw)
		out, err := json.Marshal(in)
		require.NoError(t, err)
		require.JSONEq(t, raw, string(out))
	}
	for _, raw := range []string{`1`, `{}`, `[1,"a"]`, `["a",1]`, `[[1],["a"]]`, `[`} {
		require.Error(t, json.Unmarshal([]byte(raw), &in), raw)
	}
	b, _ = json.Marshal(EmbeddingInput{})
	require.Equal(t, "[]", string(b))

	var v EmbeddingVector
	require.NoError(t, json.Unmarshal([]byte(`[0.5,-1]`), &v))
	require.Equal(t, []float32{0.5, -1}, v.Floats)
	_, err := json.Marshal(EmbeddingVector{Floats: []float32{float32(nan())}})
	require.Error(t, err)
	enc := EncodeBase64Floats([]float32{1, -2.5, 0})
	require.NoError(t, json.Unmarshal([]byte(`"`+enc+`"`), &v))
	vals, err := v.Values()
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2.5, 0}, vals)
	_, err = DecodeBase64Floats("!!")
	require.Error(t, err)
	_, err = DecodeBase64Floats("AAA=")
	require.Error(t, err, "not a multiple of 4 bytes")
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\n\r\t\x00\x1f", "<&>", "héllo 🌍", "\u2028\u2029", "bad\xff\xfeutf8", "\xe2\x82"} {
		got := appendJSONString(nil, s)
		require.True(t, json.Valid(got), "%q", got)
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
		ref, _ := json.Marshal(s)
		var refBack string
		require.NoError(t, json.Unmarshal(ref, &refBack))
		require.Equal(t, refBack, back, "%q", s)
	}
	require.Equal(t, `"<&>"`, string(appendJSONString(nil, "<&>")), "no HTML escaping")
}

func TestEmbeddingsFrontend(t *testing.T) {
	f := Frontend{}
	req, err := f.ParseEmbeddingRequest([]byte(`{"model":"text-embedding-3-small","input":["a","b"],"dimensions":4,"encoding_format":"base64","user":"u"}`))
	require.NoError(t, err)
	require.Equal(t, &canonical.EmbeddingRequest{Model: "text-embedding-3-small", Input: []string{"a", "b"}, Dimensions: 4, EncodingFormat: "base64", User: "u"}, req)

	for _, body := range []string{
		`{`, `{"input":"a"}`, `{"model":"m","input":[1,2]}`, `{"model":"m","input":[]}`, `{"model":"m","input":["a",""]}`,
		`{"model":"m","input":"a","encoding_format":"int8"}`, `{"model":"m","input":"a","dimensions":0}`,
	} {
		_, err := f.ParseEmbeddingRequest([]byte(body))
		var ce *canonical.Error
		require.True(t, errors.As(err, &ce), body)
		require.Equal(t, 400, ce.Status, body)
	}

	resp := &canonical.EmbeddingResponse{Model: "m", Embeddings: [][]float32{{1, 0}, nil}, Usage: canonical.Usage{InputTokens: 3}}
	out, err := f.EncodeEmbeddingResponse(resp, "float")
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[1,0]},{"object":"embedding","index":1,"embedding":[]}],"usage":{"prompt_tokens":3,"total_tokens":3}}`, string(out))
	out, err = f.EncodeEmbeddingResponse(resp, "base64")
	require.NoError(t, err)
	back, err := DecodeEmbeddingResponse(out)
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1, 0}, {}}, back.Embeddings)
	require.Equal(t, 3, back.Usage.InputTokens)
}
