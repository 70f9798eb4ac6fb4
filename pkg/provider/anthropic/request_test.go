package anthropic

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestBuildChatRequestGolden(t *testing.T) {
	b := newTestBackend(t)
	for _, name := range goldenCases(t, "testdata/request", ".in.json") {
		t.Run(name, func(t *testing.T) {
			req := readCanonical(t, filepath.Join("testdata/request", name+".in.json"))
			up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-sonnet-4-5"})
			require.NoError(t, err)
			goldenJSON(t, filepath.Join("testdata/request", name+".out.json"), up.Body)
		})
	}
}

func TestBuildChatRequestHTTP(t *testing.T) {
	b := newTestBackend(t, func(s *provider.Settings) {
		s.BaseURL = "https://gw.example.com/anthropic/"
		s.Config.Anthropic = &configv1.Anthropic{Version: "2024-01-01"}
	})
	up, err := b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "claude-x", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "POST", up.Method)
	require.Equal(t, "/anthropic/v1/messages", up.Path)
	require.Equal(t, "sk-ant-test", up.Header.Get("x-api-key"))
	require.Equal(t, "2024-01-01", up.Header.Get("anthropic-version"))
	require.Equal(t, "application/json", up.Header.Get("Content-Type"))
	require.Equal(t, "text/event-stream", up.Header.Get("Accept"))
	require.Equal(t, "1", up.Header.Get("x-extra"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(up.Body, &body))
	require.Equal(t, true, body["stream"])
	require.Equal(t, "claude-x", body["model"])

	// The request model is used when the target names none.
	req := textReq("hi")
	req.Model = "from-request"
	up, err = b.BuildChatRequest(context.Background(), req, provider.Target{})
	require.NoError(t, err)
	require.Contains(t, string(up.Body), `"model":"from-request"`)
	require.Empty(t, up.Header.Get("Authorization"))
}

func TestBuildChatRequestDefaults(t *testing.T) {
	b := newTestBackend(t, func(s *provider.Settings) {
		s.Config.Anthropic = &configv1.Anthropic{DefaultMaxTokens: 777}
		s.APIKey = ""
	})
	up, err := b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "m"})
	require.NoError(t, err)
	require.Contains(t, string(up.Body), `"max_tokens":777`)
	require.Equal(t, DefaultVersion, up.Header.Get("anthropic-version"))
	require.Empty(t, up.Header.Get("x-api-key"), "no key configured, none sent")
	require.Equal(t, "/v1/messages", up.Path)
}

func TestNewSamplingRemovedInAPIVersion20261021(t *testing.T) {
	b := newTestBackend(t, func(s *provider.Settings) {
		s.Config.Anthropic = &configv1.Anthropic{Version: "2026-10-21"}
	})
	req := textReq("hi")
	temp, topP, topK := 0.3, 0.8, 10
	req.Temperature, req.TopP, req.TopK = &temp, &topP, &topK
	up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
	require.NoError(t, err)
	require.NotContains(t, string(up.Body), "temperature")
	require.NotContains(t, string(up.Body), "top_p")
	require.NotContains(t, string(up.Body), "top_k")
}

func TestVertexBackend(t *testing.T) {
	s := testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{Project: "my-proj", Location: "us-east5"}
	})
	b, err := NewVertexBackend(s, "")
	require.NoError(t, err)
	temp := 0.5
	req := textReq("hi")
	req.Temperature = &temp
	up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-sonnet-4-5@20250929"})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict", up.Path)
	require.Empty(t, up.Header.Get("x-api-key"), "Vertex uses the OAuth signer, never the API key")
	require.Empty(t, up.Header.Get("anthropic-version"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(up.Body, &body))
	require.NotContains(t, body, "model")
	require.Equal(t, VertexVersion, body["anthropic_version"])
	require.Equal(t, 0.5, body["temperature"])

	up, err = b.BuildChatRequest(context.Background(), req, provider.Target{Model: "claude-haiku", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-haiku:streamRawPredict", up.Path)

	// Project from the credentials, location defaulting to global.
	s.Config.Gcp = &configv1.GCP{}
	b, err = NewVertexBackend(s, "sa-proj")
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/sa-proj/locations/global/publishers/anthropic/models/m:rawPredict", b.path("m", false))

	_, err = NewVertexBackend(s, "")
	require.ErrorContains(t, err, "gcp.project")
}

func TestFactoriesAndRegister(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	require.True(t, r.Has(KindAnthropic))
	require.True(t, r.Has(KindVertex))
	a, err := r.Build(testSettings())
	require.NoError(t, err)
	require.Nil(t, a.Signer)
	require.Equal(t, provider.SchemaAnthropic, a.Backend.Schema())

	_, err = r.Build(testSettings(func(s *provider.Settings) { s.BaseURL = "::not a url" }))
	require.Error(t, err)

	// Vertex with an unreadable credentials file fails at build time.
	_, err = r.Build(testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{Project: "p", CredentialsFile: "/nonexistent/sa.json"}
	}))
	require.ErrorContains(t, err, "credentials")
}

