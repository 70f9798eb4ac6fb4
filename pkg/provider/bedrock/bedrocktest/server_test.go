package bedrocktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/eventstream"
)

type result struct {
	status  int
	errType string
	header  http.Header
	body    []byte
}

// call signs (with the server's credentials) and posts body to path.
func call(t *testing.T, s *Server, path, body string, mutate func(*http.Request)) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), s.Credentials(), req, hex.EncodeToString(sum[:]), "bedrock", s.Region(), time.Now()))
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	typ, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	return result{resp.StatusCode, typ, resp.Header, b}
}

func recorder(t *testing.T, opts ...Option) (*Server, *[]error) {
	var errs []error
	s := NewServer(t, append(opts, WithViolationHandler(func(err error) { errs = append(errs, err) }))...)
	return s, &errs
}

const okConverse = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`

func TestConverseValidation(t *testing.T) {
	s, errs := recorder(t)
	bad := map[string]string{
		"unknown field":              `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"model":"x"}`,
		"no messages":                `{"messages":[]}`,
		"starts with assistant":      `{"messages":[{"role":"assistant","content":[{"text":"hi"}]}]}`,
		"bad role":                   `{"messages":[{"role":"system","content":[{"text":"hi"}]}]}`,
		"roles do not alternate":     `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}`,
		"empty content":              `{"messages":[{"role":"user","content":[]}]}`,
		"blank text":                 `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`,
		"two members":                `{"messages":[{"role":"user","content":[{"text":"a","cachePoint":{"type":"default"}}]}]}`,
		"bad image format":           `{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AAAA"}}}]}]}`,
		"image not base64":           `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"%%%"}}}]}]}`,
		"image no source":            `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{}}}]}]}`,
		"tool use from user":         `{"messages":[{"role":"user","content":[{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]}]}`,
		"tool input not object":      `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"1","name":"f","input":"x"}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
		"tool use without config":    `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]}]}`,
		"orphan tool result":         `{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"9","content":[{"text":"x"}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
		"tool result from assistant": `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolResult":{"toolUseId":"9","content":[]}}]}]}`,
		"bad result status":          `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"1","status":"meh","content":[{"text":"x"}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
		"result block two members":   `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"1","content":[{"text":"x","json":{}}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
		"result bad image":           `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"1","content":[{"image":{"format":"tiff","source":{"bytes":""}}}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
		"reasoning two members":      `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"x"},"redactedContent":"AA=="}}]}]}`,
		"bad cache point":            `{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"ephemeral"}}]}]}`,
		"bad cache ttl":              `{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default","ttl":"2d"}}]}]}`,
		"blank system":               `{"system":[{"text":""}],"messages":[{"role":"user","content":[{"text":"a"}]}]}`,
		"system two members":         `{"system":[{}],"messages":[{"role":"user","content":[{"text":"a"}]}]}`,
		"max tokens zero":            `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}`,
		"temperature too high":       `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":1.5}}`,
		"top p too high":             `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"topP":2}}`,
		"empty tools":                `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[]}}`,
		"tool two members":           `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}},"cachePoint":{"type":"default"}}]}}`,
		"tool without schema":        `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":[]}}}]}}`,
		"tool bad cache point":       `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}},{"cachePoint":{"type":"x"}}]}}`,
		"choice two members":         `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"auto":{},"any":{}}}}`,
		"choice unknown tool":        `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"g"}}}}`,
		"bad output config":          `{"messages":[{"role":"user","content":[{"text":"a"}]}],"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{"}}}}}`,
		"additional not object":      `{"messages":[{"role":"user","content":[{"text":"a"}]}],"additionalModelRequestFields":[1]}`,
		"trailing data":              okConverse + `{}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			*errs = nil
			r := call(t, s, "/model/m/converse", body, nil)
			require.Equal(t, 400, r.status, string(r.body))
			require.Equal(t, "ValidationException", r.errType)
			require.Len(t, *errs, 1)
		})
	}
	*errs = nil
	good := `{"system":[{"text":"s"},{"cachePoint":{"type":"default","ttl":"1h"}}],
	  "messages":[{"role":"user","content":[{"text":"a"},{"image":{"format":"png","source":{"bytes":"AAAA"}}}]},
	  {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"t","signature":"s"}}},{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]},
	  {"role":"user","content":[{"toolResult":{"toolUseId":"1","status":"success","content":[{"text":"x"},{"json":{"a":1}},{"image":{"format":"jpeg","source":{"bytes":"AAAA"}}}]}}]}],
	  "inferenceConfig":{"maxTokens":10,"temperature":0.5,"topP":0.9,"stopSequences":["x"]},
	  "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}},{"cachePoint":{"type":"default"}}],"toolChoice":{"tool":{"name":"f"}}},
	  "additionalModelRequestFields":{"top_k":5},"requestMetadata":{"k":"v"},
	  "outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{}","name":"n"}}}}}`
	r := call(t, s, "/model/m/converse", good, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Empty(t, *errs)
}

func TestSignatureAndRoutingViolations(t *testing.T) {
	s, errs := recorder(t, WithRegion("eu-west-1"), WithCredentials("AKIDX", "secretx", "tok"))
	r := call(t, s, "/model/m/converse", okConverse, nil)
	require.Equal(t, 200, r.status, string(r.body))

	tests := []struct {
		name    string
		path    string
		mutate  func(*http.Request)
		status  int
		errType string
	}{
		{"unsigned", "/model/m/converse", func(r *http.Request) { r.Header.Del("Authorization") }, 403, "InvalidSignatureException"},
		{"wrong token", "/model/m/converse", func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "other") }, 403, "InvalidSignatureException"},
		{"bad date", "/model/m/converse", func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, 403, "InvalidSignatureException"},
		{"signed header removed", "/model/m/converse", func(r *http.Request) { r.Header.Del("Content-Type") }, 403, "InvalidSignatureException"},
		{"malformed authorization", "/model/m/converse", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage") }, 403, "InvalidSignatureException"},
		{"bad scope", "/model/m/converse", func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDX/x, SignedHeaders=host, Signature=0")
		}, 403, "InvalidSignatureException"},
		{"unknown path", "/foo", nil, 404, "UnknownOperationException"},
		{"unknown operation", "/model/m/chat", nil, 404, "UnknownOperationException"},
		{"GET", "/model/m/converse", func(r *http.Request) { r.Method = http.MethodGet }, 404, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*errs = nil
			r := call(t, s, tt.path, okConverse, tt.mutate)
			require.Equal(t, tt.status, r.status, string(r.body))
			require.Equal(t, tt.errType, r.errType)
			require.Len(t, *errs, 1)
		})
	}
	// Content type is checked after the signature (so sign the wrong one).
	*errs = nil
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/model/m/converse", strings.NewReader(okConverse))
	req.Header.Set("Content-Type", "text/plain")
	sum := sha256.Sum256([]byte(okConverse))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), s.Credentials(), req, hex.EncodeToString(sum[:]), "bedrock", s.Region(), time.Now()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)
	require.Len(t, *errs, 1)
	require.Len(t, s.Requests(), len(tests)+2)
	require.Len(t, s.Violations(), 1+len(tests)+0)
}

func TestDefaultViolationHandlerFailsTheTest(t *testing.T) {
	ft := &fakeTB{TB: t}
	s := NewServer(ft)
	r := call(t, s, "/model/m/converse", `{}`, nil)
	require.Equal(t, 400, r.status)
	require.True(t, ft.failed)
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Errorf(string, ...any) { f.failed = true }

func readFrames(t *testing.T, body []byte) []eventstream.Message {
	var d eventstream.Decoder
	msgs, err := d.Feed(body)
	require.NoError(t, err)
	require.Zero(t, d.Buffered())
	out := make([]eventstream.Message, len(msgs))
	copy(out, msgs)
	return out
}

func TestConverseStreamReplies(t *testing.T) {
	s, errs := recorder(t)
	s.Enqueue(
		Reply{Reasoning: "think", ReasoningSignature: "sig", Text: "héllo wörld, how are you", ToolCalls: []ToolCall{{ID: "1", Name: "f", Input: `{"x":1}`}}, ChunkSize: 3},
		Reply{Text: "abc", StreamError: &Error{Type: "throttlingException", Message: "slow"}},
		Reply{StreamError: &Error{Type: "internalServerException", Message: "boom"}},
		Reply{Error: &Error{Status: 503, Type: "ServiceUnavailableException", Message: "busy"}},
	)
	r := call(t, s, "/model/m/converse-stream", okConverse, nil)
	require.Equal(t, "application/vnd.amazon.eventstream", r.header.Get("Content-Type"))
	msgs := readFrames(t, r.body)
	var types []string
	var text string
	for _, m := range msgs {
		types = append(types, string(m.Value(":event-type")))
		var p struct {
			Delta struct {
				Text string `json:"text"`
			} `json:"delta"`
			P string `json:"p"`
		}
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		require.NotEmpty(t, p.P, "payloads carry padding")
		text += p.Delta.Text
	}
	require.Equal(t, "héllo wörld, how are you", text)
	require.Equal(t, "messageStart", types[0])
	require.Equal(t, []string{"messageStop", "metadata"}, types[len(types)-2:])
	require.Contains(t, types, "contentBlockStart")

	r = call(t, s, "/model/m/converse-stream", okConverse, nil)
	msgs = readFrames(t, r.body)
	last := msgs[len(msgs)-1]
	require.Equal(t, "exception", string(last.Value(":message-type")))
	require.Equal(t, "throttlingException", string(last.Value(":exception-type")))
	require.JSONEq(t, `{"message":"slow"}`, string(last.Payload))

	r = call(t, s, "/model/m/converse-stream", okConverse, nil)
	msgs = readFrames(t, r.body)
	require.Len(t, msgs, 2)

	r = call(t, s, "/model/m/converse", okConverse, nil)
	require.Equal(t, 503, r.status)
	require.Equal(t, "ServiceUnavailableException", r.errType)
	require.JSONEq(t, `{"message":"busy"}`, string(r.body))
	require.Empty(t, *errs)
}

func TestConverseJSONReply(t *testing.T) {
	s, _ := recorder(t)
	s.Enqueue(Reply{Text: "t", Reasoning: "r", ReasoningSignature: "s", ToolCalls: []ToolCall{{ID: "1", Name: "f"}}, Usage: Usage{InputTokens: 1, OutputTokens: 2, CacheWriteInputTokens: 3}})
	r := call(t, s, "/model/m/converse", okConverse, nil)
	require.JSONEq(t, `{"output":{"message":{"role":"assistant","content":[
		{"reasoningContent":{"reasoningText":{"text":"r","signature":"s"}}},{"text":"t"},
		{"toolUse":{"toolUseId":"1","name":"f","input":{}}}]}},
		"stopReason":"tool_use","usage":{"inputTokens":1,"outputTokens":2,"totalTokens":6,"cacheReadInputTokens":0,"cacheWriteInputTokens":3},
		"metrics":{"latencyMs":42}}`, string(r.body))
	r = call(t, s, "/model/m/converse", okConverse, nil)
	require.Contains(t, string(r.body), DefaultText)
	require.Contains(t, string(r.body), `"stopReason":"end_turn"`)
}

const okClaude = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

func TestClaudeInvoke(t *testing.T) {
	s, errs := recorder(t)
	path := "/model/" + strings.ReplaceAll("us.anthropic.claude-3-7-sonnet-20250219-v1:0", ":", "%3A") + "/invoke"
	s.Enqueue(Reply{Text: "hey", Usage: Usage{InputTokens: 4, OutputTokens: 2}})
	r := call(t, s, path, okClaude, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "4", r.header.Get("X-Amzn-Bedrock-Input-Token-Count"))
	require.Contains(t, string(r.body), `"text":"hey"`)
	require.Equal(t, "us.anthropic.claude-3-7-sonnet-20250219-v1:0", s.Requests()[0].ModelID)

	s.Enqueue(Reply{Reasoning: "r", ReasoningSignature: "s", Text: "streamed text", ToolCalls: []ToolCall{{ID: "t", Name: "f", Input: `{"a":1}`}}})
	r = call(t, s, strings.Replace(path, "/invoke", "/invoke-with-response-stream", 1), okClaude, nil)
	var events []string
	for _, m := range readFrames(t, r.body) {
		require.Equal(t, "chunk", string(m.Value(":event-type")))
		raw, err := DecodeChunkBytes(m.Payload)
		require.NoError(t, err)
		var ev struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(raw, &ev))
		events = append(events, ev.Type)
	}
	require.Equal(t, "message_start", events[0])
	require.Equal(t, []string{"message_delta", "message_stop"}, events[len(events)-2:])
	require.Contains(t, events, "ping")

	s.Enqueue(Reply{Text: "x", StreamError: &Error{Type: "modelStreamErrorException", Message: "m"}}, Reply{StreamError: &Error{Type: "throttlingException", Message: "t"}},
		Reply{Error: &Error{Status: 429, Type: "ThrottlingException", Message: "slow"}})
	msgs := readFrames(t, call(t, s, strings.Replace(path, "/invoke", "/invoke-with-response-stream", 1), okClaude, nil).body)
	require.Equal(t, "modelStreamErrorException", string(msgs[len(msgs)-1].Value(":exception-type")))
	msgs = readFrames(t, call(t, s, strings.Replace(path, "/invoke", "/invoke-with-response-stream", 1), okClaude, nil).body)
	require.Len(t, msgs, 2)
	require.Equal(t, 429, call(t, s, path, okClaude, nil).status)
	require.Empty(t, *errs)

	bad := map[string]string{
		"model field":         `{"model":"claude","anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		"stream field":        `{"stream":true,"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		"wrong version":       `{"anthropic_version":"2023-06-01","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		"no max tokens":       `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]}`,
		"no messages":         `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}`,
		"bad role":            `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"tool","content":"hi"}]}`,
		"unknown block":       `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"audio"}]}]}`,
		"text without text":   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]}`,
		"image no source":     `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image"}]}]}`,
		"tool_use no id":      `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`,
		"tool_result no id":   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}`,
		"bad result block":    `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"1","content":[{"type":"text"}]}]}]}`,
		"thinking no sig":     `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]}`,
		"redacted no data":    `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"redacted_thinking"}]}]}`,
		"bad cache control":   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"forever"}}]}]}`,
		"bad system":          `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":[{"type":"image"}],"messages":[{"role":"user","content":"hi"}]}`,
		"bad tool choice":     `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"tool_choice":{"type":"maybe"},"messages":[{"role":"user","content":"hi"}]}`,
		"tool choice no name": `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"hi"}]}`,
		"tool no schema":      `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"hi"}]}`,
		"unknown model":       ``,
		"embedding stream":    ``,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			*errs = nil
			p := path
			switch name {
			case "unknown model":
				p, body = "/model/meta.llama3/invoke", okClaude
			case "embedding stream":
				p, body = "/model/amazon.titan-embed-text-v2:0/invoke-with-response-stream", `{"inputText":"x"}`
			}
			r := call(t, s, p, body, nil)
			require.Equal(t, 400, r.status, string(r.body))
			require.Len(t, *errs, 1)
		})
	}
	*errs = nil
	good := `{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["x"],"max_tokens":10,"system":"be brief",
	  "messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]},
	  {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"d"},{"type":"tool_use","id":"1","name":"f","input":{}}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"1","content":[{"type":"text","text":"r"}],"is_error":true}]}],
	  "tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"},
	  "temperature":0.1,"top_p":0.5,"top_k":3,"stop_sequences":["x"],"thinking":{"type":"enabled","budget_tokens":1024},"metadata":{"user_id":"u"}}`
	require.Equal(t, 200, call(t, s, path, good, nil).status)
	require.Empty(t, *errs)
}

