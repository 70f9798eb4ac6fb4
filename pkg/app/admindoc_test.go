package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/apidocs"
	"github.com/llm-router/llm-router/pkg/app"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const adminDocToken = "admindoc-secret-token"

func init() {
	// The reference page is HTML: validated as text (status, content type).
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// adminEnv is a processor's admin listener, served over HTTP, and the admin document.
type adminEnv struct {
	url     string
	cfgPath string
	p       *app.Processor
	doc     *openapi3.T
}

// newAdminEnv builds a processor from a config file with storage (so the key and usage
// API is mounted), an admin token, a changeable log level and a config reloader.
func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(adminDocToken))
	yaml := `
server:
  extproc_address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
providers:
  - name: mock
    kind: mock
    base_url: http://127.0.0.1:9
models:
  - name: mock
    backends: [{provider: mock}]
auth:
  virtual_keys: true
storage:
  sqlite_path: ` + filepath.Join(dir, "llm-router.db") + `
admin:
  tokens:
    - id: ops
      sha256: ` + hex.EncodeToString(sum[:]) + "\n"
	path := filepath.Join(dir, "llm-router.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := app.LoadConfig(path, true)
	require.NoError(t, err)
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	c, err := app.Build(cfg, app.BuildOptions{Logger: zap.NewNop(), LogLevel: &level})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	p := app.NewProcessor(c)
	p.Reloader = app.NewReloader(path, c)
	srv := httptest.NewServer(p.AdminHandler())
	t.Cleanup(srv.Close)
	return &adminEnv{url: srv.URL, cfgPath: path, p: p, doc: loadAdminDoc(t)}
}

func loadAdminDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(admin.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context))
	return doc
}

// servedPatterns reads the ServeMux patterns pkg/app registers: every Handle and
// HandleFunc call in its (non-test) sources. A pattern that is not a string literal must
// come from ranging over apidocs.Patterns(); anything else fails, so that a new kind of
// registration cannot slip past this test.
func servedPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		// Variables ranging over apidocs.Patterns(), by the span of their loop body.
		type loop struct {
			name     string
			from, to token.Pos
		}
		var loops []loop
		ast.Inspect(f, func(n ast.Node) bool {
			r, ok := n.(*ast.RangeStmt)
			if !ok {
				return true
			}
			call, ok := r.X.(*ast.CallExpr)
			v, ok2 := r.Value.(*ast.Ident)
			if ok && ok2 && isSelector(call.Fun, "apidocs", "Patterns") {
				loops = append(loops, loop{v.Name, r.Body.Pos(), r.Body.End()})
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			switch arg := call.Args[0].(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(arg.Value)
				require.NoError(t, err)
				out = append(out, s)
				return true
			case *ast.Ident:
				for _, l := range loops {
					if l.name == arg.Name && arg.Pos() > l.from && arg.Pos() < l.to {
						out = append(out, apidocs.Patterns()...)
						return true
					}
				}
			}
			t.Fatalf("%s: a route whose pattern this test cannot read; teach servedPatterns about it", fset.Position(call.Pos()))
			return true
		})
	}
	sort.Strings(out)
	return out
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}

// TestAdminDocDescribesEveryRoute checks that every route AdminHandler registers is
// described in the admin document.
func TestAdminDocDescribesEveryRoute(t *testing.T) {
	e := newAdminEnv(t)
	patterns := servedPatterns(t)
	for _, want := range []string{"GET /healthz", "GET /readyz", "GET /statusz", "GET /metrics", "/v1/admin/log-level", "/v1/admin/reload", "/v1/admin/", "GET /openapi.json"} {
		require.Contains(t, patterns, want, "the source scan missed a route")
	}
	for _, pattern := range patterns {
		t.Run(pattern, func(t *testing.T) {
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				method, path = "", pattern
			}
			switch {
			case path == "/v1/admin/":
				// The key and usage API of pkg/admin: each of its routes.
				for _, r := range admin.Routes() {
					item := e.doc.Paths.Value(r.Path)
					require.NotNil(t, item, "%s %s is not described", r.Method, r.Path)
					require.NotNil(t, item.GetOperation(r.Method), "%s %s is not described", r.Method, r.Path)
				}
			case strings.HasSuffix(path, "/"):
				// A subtree: at least one described operation under it.
				found := false
				for _, p := range e.doc.Paths.InMatchingOrder() {
					if strings.HasPrefix(p, path) && (method == "" || e.doc.Paths.Value(p).GetOperation(method) != nil) {
						found = true
					}
				}
				require.True(t, found, "nothing under %s is described", pattern)
			case e.doc.Paths.Value(path) != nil:
				item := e.doc.Paths.Value(path)
				if method != "" {
					require.NotNil(t, item.GetOperation(method), "%s is not described", pattern)
				} else {
					require.NotEmpty(t, item.Operations())
				}
			default:
				// Not a path of its own: it must redirect to a described one.
				if method == "" {
					method = http.MethodGet
				}
				resp, _ := e.call(t, method, path, "", "", "")
				require.True(t, resp.StatusCode >= 300 && resp.StatusCode < 400, "%s is neither described nor a redirect (%d)", pattern, resp.StatusCode)
				loc := resp.Header.Get("location")
				require.NotNil(t, e.doc.Paths.Value(loc), "%s redirects to %q, which is not described", pattern, loc)
			}
		})
	}
}