func TestBuildChatRequestErrors(t *testing.T) {
	b := newTestBackend(t)
	user := func(parts ...canonical.Part) canonical.Message {
		return canonical.Message{Role: canonical.RoleUser, Content: parts}
	}
	text := canonical.Part{Type: canonical.PartText, Text: "hi"}
	cases := map[string]struct {
		req   canonical.Request
		model string
		param string
	}{
		"n>1":             {req: canonical.Request{N: 2, Messages: []canonical.Message{user(text)}}, param: "n"},
		"no model":        {req: canonical.Request{Messages: []canonical.Message{user(text)}}, model: "-", param: "model"},
		"no messages":     {req: canonical.Request{}, param: "messages"},
		"only whitespace": {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartText, Text: " "})}}, param: "messages"},
		"invalid args": {req: canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleAssistant,
			ToolCalls: []canonical.ToolCall{{ID: "a", Name: "f", Arguments: `{"x":`}}}}}, param: "messages[1].tool_calls[0].function.arguments"},
		"array args": {req: canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleAssistant,
			ToolCalls: []canonical.ToolCall{{ID: "a", Name: "f", Arguments: `[1]`}}}}}, param: "messages[1].tool_calls[0].function.arguments"},
		"tool without id": {req: canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool}}}, param: "messages[1].tool_call_id"},
		"bad role":        {req: canonical.Request{Messages: []canonical.Message{{Role: "narrator"}}}, param: "messages[0].role"},
		"bad effort":      {req: canonical.Request{Messages: []canonical.Message{user(text)}, Reasoning: &canonical.Reasoning{Effort: "extreme"}}, param: "reasoning_effort"},
		"max too small":   {req: canonical.Request{Messages: []canonical.Message{user(text)}, MaxTokens: 500, Reasoning: &canonical.Reasoning{Effort: "low"}}, param: "max_tokens"},
		"bad schema":      {req: canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f", Parameters: json.RawMessage(`"str"`)}}}, param: "tools[0].function.parameters"},
		"no tool name":    {req: canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{}}}, param: "tools[0].function.name"},
		"bad data url":    {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{URL: "data:image/png,xyz"}})}}, param: "messages[0].content[0]"},
		"no media type":   {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{Data: "abc"}})}}, param: "messages[0].content[0]"},
		"nil image":       {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage})}}, param: "messages[0].content[0]"},
		"empty image":     {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{}})}}, param: "messages[0].content[0]"},
		"tool result without id": {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartToolResult,
			ToolResult: &canonical.ToolResult{}})}}, param: "messages[0].content[0]"},
		"bad response schema": {req: canonical.Request{Messages: []canonical.Message{user(text)},
			ResponseFormat: &canonical.ResponseFormat{Type: "json_schema", Schema: json.RawMessage(`[]`)}}, param: "response_format.json_schema.schema"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			model := "m"
			if tc.model == "-" {
				model = ""
			}
			_, err := b.BuildChatRequest(context.Background(), &tc.req, provider.Target{Model: model})
			var ce *canonical.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 400, ce.Status)
			require.Equal(t, canonical.ErrInvalidRequest, ce.Kind)
			require.Equal(t, tc.param, ce.Param)
			require.NotEmpty(t, ce.Message)
		})
	}
}

func TestBuildChatRequestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestBackend(t).BuildChatRequest(ctx, textReq("hi"), provider.Target{Model: "m"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestThinkingMapping(t *testing.T) {
	cases := []struct {
		name      string
		r         *canonical.Reasoning
		max       int
		callerMax bool
		want      *Thinking
		wantMax   int
	}{
		{"nil", nil, 4096, false, nil, 4096},
		{"disabled", &canonical.Reasoning{Disabled: true}, 4096, false, &Thinking{Type: "disabled"}, 4096},
		{"none effort", &canonical.Reasoning{Effort: "none"}, 4096, false, &Thinking{Type: "disabled"}, 4096},
		{"empty", &canonical.Reasoning{}, 4096, false, nil, 4096},
		{"minimal fits", &canonical.Reasoning{Effort: "minimal"}, 4096, true, &Thinking{Type: "enabled", BudgetTokens: 1024}, 4096},
		{"low", &canonical.Reasoning{Effort: "low"}, 4096, false, &Thinking{Type: "enabled", BudgetTokens: 2048}, 4096},
		{"medium grows default", &canonical.Reasoning{Effort: "medium"}, 4096, false, &Thinking{Type: "enabled", BudgetTokens: 8192}, 12288},
		{"budget raised to minimum", &canonical.Reasoning{BudgetTokens: 100}, 8000, true, &Thinking{Type: "enabled", BudgetTokens: 1024}, 8000},
		{"xhigh clamps to caller cap", &canonical.Reasoning{Effort: "xhigh"}, 10000, true, &Thinking{Type: "enabled", BudgetTokens: 9999}, 10000},
		{"max", &canonical.Reasoning{Effort: "max"}, 60000, true, &Thinking{Type: "enabled", BudgetTokens: 49152}, 60000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			got, err := thinking(tc.r, &max, tc.callerMax)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantMax, max)
		})
	}
}

func TestIsServerToolType(t *testing.T) {
	for typ, want := range map[string]bool{
		"web_search_20250305":     true,
		"bash_20250124":           true,
		"text_editor_20250728":    true,
		"code_execution_20250825": true,
		"custom":                  false,
		"function":                false,
		"web_search_2025030":      false,
		"Web_search_20250305":     false,
		"web-search_20250305":     false,
		"_20250305":               false,
		"x_2025030a":              false,
	} {
		require.Equal(t, want, isServerToolType(typ), typ)
	}
}
