package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/sse"
)

func addFiles(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseChatRequest checks that any body either fails with a 400 or parses to a
// request that encodes to valid JSON which parses back to the same request.
func FuzzParseChatRequest(f *testing.F) {
	addFiles(f, "testdata/requests/*.json")
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,x"}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseChatRequest(body)
		if err != nil {
			ce, ok := err.(*canonical.Error)
			if !ok || ce.Status != 400 {
				t.Fatalf("error %v is not a 400 canonical error", err)
			}
			return
		}
		out, err := EncodeChatRequest(req, req.Model, Dialect{MaxTokensField: "max_completion_tokens", TopK: true})
		if err != nil {
			return // some canonical forms cannot be expressed (e.g. unknown roles)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
		again, err := ParseChatRequest(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		// Encoding merges system parts and always asks for stream usage; compare the rest.
		req.System, again.System = nil, nil
		req.IncludeUsage, again.IncludeUsage = false, false
		req.Extra, again.Extra = nil, nil
		req.Metadata, again.Metadata = nil, nil
		req.User, again.User = "", ""
		if req.N == 1 {
			req.N = 0
		}
		if req.MaxTokens == 0 {
			again.MaxTokens = 0
		}
		// encoding/json compacts raw schemas when marshalling.
		for _, r := range []*canonical.Request{req, again} {
			for i := range r.Tools {
				r.Tools[i].Parameters = compactJSON(r.Tools[i].Parameters)
			}
			if r.ResponseFormat != nil {
				r.ResponseFormat.Schema = compactJSON(r.ResponseFormat.Schema)
			}
		}
		for i := range req.Messages {
			normaliseMessage(&req.Messages[i])
		}
		for i := range again.Messages {
			normaliseMessage(&again.Messages[i])
		}
		if !reflect.DeepEqual(req, again) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v\nvia %s", req, again, out)
		}
	})
}

func compactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// normaliseMessage removes differences the OpenAI encoding legitimately introduces:
// consecutive text parts are joined, empty tool-call arguments become "{}".
func normaliseMessage(m *canonical.Message) {
	var joined []canonical.Part
	for _, p := range m.Content {
		if p.Type == canonical.PartText && len(joined) > 0 && joined[len(joined)-1].Type == canonical.PartText && m.Role != canonical.RoleUser {
			joined[len(joined)-1].Text += p.Text
			continue
		}
		joined = append(joined, p)
	}
	if len(joined) == 1 && joined[0].Type == canonical.PartText && joined[0].Text == "" {
		joined = nil
	}
	m.Content = joined
	for i := range m.ToolCalls {
		if m.ToolCalls[i].Arguments == "" {
			m.ToolCalls[i].Arguments = "{}"
		}
	}
}

func FuzzDecodeChatResponse(f *testing.F) {
	addFiles(f, "testdata/responses/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := DecodeChatResponse(body)
		if err != nil {
			return
		}
		out, err := EncodeChatResponse(resp)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if _, err := DecodeChatResponse(out); err != nil {
			t.Fatalf("re-decode of %q: %v", out, err)
		}
	})
}

// FuzzStreamDecoder checks that decoding is independent of how the body is split and
// that whatever is decoded re-encodes to a valid OpenAI stream.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, uint8(7))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, step uint8) {
		decode := func(n int) ([]canonical.StreamEvent, error) {
			d := NewStreamDecoder()
			var evs []canonical.StreamEvent
			var err error
			for i := 0; i < len(body); i += n {
				evs, err = d.Decode(evs, body[i:min(i+n, len(body))])
				if err != nil {
					return evs, err
				}
			}
			return d.Finish(evs)
		}
		want, wantErr := decode(len(body) + 1)
		got, gotErr := decode(int(step%32) + 1)
		if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(want, got) {
			t.Fatalf("split decoding differs: %v/%v\n%+v\n%+v", wantErr, gotErr, want, got)
		}
		enc := NewChatStreamEncoder(&canonical.Request{Model: "m", IncludeUsage: true})
		var out []byte
		for i := range want {
			out = enc.Encode(out, &want[i])
		}
		var r sse.Reader
		for _, ev := range append(r.Feed(out), r.Flush()...) {
			if !sse.IsDone(ev.Data) && !json.Valid(ev.Data) {
				t.Fatalf("encoder wrote invalid JSON %q", ev.Data)
			}
		}
	})
}

func FuzzParseEmbeddingRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","input":"a","dimensions":3,"encoding_format":"base64"}`))
	f.Add([]byte(`{"model":"m","input":[[1,2],[3]]}`))
	f.Add([]byte(`{"model":"m","input":["a","b"],"user":"u"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseEmbeddingRequest(body)
		if err != nil {
			if ce, ok := err.(*canonical.Error); !ok || ce.Status != 400 {
				t.Fatalf("error %v is not a 400 canonical error", err)
			}
			return
		}
		out, err := EncodeEmbeddingRequest(req, "")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseEmbeddingRequest(out)
		if err != nil || !reflect.DeepEqual(req, again) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, req, again)
		}
	})
}

func FuzzDecodeEmbeddingResponse(f *testing.F) {
	f.Add([]byte(`{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":1,"total_tokens":1}}`))
	f.Add([]byte(`{"data":[{"index":1,"embedding":"AACAPw=="},{"index":0,"embedding":"AAAAAA=="}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := DecodeEmbeddingResponse(body)
		if err != nil {
			return
		}
		for _, format := range []string{"float", "base64"} {
			out, err := EncodeEmbeddingResponse(resp, format)
			if err != nil {
				return // NaN/Inf cannot be written as JSON floats
			}
			if _, err := DecodeEmbeddingResponse(out); err != nil {
				t.Fatalf("re-decode %s: %v", format, err)
			}
		}
	})
}
