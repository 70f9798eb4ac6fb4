package apidocs_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/apidocs"
)

// documents are the two OpenAPI documents the admin listener serves.
var documents = []struct {
	name  string
	json  func() []byte
	title string
}{
	{"public", apidocs.PublicOpenAPI, "llm-router public API"},
	{"admin", admin.OpenAPI, "llm-router admin API"},
}

// loadDoc parses and validates an OpenAPI document (examples included: kin-openapi
// checks every example against its schema).
func loadDoc(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context, openapi3.EnableExamplesValidation()))
	return doc
}

// docOp is one method of one path of a document.
type docOp struct {
	path, method string
	item         *openapi3.PathItem
	op           *openapi3.Operation
}

// listOperations lists the document's operations in path and method order.
func listOperations(doc *openapi3.T) []docOp {
	var out []docOp
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		methods := make([]string, 0, 2)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			out = append(out, docOp{path: path, method: m, item: item, op: item.GetOperation(m)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].method < out[j].method
	})
	return out
}

func TestDocumentsAreValidOpenAPI(t *testing.T) {
	ids := map[string]string{}
	for _, d := range documents {
		t.Run(d.name, func(t *testing.T) {
			doc := loadDoc(t, d.json())
			require.Equal(t, "3.0.3", doc.OpenAPI)
			require.Equal(t, d.title, doc.Info.Title)
			ops := listOperations(doc)
			require.NotEmpty(t, ops)
			tags := map[string]bool{}
			for _, tag := range doc.Tags {
				tags[tag.Name] = true
			}
			for _, o := range ops {
				name := o.method + " " + o.path
				require.NotEmpty(t, o.op.OperationID, name)
				prev, dup := ids[o.op.OperationID]
				require.False(t, dup, "operationId %s of %s is also used by %s", o.op.OperationID, name, prev)
				ids[o.op.OperationID] = d.name + ": " + name
				require.NotEmpty(t, strings.TrimSpace(o.op.Summary), "%s has no summary", name)
				require.NotEmpty(t, o.op.Tags, "%s has no tag", name)
				for _, tag := range o.op.Tags {
					require.True(t, tags[tag], "%s uses the undeclared tag %q", name, tag)
				}
				var ok, failed int
				for code := range o.op.Responses.Map() {
					switch {
					case strings.HasPrefix(code, "2"):
						ok++
					case strings.HasPrefix(code, "4"), strings.HasPrefix(code, "5"):
						failed++
					}
				}
				require.Positive(t, ok, "%s has no 2xx response", name)
				require.Positive(t, failed, "%s has no error response", name)
				if rb := o.op.RequestBody; rb != nil {
					require.NotEmpty(t, rb.Value.Content, name)
					for mt, media := range rb.Value.Content {
						require.True(t, media.Example != nil || len(media.Examples) > 0, "the %s request body of %s has no example", mt, name)
					}
				}
			}
		})
	}
}

