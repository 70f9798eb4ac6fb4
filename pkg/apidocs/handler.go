package apidocs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/tidwall/sjson"
)

//go:embed index.html
var indexHTML []byte

// assets are the Swagger UI files from the pinned npm package (scripts/update-swagger-ui.sh).
//
//go:embed swaggerui
var assets embed.FS

// Document is one OpenAPI document listed on the page.
type Document struct {
	// Name is shown in the page's document selector.
	Name string
	// Slug names the served file: /openapi/{slug}.json.
	Slug string
	// JSON is the OpenAPI document.
	JSON []byte
	// ServerURL, when set, replaces the document's servers: it is where "Try it out"
	// sends requests. A relative URL ("/") means the admin listener itself.
	ServerURL string
}

// Handler serves the API reference page at /docs/ (Swagger UI, from embedded assets)
// and the documents at /openapi/{slug}.json. Everything is static and public: the
// documents hold no secret, and "Try it out" asks the user for a key.
type Handler struct {
	mux  *http.ServeMux
	csp  string
	docs map[string][]byte
	init []byte
	gz   sync.Map // asset name -> *gzipped
}

type gzipped struct {
	once sync.Once
	body []byte
}

// NewHandler builds the page for docs; the first document is shown first.
func NewHandler(docs []Document) (*Handler, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("apidocs: no document")
	}
	h := &Handler{mux: http.NewServeMux(), docs: map[string][]byte{}}
	type entry struct {
		URL  string `json:"url"`
		Name string `json:"name"`
	}
	var urls []entry
	connect := []string{"'self'"}
	for _, d := range docs {
		if d.Slug == "" || strings.ContainsAny(d.Slug, "/.?#") {
			return nil, fmt.Errorf("apidocs: document %q: bad slug %q", d.Name, d.Slug)
		}
		if _, dup := h.docs[d.Slug]; dup {
			return nil, fmt.Errorf("apidocs: two documents named %q", d.Slug)
		}
		if !json.Valid(d.JSON) {
			return nil, fmt.Errorf("apidocs: document %q is not JSON", d.Name)
		}
		body := d.JSON
		if d.ServerURL != "" {
			origin, err := serverOrigin(d.ServerURL)
			if err != nil {
				return nil, fmt.Errorf("apidocs: document %q: %w", d.Name, err)
			}
			if origin != "" {
				connect = append(connect, origin)
			}
			body, err = sjson.SetBytes(bytes.Clone(d.JSON), "servers", []map[string]string{{"url": d.ServerURL}})
			if err != nil {
				return nil, fmt.Errorf("apidocs: document %q: %w", d.Name, err)
			}
		}
		h.docs[d.Slug] = body
		urls = append(urls, entry{URL: "../openapi/" + d.Slug + ".json", Name: d.Name})
	}
	cfg, err := json.Marshal(map[string]any{"urls": urls, "urls.primaryName": docs[0].Name})
	if err != nil {
		return nil, err
	}
	h.init = fmt.Appendf(nil, initJS, cfg)
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src " + strings.Join(connect, " ") +
		"; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

	h.mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET /docs/{$}", func(w http.ResponseWriter, r *http.Request) {
		h.write(w, r, "text/html; charset=utf-8", indexHTML, "no-cache")
	})
	h.mux.HandleFunc("GET /docs/init.js", func(w http.ResponseWriter, r *http.Request) {
		h.write(w, r, "text/javascript; charset=utf-8", h.init, "no-cache")
	})
	h.mux.HandleFunc("GET /docs/assets/{name}", h.serveAsset)
	h.mux.HandleFunc("GET /openapi/{file}", func(w http.ResponseWriter, r *http.Request) {
		slug, ok := strings.CutSuffix(r.PathValue("file"), ".json")
		body, found := h.docs[slug]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*") // for editors and codegen tools
		h.write(w, r, "application/json", body, "no-cache")
	})
	return h, nil
}

// initJS starts Swagger UI; it is a file rather than an inline script so that the page's
// Content-Security-Policy can forbid inline scripts.
const initJS = `"use strict";
window.addEventListener("load", function () {
  var cfg = %s;
  window.ui = SwaggerUIBundle({
    urls: cfg.urls,
    "urls.primaryName": cfg["urls.primaryName"],
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    persistAuthorization: false
  });
});
`

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Patterns are the request patterns the handler answers, for mounting it on a mux.
func Patterns() []string {
	return []string{"GET /docs", "GET /docs/", "GET /openapi/"}
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := assets.ReadFile(path.Join("swaggerui", name))
	if err != nil || name == "SHA256SUMS" {
		http.NotFound(w, r)
		return
	}
	ctype := "application/octet-stream"
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".png":
		ctype = "image/png"
	case ".txt", "":
		ctype = "text/plain; charset=utf-8"
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// The bundle is 1.8 MB; compressed once, on first use, it is about a quarter.
	if len(body) > 1024 && acceptsGzip(r) && ctype != "image/png" {
		v, _ := h.gz.LoadOrStore(name, &gzipped{})
		g := v.(*gzipped)
		g.once.Do(func() { g.body = gzipBytes(body) })
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		body = g.body
	}
	h.write(w, r, ctype, body, "public, max-age=86400")
}

func (h *Handler) write(w http.ResponseWriter, _ *http.Request, ctype string, body []byte, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", h.csp)
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// serverOrigin returns the origin of an absolute server URL ("" for a relative one),
// which the page's Content-Security-Policy must allow it to connect to.
func serverOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", raw, err)
	}
	if !u.IsAbs() {
		if u.Host != "" {
			return "", fmt.Errorf("server URL %q has a host but no scheme", raw)
		}
		return "", nil
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("server URL %q: want http(s)://host[:port][/path]", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Version is the pinned Swagger UI version embedded in the binary.
func Version() string {
	b, _ := fs.ReadFile(assets, "swaggerui/VERSION")
	return strings.TrimSpace(string(b))
}
