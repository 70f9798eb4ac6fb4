package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/config"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// TestVirtualKeysEndToEnd creates a key through the admin API, uses it through the
// local data plane, checks the usage record, then revokes it.
func TestVirtualKeysEndToEnd(t *testing.T) {
	sum := sha256.Sum256([]byte(adminToken))
	cfg := config.Default(func(string) string { return "" })
	cfg.Auth = &configv1.Auth{VirtualKeys: true}
	cfg.Storage = &configv1.Storage{SqlitePath: filepath.Join(t.TempDir(), "llm-router.db")}
	cfg.Admin = &configv1.Admin{Tokens: []*configv1.AdminToken{{Id: "ops", Sha256: hex.EncodeToString(sum[:])}}}
	cfg.Usage = &configv1.Usage{RetentionDays: 30}

	l, err := StartLocal(cfg, RunOptions{Logger: zap.NewNop(), DevKey: ""})
	require.NoError(t, err)
	defer l.Close()
	defer l.Processor.Components.Close(context.Background())
	require.NotNil(t, l.Processor.Components.Identity.Admin)
	adminSrv := httptest.NewServer(l.Processor.AdminHandler())
	defer adminSrv.Close()
	dataSrv := httptest.NewServer(l.Envoy)
	defer dataSrv.Close()

	client := admin.NewClient(adminSrv.URL, adminToken)
	ctx := context.Background()
	created, err := client.CreateKey(ctx, &adminv1.CreateKeyRequest{Name: "ci", Owner: "team-a", Models: []string{"mock"}})
	require.NoError(t, err)
	secret := created.GetSecret()
	require.True(t, strings.HasPrefix(secret, "llmr-"))

	call := func(key, model string) (int, string) {
		req, _ := http.NewRequest("POST", dataSrv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"count me"}]}`))
		req.Header.Set("authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := call(secret, "mock")
	require.Equal(t, 200, code, body)
	code, _ = call(secret, "mock-embed")
	require.Equal(t, 403, code, "the key is scoped to model mock")
	code, _ = call("llmr-not-a-key", "mock")
	require.Equal(t, 401, code)

	// The usage record reaches the ledger: it is queued when Envoy closes the stream and
	// written within the writer's flush interval (1s).
	require.Eventually(t, func() bool {
		report, err := client.UsageReport(ctx, &adminv1.GetUsageReportRequest{GroupBy: []string{"key"}})
		return err == nil && len(report.GetRows()) > 0 && report.GetRows()[0].GetInputTokens() > 0
	}, 10*time.Second, 50*time.Millisecond)
	_, err = client.RevokeKey(ctx, created.GetKey().GetId())
	require.NoError(t, err)
	require.Eventually(t, func() bool { c, _ := call(secret, "mock"); return c == 401 }, 2*time.Second, 20*time.Millisecond)
}
