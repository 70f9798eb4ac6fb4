package anthropic

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/anthropic/anthropictest"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// pipeline is a miniature gateway for tests: it parses the caller's request with a
// frontend, translates it through canonical for a backend, calls the upstream, and
// translates the answer (JSON or SSE, chunk by chunk) back.
func pipeline(t *testing.T, fe provider.Frontend, be provider.Backend, signer provider.Signer, upstream, model string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(e *canonical.Error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(e.Status)
			_, _ = w.Write(fe.EncodeError(e))
		}
		body, _ := io.ReadAll(r.Body)
		req, err := fe.ParseChatRequest(body)
		if err != nil {
			fail(err.(*canonical.Error))
			return
		}
		up, err := be.BuildChatRequest(r.Context(), req, provider.Target{Model: model, Stream: req.Stream})
		if err != nil {
			fail(err.(*canonical.Error))
			return
		}
		if signer != nil {
			require.NoError(t, signer.Sign(r.Context(), up))
		}
		hreq, _ := http.NewRequestWithContext(r.Context(), up.Method, upstream+up.Path, bytes.NewReader(up.Body))
		hreq.Header = up.Header
		resp, err := http.DefaultClient.Do(hreq)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode >= 400 {
			rb, _ := io.ReadAll(resp.Body)
			fail(be.DecodeError(resp.StatusCode, resp.Header, rb))
			return
		}
		if !req.Stream {
			rb, _ := io.ReadAll(resp.Body)
			cr, err := be.DecodeChatResponse(rb)
			if err != nil {
				fail(err.(*canonical.Error))
				return
			}
			out, err := fe.EncodeChatResponse(cr)
			require.NoError(t, err)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		dec, enc := be.NewChatStreamDecoder(), fe.NewChatStreamEncoder(req)
		var evs []canonical.StreamEvent
		var out []byte
		flush := func() {
			for i := range evs {
				out = enc.Encode(out, &evs[i])
			}
			_, _ = w.Write(out)
			w.(http.Flusher).Flush()
			evs, out = evs[:0], out[:0]
		}
		buf := make([]byte, 37) // odd size: upstream events split across reads
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if evs, err = dec.Decode(evs, buf[:n]); err != nil {
					evs = append(evs, canonical.StreamEvent{Type: canonical.EventError, Err: canonical.NewError(canonical.ErrUpstream, "%v", err)})
				}
				flush()
			}
			if rerr != nil {
				break
			}
		}
		if evs, err = dec.Finish(evs); err != nil {
			evs = append(evs, canonical.StreamEvent{Type: canonical.EventError, Err: canonical.NewError(canonical.ErrUpstream, "%v", err)})
		}
		flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func sdkClient(url string) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(url), option.WithAPIKey("caller-key"), option.WithMaxRetries(0))
}

func e2eParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-public",
		MaxTokens: 2048,
		System:    []anthropic.TextBlockParam{{Text: "Be brief.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(1024),
		Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}},
		}, "get_weather")},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?")),
			anthropic.NewAssistantMessage(
				anthropic.NewThinkingBlock("sig-0", "I need the tool."),
				anthropic.NewToolUseBlock("toolu_0", map[string]any{"city": "Paris"}, "get_weather"),
			),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_0", "18C", false), anthropic.NewTextBlock("And Rome?")),
		},
	}
}

func toolReply() anthropictest.Reply {
	return anthropictest.Reply{
		Blocks: []anthropictest.Block{
			anthropictest.Thinking("Rome next.", "sig-1"),
			anthropictest.Text("Checking Rome."),
			anthropictest.ToolUse("toolu_1", "get_weather", `{"city":"Rome"}`),
		},
		Usage: anthropictest.Usage{Input: 40, Output: 30, CacheRead: 500, CacheCreation: 20, Thinking: 10},
		Pings: true,
	}
}