// call sends one request to the admin listener without following redirects.
func (e *adminEnv) call(t *testing.T, method, path, body, contentType, token string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("content-type", contentType)
	}
	if token != "" {
		req.Header.Set("authorization", "Bearer "+token)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Request = req
	return resp, b
}

// validate checks a real response against the described operation of its path: the
// operation of the request's method, or for another method the path's first one (whose
// 405 must be described).
func (e *adminEnv) validate(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	req := resp.Request
	var route *routers.Route
	var params map[string]string
	for _, tmpl := range e.doc.Paths.InMatchingOrder() {
		p, ok := matchPath(tmpl, req.URL.Path)
		if !ok {
			continue
		}
		item := e.doc.Paths.Value(tmpl)
		methods := make([]string, 0, 2)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		method := methods[0]
		if item.GetOperation(req.Method) != nil {
			method = req.Method
		}
		route = &routers.Route{Spec: e.doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
		params = p
		break
	}
	require.NotNil(t, route, "%s is not described", req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in), "%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
}

var pathParam = regexp.MustCompile(`\{([^}/]+)\}`)

// matchPath reports whether path matches the OpenAPI path template tmpl.
func matchPath(tmpl, path string) (map[string]string, bool) {
	var names []string
	var expr strings.Builder
	expr.WriteString("^")
	last := 0
	for _, m := range pathParam.FindAllStringSubmatchIndex(tmpl, -1) {
		expr.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]) + "([^/]+)")
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

// jsonMatches checks that body is JSON matching the admin document's schema name (for
// the bodies the handlers send as text/plain).
func (e *adminEnv) jsonMatches(t *testing.T, body []byte, name string) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	require.NoError(t, e.doc.Components.Schemas[name].Value.VisitJSON(v, openapi3.VisitAsResponse()), "%s", body)
}

