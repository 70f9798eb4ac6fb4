package anthropic

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

func TestParseChatRequestGolden(t *testing.T) {
	f := NewFrontend()
	require.Equal(t, provider.SchemaAnthropic, f.Schema())
	for _, name := range goldenCases(t, "testdata/frontend", ".want.json") {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata/frontend", name+".json"))
			require.NoError(t, err)
			got, err := f.ParseChatRequest(body)
			require.NoError(t, err)
			var want canonical.Request
			readInto(t, filepath.Join("testdata/frontend", name+".want.json"), &want)
			// RawMessage fields compare as JSON, not bytes.
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, string(wantJSON), string(gotJSON))
		})
	}
}

// TestFrontendBackendRoundTrip: an Anthropic request parsed to canonical and rebuilt by
// the Anthropic backend is the same request (what lets anthropic→vertex-anthropic keep
// every feature even without passthrough).
func TestFrontendBackendRoundTrip(t *testing.T) {
	body, err := os.ReadFile("testdata/roundtrip.json")
	require.NoError(t, err)
	req, err := NewFrontend().ParseChatRequest(body)
	require.NoError(t, err)
	up, err := newTestBackend(t).BuildChatRequest(context.Background(), req, provider.Target{Model: req.Model, Stream: req.Stream})
	require.NoError(t, err)
	require.JSONEq(t, string(body), string(up.Body))
}

func TestParseChatRequestErrors(t *testing.T) {
	cases := map[string]struct{ body, param string }{
		"not json":          {`{"model":`, ""},
		"not object":        {`[]`, ""},
		"wrong field type":  {`{"model":"m","messages":"hi"}`, ""},
		"no model":          {`{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		"no messages":       {`{"model":"m","max_tokens":1}`, "messages"},
		"negative max":      {`{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens"},
		"bad role":          {`{"model":"m","messages":[{"role":"system","content":"hi"}]}`, "messages.0.role"},
		"tool_result no id": {`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages.0.content.0.tool_use_id"},
		"tool_use no name":  {`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a"}]}]}`, "messages.1.content.0"},
		"tool_use bad input": {`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]}`,
			"messages.1.content.0.input"},
		"tool no name":         {`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"input_schema":{}}]}`, "tools.0.name"},
		"tool not object":      {`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[1]}`, "tools.0"},
		"tool_choice tool":     {`{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool"}}`, "tool_choice.name"},
		"tool_choice unknown":  {`{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"sometimes"}}`, "tool_choice.type"},
		"output_config type":   {`{"model":"m","messages":[{"role":"user","content":"x"}],"output_config":[]}`, "output_config"},
		"output_config format": {`{"model":"m","messages":[{"role":"user","content":"x"}],"output_config":{"format":{"type":"xml"}}}`, "output_config.format"},
	}
	f := NewFrontend()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.ParseChatRequest([]byte(tc.body))
			var ce *canonical.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 400, ce.Status)
			require.Equal(t, tc.param, ce.Param)
		})
	}
}

func TestParseChatRequestEdgeShapes(t *testing.T) {
	f := NewFrontend()
	req, err := f.ParseChatRequest([]byte(`{"model":"m","system":null,"thinking":{"type":"disabled"},"tool_choice":{"type":"any"},
		"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","cache_control":{"type":"ephemeral"}}]},
		{"role":"user","content":[{"type":"image"}]}]}`))
	require.NoError(t, err)
	require.Equal(t, &canonical.Reasoning{Disabled: true}, req.Reasoning)
	require.Equal(t, canonical.ToolChoiceRequired, req.ToolChoice.Mode)
	require.Equal(t, []canonical.Message{
		{Role: canonical.RoleTool, ToolCallID: "t1", Content: []canonical.Part{{Type: canonical.PartText, CacheControl: &canonical.CacheControl{Type: "ephemeral"}}}},
		{Role: canonical.RoleUser},
	}, req.Messages)
}