func TestE2EAnthropicSDKThroughGatewayToMock(t *testing.T) {
	mock := anthropictest.NewServer(t)
	be := newTestBackend(t, func(s *provider.Settings) { s.APIKey = anthropictest.DefaultAPIKey; s.Headers = nil })
	gw := pipeline(t, NewFrontend(), be, nil, mock.URL, "claude-upstream")
	client := sdkClient(gw.URL)

	t.Run("non-streamed", func(t *testing.T) {
		mock.Enqueue(toolReply())
		msg, err := client.Messages.New(context.Background(), e2eParams())
		require.NoError(t, err)
		require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
		require.Len(t, msg.Content, 3)
		require.Equal(t, "sig-1", msg.Content[0].AsThinking().Signature)
		require.Equal(t, "Checking Rome.", msg.Content[1].AsText().Text)
		require.JSONEq(t, `{"city":"Rome"}`, string(msg.Content[2].AsToolUse().Input))
		require.EqualValues(t, 40, msg.Usage.InputTokens)
		require.EqualValues(t, 500, msg.Usage.CacheReadInputTokens)
		require.EqualValues(t, 20, msg.Usage.CacheCreationInputTokens)

		got := mock.LastRequest()
		require.Empty(t, got.Problems)
		require.Equal(t, "claude-upstream", got.Model)
		require.Equal(t, anthropictest.DefaultAPIKey, got.Header.Get("x-api-key"), "backend key, not the caller's")
		require.Empty(t, got.Header.Get("Authorization"), "the caller's bearer never reaches upstream")
	})

	for _, shape := range []struct {
		name  string
		chunk int
		crlf  bool
	}{{"one write", 0, false}, {"byte by byte", 1, false}, {"crlf 5-byte chunks", 5, true}} {
		t.Run("streamed "+shape.name, func(t *testing.T) {
			rp := toolReply()
			rp.ChunkSize, rp.CRLF = shape.chunk, shape.crlf
			mock.Enqueue(rp)
			stream := client.Messages.NewStreaming(context.Background(), e2eParams())
			var msg anthropic.Message
			for stream.Next() {
				require.NoError(t, msg.Accumulate(stream.Current()))
			}
			require.NoError(t, stream.Err())
			require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
			require.Len(t, msg.Content, 3)
			require.Equal(t, "Rome next.", msg.Content[0].AsThinking().Thinking)
			require.Equal(t, "sig-1", msg.Content[0].AsThinking().Signature)
			require.Equal(t, "Checking Rome.", msg.Content[1].AsText().Text)
			require.Equal(t, "toolu_1", msg.Content[2].AsToolUse().ID)
			require.JSONEq(t, `{"city":"Rome"}`, string(msg.Content[2].AsToolUse().Input))
			require.EqualValues(t, 40, msg.Usage.InputTokens)
			require.EqualValues(t, 500, msg.Usage.CacheReadInputTokens)
			require.EqualValues(t, 30, msg.Usage.OutputTokens)
			require.True(t, mock.LastRequest().Stream)
		})
	}

	t.Run("overloaded maps to 503 overloaded_error", func(t *testing.T) {
		mock.Enqueue(anthropictest.ErrorReply(0, "overloaded_error", "Overloaded"))
		_, err := client.Messages.New(context.Background(), e2eParams())
		var apiErr *anthropic.Error
		require.True(t, errors.As(err, &apiErr))
		require.Equal(t, 503, apiErr.StatusCode)
		require.EqualValues(t, "overloaded_error", apiErr.Type())
		require.Equal(t, "Overloaded", apiErr.Message)
	})

	t.Run("error event inside a 200 stream", func(t *testing.T) {
		rp := toolReply()
		rp.StreamError = &anthropictest.StreamError{AfterEvents: 4, Type: "overloaded_error", Message: "Overloaded"}
		mock.Enqueue(rp)
		stream := client.Messages.NewStreaming(context.Background(), e2eParams())
		for stream.Next() {
		}
		require.Error(t, stream.Err())
		require.Contains(t, stream.Err().Error(), "overloaded_error")
	})

	t.Run("truncated stream becomes an error event", func(t *testing.T) {
		rp := toolReply()
		rp.CutAfterBytes = 900
		mock.Enqueue(rp)
		stream := client.Messages.NewStreaming(context.Background(), e2eParams())
		for stream.Next() {
		}
		require.Error(t, stream.Err())
		require.Contains(t, stream.Err().Error(), "stream ended")
	})

	t.Run("caller error in anthropic schema", func(t *testing.T) {
		p := e2eParams()
		p.Messages = nil
		_, err := client.Messages.New(context.Background(), p)
		var apiErr *anthropic.Error
		require.True(t, errors.As(err, &apiErr))
		require.Equal(t, 400, apiErr.StatusCode)
		require.EqualValues(t, "invalid_request_error", apiErr.Type())
	})
}

type staticSigner string

func (s staticSigner) Sign(_ context.Context, r *provider.UpstreamRequest) error {
	r.Header.Set("Authorization", "Bearer "+string(s))
	return nil
}

func TestE2EVertexAnthropic(t *testing.T) {
	mock := anthropictest.NewServer(t, anthropictest.WithVertex("proj-1", "us-east5", "ya29.token"), anthropictest.WithChunkSize(3))
	be, err := NewVertexBackend(testSettings(func(s *provider.Settings) {
		s.Kind, s.BaseURL = KindVertex, "http://unused"
		s.Config.Gcp = &configv1.GCP{Project: "proj-1", Location: "us-east5"}
	}), "")
	require.NoError(t, err)
	gw := pipeline(t, NewFrontend(), be, staticSigner("ya29.token"), mock.URL, "claude-sonnet-4-5@20250929")
	client := sdkClient(gw.URL)

	mock.Enqueue(toolReply(), toolReply())
	msg, err := client.Messages.New(context.Background(), e2eParams())
	require.NoError(t, err)
	require.Len(t, msg.Content, 3)
	got := mock.LastRequest()
	require.Empty(t, got.Problems)
	require.Equal(t, "claude-sonnet-4-5@20250929", got.Model)
	require.Equal(t, "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict", got.Path)

	stream := client.Messages.NewStreaming(context.Background(), e2eParams())
	var acc anthropic.Message
	for stream.Next() {
		require.NoError(t, acc.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	require.Len(t, acc.Content, 3)
	require.Contains(t, mock.LastRequest().Path, ":streamRawPredict")
}