// TestAdminDocMatchesResponses validates real answers of the admin listener against the
// document, in order (the log level changes, the config reloads, then the server drains).
func TestAdminDocMatchesResponses(t *testing.T) {
	e := newAdminEnv(t)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, body, contentType, token string
		status                                       int
		// jsonIn names the schema of a JSON body that is sent as text/plain.
		jsonIn string
		check  func(t *testing.T, resp *http.Response, body []byte)
	}{
		{name: "healthz", method: "GET", path: "/healthz", status: 200},
		{name: "healthz POST", method: "POST", path: "/healthz", status: 405},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
		{name: "statusz", method: "GET", path: "/statusz", status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			var s struct {
				Draining bool `json:"draining"`
				Models   []struct {
					Name     string `json:"name"`
					Backends []struct {
						Breaker string `json:"breaker"`
					} `json:"backends"`
				} `json:"models"`
			}
			require.NoError(t, json.Unmarshal(b, &s))
			require.False(t, s.Draining)
			require.Equal(t, "mock", s.Models[0].Name)
			require.Equal(t, "closed", s.Models[0].Backends[0].Breaker)
		}},
		{name: "metrics", method: "GET", path: "/metrics", status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.Contains(t, string(b), "llm_router_extproc_streams_active")
		}},
		{name: "log level without token", method: "GET", path: "/v1/admin/log-level", status: 401},
		{name: "log level with a bad token", method: "GET", path: "/v1/admin/log-level", token: "wrong", status: 401},
		{name: "log level", method: "GET", path: "/v1/admin/log-level", token: adminDocToken, status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.JSONEq(t, `{"level":"info"}`, string(b))
		}},
		{name: "set log level (JSON)", method: "PUT", path: "/v1/admin/log-level", body: `{"level":"debug"}`, contentType: "application/json", token: adminDocToken, status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.JSONEq(t, `{"level":"debug"}`, string(b))
		}},
		{name: "set log level (form)", method: "PUT", path: "/v1/admin/log-level", body: "level=warn", contentType: form, token: adminDocToken, status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.JSONEq(t, `{"level":"warn"}`, string(b))
		}},
		{name: "set a bad log level", method: "PUT", path: "/v1/admin/log-level", body: `{"level":"loud"}`, contentType: "application/json", token: adminDocToken, status: 400},
		{name: "log level POST", method: "POST", path: "/v1/admin/log-level", body: `{"level":"debug"}`, token: adminDocToken, status: 405, check: func(t *testing.T, r *http.Response, _ []byte) {
			require.Equal(t, "GET, PUT", r.Header.Get("Allow"))
		}},
		{name: "reload without token", method: "POST", path: "/v1/admin/reload", status: 401},
		{name: "reload", method: "POST", path: "/v1/admin/reload", token: adminDocToken, status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.Contains(t, string(b), `"reloaded":true`)
		}},
		{name: "reload GET", method: "GET", path: "/v1/admin/reload", token: adminDocToken, status: 405, check: func(t *testing.T, r *http.Response, _ []byte) {
			require.Equal(t, "POST", r.Header.Get("Allow"))
		}},
		{name: "keys without token", method: "GET", path: "/v1/admin/keys", status: 401},
		{name: "keys", method: "GET", path: "/v1/admin/keys", token: adminDocToken, status: 200},
		{name: "openapi.json", method: "GET", path: "/openapi.json", status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			require.JSONEq(t, string(admin.OpenAPI()), string(b))
		}},
		{name: "public document", method: "GET", path: "/openapi/public.json", status: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
			var d struct {
				Info struct{ Title string } `json:"info"`
			}
			require.NoError(t, json.Unmarshal(b, &d))
			require.Equal(t, "llm-router public API", d.Info.Title)
		}},
		{name: "admin document", method: "GET", path: "/openapi/admin.json", status: 200},
		{name: "no such document", method: "GET", path: "/openapi/nope.json", status: 404},
		{name: "reference page", method: "GET", path: "/docs/", status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.call(t, tc.method, tc.path, tc.body, tc.contentType, tc.token)
			require.Equal(t, tc.status, resp.StatusCode, "%s", body)
			e.validate(t, resp, body)
			if tc.jsonIn != "" {
				// JSON sent as text/plain: check it against the schema the document names.
				e.jsonMatches(t, body, tc.jsonIn)
			}
			if tc.check != nil {
				tc.check(t, resp, body)
			}
		})
	}

	// A bad file is refused (422) and reported in statusz.
	require.NoError(t, os.WriteFile(e.cfgPath, []byte("models: [{name: x, backends: [{provider: nope}]}]\n"), 0o600))
	resp, body := e.call(t, "POST", "/v1/admin/reload", "", "", adminDocToken)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%s", body)
	e.validate(t, resp, body)
	resp, body = e.call(t, "GET", "/statusz", "", "", "")
	e.validate(t, resp, body)
	require.Contains(t, string(body), `"last_reload_error":"`)

	// Draining: readyz turns 503 and statusz says so.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.True(t, e.p.Server.Drain(ctx))
	resp, body = e.call(t, "GET", "/readyz", "", "", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	e.validate(t, resp, body)
	resp, body = e.call(t, "GET", "/statusz", "", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	e.validate(t, resp, body)
	require.Contains(t, string(body), `"draining":true`)
}

// TestAdminDocWithoutOptionalParts validates the answers of a processor started without
// a changeable log level and without a config file.
func TestAdminDocWithoutOptionalParts(t *testing.T) {
	e := newAdminEnv(t)
	cfg := proto.Clone(e.p.Components.Config).(*configv1.Config)
	cfg.Storage, cfg.Auth.VirtualKeys = nil, false
	c, err := app.Build(cfg, app.BuildOptions{Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	srv := httptest.NewServer(app.NewProcessor(c).AdminHandler())
	t.Cleanup(srv.Close)
	e.url = srv.URL

	resp, body := e.call(t, "GET", "/v1/admin/log-level", "", "", adminDocToken)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
	e.validate(t, resp, body)
	e.jsonMatches(t, body, "Error")
	resp, body = e.call(t, "POST", "/v1/admin/reload", "", "", adminDocToken)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
	e.validate(t, resp, body)
	e.jsonMatches(t, body, "Error")
	// The credential is checked before anything is said about the file.
	resp, body = e.call(t, "POST", "/v1/admin/reload", "", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", body)
	e.validate(t, resp, body)
	resp, body = e.call(t, "GET", "/v1/admin/reload", "", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s", body)
	e.validate(t, resp, body)
}
