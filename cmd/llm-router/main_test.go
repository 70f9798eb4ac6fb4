package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/keystore"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no args", nil, 2, "", "Commands:"},
		{"help", []string{"help"}, 0, "", "serve"},
		{"unknown", []string{"frobnicate"}, 2, "", "unknown command"},
		{"version", []string{"version"}, 0, "llm-router", ""},
		{"validate example", []string{"validate", "--config", "../../envoy/llm-router.yaml", "--envoy", "../../envoy/envoy.yaml"}, 0, "ok", ""},
		{"validate needs config", []string{"validate"}, 2, "", "--config is required"},
		{"validate bad file", []string{"validate", "--config", "testdata/bad.yaml"}, 1, "", "unknown field"},
		{"validate envoy mismatch", []string{"validate", "--config", "../../examples/development.yaml", "--envoy", "../../envoy/envoy.yaml"}, 1, "", "envoy.yaml"},
		{"envoy bootstrap", []string{"envoy", "--config", "../../envoy/llm-router.yaml"}, 0, "llm_router_extproc", ""},
		{"envoy istio", []string{"envoy", "--config", "../../envoy/llm-router.yaml", "--istio"}, 0, "EnvoyFilter", ""},
		{"envoy needs config", []string{"envoy"}, 2, "", "--config is required"},
		{"serve needs config", []string{"serve"}, 2, "", "--config is required"},
		{"serve bad config", []string{"serve", "--config", "testdata/bad.yaml"}, 1, "", "unknown field"},
		{"run bad config", []string{"run", "--config", "testdata/bad.yaml"}, 1, "", "unknown field"},
		{"keys usage", []string{"keys"}, 2, "", "usage"},
		{"keys unknown", []string{"keys", "zap"}, 2, "", "unknown subcommand"},
		{"keys get needs id", []string{"keys", "get"}, 2, "", "KEY_ID"},
		{"keys unreachable", []string{"keys", "list", "--admin", "http://127.0.0.1:1"}, 1, "", "keys list"},
		{"healthcheck down", []string{"healthcheck", "--addr", "127.0.0.1:1"}, 1, "", "unhealthy"},
		{"bench bad concurrency", []string{"bench", "--concurrency", "x"}, 2, "", "bad concurrency"},
		{"bench short", []string{"bench", "--duration", "50ms", "--concurrency", "2", "--chunks", "8"}, 0, "ratio", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			require.Equal(t, tc.wantCode, code, "stdout=%s stderr=%s", out, errOut)
			require.Contains(t, out, tc.wantOut)
			require.Contains(t, errOut, tc.wantErr)
		})
	}
}

func TestHealthcheckUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	code, out, _ := run("healthcheck", "--addr", strings.TrimPrefix(srv.URL, "http://"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "healthy")
	require.Equal(t, []string{"a", "b"}, splitComma("a,,b"))
}

func TestKeysAgainstAdminAPI(t *testing.T) {
	ctx := context.Background()
	ks, err := keystore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "keys.db"), keystore.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, ks.Close()) }()
	sum := sha256.Sum256([]byte("tok"))
	srv, err := admin.New(admin.Options{Keys: ks, Tokens: []admin.Token{{ID: "t", SHA256: sum}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	code, out, errOut := run("keys", "create", "--admin", hs.URL, "--token", "tok", "--name", "ci", "--models", "mock,gpt-4o", "--ttl", "1h")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "secret (shown once")
	var created struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.NotEmpty(t, created.ID)
	for _, sub := range []string{"get", "rotate", "revoke"} {
		code, out, errOut = run("keys", sub, "--admin", hs.URL, "--token", "tok", created.ID)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, created.ID)
	}
	code, out, _ = run("keys", "list", "--admin", hs.URL, "--token", "tok")
	require.Equal(t, 0, code)
	require.Contains(t, out, created.ID)
	code, _, _ = run("keys", "list", "--admin", hs.URL, "--token", "wrong")
	require.Equal(t, 1, code)
}
