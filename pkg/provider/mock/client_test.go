package mock_test

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider/mock"
	"github.com/llm-router/llm-router/pkg/tokens"
)

// The official OpenAI Go SDK talks to the mock server: it checks that the mock (and
// the openai package encoders it is built from) speak the wire format real clients
// parse.
func newClient(t *testing.T) (sdk.Client, *tokens.Counter) {
	t.Helper()
	c := tokens.NewCounter()
	srv := httptest.NewServer(mock.NewServer(mock.Options{Counter: c, APIKey: "sk-mock"}))
	t.Cleanup(srv.Close)
	return sdk.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-mock"), option.WithMaxRetries(0)), c
}

func TestSDKChat(t *testing.T) {
	client, counter := newClient(t)
	ctx := context.Background()
	resp, err := client.Chat.Completions.New(ctx, sdk.ChatCompletionNewParams{
		Model:    "mock-gpt",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.SystemMessage("be brief"), sdk.UserMessage("Hello from the SDK")},
	})
	require.NoError(t, err)
	require.Equal(t, "Hello from the SDK", resp.Choices[0].Message.Content)
	require.Equal(t, "stop", resp.Choices[0].FinishReason)
	require.EqualValues(t, counter.CountText("mock-gpt", "Hello from the SDK"), resp.Usage.CompletionTokens)
	require.Positive(t, resp.Usage.PromptTokens)
}

func TestSDKStream(t *testing.T) {
	client, counter := newClient(t)
	stream := client.Chat.Completions.NewStreaming(context.Background(), sdk.ChatCompletionNewParams{
		Model:         "mock-gpt",
		Messages:      []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("streamed words arrive one by one")},
		StreamOptions: sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)},
	})
	acc := sdk.ChatCompletionAccumulator{}
	deltas := 0
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			deltas++
		}
	}
	require.NoError(t, stream.Err())
	require.Equal(t, 6, deltas, "one delta per word")
	require.Equal(t, "streamed words arrive one by one", acc.Choices[0].Message.Content)
	require.EqualValues(t, counter.CountText("mock-gpt", "streamed words arrive one by one"), acc.Usage.CompletionTokens)
	require.Positive(t, acc.Usage.PromptTokens)
}

func TestSDKToolCalls(t *testing.T) {
	client, _ := newClient(t)
	params := sdk.ChatCompletionNewParams{
		Model:    "mock-gpt",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("call get_weather for Paris")},
		Tools: []sdk.ChatCompletionToolUnionParam{
			sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "lookup"}),
			sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name:       "get_weather",
				Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}},
			}),
		},
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	require.NoError(t, err)
	require.Equal(t, "tool_calls", resp.Choices[0].FinishReason)
	tc := resp.Choices[0].Message.ToolCalls[0]
	require.Equal(t, "get_weather", tc.Function.Name)
	require.JSONEq(t, `{"text":"call get_weather for Paris"}`, tc.Function.Arguments)

	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	acc := sdk.ChatCompletionAccumulator{}
	var finished []sdk.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if call, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, call)
		}
	}
	require.NoError(t, stream.Err())
	require.Len(t, finished, 1)
	require.Equal(t, "get_weather", finished[0].Name)
	require.JSONEq(t, `{"text":"call get_weather for Paris"}`, finished[0].Arguments)
	require.Contains(t, finished[0].ID, "call_mock_")
}

func TestSDKEmbeddings(t *testing.T) {
	client, counter := newClient(t)
	ctx := context.Background()
	resp, err := client.Embeddings.New(ctx, sdk.EmbeddingNewParams{
		Model: "mock-embedding",
		Input: sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first text", "second text"}},
	})
	require.NoError(t, err)
	require.Len(t, resp.Data, 2)
	require.Len(t, resp.Data[0].Embedding, 8)
	require.EqualValues(t, counter.EstimateText("mock-embedding", []string{"first text", "second text"}), resp.Usage.PromptTokens)

	b64, err := client.Embeddings.New(ctx, sdk.EmbeddingNewParams{
		Model:          "mock-embedding",
		Input:          sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first text"}},
		Dimensions:     sdk.Int(32),
		EncodingFormat: sdk.EmbeddingNewParamsEncodingFormatBase64,
	})
	require.NoError(t, err)
	require.Len(t, b64.Data[0].Embedding, 32)
	norm := 0.0
	for _, x := range b64.Data[0].Embedding {
		norm += x * x
	}
	require.InDelta(t, 1, math.Sqrt(norm), 1e-5)
}

func TestSDKErrors(t *testing.T) {
	client, _ := newClient(t)
	_, err := client.Chat.Completions.New(context.Background(), sdk.ChatCompletionNewParams{
		Model:    "mock-gpt",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("mock:error 429")},
	})
	var apiErr *sdk.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, 429, apiErr.StatusCode)
	require.Equal(t, "rate_limit_exceeded", apiErr.Code)
	require.Equal(t, "7", apiErr.Response.Header.Get("Retry-After"))

	stream := client.Chat.Completions.NewStreaming(context.Background(), sdk.ChatCompletionNewParams{
		Model:    "mock-gpt",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("mock:stream-error")},
	})
	n := 0
	for stream.Next() {
		n++
	}
	require.Equal(t, 2, n, "two chunks before the error")
	require.Error(t, stream.Err())
	require.Contains(t, stream.Err().Error(), "mock stream error")
}
