package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	anthropicfe "github.com/llm-router/llm-router/pkg/provider/anthropic"
	"github.com/llm-router/llm-router/pkg/provider/gemini/geminitest"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// TestMockSpeaksWhatGenaiReads points Google's own SDK at the mock: the mock must accept
// what the SDK sends and the SDK must parse what the mock answers.
func TestMockSpeaksWhatGenaiReads(t *testing.T) {
	mock := geminitest.NewServer(t, geminitest.WithChunkSize(7))
	ctx := context.Background()
	client, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey: geminitest.DefaultAPIKey, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: mock.URL},
	})
	require.NoError(t, err)

	mock.Enqueue(geminitest.Reply{
		ResponseID: "r1",
		Parts:      []geminitest.Part{geminitest.Thought("hmm"), geminitest.Text("Hello there"), geminitest.FunctionCall("lookup", `{"q":"x"}`, "c2ln")},
		Usage:      geminitest.Usage{Prompt: 10, Candidates: 4, Thoughts: 6, Cached: 2},
	})
	resp, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Hi"), &genai.GenerateContentConfig{
		Temperature:    genai.Ptr[float32](0.5),
		ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true, ThinkingBudget: genai.Ptr[int32](1024)},
		Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
			Name: "lookup", Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"q": {Type: genai.TypeString}}},
		}}}},
	})
	require.NoError(t, err)
	require.Equal(t, "Hello there", resp.Text())
	require.Len(t, resp.FunctionCalls(), 1)
	require.Equal(t, "lookup", resp.FunctionCalls()[0].Name)
	require.EqualValues(t, 6, resp.UsageMetadata.ThoughtsTokenCount)
	require.Equal(t, "r1", resp.ResponseID)
	require.Empty(t, mock.LastRequest().Problems)

	mock.Enqueue(geminitest.Reply{Parts: []geminitest.Part{geminitest.Text("streamed text in several chunks")}, TextChunk: 5})
	var sb strings.Builder
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("Hi"), nil) {
		require.NoError(t, err)
		sb.WriteString(chunk.Text())
	}
	require.Equal(t, "streamed text in several chunks", sb.String())
	require.True(t, mock.LastRequest().Stream)

	emb, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", []*genai.Content{genai.NewContentFromText("a", genai.RoleUser), genai.NewContentFromText("b", genai.RoleUser)},
		&genai.EmbedContentConfig{OutputDimensionality: genai.Ptr[int32](4), TaskType: "RETRIEVAL_DOCUMENT"})
	require.NoError(t, err)
	require.Len(t, emb.Embeddings, 2)
	require.Len(t, emb.Embeddings[0].Values, 4)

	mock.Enqueue(geminitest.ErrorReply(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
	_, err = client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Hi"), nil)
	var apiErr genai.APIError
	require.True(t, errors.As(err, &apiErr), "%T %v", err, err)
	require.Equal(t, 429, apiErr.Code)
	require.Equal(t, "RESOURCE_EXHAUSTED", apiErr.Status)
}

// pipeline is a miniature gateway: caller schema → canonical → backend → upstream and
// back, streaming chunk by chunk.
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
		buf := make([]byte, 29)
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

const sig = "CiQB+/90aG91Z2h0LXNpZw=="

func weatherTool() anthropic.ToolUnionParam {
	return anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}},
		Required:   []string{"city"},
	}, "get_weather")
}

