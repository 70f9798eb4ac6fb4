package gateway_test

import (
	"context"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
	"github.com/llm-router/llm-router/pkg/provider/gemini/geminitest"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// multiEnv adds Gemini and Bedrock mocks to the base environment.
type multiEnv struct {
	*env
	gemini  *geminitest.Server
	bedrock *bedrocktest.Server
}

func newMultiEnv(t *testing.T, upstream bool) *multiEnv {
	t.Helper()
	gm := geminitest.NewServer(t)
	bm := bedrocktest.NewServer(t)
	e := newEnv(t, func(cfg *configv1.Config) {
		if upstream {
			cfg.Server = &configv1.Server{UpstreamFilter: true}
		}
		cfg.Providers = append(cfg.Providers,
			&configv1.Provider{Name: "gem", Kind: "gemini", BaseUrl: gm.URL, ApiKey: geminitest.DefaultAPIKey},
			&configv1.Provider{Name: "aws", Kind: "bedrock", BaseUrl: bm.URL, Aws: &configv1.AWS{
				Region: bedrocktest.DefaultRegion, AccessKeyId: bedrocktest.DefaultAccessKeyID, SecretAccessKey: bedrocktest.DefaultSecretAccessKey,
			}},
		)
		cfg.Models = append(cfg.Models,
			&configv1.Model{Name: "gemini", Backends: []*configv1.Backend{{Provider: "gem", Model: "gemini-2.5-flash"}}},
			&configv1.Model{Name: "nova", Backends: []*configv1.Backend{{Provider: "aws", Model: "amazon.nova-pro-v1:0"}}},
			&configv1.Model{Name: "tri", Backends: []*configv1.Backend{
				{Provider: "mock", Model: "mock", Priority: 0, Name: "tri-openai"},
				{Provider: "aws", Model: "amazon.nova-pro-v1:0", Priority: 1, Name: "tri-bedrock"},
				{Provider: "gem", Model: "gemini-2.5-flash", Priority: 2, Name: "tri-gemini"},
			}},
		)
	})
	return &multiEnv{env: e, gemini: gm, bedrock: bm}
}

func TestOpenAICallerToGeminiAndBedrock(t *testing.T) {
	e := newMultiEnv(t, false)
	client := e.openai(key)
	ctx := context.Background()
	tests := []struct {
		model, want string
		script      func()
	}{
		{"gemini", "Bonjour de Gemini", func() { e.gemini.Enqueue(geminitest.TextReply("Bonjour de Gemini")) }},
		{"nova", "Hello from Bedrock", func() { e.bedrock.Enqueue(bedrocktest.Reply{Text: "Hello from Bedrock"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			tc.script()
			resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be kind"), openai.UserMessage("hi")},
			})
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.Choices[0].Message.Content)

			tc.script()
			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:         tc.model,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Equal(t, tc.want, acc.Choices[0].Message.Content)
		})
	}
}

func TestAnthropicCallerToGeminiAndBedrock(t *testing.T) {
	e := newMultiEnv(t, false)
	client := e.claude()
	ctx := context.Background()
	e.gemini.Enqueue(geminitest.TextReply("gemini via messages"))
	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model: "gemini", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	require.NoError(t, err)
	require.Equal(t, "gemini via messages", msg.Content[0].Text)

	e.bedrock.Enqueue(bedrocktest.Reply{Text: "bedrock via messages"})
	stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
		Model: "nova", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	var acc anthropic.Message
	for stream.Next() {
		require.NoError(t, acc.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	require.Equal(t, "bedrock via messages", acc.Content[0].Text)
}

// TestFailoverAcrossThreeSchemas: an OpenAI-compatible backend fails (503), then
// Bedrock fails (throttled), then Gemini answers, all inside one request; each attempt
// is translated for its own schema and signed with its own credentials.
func TestFailoverAcrossThreeSchemas(t *testing.T) {
	e := newMultiEnv(t, true)
	e.bedrock.Enqueue(bedrocktest.Reply{Error: &bedrocktest.Error{Status: 503, Type: "ServiceUnavailableException", Message: "busy"}})
	e.gemini.Enqueue(geminitest.TextReply("third time lucky"))
	resp, err := e.openai(key).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "tri",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("mock:error 503")},
	})
	require.NoError(t, err)
	require.Equal(t, "third time lucky", resp.Choices[0].Message.Content)
	require.Len(t, e.bedrock.Requests(), 1, "Bedrock was tried, signed with SigV4")
	require.Len(t, e.gemini.Requests(), 1)
}
