package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Seeds live in testdata/fuzz/<FuzzName>/ (real responses, streams and requests).

func FuzzDecodeChatResponse(f *testing.F) {
	f.Add([]byte(`{"type":"message","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`))
	b := &Backend{}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := b.DecodeChatResponse(body)
		if err != nil {
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce), "errors are canonical: %v", err)
			return
		}
		require.Len(t, resp.Choices, 1)
		for _, tc := range resp.Choices[0].Message.ToolCalls {
			require.True(t, json.Valid([]byte(tc.Arguments)), "arguments are always JSON")
		}
	})
}

// FuzzStreamDecoder checks that decoding never panics and that where the input is
// split never changes the result.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\ndata: {\"type\":\"message_stop\"}\n\n"), uint(10))
	f.Fuzz(func(t *testing.T, data []byte, split uint) {
		whole, errWhole := decodeAll(newStreamDecoder(), data)
		at := int(split % uint(len(data)+1))
		parts, errParts := decodeAll(newStreamDecoder(), data[:at], data[at:])
		require.Equal(t, errWhole == nil, errParts == nil, "split at %d changes the outcome", at)
		if errWhole == nil {
			require.Equal(t, whole, parts, "split at %d changes the events", at)
		}
	})
}

func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	fe := NewFrontend()
	b := &Backend{version: DefaultVersion, defaultMaxTokens: DefaultMaxTokens}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := fe.ParseChatRequest(body)
		if err != nil {
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, 400, ce.Status)
			return
		}
		up, err := b.BuildChatRequest(context.Background(), req, provider.Target{Model: "m"})
		if err != nil {
			var ce *canonical.Error
			require.True(t, errors.As(err, &ce), "%v", err)
			return
		}
		require.True(t, json.Valid(up.Body), "built body is JSON: %s", up.Body)
	})
}

func FuzzDecodeError(f *testing.F) {
	f.Add(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), "3")
	b := &Backend{}
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		e := b.DecodeError(status, http.Header{"Retry-After": {retry}}, body)
		require.NotNil(t, e)
		require.NotEmpty(t, e.Kind)
		require.GreaterOrEqual(t, e.RetryAfterSeconds, 0)
		require.True(t, utf8.ValidString(e.Message) || !utf8.Valid(body))
		require.True(t, json.Valid(encodeError(e)))
	})
}

func FuzzUsageScanner(f *testing.F) {
	f.Add([]byte("data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n"), true)
	b := &Backend{}
	f.Fuzz(func(t *testing.T, data []byte, stream bool) {
		s := b.NewUsageScanner(stream, false)
		out := s.Scan(data, true)
		require.Equal(t, data, out)
		_ = s.Usage()
	})
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("hé\"\\\n\x00\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		require.NoError(t, json.Unmarshal(appendJSONString(nil, s), &back))
		if utf8.ValidString(s) {
			require.Equal(t, s, back)
		}
	})
}