func TestEncodeChatResponse(t *testing.T) {
	f := NewFrontend()
	resp := &canonical.Response{
		ID:    "chatcmpl-1",
		Model: "gpt-x",
		Choices: []canonical.Choice{{
			Message: canonical.Message{Role: canonical.RoleAssistant, Content: []canonical.Part{
				{Type: canonical.PartThinking, Text: "hmm", Signature: "sig"},
				{Type: canonical.PartRedactedThinking, Data: "red"},
				{Type: canonical.PartText, Text: "Here."},
				{Type: canonical.PartText, Text: ""},
			}, ToolCalls: []canonical.ToolCall{
				{ID: "call_1", Name: "f", Arguments: `{"a": 1}`},
				{ID: "call_2", Name: "g", Arguments: `{"broken"`},
				{ID: "call_3", Name: "h"},
			}},
			FinishReason: canonical.FinishToolCalls,
		}},
		Usage: canonical.Usage{InputTokens: 100, CachedInputTokens: 60, CacheCreationTokens: 10, OutputTokens: 20, ReasoningTokens: 5},
	}
	body, err := f.EncodeChatResponse(resp)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"id":"chatcmpl-1","type":"message","role":"assistant","model":"gpt-x",
		"content":[
			{"type":"thinking","thinking":"hmm","signature":"sig"},
			{"type":"redacted_thinking","data":"red"},
			{"type":"text","text":"Here."},
			{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},
			{"type":"tool_use","id":"call_2","name":"g","input":{"_raw_arguments":"{\"broken\""}},
			{"type":"tool_use","id":"call_3","name":"h","input":{}}
		],
		"stop_reason":"tool_use","stop_sequence":null,
		"usage":{"input_tokens":30,"output_tokens":20,"cache_creation_input_tokens":10,"cache_read_input_tokens":60,"output_tokens_details":{"thinking_tokens":5}}
	}`, string(body))

	// The official SDK reads it.
	var msg anthropic.Message
	require.NoError(t, json.Unmarshal(body, &msg))
	require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
	require.Len(t, msg.Content, 6)
	require.Equal(t, "Here.", msg.Content[2].AsText().Text)
	require.Equal(t, "call_1", msg.Content[3].AsToolUse().ID)
	require.EqualValues(t, 60, msg.Usage.CacheReadInputTokens)

	// Stop sequence, and an empty response.
	body, err = f.EncodeChatResponse(&canonical.Response{Choices: []canonical.Choice{{FinishReason: canonical.FinishStop}}, StopSequence: "END", ProviderFinishReason: "stop_sequence"})
	require.NoError(t, err)
	require.Contains(t, string(body), `"stop_reason":"stop_sequence","stop_sequence":"END"`)
	require.Contains(t, string(body), `"id":"msg_`)
	body, err = f.EncodeChatResponse(&canonical.Response{})
	require.NoError(t, err)
	require.Contains(t, string(body), `"content":[]`)
	require.Contains(t, string(body), `"stop_reason":"end_turn"`)
}

func TestStopReasonMapping(t *testing.T) {
	cases := []struct {
		f        canonical.FinishReason
		provider string
		seq      string
		want     string
	}{
		{canonical.FinishStop, "", "", "end_turn"},
		{canonical.FinishStop, "", "X", "stop_sequence"},
		{canonical.FinishLength, "", "", "max_tokens"},
		{canonical.FinishToolCalls, "", "", "tool_use"},
		{canonical.FinishContentFilter, "", "", "refusal"},
		{canonical.FinishError, "", "", "end_turn"},
		{canonical.FinishStop, "pause_turn", "", "pause_turn"},
		{canonical.FinishStop, "STOP", "", "end_turn"}, // Gemini's reason is not Anthropic's
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, stopReason(tc.f, tc.provider, tc.seq), "%+v", tc)
	}
	require.Equal(t, canonical.FinishLength, finishReason("model_context_window_exceeded", false))
	require.Equal(t, canonical.FinishStop, finishReason("something_new", false))
}

func TestCountTokens(t *testing.T) {
	var seen *canonical.Request
	out, err := CountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":"hello"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}`),
		func(r *canonical.Request) int { seen = r; return 42 })
	require.NoError(t, err)
	require.JSONEq(t, `{"input_tokens":42}`, string(out))
	require.Len(t, seen.Tools, 1)

	out, err = CountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`), nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"input_tokens":0}`, string(out))

	_, err = CountTokens([]byte(`{}`), nil)
	require.Error(t, err)
}