// TestE2EClaudeSDKToGemini3ToolLoop drives a two-turn tool loop from the Anthropic SDK
// through the Anthropic frontend to a Gemini 3 backend: the function call's thought
// signature must survive inside the tool_use id and come back on the next request.
func TestE2EClaudeSDKToGemini3ToolLoop(t *testing.T) {
	mock := geminitest.NewServer(t)
	be, err := NewBackend(testSettings(func(s *provider.Settings) { s.APIKey = geminitest.DefaultAPIKey; s.Headers = nil }))
	require.NoError(t, err)
	gw := pipeline(t, anthropicfe.NewFrontend(), be, nil, mock.URL, "gemini-3-pro-preview")
	client := anthropic.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey("caller"), option.WithMaxRetries(0))
	ctx := context.Background()

	for _, streamed := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "stream"}[streamed]
		t.Run(name, func(t *testing.T) {
			mock.Enqueue(geminitest.Reply{
				ResponseID: "resp-" + name,
				Parts:      []geminitest.Part{geminitest.Thought("Need weather."), geminitest.Text("Let me check."), geminitest.FunctionCall("get_weather", `{"city":"Paris"}`, sig)},
				Usage:      geminitest.Usage{Prompt: 20, Candidates: 10, Thoughts: 5, Cached: 8},
				ChunkSize:  3,
			})
			params := anthropic.MessageNewParams{
				Model: "claude-alias", MaxTokens: 1024, Tools: []anthropic.ToolUnionParam{weatherTool()},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
			}
			var msg anthropic.Message
			if streamed {
				stream := client.Messages.NewStreaming(ctx, params)
				for stream.Next() {
					require.NoError(t, msg.Accumulate(stream.Current()))
				}
				require.NoError(t, stream.Err())
			} else {
				msg1, err := client.Messages.New(ctx, params)
				require.NoError(t, err)
				msg = *msg1
			}
			require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
			require.EqualValues(t, 12, msg.Usage.InputTokens, "prompt 20 minus 8 cached")
			require.EqualValues(t, 8, msg.Usage.CacheReadInputTokens)
			require.EqualValues(t, 15, msg.Usage.OutputTokens, "thoughts count as output")
			var toolUse anthropic.ToolUseBlock
			for _, c := range msg.Content {
				if c.Type == "tool_use" {
					toolUse = c.AsToolUse()
				}
			}
			require.Equal(t, "get_weather", toolUse.Name)
			require.Contains(t, toolUse.ID, "__ts__")
			require.JSONEq(t, `{"city":"Paris"}`, string(toolUse.Input))

			// Second turn: the Gemini 3 mock rejects the request unless the signature
			// comes back on the function call.
			mock.Enqueue(geminitest.TextReply("18C and sunny."))
			params.Messages = append(params.Messages,
				msg.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(toolUse.ID, `{"temp":18}`, false)))
			msg2, err := client.Messages.New(ctx, params)
			require.NoError(t, err)
			require.Equal(t, "18C and sunny.", msg2.Content[0].AsText().Text)
			got := mock.LastRequest()
			require.Empty(t, got.Problems)
			contents := got.JSON()["contents"].([]any)
			model := contents[1].(map[string]any)
			var fc map[string]any
			for _, p := range model["parts"].([]any) {
				if pm := p.(map[string]any); pm["functionCall"] != nil {
					fc = pm
				}
			}
			require.Equal(t, sig, fc["thoughtSignature"])
			resp := contents[2].(map[string]any)["parts"].([]any)[0].(map[string]any)["functionResponse"].(map[string]any)
			require.Equal(t, "get_weather", resp["name"])
			require.Equal(t, map[string]any{"temp": json.Number("18")}, numbers(t, resp["response"]))
		})
	}

	t.Run("error chunk inside the stream", func(t *testing.T) {
		mock.Enqueue(geminitest.Reply{
			Parts:       []geminitest.Part{geminitest.Text("partial answer here")},
			StreamError: &geminitest.StreamError{AfterChunks: 1, Error: geminitest.Error{Code: 503, Status: "UNAVAILABLE", Message: "The model is overloaded."}},
		})
		stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "x", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		for stream.Next() {
		}
		require.Error(t, stream.Err())
		require.Contains(t, stream.Err().Error(), "overloaded_error")
	})

	t.Run("http error in the caller's schema", func(t *testing.T) {
		mock.Enqueue(geminitest.Reply{Error: &geminitest.Error{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded",
			Details: []map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}}}})
		_, err := client.Messages.New(ctx, anthropic.MessageNewParams{Model: "x", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		var apiErr *anthropic.Error
		require.True(t, errors.As(err, &apiErr))
		require.Equal(t, 429, apiErr.StatusCode)
		require.EqualValues(t, "rate_limit_error", apiErr.Type())
	})
}

// numbers re-decodes v with json.Number so integers compare exactly.
func numbers(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	require.NoError(t, dec.Decode(&out))
	return out
}

type staticSigner string

func (s staticSigner) Sign(_ context.Context, r *provider.UpstreamRequest) error {
	r.Header.Set("Authorization", "Bearer "+string(s))
	return nil
}

func TestE2EVertexGemini(t *testing.T) {
	mock := geminitest.NewServer(t, geminitest.WithVertex("proj-1", "us-central1", "ya29.tok"), geminitest.WithLineEnd("\n"), geminitest.WithChunkSize(1))
	be, err := NewVertexBackend(testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{Project: "proj-1", Location: "us-central1"}
	}), "")
	require.NoError(t, err)
	gw := pipeline(t, anthropicfe.NewFrontend(), be, staticSigner("ya29.tok"), mock.URL, "gemini-2.5-pro")
	client := anthropic.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey("caller"), option.WithMaxRetries(0))
	mock.Enqueue(geminitest.TextReply("vertex says hi"))
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: "x", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var msg anthropic.Message
	for stream.Next() {
		require.NoError(t, msg.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	require.Equal(t, "vertex says hi", msg.Content[0].AsText().Text)
	got := mock.LastRequest()
	require.Empty(t, got.Problems)
	require.Equal(t, "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent", got.Path)
	require.Equal(t, "alt=sse", got.Query)
	require.Equal(t, "Bearer ya29.tok", got.Header.Get("Authorization"))

	// Embeddings through :predict.
	up, err := be.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Input: []string{"a", "b"}, Dimensions: 3}, provider.Target{Model: "text-embedding-005"})
	require.NoError(t, err)
	require.NoError(t, staticSigner("ya29.tok").Sign(context.Background(), up))
	hreq, _ := http.NewRequest(up.Method, mock.URL+up.Path, bytes.NewReader(up.Body))
	hreq.Header = up.Header
	resp, err := http.DefaultClient.Do(hreq)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	er, err := be.DecodeEmbeddingResponse(body)
	require.NoError(t, err)
	require.Len(t, er.Embeddings, 2)
	require.Len(t, er.Embeddings[1], 3)
	require.Equal(t, 6, er.Usage.InputTokens)
	require.False(t, er.Usage.Estimated)
}
