package apidocs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/apidocs"
	"github.com/llm-router/llm-router/pkg/app"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// devKey is the key the local gateway accepts in these tests.
const devKey = "llmr-dev-test"

func init() {
	// A stream is validated as text here (status, content type, headers); its events
	// are checked one by one against the document's event schema by checkStream.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// localGateway is `llm-router run`'s data plane with the default config, in-process:
// the processor, the Envoy emulator and the mock provider.
type localGateway struct {
	url string
}

func startLocalGateway(t *testing.T, edit ...func(*configv1.Config)) *localGateway {
	t.Helper()
	cfg, err := app.LoadConfig("", true)
	require.NoError(t, err)
	for _, e := range edit {
		e(cfg)
	}
	l, err := app.StartLocal(cfg, app.RunOptions{DevKey: devKey})
	require.NoError(t, err)
	t.Cleanup(func() { l.Processor.Components.Close(context.Background()) })
	t.Cleanup(l.Close)
	srv := httptest.NewServer(l.Envoy)
	t.Cleanup(srv.Close)
	return &localGateway{url: srv.URL}
}

// do sends one request and returns it with the response and its body.
func (g *localGateway) do(t *testing.T, method, path string, body []byte, hdr map[string]string) (*http.Request, *http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return req, resp, b
}

// bearer is the authorization header of the dev key.
func bearer() map[string]string { return map[string]string{"authorization": "Bearer " + devKey} }

// authHeader sends key the way scheme says.
func authHeader(t *testing.T, scheme *openapi3.SecurityScheme, key string) map[string]string {
	t.Helper()
	switch {
	case scheme.Type == "http" && strings.EqualFold(scheme.Scheme, "bearer"):
		return map[string]string{"authorization": "Bearer " + key}
	case scheme.Type == "apiKey" && scheme.In == "header":
		return map[string]string{scheme.Name: key}
	}
	t.Fatalf("security scheme %s/%s cannot be sent by this test", scheme.Type, scheme.Scheme)
	return nil
}

// validateResponse checks a real response against the operation o of doc: the status
// must be documented, and headers and body must match.
func validateResponse(t *testing.T, doc *openapi3.T, o docOp, req *http.Request, params map[string]string, resp *http.Response, body []byte) {
	t.Helper()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params,
			Route: &routers.Route{Spec: doc, Path: o.path, PathItem: o.item, Method: o.method, Operation: o.op},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
}

// example is one request example of an operation.
type example struct {
	name string
	body []byte // nil without a request body
}

func requestExamples(t *testing.T, o docOp) []example {
	t.Helper()
	if o.op.RequestBody == nil {
		return []example{{name: "no body"}}
	}
	media := o.op.RequestBody.Value.Content.Get("application/json")
	require.NotNil(t, media, "%s %s: no JSON request body", o.method, o.path)
	var out []example
	for name, ex := range media.Examples {
		b, err := json.Marshal(ex.Value.Value)
		require.NoError(t, err)
		out = append(out, example{name: name, body: b})
	}
	if media.Example != nil {
		b, err := json.Marshal(media.Example)
		require.NoError(t, err)
		out = append(out, example{name: "example", body: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	require.NotEmpty(t, out)
	return out
}

// fillPath puts every path parameter's example in o's path.
func fillPath(t *testing.T, o docOp) (string, map[string]string) {
	t.Helper()
	params := map[string]string{}
	path := o.path
	for _, p := range append(append(openapi3.Parameters{}, o.item.Parameters...), o.op.Parameters...) {
		if p.Value.In != openapi3.ParameterInPath {
			continue
		}
		v, ok := p.Value.Example.(string)
		require.True(t, ok, "path parameter %s of %s has no string example", p.Value.Name, o.path)
		params[p.Value.Name] = v
		path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", v)
	}
	return path, params
}

// sseEvent is one server-sent event.
type sseEvent struct {
	event, data string
}

func parseSSE(body []byte) []sseEvent {
	var out []sseEvent
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	for _, block := range strings.Split(text, "\n\n") {
		var ev sseEvent
		var data []string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event:"):
				ev.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		if ev.event == "" && len(data) == 0 {
			continue
		}
		ev.data = strings.Join(data, "\n")
		out = append(out, ev)
	}
	return out
}

// checkStream checks a streamed body against its media type: every data line is JSON
// matching x-llm-router-event-schema (an Anthropic event's name is its type), and the
// stream ends with x-llm-router-stream-end, or with an error event. It returns the
// decoded events.
func checkStream(t *testing.T, doc *openapi3.T, media *openapi3.MediaType, body []byte) []map[string]any {
	t.Helper()
	ref, _ := media.Extensions["x-llm-router-event-schema"].(string)
	end, _ := media.Extensions["x-llm-router-stream-end"].(string)
	require.NotEmpty(t, end, "the stream's end is not documented")
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	require.True(t, ok, "the stream's event schema is not documented")
	schema := doc.Components.Schemas[name]
	require.NotNil(t, schema, "unknown event schema %s", ref)

	events := parseSSE(body)
	require.NotEmpty(t, events, "empty stream")
	var decoded []map[string]any
	for i, ev := range events {
		last := i == len(events)-1
		if ev.data == "[DONE]" {
			require.True(t, last, "data: [DONE] before the end")
			require.Equal(t, "data: [DONE]", end, "undocumented [DONE]")
			continue
		}
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(ev.data), &v), "event %d is not a JSON object: %s", i, ev.data)
		require.NoError(t, schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors()), "event %d: %s", i, ev.data)
		if ev.event != "" {
			require.Equal(t, ev.event, v["type"], "the event name is not its type")
		}
		isError := v["error"] != nil
		if isError {
			require.True(t, last, "events after an error: %s", body)
		}
		if last && !isError {
			require.NotEqual(t, "data: [DONE]", end, "the stream does not end with data: [DONE]")
			require.Equal(t, end, v["type"], "the stream does not end with %s", end)
		}
		decoded = append(decoded, v)
	}
	return decoded
}

// TestEveryExampleAgainstTheGateway sends every request example of the public document
// to the real local gateway, with each documented key scheme, and validates the answer
// against the document.
func TestEveryExampleAgainstTheGateway(t *testing.T) {
	g := startLocalGateway(t)
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	var schemes []string
	for name := range doc.Components.SecuritySchemes {
		schemes = append(schemes, name)
	}
	sort.Strings(schemes)
	require.Equal(t, []string{"apiKey", "bearer"}, schemes)

	ops := listOperations(doc)
	require.Len(t, ops, 6)
	seen := map[string]bool{}
	for _, o := range ops {
		for _, ex := range requestExamples(t, o) {
			seen[o.op.OperationID+"/"+ex.name] = true
			for _, scheme := range schemes {
				t.Run(o.op.OperationID+"/"+ex.name+"/"+scheme, func(t *testing.T) {
					path, params := fillPath(t, o)
					hdr := authHeader(t, doc.Components.SecuritySchemes[scheme].Value, devKey)
					req, resp, body := g.do(t, strings.ToUpper(o.method), path, ex.body, hdr)
					require.True(t, resp.StatusCode >= 200 && resp.StatusCode < 300, "%d %s", resp.StatusCode, body)
					validateResponse(t, doc, o, req, params, resp, body)

					var sent struct {
						Stream        bool `json:"stream"`
						StreamOptions struct {
							IncludeUsage bool `json:"include_usage"`
						} `json:"stream_options"`
					}
					if ex.body != nil {
						require.NoError(t, json.Unmarshal(ex.body, &sent))
					}
					ct := resp.Header.Get("content-type")
					if !sent.Stream {
						require.True(t, strings.HasPrefix(ct, "application/json"), ct)
						return
					}
					require.True(t, strings.HasPrefix(ct, "text/event-stream"), ct)
					media := o.op.Responses.Status(resp.StatusCode).Value.Content.Get(ct)
					events := checkStream(t, doc, media, body)
					if sent.StreamOptions.IncludeUsage {
						last := events[len(events)-1]
						require.NotNil(t, last["usage"], "include_usage: the last chunk carries usage")
						require.Empty(t, last["choices"])
					}
				})
			}
		}
	}
	for _, want := range []string{
		"createChatCompletion/basic", "createChatCompletion/stream", "createEmbedding/basic",
		"createMessage/basic", "createMessage/stream", "countMessageTokens/basic",
		"listModels/no body", "retrieveModel/no body",
	} {
		require.True(t, seen[want], "no example %s", want)
	}
}

// TestAliasesServeTheSameOperation sends each operation's first example to the paths the
// document lists as aliases (x-llm-router-aliases).
func TestAliasesServeTheSameOperation(t *testing.T) {
	g := startLocalGateway(t)
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	n := 0
	for _, o := range listOperations(doc) {
		aliases, _ := o.op.Extensions["x-llm-router-aliases"].([]any)
		for _, a := range aliases {
			alias := a.(string)
			n++
			t.Run(alias, func(t *testing.T) {
				require.Nil(t, doc.Paths.Value(alias), "an alias is not a documented path of its own")
				ex := requestExamples(t, o)[0]
				req, resp, body := g.do(t, strings.ToUpper(o.method), alias, ex.body, bearer())
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				validateResponse(t, doc, o, req, nil, resp, body)
			})
		}
	}
	require.Equal(t, 2, n, "/chat/completions and /embeddings")
}

// findOp returns the documented operation of path (a concrete path) for method, or, when
// the path has no such method, its only documented operation.
func findOp(t *testing.T, doc *openapi3.T, method, path string) (docOp, map[string]string) {
	t.Helper()
	var found []docOp
	var params map[string]string
	for _, o := range listOperations(doc) {
		if p, ok := matchTemplate(o.path, path); ok {
			found = append(found, o)
			params = p
		}
	}
	require.NotEmpty(t, found, "%s is not documented", path)
	for _, o := range found {
		if strings.EqualFold(o.method, method) {
			return o, params
		}
	}
	require.Len(t, found, 1)
	return found[0], params
}

// matchTemplate reports whether path matches the OpenAPI path template tmpl, and the
// parameters it fills.
func matchTemplate(tmpl, path string) (map[string]string, bool) {
	var names []string
	var expr strings.Builder
	expr.WriteString("^")
	last := 0
	for _, m := range templateParam.FindAllStringSubmatchIndex(tmpl, -1) {
		expr.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		expr.WriteString("([^/]+)")
		names = append(names, tmpl[m[2]:m[3]])
		last = m[1]
	}
	expr.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
	m := regexp.MustCompile(expr.String()).FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	params := map[string]string{}
	for i, n := range names {
		params[n] = m[i+1]
	}
	return params, true
}

var templateParam = regexp.MustCompile(`\{([^}/]+)\}`)

// errorCase is one failing request and what the gateway must answer.
type errorCase struct {
	name, method, path, body string
	hdr                      map[string]string
	status                   int
	// errType is the error's type (OpenAI error.type, Anthropic error.type).
	errType string
	// local marks errors llm-router answers itself (they carry x-request-id).
	local bool
}

func chatBody(model, text string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"` + text + `"}]}`
}

func messagesBody(model, text string) string {
	return `{"model":"` + model + `","max_tokens":64,"messages":[{"role":"user","content":"` + text + `"}]}`
}

// TestErrorsMatchTheDocument provokes each kind of error on the OpenAI and Anthropic
// paths and validates the real answers against the document: documented status,
// caller's error schema, headers.
func TestErrorsMatchTheDocument(t *testing.T) {
	// A second key that may only use mock-embed.
	const embedOnly = "llmr-embed-only"
	g := startLocalGateway(t, func(cfg *configv1.Config) {
		sum := sha256.Sum256([]byte(embedOnly))
		cfg.Auth.Keys = append(cfg.Auth.Keys, &configv1.StaticKey{Id: "embed-only", Sha256: hex.EncodeToString(sum[:]), Models: []string{"mock-embed"}})
	})
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	badKey := map[string]string{"x-api-key": "llmr-not-a-key"}
	restricted := map[string]string{"authorization": "Bearer " + embedOnly}
	big := `{"model":"mock","pad":"` + strings.Repeat("x", 5<<20) + `"}`
	for _, tc := range []errorCase{
		{"chat without key", "POST", "/v1/chat/completions", chatBody("mock", "hi"), nil, 401, "authentication_error", true},
		{"chat with a bad key", "POST", "/v1/chat/completions", chatBody("mock", "hi"), badKey, 401, "authentication_error", true},
		{"embeddings without key", "POST", "/v1/embeddings", `{"model":"mock-embed","input":"x"}`, nil, 401, "authentication_error", true},
		{"models without key", "GET", "/v1/models", "", nil, 401, "authentication_error", true},
		{"model without key", "GET", "/v1/models/mock", "", nil, 401, "authentication_error", true},
		{"messages without key", "POST", "/v1/messages", messagesBody("mock", "hi"), nil, 401, "authentication_error", true},
		{"messages with a bad key", "POST", "/v1/messages", messagesBody("mock", "hi"), badKey, 401, "authentication_error", true},
		{"count_tokens without key", "POST", "/v1/messages/count_tokens", messagesBody("mock", "hi"), nil, 401, "authentication_error", true},

		{"chat with a model the key may not use", "POST", "/v1/chat/completions", chatBody("mock", "hi"), restricted, 403, "permission_error", true},
		{"messages with a model the key may not use", "POST", "/v1/messages", messagesBody("mock", "hi"), restricted, 403, "permission_error", true},
		{"count_tokens with a model the key may not use", "POST", "/v1/messages/count_tokens", messagesBody("mock", "hi"), restricted, 403, "permission_error", true},
		{"a model the key may not use is not found", "GET", "/v1/models/mock", "", restricted, 404, "not_found_error", true},

		{"chat unknown model", "POST", "/v1/chat/completions", chatBody("no-such-model", "hi"), bearer(), 404, "not_found_error", true},
		{"embeddings unknown model", "POST", "/v1/embeddings", `{"model":"no-such-model","input":"x"}`, bearer(), 404, "not_found_error", true},
		{"models unknown model", "GET", "/v1/models/no-such-model", "", bearer(), 404, "not_found_error", true},
		{"messages unknown model", "POST", "/v1/messages", messagesBody("no-such-model", "hi"), bearer(), 404, "not_found_error", true},
		{"count_tokens unknown model", "POST", "/v1/messages/count_tokens", messagesBody("no-such-model", "hi"), bearer(), 404, "not_found_error", true},

		{"chat GET", "GET", "/v1/chat/completions", "", bearer(), 405, "invalid_request_error", true},
		{"embeddings GET", "GET", "/v1/embeddings", "", bearer(), 405, "invalid_request_error", true},
		{"models POST", "POST", "/v1/models", "{}", bearer(), 405, "invalid_request_error", true},
		{"model DELETE", "DELETE", "/v1/models/mock", "", bearer(), 405, "invalid_request_error", true},
		{"messages GET", "GET", "/v1/messages", "", bearer(), 405, "invalid_request_error", true},
		{"count_tokens PUT", "PUT", "/v1/messages/count_tokens", "{}", bearer(), 405, "invalid_request_error", true},
		{"messages wrong method without key", "GET", "/v1/messages", "", nil, 405, "invalid_request_error", true},

		{"chat malformed JSON", "POST", "/v1/chat/completions", `{"model":`, bearer(), 400, "invalid_request_error", true},
		{"chat without model", "POST", "/v1/chat/completions", `{"messages":[]}`, bearer(), 400, "invalid_request_error", true},
		{"messages malformed JSON", "POST", "/v1/messages", `{"model":`, bearer(), 400, "invalid_request_error", true},
		{"messages without messages", "POST", "/v1/messages", `{"model":"mock","max_tokens":5,"messages":[]}`, bearer(), 400, "invalid_request_error", false},
		{"count_tokens without messages", "POST", "/v1/messages/count_tokens", `{"model":"mock","messages":[]}`, bearer(), 400, "invalid_request_error", true},

		{"chat too large", "POST", "/v1/chat/completions", big, bearer(), 413, "invalid_request_error", true},
		{"messages too large", "POST", "/v1/messages", big, bearer(), 413, "request_too_large", true},

		// Provider errors (the mock's "mock:error N"). An OpenAI-schema backend's error
		// reaches an OpenAI caller unchanged, with the provider's own type.
		{"chat provider 429", "POST", "/v1/chat/completions", chatBody("mock", "mock:error 429"), bearer(), 429, "requests", false},
		{"chat provider 500", "POST", "/v1/chat/completions", chatBody("mock", "mock:error 500"), bearer(), 500, "server_error", false},
		{"chat provider 502", "POST", "/v1/chat/completions", chatBody("mock", "mock:error 502"), bearer(), 502, "server_error", false},
		{"chat provider 503", "POST", "/v1/chat/completions", chatBody("mock", "mock:error 503"), bearer(), 503, "server_error", false},
		{"chat provider 504", "POST", "/v1/chat/completions", chatBody("mock", "mock:error 504"), bearer(), 504, "server_error", false},
		{"messages provider 429", "POST", "/v1/messages", messagesBody("mock", "mock:error 429"), bearer(), 429, "rate_limit_error", false},
		{"messages provider 500", "POST", "/v1/messages", messagesBody("mock", "mock:error 500"), bearer(), 500, "api_error", false},
		{"messages provider 502", "POST", "/v1/messages", messagesBody("mock", "mock:error 502"), bearer(), 502, "api_error", false},
		{"messages provider 503", "POST", "/v1/messages", messagesBody("mock", "mock:error 503"), bearer(), 503, "overloaded_error", false},
		{"messages provider 504", "POST", "/v1/messages", messagesBody("mock", "mock:error 504"), bearer(), 504, "timeout_error", false},
		{"embeddings provider 400", "POST", "/v1/embeddings", `{"model":"mock-embed","input":"x","dimensions":100000}`, bearer(), 400, "invalid_request_error", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			req, resp, got := g.do(t, tc.method, tc.path, body, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, string(got))
			o, params := findOp(t, doc, tc.method, tc.path)
			validateResponse(t, doc, o, req, params, resp, got)

			var e struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(got, &e), string(got))
			if strings.HasPrefix(tc.path, "/v1/messages") {
				require.Equal(t, "error", e.Type, "Anthropic's schema on %s", tc.path)
			} else {
				require.Empty(t, e.Type, "OpenAI's schema on %s", tc.path)
			}
			require.Equal(t, tc.errType, e.Error.Type, string(got))
			require.NotEmpty(t, e.Error.Message)
			if tc.local {
				require.NotEmpty(t, resp.Header.Get("x-request-id"), "llm-router's own errors carry x-request-id")
			}
			switch tc.status {
			case http.StatusMethodNotAllowed:
				require.Equal(t, strings.ToUpper(o.method), resp.Header.Get("allow"))
			case http.StatusTooManyRequests:
				require.NotEmpty(t, resp.Header.Get("retry-after"))
			}
		})
	}
}

// TestStreamErrorsMatchTheDocument checks the documented end of a stream that fails
// midway: an error event is the last event, in the caller's schema.
func TestStreamErrorsMatchTheDocument(t *testing.T) {
	g := startLocalGateway(t)
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"mock","stream":true,"messages":[{"role":"user","content":"mock:stream-error"}]}`},
		{"/v1/messages", `{"model":"mock","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"mock:stream-error"}]}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, resp, body := g.do(t, "POST", tc.path, []byte(tc.body), bearer())
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			o, params := findOp(t, doc, "POST", tc.path)
			validateResponse(t, doc, o, req, params, resp, body)
			media := o.op.Responses.Status(200).Value.Content.Get(resp.Header.Get("content-type"))
			events := checkStream(t, doc, media, body)
			require.NotNil(t, events[len(events)-1]["error"], "the stream ends with an error: %s", body)
		})
	}
}

// TestUndocumentedPathsAreNotServed checks the converse: paths the gateway answers with
// 404 are not in the document, and the 404 comes in the schema the path's prefix implies.
func TestUndocumentedPathsAreNotServed(t *testing.T) {
	g := startLocalGateway(t)
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	for _, tc := range []struct {
		method, path, schema string
	}{
		{"POST", "/v1/completions", "OpenAIError"},
		{"POST", "/v2/chat/completions", "OpenAIError"},
		{"POST", "/v1/chat/completions/", "OpenAIError"},
		{"POST", "/v1/chat", "OpenAIError"},
		{"POST", "/v1/responses", "OpenAIError"},
		{"POST", "/v1/embeddings/x", "OpenAIError"},
		{"POST", "/v1/images/generations", "OpenAIError"},
		{"GET", "/v1/models-x", "OpenAIError"},
		{"GET", "/v1", "OpenAIError"},
		{"GET", "/", "OpenAIError"},
		{"POST", "/v1/messages/batches", "AnthropicError"},
		{"POST", "/v1/messages/count-tokens", "AnthropicError"},
		{"POST", "/v1/messages/count_tokens/x", "AnthropicError"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			for _, o := range listOperations(doc) {
				_, ok := matchTemplate(o.path, tc.path)
				require.False(t, ok, "%s is documented as %s", tc.path, o.path)
			}
			_, resp, body := g.do(t, tc.method, tc.path, []byte(`{"model":"mock"}`), bearer())
			require.Equal(t, http.StatusNotFound, resp.StatusCode, string(body))
			require.True(t, strings.HasPrefix(resp.Header.Get("content-type"), "application/json"))
			var v any
			require.NoError(t, json.Unmarshal(body, &v))
			require.NoError(t, doc.Components.Schemas[tc.schema].Value.VisitJSON(v, openapi3.VisitAsResponse()), string(body))
		})
	}
}

// TestRateLimitHeadersMatchTheDocument configures a limit on model mock and checks the
// documented headers: x-ratelimit-* on the backend's answers, then the gateway's own 429
// with retry-after, in each caller's schema.
func TestRateLimitHeadersMatchTheDocument(t *testing.T) {
	g := startLocalGateway(t, func(cfg *configv1.Config) {
		cfg.Limits = &configv1.Limits{Models: map[string]*configv1.RateLimit{"mock": {RequestsPerMinute: 2, TokensPerMinute: 1000000}}}
	})
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	for i, tc := range []struct {
		path, body string
		status     int
		errType    string
	}{
		{"/v1/chat/completions", chatBody("mock", "one"), 200, ""},
		{"/v1/messages", messagesBody("mock", "two"), 200, ""},
		{"/v1/chat/completions", chatBody("mock", "three"), 429, "rate_limit_exceeded"},
		{"/v1/messages", messagesBody("mock", "four"), 429, "rate_limit_error"},
	} {
		req, resp, body := g.do(t, "POST", tc.path, []byte(tc.body), bearer())
		require.Equal(t, tc.status, resp.StatusCode, "request %d: %s", i, body)
		o, params := findOp(t, doc, "POST", tc.path)
		validateResponse(t, doc, o, req, params, resp, body)
		documented := o.op.Responses.Status(resp.StatusCode).Value.Headers
		if tc.status == 200 {
			for _, h := range []string{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"} {
				require.NotEmpty(t, resp.Header.Get(h), "request %d: %s", i, h)
				require.Contains(t, documented, h)
			}
			require.Equal(t, "2", resp.Header.Get("x-ratelimit-limit-requests"))
			continue
		}
		require.NotEmpty(t, resp.Header.Get("retry-after"))
		require.NotEmpty(t, resp.Header.Get("x-request-id"))
		require.Equal(t, "0", resp.Header.Get("x-ratelimit-remaining-requests"), "the refusal names its limit")
		require.Contains(t, documented, "x-ratelimit-remaining-requests")
		require.Contains(t, string(body), `"type":"`+tc.errType+`"`)
	}
}
