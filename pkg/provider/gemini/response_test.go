package gemini

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

func TestDecodeChatResponseGolden(t *testing.T) {
	b := newTestBackend(t)
	for _, name := range goldenCases(t, "testdata/response", ".want.json") {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata/response", name+".json"))
			require.NoError(t, err)
			got, err := b.DecodeChatResponse(body)
			require.NoError(t, err)
			var want canonical.Response
			readInto(t, filepath.Join("testdata/response", name+".want.json"), &want)
			require.Equal(t, &want, got)
		})
	}
}

func TestDecodeChatResponseInvalid(t *testing.T) {
	b := newTestBackend(t)
	_, err := b.DecodeChatResponse([]byte(`<html>`))
	var ce *canonical.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, canonical.ErrUpstream, ce.Kind)
	_, err = b.DecodeChatResponse([]byte(`{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`))
	require.ErrorAs(t, err, &ce)
	require.Equal(t, canonical.ErrRateLimit, ce.Kind)
	require.Equal(t, 429, ce.Status)
}

func TestStreamDecoderGolden(t *testing.T) {
	b := newTestBackend(t)
	for _, name := range goldenCases(t, "testdata/stream", ".sse") {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/stream", name+".sse"))
			require.NoError(t, err)
			var want []canonical.StreamEvent
			readInto(t, filepath.Join("testdata/stream", name+".events.json"), &want)
			got, err := decodeAll(b.NewChatStreamDecoder(), data)
			require.NoError(t, err)
			require.Equal(t, want, got)

			lf := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
			crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
			for _, input := range [][]byte{lf, crlf} {
				for i := 0; i <= len(input); i++ {
					got, err := decodeAll(b.NewChatStreamDecoder(), input[:i], input[i:])
					require.NoError(t, err, "split at %d", i)
					require.Equal(t, want, got, "split at %d", i)
				}
				chunks := make([][]byte, len(input))
				for i := range input {
					chunks[i] = input[i : i+1]
				}
				got, err := decodeAll(b.NewChatStreamDecoder(), chunks...)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
		})
	}
}

func TestStreamDecoderTruncated(t *testing.T) {
	data, err := os.ReadFile("testdata/stream/tools.sse")
	require.NoError(t, err)
	// Until the finishReason chunk is complete, the stream is incomplete.
	end := bytes.LastIndex(data, []byte(`"responseId": "r2"}`)) + len(`"responseId": "r2"`)
	for i := 0; i < end; i++ {
		_, err := decodeAll(newStreamDecoder(), data[:i])
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", i)
	}
	_, err = decodeAll(newStreamDecoder(), data[:end+1])
	require.NoError(t, err)
}

func TestStreamDecoderShapes(t *testing.T) {
	// An array-wrapped error chunk, as Google sometimes sends.
	got, err := decodeAll(newStreamDecoder(), []byte("data: [{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":\"INVALID_ARGUMENT\"}}]\n\n"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, canonical.ErrInvalidRequest, got[0].Err.Kind)
	require.Equal(t, 400, got[0].Err.Status)

	// Blank data lines are ignored; garbage is an error.
	_, err = decodeAll(newStreamDecoder(), []byte("data: \n\ndata: {nope}\n\n"))
	require.Error(t, err)
	_, err = decodeAll(newStreamDecoder(), []byte("data: {\"candidates\":[]}"))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "no finishReason")
	_, err = decodeAll(newStreamDecoder(), []byte("data: {\"candidates\":[{\"finishReason\":\"STOP\"}]"))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut inside the last event")

	// An error after which more bytes arrive: ignored.
	d := newStreamDecoder()
	evs, err := d.Decode(nil, []byte("data: {\"error\":{\"code\":500,\"message\":\"x\",\"status\":\"INTERNAL\"}}\n\n"))
	require.NoError(t, err)
	evs, err = d.Decode(evs, []byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"late\"}]}}]}\n\n"))
	require.NoError(t, err)
	evs, err = d.Finish(evs)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, 500, evs[0].Err.Status)
}