// TestPublicDocumentShape checks what callers and the reference page rely on: the
// server, both key schemes, the tags, and errors in the caller's schema.
func TestPublicDocumentShape(t *testing.T) {
	doc := loadDoc(t, apidocs.PublicOpenAPI())
	require.Len(t, doc.Servers, 1)
	require.Equal(t, "http://localhost:8080", doc.Servers[0].URL)

	schemes := doc.Components.SecuritySchemes
	require.Len(t, schemes, 2)
	require.Equal(t, "http", schemes["bearer"].Value.Type)
	require.Equal(t, "bearer", schemes["bearer"].Value.Scheme)
	require.Equal(t, "apiKey", schemes["apiKey"].Value.Type)
	require.Equal(t, "header", schemes["apiKey"].Value.In)
	require.Equal(t, "x-api-key", schemes["apiKey"].Value.Name)
	require.ElementsMatch(t, openapi3.SecurityRequirements{{"bearer": {}}, {"apiKey": {}}}, doc.Security,
		"either scheme is enough on every operation")

	for _, tc := range []struct {
		method, path, tag, errorSchema string
		statuses                       []int
	}{
		{"POST", "/v1/chat/completions", "OpenAI-compatible", "OpenAIError", []int{400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504}},
		{"POST", "/v1/embeddings", "OpenAI-compatible", "OpenAIError", []int{400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504}},
		{"POST", "/v1/messages", "Anthropic-compatible", "AnthropicError", []int{400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504}},
		{"POST", "/v1/messages/count_tokens", "Anthropic-compatible", "AnthropicError", []int{400, 401, 403, 404, 405, 413, 500}},
		{"GET", "/v1/models", "Models", "OpenAIError", []int{401, 403, 405, 500}},
		{"GET", "/v1/models/{model}", "Models", "OpenAIError", []int{401, 403, 404, 405, 500}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			item := doc.Paths.Value(tc.path)
			require.NotNil(t, item, "path missing")
			op := item.GetOperation(tc.method)
			require.NotNil(t, op, "method missing")
			require.Len(t, item.Operations(), 1, "the gateway serves one method per path")
			require.Equal(t, []string{tc.tag}, op.Tags)
			var documented []int
			for code, ref := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				var status int
				for _, c := range code {
					status = status*10 + int(c-'0')
				}
				documented = append(documented, status)
				media := ref.Value.Content.Get("application/json")
				require.NotNil(t, media, "%s has no JSON body", code)
				require.Equal(t, "#/components/schemas/"+tc.errorSchema, media.Schema.Ref, "%s is not in the caller's schema", code)
				require.Contains(t, ref.Value.Headers, "x-request-id", code)
				if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
					require.Contains(t, ref.Value.Headers, "retry-after", code)
				}
				if status == http.StatusMethodNotAllowed {
					require.Contains(t, ref.Value.Headers, "allow", code)
					require.True(t, ref.Value.Headers["allow"].Value.Required)
				}
			}
			require.ElementsMatch(t, tc.statuses, documented)
		})
	}
}

// TestAdminDocumentSecurity checks which admin operations need a token and which are
// open.
func TestAdminDocumentSecurity(t *testing.T) {
	doc := loadDoc(t, admin.OpenAPI())
	schemes := doc.Components.SecuritySchemes
	require.Equal(t, "bearer", schemes["bearer"].Value.Scheme)
	require.Equal(t, "x-api-key", schemes["apiKey"].Value.Name)
	open := map[string]bool{
		"GET /healthz": true, "GET /readyz": true, "GET /statusz": true, "GET /metrics": true,
		"GET /openapi.json": true, "GET /openapi/{document}.json": true, "GET /docs/": true,
	}
	// The operations pkg/app guards itself take the same credentials as the key API.
	operations := map[string]bool{
		"GET /v1/admin/log-level": true, "PUT /v1/admin/log-level": true, "POST /v1/admin/reload": true,
	}
	for _, o := range listOperations(doc) {
		name := strings.ToUpper(o.method) + " " + o.path
		t.Run(name, func(t *testing.T) {
			sec := doc.Security
			if o.op.Security != nil {
				sec = *o.op.Security
			}
			switch {
			case open[name]:
				require.NotNil(t, o.op.Security, "open operations say so with security: []")
				require.Empty(t, sec)
			case operations[name]:
				require.ElementsMatch(t, openapi3.SecurityRequirements{{"bearer": {}}, {"apiKey": {}}}, sec)
				require.Contains(t, o.op.Responses.Map(), "401")
				require.Contains(t, o.op.Responses.Map(), "403")
			default:
				require.True(t, strings.HasPrefix(o.path, "/v1/admin/keys") || strings.HasPrefix(o.path, "/v1/admin/usage"), "unclassified operation")
				require.ElementsMatch(t, openapi3.SecurityRequirements{{"bearer": {}}, {"apiKey": {}}}, sec)
				require.Contains(t, o.op.Responses.Map(), "401")
			}
		})
	}
}

// TestDocumentsValidationCatchesBadExamples makes sure the validation above is real: an
// example that does not match its schema fails.
func TestDocumentsValidationCatchesBadExamples(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"request example", `"value": {"model": "mock-embed", "input": "The quick brown fox"}`, `"value": {"model": "mock-embed", "input": 42}`, "invalid example"},
		{"response example", `"example": {"input_tokens": 22}`, `"example": {"input_tokens": "22"}`, "invalid example"},
		{"unresolved ref", `"$ref": "#/components/schemas/ModelList"`, `"$ref": "#/components/schemas/NoSuchList"`, "NoSuchList"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := string(apidocs.PublicOpenAPI())
			require.Equal(t, 1, strings.Count(src, tc.from))
			bad := strings.Replace(src, tc.from, tc.to, 1)
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData([]byte(bad))
			if err == nil {
				err = doc.Validate(context.Background(), openapi3.EnableExamplesValidation())
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
