package gemini

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
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
			var req canonical.Request
			readInto(t, filepath.Join("testdata/request", name+".in.json"), &req)
			up, err := b.BuildChatRequest(context.Background(), &req, provider.Target{})
			require.NoError(t, err)
			goldenJSON(t, filepath.Join("testdata/request", name+".out.json"), up.Body)
		})
	}
}

func TestBuildChatRequestHTTP(t *testing.T) {
	b := newTestBackend(t, func(s *provider.Settings) { s.BaseURL = "https://proxy.example.com/google/" })
	up, err := b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "gemini-2.5-flash"})
	require.NoError(t, err)
	require.Equal(t, "POST", up.Method)
	require.Equal(t, "/google/v1beta/models/gemini-2.5-flash:generateContent", up.Path)
	require.Equal(t, "AIza-test", up.Header.Get("x-goog-api-key"))
	require.Equal(t, "application/json", up.Header.Get("Content-Type"))
	require.Equal(t, "1", up.Header.Get("x-extra"))
	require.Empty(t, up.Header.Get("Authorization"))

	up, err = b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "models/gemini-2.5-flash", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", up.Path)
	require.Equal(t, "text/event-stream", up.Header.Get("Accept"))

	up, err = b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "tunedModels/my-tune"})
	require.NoError(t, err)
	require.Equal(t, "/google/v1beta/tunedModels/my-tune:generateContent", up.Path)

	b = newTestBackend(t, func(s *provider.Settings) { s.APIKey = "" })
	req := textReq("hi")
	req.Model = "gemini-x"
	up, err = b.BuildChatRequest(context.Background(), req, provider.Target{})
	require.NoError(t, err)
	require.Equal(t, "/v1beta/models/gemini-x:generateContent", up.Path)
	require.Empty(t, up.Header.Get("x-goog-api-key"))
}

func TestVertexPaths(t *testing.T) {
	b := newVertexBackend(t)
	up, err := b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "gemini-2.5-pro"})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent", up.Path)
	require.Empty(t, up.Header.Get("x-goog-api-key"), "Vertex uses the OAuth signer")

	up, err = b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "gemini-2.5-pro", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse", up.Path)

	up, err = b.BuildChatRequest(context.Background(), textReq("hi"), provider.Target{Model: "projects/proj-1/locations/europe-west4/endpoints/123"})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/proj-1/locations/europe-west4/endpoints/123:generateContent", up.Path)

	require.Equal(t, "v1/projects/proj-1/locations/europe-west4/publishers/google/models/m:predict", b.modelPath("publishers/google/models/m", "predict"))

	// Project from the service account, location global.
	b2, err := NewVertexBackend(testSettings(func(s *provider.Settings) { s.Config.Gcp = &configv1.GCP{} }), "sa-proj")
	require.NoError(t, err)
	require.Equal(t, "v1/projects/sa-proj/locations/global/publishers/google/models/m:generateContent", b2.modelPath("m", "generateContent"))
	_, err = NewVertexBackend(testSettings(), "")
	require.ErrorContains(t, err, "gcp.project")
}

func TestFactoriesAndRegister(t *testing.T) {
	r := provider.NewRegistry()
	Register(r)
	require.True(t, r.Has(KindGemini))
	require.True(t, r.Has(KindVertex))
	a, err := r.Build(testSettings())
	require.NoError(t, err)
	require.Nil(t, a.Signer)
	require.Equal(t, provider.SchemaGemini, a.Backend.Schema())
	_, err = r.Build(testSettings(func(s *provider.Settings) { s.BaseURL = "not a url" }))
	require.Error(t, err)
	_, err = r.Build(testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{Project: "p", CredentialsFile: "/nonexistent/sa.json"}
	}))
	require.ErrorContains(t, err, "credentials")

	// A vertex-ai adapter built from a real service-account file gets a signer.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "from-sa", "client_email": "a@b.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"token_uri":   "http://127.0.0.1:1/token",
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(path, sa, 0o600))
	a, err = r.Build(testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{CredentialsFile: path, Location: "us-central1"}
	}))
	require.NoError(t, err)
	require.NotNil(t, a.Signer)
	up, err := a.Backend.BuildChatRequest(context.Background(), textReq("x"), provider.Target{Model: "m"})
	require.NoError(t, err)
	require.Contains(t, up.Path, "/projects/from-sa/locations/us-central1/")
}

