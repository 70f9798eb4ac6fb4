package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
	"github.com/llm-router/llm-router/pkg/ledger"
)

// FuzzHTTPBodies sends arbitrary bodies and query strings to the admin handler: it must
// answer a JSON document with a 2xx or 4xx status, never a 5xx or a panic.
func FuzzHTTPBodies(f *testing.F) {
	f.Add("PATCH", "", `{"name":"x","models":["a"],"budget":{"usd":1,"period":"day"}}`)
	f.Add("PATCH", "", `{"update_mask":"tags","tags":{"a":"b"}}`)
	f.Add("POST", "", `{"ttl":"3600s","limits":{"requests_per_minute":"5"}}`)
	f.Add("GET", "tag=a=b&status=active&page_size=3", "")
	f.Add("GET", "usage:group_by=day,key&start_date=2025-01-01&format=csv", "")
	f.Add("POST", "erase", `{"owner":"x"}`)
	ctx := context.Background()
	db := sqldbtest.SQLite(f)
	ks, err := keystore.NewSQL(ctx, db, keystore.Options{})
	require.NoError(f, err)
	ls, err := ledger.NewSQL(ctx, db)
	require.NoError(f, err)
	srv, err := New(Options{Keys: ks, Usage: ls, Tokens: []Token{{ID: "ops", SHA256: sha256.Sum256([]byte(adminToken))}}})
	require.NoError(f, err)
	h := srv.Handler()
	_, k, err := keystore.Issue(ctx, ks, keystore.Key{Name: "fuzz"})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, method, query, body string) {
		path := "/v1/admin/keys/" + k.ID
		switch {
		case method == "POST" && query == "erase":
			path, query = "/v1/admin/usage/erase", ""
		case method == "POST":
			path = "/v1/admin/keys"
		case strings.HasPrefix(query, "usage:"):
			method, path, query = "GET", "/v1/admin/usage", strings.TrimPrefix(query, "usage:")
		case method == "GET":
			path = "/v1/admin/keys"
		default:
			method = "PATCH"
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path, req.URL.RawQuery = path, query
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "%s %s?%s %q → %d %s", method, path, query, body, rec.Code, rec.Body.String())
		if rec.Header().Get("Content-Type") == "application/json" {
			require.True(t, json.Valid(rec.Body.Bytes()))
		}
		_ = http.StatusOK
	})
}