func TestEmbeddingModels(t *testing.T) {
	s, errs := recorder(t)
	r := call(t, s, "/model/amazon.titan-embed-text-v2:0/invoke", `{"inputText":"a b c","dimensions":256,"normalize":true}`, nil)
	var titan struct {
		Embedding []float32 `json:"embedding"`
		Tokens    int       `json:"inputTextTokenCount"`
	}
	require.NoError(t, json.Unmarshal(r.body, &titan))
	require.Len(t, titan.Embedding, 256)
	require.Equal(t, 3, titan.Tokens)

	s.Enqueue(Reply{Embedding: []float32{1, 2}})
	r = call(t, s, "/model/cohere.embed-english-v3/invoke", `{"texts":["a","b"],"input_type":"search_query","embedding_types":["float"]}`, nil)
	require.JSONEq(t, `{"id":"mock-embed-id","texts":["a","b"],"embeddings":{"float":[[1,2],[1,2]]},"response_type":"embeddings_by_type"}`, string(r.body))
	r = call(t, s, "/model/cohere.embed-v4:0/invoke", `{"texts":["a"],"input_type":"clustering","output_dimension":8}`, nil)
	var floats struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	require.NoError(t, json.Unmarshal(r.body, &floats))
	require.Len(t, floats.Embeddings[0], 8)

	s.Enqueue(Reply{Error: &Error{Status: 400, Type: "ValidationException", Message: "x"}}, Reply{Error: &Error{Status: 429, Type: "ThrottlingException", Message: "y"}})
	require.Equal(t, 400, call(t, s, "/model/amazon.titan-embed-text-v2:0/invoke", `{"inputText":"a"}`, nil).status)
	require.Equal(t, 429, call(t, s, "/model/cohere.embed-v4:0/invoke", `{"texts":["a"],"input_type":"clustering"}`, nil).status)
	require.Empty(t, *errs)

	bad := map[string][2]string{
		"titan unknown field":   {"amazon.titan-embed-text-v2:0", `{"inputText":"a","texts":["a"]}`},
		"titan empty":           {"amazon.titan-embed-text-v2:0", `{"inputText":""}`},
		"titan bad dims":        {"amazon.titan-embed-text-v2:0", `{"inputText":"a","dimensions":100}`},
		"titan v1 extra":        {"amazon.titan-embed-text-v1", `{"inputText":"a","normalize":true}`},
		"cohere bad input type": {"cohere.embed-english-v3", `{"texts":["a"],"input_type":"query"}`},
		"cohere no texts":       {"cohere.embed-english-v3", `{"input_type":"search_query"}`},
		"cohere too many":       {"cohere.embed-english-v3", `{"texts":[` + strings.Repeat(`"a",`, 96) + `"a"],"input_type":"search_query"}`},
		"cohere bad type":       {"cohere.embed-english-v3", `{"texts":["a"],"input_type":"search_query","embedding_types":["double"]}`},
		"cohere unknown field":  {"cohere.embed-english-v3", `{"texts":["a"],"input_type":"search_query","model":"x"}`},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			*errs = nil
			r := call(t, s, "/model/"+strings.ReplaceAll(tc[0], ":", "%3A")+"/invoke", tc[1], nil)
			require.Equal(t, 400, r.status, string(r.body))
			require.Len(t, *errs, 1)
		})
	}
}

func TestPiecesKeepUTF8(t *testing.T) {
	require.Nil(t, pieces("", 3))
	for _, p := range pieces("ééééé", 3) {
		require.True(t, bytes.Equal([]byte(p), []byte(string([]rune(p)))), "piece %q splits a rune", p)
	}
	require.Equal(t, "ééééé", strings.Join(pieces("ééééé", 3), ""))
}