func TestBuildChatRequestErrors(t *testing.T) {
	b := newTestBackend(t)
	user := func(parts ...canonical.Part) canonical.Message {
		return canonical.Message{Role: canonical.RoleUser, Content: parts}
	}
	text := canonical.Part{Type: canonical.PartText, Text: "hi"}
	call := func(args string) canonical.Message {
		return canonical.Message{Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{{ID: "c1", Name: "f", Arguments: args}}}
	}
	cases := map[string]struct {
		req   canonical.Request
		model string
		param string
	}{
		"no model":          {req: canonical.Request{Messages: []canonical.Message{user(text)}}, model: "-", param: "model"},
		"no messages":       {req: canonical.Request{}, param: "messages"},
		"too many stops":    {req: canonical.Request{Messages: []canonical.Message{user(text)}, Stop: []string{"a", "b", "c", "d", "e", "f"}}, param: "stop"},
		"bad role":          {req: canonical.Request{Messages: []canonical.Message{{Role: "narrator"}}}, param: "messages[0].role"},
		"invalid args":      {req: canonical.Request{Messages: []canonical.Message{user(text), call(`{"x":`)}}, param: "messages[1].tool_calls[0].function.arguments"},
		"array args":        {req: canonical.Request{Messages: []canonical.Message{user(text), call(`[1]`)}}, param: "messages[1].tool_calls[0].function.arguments"},
		"unknown tool id":   {req: canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool, ToolCallID: "nope"}}}, param: "messages[1].tool_call_id"},
		"tool without id":   {req: canonical.Request{Messages: []canonical.Message{user(text), {Role: canonical.RoleTool}}}, param: "messages[1].tool_call_id"},
		"nil tool result":   {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartToolResult})}}, param: "messages[0].content[0]"},
		"bad effort":        {req: canonical.Request{Messages: []canonical.Message{user(text)}, Reasoning: &canonical.Reasoning{Effort: "extreme"}}, param: "reasoning_effort"},
		"no tool name":      {req: canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{}}}, param: "tools[0].function.name"},
		"bad tool schema":   {req: canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f", Parameters: json.RawMessage(`[]`)}}}, param: "tools[0].function.parameters"},
		"invalid schema":    {req: canonical.Request{Messages: []canonical.Message{user(text)}, Tools: []canonical.Tool{{Name: "f", Parameters: json.RawMessage(`{`)}}}, param: "tools[0].function.parameters"},
		"bad response fmt":  {req: canonical.Request{Messages: []canonical.Message{user(text)}, ResponseFormat: &canonical.ResponseFormat{Type: "json_schema", Schema: json.RawMessage(`"x"`)}}, param: "response_format.json_schema.schema"},
		"nil image":         {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage})}}, param: "messages[0].content[0]"},
		"empty image":       {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{}})}}, param: "messages[0].content[0]"},
		"bad data url":      {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{URL: "data:image/png,abc"}})}}, param: "messages[0].content[0]"},
		"inline without mt": {req: canonical.Request{Messages: []canonical.Message{user(canonical.Part{Type: canonical.PartImage, Image: &canonical.Image{Data: "abc"}})}}, param: "messages[0].content[0]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			model := "gemini-2.5-flash"
			if tc.model == "-" {
				model = ""
			}
			_, err := b.BuildChatRequest(context.Background(), &tc.req, provider.Target{Model: model})
			var ce *canonical.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 400, ce.Status)
			require.Equal(t, tc.param, ce.Param)
			require.NotEmpty(t, ce.Message)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.BuildChatRequest(ctx, textReq("x"), provider.Target{Model: "m"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestThinkingConfig(t *testing.T) {
	i := func(n int) *int { return &n }
	cases := []struct {
		name  string
		r     *canonical.Reasoning
		major int
		want  *ThinkingConfig
	}{
		{"nil", nil, 2, nil},
		{"empty", &canonical.Reasoning{}, 2, nil},
		{"disabled 2.5", &canonical.Reasoning{Disabled: true}, 2, &ThinkingConfig{ThinkingBudget: i(0)}},
		{"none effort 3", &canonical.Reasoning{Effort: "none"}, 3, &ThinkingConfig{ThinkingLevel: "LOW"}},
		{"budget", &canonical.Reasoning{BudgetTokens: 3000}, 3, &ThinkingConfig{ThinkingBudget: i(3000), IncludeThoughts: true}},
		{"minimal 2.5", &canonical.Reasoning{Effort: "minimal"}, 2, &ThinkingConfig{ThinkingBudget: i(512), IncludeThoughts: true}},
		{"medium 2.5", &canonical.Reasoning{Effort: "medium"}, 2, &ThinkingConfig{ThinkingBudget: i(8192), IncludeThoughts: true}},
		{"high 2.5", &canonical.Reasoning{Effort: "high"}, 0, &ThinkingConfig{ThinkingBudget: i(24576), IncludeThoughts: true}},
		{"xhigh 2.5", &canonical.Reasoning{Effort: "xhigh"}, 2, &ThinkingConfig{ThinkingBudget: i(32768), IncludeThoughts: true}},
		{"minimal 3", &canonical.Reasoning{Effort: "minimal"}, 3, &ThinkingConfig{ThinkingLevel: "MINIMAL", IncludeThoughts: true}},
		{"medium 4", &canonical.Reasoning{Effort: "medium"}, 4, &ThinkingConfig{ThinkingLevel: "MEDIUM", IncludeThoughts: true}},
		{"max 3", &canonical.Reasoning{Effort: "max"}, 3, &ThinkingConfig{ThinkingLevel: "HIGH", IncludeThoughts: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := thinkingConfig(tc.r, tc.major)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMajorVersion(t *testing.T) {
	for model, want := range map[string]int{
		"gemini-2.5-flash":                         2,
		"models/gemini-3-pro-preview":              3,
		"gemini-3.1-flash-lite":                    3,
		"publishers/google/models/gemini-4-argon":  4,
		"gemini-10-ultra":                          10,
		"gemini-exp-1206":                          0,
		"text-embedding-005":                       0,
		"tunedModels/gemini-3-tune":                3,
		"gemini-99999999999999999999999999999-pro": 0,
	} {
		require.Equal(t, want, majorVersion(model), model)
	}
}

func TestCallIDSignatures(t *testing.T) {
	const sig = "CiQB+/90aG91Z2h0LXNpZw=="
	id := encodeCallID("call_1", sig)
	require.Equal(t, "call_1__ts__CiQB-_90aG91Z2h0LXNpZw", id)
	base, got := splitCallID(id)
	require.Equal(t, "call_1", base)
	require.Equal(t, sig, got)

	require.Equal(t, "call_1", encodeCallID("call_1", ""))
	require.Equal(t, "call_1", encodeCallID("call_1", "not base64!"), "unreadable signatures are left out")
	require.Equal(t, "call_1", encodeCallID("call_1", "CiQB+/90aG91Z2h0LXNpZw"), "non-canonical padding would not round-trip")
	base, got = splitCallID("call_2__ts__***")
	require.Equal(t, "call_2", base)
	require.Empty(t, got)
	base, got = splitCallID("toolu_plain")
	require.Equal(t, "toolu_plain", base)
	require.Empty(t, got)

	require.Equal(t, "call_resp-1_3", generatedCallID("resp-1", 3, "f", nil))
	a := generatedCallID("", 0, "f", []byte(`{"a":1}`))
	require.Equal(t, a, generatedCallID("", 0, "f", []byte(`{"a":1}`)), "stable")
	require.NotEqual(t, a, generatedCallID("", 0, "f", []byte(`{"a":2}`)))
}