func TestDecodeErrorTable(t *testing.T) {
	b := newTestBackend(t)
	env := func(code int, status, msg string, details string) string {
		d := ""
		if details != "" {
			d = `,"details":[` + details + `]`
		}
		return `{"error":{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `","status":"` + status + `"` + d + `}}`
	}
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		kind       canonical.ErrorKind
		wantStatus int
		retry      int
		code       string
	}{
		{"invalid argument", 400, nil, env(400, "INVALID_ARGUMENT", "bad field", ""), canonical.ErrInvalidRequest, 400, 0, ""},
		{"failed precondition", 400, nil, env(400, "FAILED_PRECONDITION", "User location is not supported", ""), canonical.ErrInvalidRequest, 400, 0, ""},
		{"bad api key", 400, nil, env(400, "INVALID_ARGUMENT", "API key not valid", `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}`), canonical.ErrAuthentication, 401, 0, "api_key_invalid"},
		{"unauthenticated", 401, nil, env(401, "UNAUTHENTICATED", "token", ""), canonical.ErrAuthentication, 401, 0, ""},
		{"permission", 403, nil, env(403, "PERMISSION_DENIED", "denied", ""), canonical.ErrPermission, 403, 0, ""},
		{"not found", 404, nil, env(404, "NOT_FOUND", "models/x is not found", ""), canonical.ErrNotFound, 404, 0, ""},
		{"quota with retry info", 429, nil, env(429, "RESOURCE_EXHAUSTED", "quota", `{"@type":"type.googleapis.com/google.rpc.QuotaFailure"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"41.5s"}`), canonical.ErrRateLimit, 429, 42, ""},
		{"quota with header", 429, http.Header{"Retry-After": {"7"}}, env(429, "RESOURCE_EXHAUSTED", "quota", ""), canonical.ErrRateLimit, 429, 7, ""},
		{"internal", 500, nil, env(500, "INTERNAL", "oops", ""), canonical.ErrUpstream, 500, 0, ""},
		{"unavailable", 503, nil, env(503, "UNAVAILABLE", "overloaded", ""), canonical.ErrUnavailable, 503, 0, ""},
		{"deadline", 504, nil, env(504, "DEADLINE_EXCEEDED", "slow", ""), canonical.ErrUpstreamTimeout, 504, 0, ""},
		{"array wrapped", 400, nil, "[" + env(400, "INVALID_ARGUMENT", "wrapped", "") + "]", canonical.ErrInvalidRequest, 400, 0, ""},
		{"unknown status name", 418, nil, env(418, "TEAPOT", "short", ""), canonical.ErrInvalidRequest, 418, 0, ""},
		{"html", 502, nil, "<html>Bad Gateway</html>", canonical.ErrUpstream, 502, 0, ""},
		{"empty", 500, nil, "", canonical.ErrUpstream, 500, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := b.DecodeError(tc.status, tc.header, []byte(tc.body))
			require.Equal(t, tc.kind, e.Kind)
			require.Equal(t, tc.wantStatus, e.Status)
			require.Equal(t, tc.retry, e.RetryAfterSeconds)
			require.Equal(t, tc.code, e.Code)
			require.NotEmpty(t, e.Message)
		})
	}
	// In-stream errors without a code get the kind's status.
	e := errorFromDetail(0, nil, ErrorDetail{Status: "RESOURCE_EXHAUSTED"})
	require.Equal(t, 429, e.Status)
	require.Equal(t, "RESOURCE_EXHAUSTED", e.Message)
	e = errorFromDetail(0, nil, ErrorDetail{Message: "??"})
	require.Equal(t, canonical.ErrUpstream, e.Kind)
	require.Equal(t, 502, e.Status)
	require.Equal(t, 0, retryAfter(http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, nil))
	require.Greater(t, retryAfter(http.Header{"Retry-After": {"Wed, 21 Oct 2099 07:28:00 GMT"}}, nil), 100)
	long := snippet([]byte(strings.Repeat("é", 300) + "\x01"))
	require.True(t, strings.HasSuffix(long, "…"))
}

func TestEmbeddings(t *testing.T) {
	b := newTestBackend(t)
	up, err := b.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{
		Input: []string{"a", "b"}, Dimensions: 256, InputType: "search_query",
	}, provider.Target{Model: "gemini-embedding-001"})
	require.NoError(t, err)
	require.Equal(t, "/v1beta/models/gemini-embedding-001:batchEmbedContents", up.Path)
	require.Equal(t, "AIza-test", up.Header.Get("x-goog-api-key"))
	require.JSONEq(t, `{"requests":[
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"taskType":"RETRIEVAL_QUERY","outputDimensionality":256},
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"taskType":"RETRIEVAL_QUERY","outputDimensionality":256}]}`, string(up.Body))
	resp, err := b.DecodeEmbeddingResponse([]byte(`{"embeddings":[{"values":[0.1,0.2]},{"values":[0.3]}]}`))
	require.NoError(t, err)
	require.Equal(t, [][]float32{{0.1, 0.2}, {0.3}}, resp.Embeddings)
	require.Equal(t, canonical.Usage{Estimated: true}, resp.Usage)

	v := newVertexBackend(t)
	up, err = v.BuildEmbeddingRequest(context.Background(), &canonical.EmbeddingRequest{Model: "text-embedding-005", Input: []string{"x"}, InputType: "CODE_RETRIEVAL_QUERY"}, provider.Target{})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/text-embedding-005:predict", up.Path)
	require.JSONEq(t, `{"instances":[{"content":"x","task_type":"CODE_RETRIEVAL_QUERY"}],"parameters":{"autoTruncate":true}}`, string(up.Body))
	resp, err = v.DecodeEmbeddingResponse([]byte(`{"predictions":[{"embeddings":{"values":[1,2],"statistics":{"truncated":false,"token_count":4}}},{"embeddings":{"values":[3],"statistics":{"token_count":2.0}}}]}`))
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1, 2}, {3}}, resp.Embeddings)
	require.Equal(t, canonical.Usage{InputTokens: 6}, resp.Usage)
	resp, err = v.DecodeEmbeddingResponse([]byte(`{"predictions":[{"embeddings":{"values":[1]}}]}`))
	require.NoError(t, err)
	require.True(t, resp.Usage.Estimated)

	_, err = b.DecodeEmbeddingResponse([]byte(`x`))
	require.Error(t, err)
	_, err = v.DecodeEmbeddingResponse([]byte(`x`))
	require.Error(t, err)
	for name, req := range map[string]*canonical.EmbeddingRequest{
		"empty input":   {Model: "m"},
		"no model":      {Input: []string{"x"}},
		"negative dims": {Model: "m", Input: []string{"x"}, Dimensions: -1},
	} {
		_, err := b.BuildEmbeddingRequest(context.Background(), req, provider.Target{})
		var ce *canonical.Error
		require.ErrorAs(t, err, &ce, name)
		require.Equal(t, 400, ce.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.BuildEmbeddingRequest(ctx, &canonical.EmbeddingRequest{Model: "m", Input: []string{"x"}}, provider.Target{})
	require.ErrorIs(t, err, context.Canceled)

	for in, want := range map[string]string{"": "", "search_document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY",
		"classification": "CLASSIFICATION", "clustering": "CLUSTERING", "semantic_similarity": "SEMANTIC_SIMILARITY", "fact_verification": "FACT_VERIFICATION"} {
		require.Equal(t, want, taskType(in), in)
	}
}
