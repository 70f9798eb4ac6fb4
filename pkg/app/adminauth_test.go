package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestAdminGuard(t *testing.T) {
	const token = "admin-secret-token"
	sum := sha256.Sum256([]byte(token))
	tokens := []*configv1.AdminToken{{Id: "other", Sha256: strings.Repeat("0", 64)}, {Id: "ops", Sha256: strings.ToUpper(hex.EncodeToString(sum[:]))}}
	tests := []struct {
		name       string
		method     string
		header     [2]string
		handlerErr bool
		status     int
		allow      string
		wwwAuth    bool
		audit      string // the audit message, "" when none
		actor      string
	}{
		{name: "bearer token", method: "GET", header: [2]string{"Authorization", "Bearer " + token}, status: 200, audit: "admin action", actor: "ops"},
		{name: "x-api-key", method: "PUT", header: [2]string{"x-api-key", token}, status: 200, audit: "admin action", actor: "ops"},
		{name: "lower-case scheme", method: "GET", header: [2]string{"Authorization", "bearer " + token}, status: 200, audit: "admin action", actor: "ops"},
		{name: "no credential", method: "GET", status: 401, wwwAuth: true, audit: "admin authentication failed"},
		{name: "wrong token", method: "GET", header: [2]string{"Authorization", "Bearer nope"}, status: 401, wwwAuth: true, audit: "admin authentication failed"},
		{name: "basic auth is not a token", method: "GET", header: [2]string{"Authorization", "Basic " + token}, status: 401, wwwAuth: true, audit: "admin authentication failed"},
		{name: "method first", method: "DELETE", status: 405, allow: "GET, PUT"},
		{name: "a failed action is audited as failed", method: "GET", header: [2]string{"x-api-key", token}, handlerErr: true, status: 500, audit: "admin action failed", actor: "ops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			g := newAdminGuard(tokens, nil, zap.New(core))
			h := g.wrap("log_level", []string{http.MethodGet, http.MethodPut}, func(w http.ResponseWriter, _ *http.Request) {
				if tt.handlerErr {
					writeAdminError(w, http.StatusInternalServerError, "internal", "boom")
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			})
			r := httptest.NewRequest(tt.method, "/v1/admin/log-level", nil)
			if tt.header[0] != "" {
				r.Header.Set(tt.header[0], tt.header[1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.status, w.Code, w.Body.String())
			require.Equal(t, tt.allow, w.Header().Get("Allow"))
			require.Equal(t, tt.wwwAuth, w.Header().Get("WWW-Authenticate") != "")
			if tt.status >= 400 {
				require.Equal(t, "application/json", w.Header().Get("Content-Type"))
				require.Contains(t, w.Body.String(), `"error":{"code":`)
			}
			entries := logs.All()
			if tt.audit == "" {
				require.Empty(t, entries)
				return
			}
			require.Len(t, entries, 1)
			require.Equal(t, tt.audit, entries[0].Message)
			fields := entries[0].ContextMap()
			require.Equal(t, "log_level", fields["action"])
			if tt.actor != "" {
				require.Equal(t, tt.actor, fields["actor"])
				require.EqualValues(t, tt.status, fields["status"])
			}
			for _, e := range entries {
				for k, v := range e.ContextMap() {
					require.NotContains(t, fmt.Sprint(v), token, "the audit field %s holds the credential", k)
				}
			}
		})
	}
}
