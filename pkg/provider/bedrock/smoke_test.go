package bedrock

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
)

func TestSmokeConverse(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	a := mockAdapter(t, srv, Kind)
	up, err := a.Backend.BuildChatRequest(context.Background(), simpleRequest("hi"), provider.Target{Model: "us.anthropic.claude-3-7-sonnet-20250219-v1:0"})
	require.NoError(t, err)
	require.Equal(t, "search", up.Header.Get("X-Team"))
	status, _, body := roundTrip(t, a, up)
	require.Equal(t, 200, status, string(body))
	require.Contains(t, up.Header.Get("Authorization"), "x-team", "extra headers are signed")
	resp, err := a.Backend.DecodeChatResponse(body)
	require.NoError(t, err)
	require.Equal(t, bedrocktest.DefaultText, resp.Choices[0].Message.Content[0].Text)

	up, err = a.Backend.BuildChatRequest(context.Background(), simpleRequest("hi"), provider.Target{Model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude", Stream: true})
	require.NoError(t, err)
	status, _, body = roundTrip(t, a, up)
	require.Equal(t, 200, status, string(body))
	evs, err := decodeSplit(t, a.Backend.NewChatStreamDecoder(), body)
	require.NoError(t, err)
	require.Equal(t, canonical.EventDone, evs[len(evs)-1].Type)
	require.Equal(t, "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude", srv.Requests()[1].ModelID)
}
