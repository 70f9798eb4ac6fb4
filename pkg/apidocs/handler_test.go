package apidocs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := NewHandler([]Document{
		{Name: "public API", Slug: "public", JSON: []byte(`{"openapi":"3.0.3","servers":[{"url":"http://x"}],"paths":{"/b":{},"/a":{}}}`), ServerURL: "http://127.0.0.1:8080"},
		{Name: "admin API", Slug: "admin", JSON: []byte(`{"openapi":"3.0.3","paths":{}}`), ServerURL: "/"},
	})
	require.NoError(t, err)
	return h
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerRoutes(t *testing.T) {
	h := testHandler(t)
	tests := []struct {
		path     string
		status   int
		ctype    string
		contains string
	}{
		{"/docs", http.StatusMovedPermanently, "", ""},
		{"/docs/", http.StatusOK, "text/html; charset=utf-8", `<script src="init.js"></script>`},
		{"/docs/init.js", http.StatusOK, "text/javascript; charset=utf-8", `"urls.primaryName":"public API"`},
		{"/docs/assets/swagger-ui.css", http.StatusOK, "text/css; charset=utf-8", ".swagger-ui"},
		{"/docs/assets/swagger-ui-bundle.js", http.StatusOK, "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/docs/assets/favicon-32x32.png", http.StatusOK, "image/png", "PNG"},
		{"/docs/assets/LICENSE", http.StatusOK, "text/plain; charset=utf-8", "Apache License"},
		{"/docs/assets/SHA256SUMS", http.StatusNotFound, "", ""},
		{"/docs/assets/nope.js", http.StatusNotFound, "", ""},
		{"/docs/assets/%2e%2e%2fhandler.go", http.StatusNotFound, "", ""},
		{"/openapi/public.json", http.StatusOK, "application/json", `"servers":[{"url":"http://127.0.0.1:8080"}]`},
		{"/openapi/admin.json", http.StatusOK, "application/json", `"servers":[{"url":"/"}]`},
		{"/openapi/other.json", http.StatusNotFound, "", ""},
		{"/openapi/public", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := get(t, h, tt.path)
			require.Equal(t, tt.status, w.Code)
			if tt.status != http.StatusOK {
				return
			}
			require.Equal(t, tt.ctype, w.Header().Get("Content-Type"))
			require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
			require.Contains(t, w.Body.String(), tt.contains)
		})
	}
}

func TestDocumentKeepsItsOrderAndGetsTheServer(t *testing.T) {
	body := get(t, testHandler(t), "/openapi/public.json").Body.String()
	// Paths keep the author's order (the page lists them in that order).
	require.Less(t, strings.Index(body, `"/b"`), strings.Index(body, `"/a"`))
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	require.Len(t, doc.Servers, 1)
	require.Equal(t, "http://127.0.0.1:8080", doc.Servers[0].URL)
}

func TestContentSecurityPolicy(t *testing.T) {
	csp := get(t, testHandler(t), "/docs/").Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self';")
	require.NotContains(t, csp, "unsafe-eval")
	// "Try it out" may reach the public API's origin, and nothing else.
	require.Contains(t, csp, "connect-src 'self' http://127.0.0.1:8080;")
	require.Contains(t, csp, "frame-ancestors 'none'")
}

func TestAssetsCompressedAndCached(t *testing.T) {
	h := testHandler(t)
	plain := get(t, h, "/docs/assets/swagger-ui-bundle.js")
	require.Empty(t, plain.Header().Get("Content-Encoding"))
	for _, enc := range []string{"gzip", "br, gzip;q=0.8", "GZIP"} {
		w := get(t, h, "/docs/assets/swagger-ui-bundle.js", "Accept-Encoding", enc)
		require.Equal(t, "gzip", w.Header().Get("Content-Encoding"), enc)
		zr, err := gzip.NewReader(w.Body)
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, plain.Body.Bytes(), got)
		require.Less(t, w.Body.Len(), plain.Body.Len()/2)
	}
	w := get(t, h, "/docs/assets/swagger-ui-bundle.js", "Accept-Encoding", "gzip;q=0")
	require.Empty(t, w.Header().Get("Content-Encoding"))

	etag := plain.Header().Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, get(t, h, "/docs/assets/swagger-ui-bundle.js", "If-None-Match", etag).Code)
	require.Equal(t, http.StatusOK, get(t, h, "/docs/assets/swagger-ui-bundle.js", "If-None-Match", `"other"`).Code)
}

// TestEmbeddedAssetsMatchTheirChecksums catches a hand edit of the vendored Swagger UI:
// the files must be those scripts/update-swagger-ui.sh copied from the pinned package.
func TestEmbeddedAssetsMatchTheirChecksums(t *testing.T) {
	sums, err := assets.ReadFile("swaggerui/SHA256SUMS")
	require.NoError(t, err)
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		require.True(t, ok, sc.Text())
		b, err := assets.ReadFile("swaggerui/" + name)
		require.NoError(t, err, name)
		got := sha256.Sum256(b)
		require.Equal(t, want, hex.EncodeToString(got[:]), name)
		seen++
	}
	require.GreaterOrEqual(t, seen, 5)
	entries, err := assets.ReadDir("swaggerui")
	require.NoError(t, err)
	require.Len(t, entries, seen+1, "every embedded file is listed in SHA256SUMS")
	require.Regexp(t, `^5\.\d+\.\d+$`, Version())
}

func TestNewHandlerRefusesBadDocuments(t *testing.T) {
	doc := []byte(`{"openapi":"3.0.3"}`)
	tests := []struct {
		name string
		docs []Document
		want string
	}{
		{"none", nil, "no document"},
		{"bad slug", []Document{{Name: "a", Slug: "a/b", JSON: doc}}, "bad slug"},
		{"empty slug", []Document{{Name: "a", JSON: doc}}, "bad slug"},
		{"duplicate", []Document{{Name: "a", Slug: "a", JSON: doc}, {Name: "b", Slug: "a", JSON: doc}}, "two documents"},
		{"not JSON", []Document{{Name: "a", Slug: "a", JSON: []byte("openapi: 3")}}, "not JSON"},
		{"ftp server", []Document{{Name: "a", Slug: "a", JSON: doc, ServerURL: "ftp://x"}}, "want http(s)"},
		{"host without scheme", []Document{{Name: "a", Slug: "a", JSON: doc, ServerURL: "//x:1"}}, "no scheme"},
		{"unparsable server", []Document{{Name: "a", Slug: "a", JSON: doc, ServerURL: "http://[::1"}}, "server URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHandler(tt.docs)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
