package bedrock

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

func TestTranslationRejects(t *testing.T) {
	user := func(parts ...canonical.Part) canonical.Message {
		return canonical.Message{Role: canonical.RoleUser, Content: parts}
	}
	text := canonical.Part{Type: canonical.PartText, Text: "hi"}
	tests := []struct {
		name  string
		req   canonical.Request
		param string
	}{
		{"n > 1", canonical.Request{N: 2, Messages: []canonical.Message{user(text)}}, "n"},
		{"image url", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{URL: "https://example.com/cat.png"}})}}, "messages[0].content[0]"},
		{"image without image", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage})}}, "messages[0].content[0]"},
		{"bad media type", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{MediaType: "image/tiff", Data: "AAAA"}})}}, "messages[0].content[0]"},
		{"bad tool args", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{{ID: "1", Name: "f", Arguments: "{oops"}}}}}, "messages[1].tool_calls[0].function.arguments"},
		{"no messages", canonical.Request{}, "messages"},
		{"only empty text", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartText})}}, "messages"},
		{"bad role", canonical.Request{Messages: []canonical.Message{{Role: "narrator", Content: []canonical.Part{text}}}}, "messages[0].role"},
		{"non-text system", canonical.Request{System: []canonical.Part{{Type: canonical.PartImage}}, Messages: []canonical.Message{user(text)}}, "messages"},
		{"unnamed tool", canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{}}}, "tools[0].function.name"},
		{"named choice without name", canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f"}}, ToolChoice: &canonical.ToolChoice{Mode: canonical.ToolChoiceNamed}}, "tool_choice"},
		{"unknown choice", canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f"}}, ToolChoice: &canonical.ToolChoice{Mode: "sometimes"}}, "tool_choice"},
		{"unknown part", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: "audio"})}}, "messages[0].content[0]"},
		{"tool_result without result", canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartToolResult})}}, "messages[0].content[0]"},
		{"tool message with thinking", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool, ToolCallID: "1", Content: []canonical.Part{{Type: canonical.PartThinking}}}}}, "messages[1]"},
		{"tool image url", canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool, ToolCallID: "1", Content: []canonical.Part{{Type: canonical.PartImage, Image: &canonical.Image{URL: "http://x"}}}}}}, "messages[1].content[0]"},
	}
	backends := map[string]provider.Backend{"converse": NewConverseBackend(""), "anthropic": NewAnthropicBackend("", 0)}
	for _, tt := range tests {
		for name, b := range backends {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				_, err := b.BuildChatRequest(context.Background(), &tt.req, provider.Target{Model: "anthropic.claude-x"})
				var ce *canonical.Error
				require.ErrorAs(t, err, &ce)
				require.Equal(t, canonical.ErrInvalidRequest, ce.Kind)
				require.Equal(t, 400, ce.Status)
				require.Equal(t, tt.param, ce.Param)
			})
		}
	}
	for name, b := range backends {
		_, err := b.BuildChatRequest(context.Background(), simpleRequest("x"), provider.Target{})
		require.Error(t, err, name)
	}
}

func TestConverseToolChoiceModes(t *testing.T) {
	tools := []canonical.Tool{{Name: "f"}}
	for mode, want := range map[canonical.ToolChoiceMode]string{
		canonical.ToolChoiceAuto:     `{"auto":{}}`,
		canonical.ToolChoiceRequired: `{"any":{}}`,
	} {
		req := simpleRequest("x")
		req.Tools, req.ToolChoice = tools, &canonical.ToolChoice{Mode: mode}
		up, err := NewConverseBackend("").BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
		require.NoError(t, err)
		var body struct {
			ToolConfig struct {
				ToolChoice json.RawMessage `json:"toolChoice"`
			} `json:"toolConfig"`
		}
		require.NoError(t, json.Unmarshal(up.Body, &body))
		require.JSONEq(t, want, string(body.ToolConfig.ToolChoice))
	}
	// none without tool history: no toolConfig at all.
	req := simpleRequest("x")
	req.Tools, req.ToolChoice = tools, &canonical.ToolChoice{Mode: canonical.ToolChoiceNone}
	up, err := NewConverseBackend("").BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
	require.NoError(t, err)
	require.NotContains(t, string(up.Body), "toolConfig")
}

func TestAnthropicToolChoiceModes(t *testing.T) {
	no := false
	for _, tc := range []struct {
		choice   *canonical.ToolChoice
		parallel *bool
		want     string
	}{
		{nil, nil, ``},
		{nil, &no, `{"type":"auto","disable_parallel_tool_use":true}`},
		{&canonical.ToolChoice{Mode: canonical.ToolChoiceAuto}, nil, `{"type":"auto"}`},
		{&canonical.ToolChoice{Mode: canonical.ToolChoiceRequired}, &no, `{"type":"any","disable_parallel_tool_use":true}`},
		{&canonical.ToolChoice{Mode: canonical.ToolChoiceNone}, nil, `{"type":"none"}`},
	} {
		req := simpleRequest("x")
		req.Tools, req.ToolChoice, req.ParallelToolCalls = []canonical.Tool{{Name: "f"}}, tc.choice, tc.parallel
		out, err := toAnthropic(req, 100)
		require.NoError(t, err)
		if tc.want == "" {
			require.Nil(t, out.ToolChoice)
			continue
		}
		got, _ := json.Marshal(out.ToolChoice)
		require.JSONEq(t, tc.want, string(got))
	}
}

func TestReasoningMappings(t *testing.T) {
	req := simpleRequest("x")
	req.Reasoning = &canonical.Reasoning{Disabled: true}
	f := additionalFields(req, "anthropic.claude-3-7")
	require.Equal(t, map[string]any{"thinking": map[string]any{"type": "disabled"}}, f)
	out, err := toAnthropic(req, 100)
	require.NoError(t, err)
	require.Equal(t, "disabled", out.Thinking.Type)

	req.Reasoning = &canonical.Reasoning{BudgetTokens: 3000}
	require.Equal(t, map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 3000}}, additionalFields(req, "us.anthropic.claude-sonnet-4"))
	for effort, budget := range map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "": 8192, "high": 16384} {
		require.Equal(t, budget, effortBudget(&canonical.Reasoning{Effort: effort}))
	}
	req.Reasoning = &canonical.Reasoning{Effort: "low"}
	require.Nil(t, additionalFields(req, "meta.llama3-70b"), "no reasoning knob for other families")
	require.Equal(t, map[string]any{"reasoning_effort": "low"}, additionalFields(req, "openai.gpt-oss-20b-1:0"))
	req.MaxTokens = 50
	out, err = toAnthropic(req, 100)
	require.NoError(t, err)
	require.Equal(t, 50, out.MaxTokens, "a caller's max_tokens is kept")
}

func TestSystemStragglersAndUserMetadata(t *testing.T) {
	req := &canonical.Request{
		Messages: []canonical.Message{
			{Role: canonical.RoleSystem, Content: []canonical.Part{{Type: canonical.PartText, Text: "late system"}}},
			{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "hi"}}},
		},
		Metadata: map[string]string{"user_id": "u-1"},
	}
	cv, err := toConverse(req, "m")
	require.NoError(t, err)
	require.Equal(t, "late system", *cv.System[0].Text)
	an, err := toAnthropic(req, 10)
	require.NoError(t, err)
	require.Equal(t, "late system", *an.System[0].Text)
	require.Equal(t, "u-1", an.Metadata.UserID)
}
