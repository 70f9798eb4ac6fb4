package bedrock

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
)

// sdkClient is the official aws-sdk-go-v2 Bedrock Runtime client aimed at the mock:
// if the mock accepts the SDK's requests (signature included) and the SDK parses
// the mock's answers, the mock speaks the real wire format.
func sdkClient(t *testing.T, srv *bedrocktest.Server) *bedrockruntime.Client {
	c := srv.Credentials()
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       srv.Region(),
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	})
}

func TestSDKConverseAgainstMock(t *testing.T) {
	srv := bedrocktest.NewServer(t, bedrocktest.WithCredentials(bedrocktest.DefaultAccessKeyID, bedrocktest.DefaultSecretAccessKey, "session-token"))
	client := sdkClient(t, srv)
	srv.Enqueue(bedrocktest.Reply{
		Reasoning: "Think.", ReasoningSignature: "sig",
		Text:      "Let me check.",
		ToolCalls: []bedrocktest.ToolCall{{ID: "tooluse_1", Name: "get_weather", Input: `{"city":"Paris"}`}},
		Usage:     bedrocktest.Usage{InputTokens: 20, OutputTokens: 9, CacheReadInputTokens: 100},
	})
	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberText{Value: "Weather in Paris?"},
		}}},
		ToolConfig: &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name:        aws.String("get_weather"),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})},
		}}}},
	})
	require.NoError(t, err)
	require.Equal(t, types.StopReasonToolUse, out.StopReason)
	require.EqualValues(t, 100, *out.Usage.CacheReadInputTokens)
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	require.Len(t, msg.Content, 3)
	tu := msg.Content[2].(*types.ContentBlockMemberToolUse).Value
	require.Equal(t, "get_weather", *tu.Name)
	require.Empty(t, srv.Violations())
	require.Equal(t, "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4", srv.Requests()[0].ModelID)
}

func TestSDKConverseStreamAgainstMock(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	client := sdkClient(t, srv)
	srv.Enqueue(bedrocktest.Reply{
		Text:      "Hello there, streaming world.",
		ToolCalls: []bedrocktest.ToolCall{{ID: "t1", Name: "f", Input: `{"a":[1,2,3]}`}},
		ChunkSize: 17,
	})
	out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String("amazon.nova-pro-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
		ToolConfig: &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name: aws.String("f"), InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})},
		}}}},
	})
	require.NoError(t, err)
	stream := out.GetStream()
	defer func() { _ = stream.Close() }()
	var text, args, stop string
	var usage *types.TokenUsage
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text += d.Value
			case *types.ContentBlockDeltaMemberToolUse:
				args += *d.Value.Input
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = string(v.Value.StopReason)
		case *types.ConverseStreamOutputMemberMetadata:
			usage = v.Value.Usage
		}
	}
	requireStreamEnd(t, stream.Err())
	require.Equal(t, "Hello there, streaming world.", text)
	require.JSONEq(t, `{"a":[1,2,3]}`, args)
	require.Equal(t, "tool_use", stop)
	require.NotNil(t, usage)
	require.EqualValues(t, 12, *usage.InputTokens)
	require.Empty(t, srv.Violations())
}

func TestSDKSeesMockExceptionsAndErrors(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	client := sdkClient(t, srv)
	in := &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String("m"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
	}
	srv.Enqueue(bedrocktest.Reply{Text: "partial answer", StreamError: &bedrocktest.Error{Type: "throttlingException", Message: "slow down"}})
	out, err := client.ConverseStream(context.Background(), in)
	require.NoError(t, err)
	stream := out.GetStream()
	for range stream.Events() {
	}
	var te *types.ThrottlingException
	require.ErrorAs(t, stream.Err(), &te)
	require.Equal(t, "slow down", te.ErrorMessage())

	srv.Enqueue(bedrocktest.Reply{Error: &bedrocktest.Error{Status: 400, Type: "ValidationException", Message: "bad input"}})
	_, err = client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: in.ModelId, Messages: in.Messages})
	var ve *types.ValidationException
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, "bad input", ve.ErrorMessage())
}

func TestSDKInvokeModelAgainstMock(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	client := sdkClient(t, srv)
	out, err := client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`),
	})
	require.NoError(t, err)
	require.Contains(t, string(out.Body), bedrocktest.DefaultText)

	st, err := client.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId:     aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`),
	})
	require.NoError(t, err)
	n := 0
	for ev := range st.GetStream().Events() {
		chunk := ev.(*types.ResponseStreamMemberChunk)
		require.Contains(t, string(chunk.Value.Bytes), `"type"`)
		n++
	}
	requireStreamEnd(t, st.GetStream().Err())
	require.Greater(t, n, 5)

	// A model field is not part of Bedrock's Claude body: the mock must refuse it.
	var violations []error
	strict := bedrocktest.NewServer(t, bedrocktest.WithViolationHandler(func(err error) { violations = append(violations, err) }))
	_, err = sdkClient(t, strict).InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"model":"x","anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`),
	})
	var ve *types.ValidationException
	require.ErrorAs(t, err, &ve)
	require.Len(t, violations, 1)
}

// requireStreamEnd accepts a clean end of an SDK event stream. Under load the SDK's
// reader goroutine can see its own body closed right after the final event and report
// "use of closed network connection"; every event was delivered by then (the caller
// checks their contents), so only that error is tolerated.
func requireStreamEnd(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
		return
	}
	require.NoError(t, err)
}
