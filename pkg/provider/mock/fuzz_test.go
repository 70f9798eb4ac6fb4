package mock

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llm-router/llm-router/pkg/sse"
)

// FuzzServer sends arbitrary bodies to the chat and embeddings endpoints: the mock
// must always answer with a well-formed OpenAI response or error, never panic.
func FuzzServer(f *testing.F) {
	f.Add("/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`))
	f.Add("/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"call x"}],"tools":[{"type":"function","function":{"name":"x"}}]}`))
	f.Add("/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"mock:error 503"}]}`))
	f.Add("/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"mock:stream-error"}],"stream":true}`))
	f.Add("/v1/embeddings", []byte(`{"model":"m","input":[[1,2]],"dimensions":3,"encoding_format":"base64"}`))
	h := NewServer(Options{Counter: sharedCounter()})
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if path != "/v1/embeddings" {
			path = "/v1/chat/completions"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		if ctx.Err() != nil && len(out) == 0 {
			return // a mock:slow directive outlived the request
		}
		if rec.Header().Get("Content-Type") == "text/event-stream" {
			var r sse.Reader
			for _, ev := range append(r.Feed(out), r.Flush()...) {
				if !sse.IsDone(ev.Data) && !json.Valid(ev.Data) {
					t.Fatalf("invalid chunk %q", ev.Data)
				}
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("status %d with invalid JSON %q", rec.Code, out)
		}
		if rec.Code != http.StatusOK && !strings.Contains(string(out), `"error"`) {
			t.Fatalf("status %d without an error body: %s", rec.Code, out)
		}
	})
}
