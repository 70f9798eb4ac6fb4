package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
	"github.com/llm-router/llm-router/pkg/ledger"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

// flakyStore fails lookups on demand, to drive the error-logging paths.
type flakyStore struct {
	keystore.Store
	fail bool
}

func (f *flakyStore) GetByHash(ctx context.Context, h [32]byte) (*keystore.Key, error) {
	if f.fail {
		return nil, errors.New("dial tcp 10.0.0.1:5432: connection refused")
	}
	return f.Store.GetByHash(ctx, h)
}

type failingSink struct{}

func (failingSink) Write(context.Context, []ledger.Record) error { return errors.New("disk full") }

// TestNoSecretInLogsOrMetrics drives a full key lifecycle — issue, use, wrong keys,
// rotation, revocation, store outage, ledger failures, admin-auth failures — with every
// component logging at debug level into one observer and counting into one registry,
// then checks that no secret presented or issued appears in any log line or label.
func TestNoSecretInLogsOrMetrics(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	reg := prometheus.NewRegistry()
	failures := auth.NewFailureCounter()
	reg.MustRegister(failures)
	lm := ledger.NewMetrics()
	reg.MustRegister(lm.Collectors()...)

	db := sqldbtest.SQLite(t)
	ks, err := keystore.NewSQL(ctx, db, keystore.Options{Logger: log})
	require.NoError(t, err)
	ls, err := ledger.NewSQL(ctx, db)
	require.NoError(t, err)
	flaky := &flakyStore{Store: ks}
	keyAuth := auth.NewKeyAuthenticator(flaky, auth.KeyOptions{Logger: log, CacheTTL: time.Millisecond, StaleTTL: -1, TouchInterval: 10 * time.Millisecond})
	defer func() { _ = keyAuth.Close(ctx) }()
	<-keyAuth.Ready()
	gateway := auth.WithFailureCounter(auth.Chain{keyAuth, auth.NewStatic(nil)}, failures)
	writer := ledger.NewWriter(ls, ledger.WriterOptions{Logger: log, Metrics: lm, FlushInterval: 5 * time.Millisecond})
	deadLetter := t.TempDir() + "/dead.jsonl"
	broken := ledger.NewWriter(failingSink{}, ledger.WriterOptions{Logger: log, Metrics: lm, MaxAttempts: 2, RetryBackoff: time.Millisecond, DeadLetterPath: deadLetter})

	srv, err := New(Options{Keys: ks, Usage: ls, Tokens: []Token{{ID: "ops", SHA256: sha256.Sum256([]byte(adminToken))}}, AuditLogger: log})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := NewClient(hs.URL, adminToken)

	var secrets []string
	use := func(cred string, wantOK bool) {
		t.Helper()
		id, err := gateway.Authenticate(ctx, cred)
		if wantOK {
			require.NoError(t, err)
			for _, w := range []*ledger.Writer{writer, broken} {
				require.NoError(t, w.Record(ctx, ledger.Record{RequestID: "req-1", KeyID: id.KeyID, Owner: id.Owner, Model: "gpt", InputTokens: 3, Status: 200}))
			}
		} else {
			require.Error(t, err)
		}
	}

	created, err := client.CreateKey(ctx, &adminv1.CreateKeyRequest{Name: "svc", Owner: "alice"})
	require.NoError(t, err)
	s1 := created.GetSecret()
	id := created.GetKey().GetId()
	secrets = append(secrets, s1)
	use(s1, true)

	wrong, err := keystore.NewSecret()
	require.NoError(t, err)
	typo := s1[:len(s1)-2] + "zz"
	secrets = append(secrets, wrong, typo, "sk-live-not-ours-123456")
	use(wrong, false)
	use(typo, false)
	use("sk-live-not-ours-123456", false)
	use("", false)

	rot, err := client.RotateKey(ctx, id, 0)
	require.NoError(t, err)
	s2 := rot.GetSecret()
	secrets = append(secrets, s2)
	use(s1, false)
	use(s2, true)

	time.Sleep(5 * time.Millisecond) // let the cache entry go stale
	flaky.fail = true
	use(s2, false) // store down
	flaky.fail = false

	_, err = client.RevokeKey(ctx, id)
	require.NoError(t, err)
	use(s2, false)

	// Admin credentials that fail, including one close to the real token.
	almost := adminToken[:len(adminToken)-1] + "X"
	secrets = append(secrets, adminToken, almost)
	for _, tok := range []string{almost, s2} {
		_, err := NewClient(hs.URL, tok).ListKeys(ctx, &adminv1.ListKeysRequest{})
		require.Error(t, err)
	}
	req, _ := http.NewRequest("GET", hs.URL+"/v1/admin/keys", nil)
	req.Header.Set("x-api-key", almost)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	require.NoError(t, writer.Close(ctx))
	require.NoError(t, broken.Close(ctx))
	require.NoError(t, keyAuth.Close(ctx))

	// Logs: render every entry as the JSON a production logger would write.
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	require.NotZero(t, logs.Len())
	sawAudit, sawStoreError, sawLedgerError := false, false, false
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		require.NoError(t, err)
		line := buf.String()
		for _, s := range secrets {
			require.NotContains(t, line, s)
			if strings.HasPrefix(s, keystore.SecretPrefix) {
				require.NotContains(t, line, s[len(keystore.DisplayPrefix(s)):], "the secret's random part")
			}
		}
		sawAudit = sawAudit || strings.Contains(line, `"action":"keys.rotate"`)
		sawStoreError = sawStoreError || strings.Contains(line, "key store lookup failed")
		sawLedgerError = sawLedgerError || strings.Contains(line, "could not be written")
	}
	require.True(t, sawAudit && sawStoreError && sawLedgerError, "the run exercised audit, store-error and ledger-error logging")

	// Metrics: every label value of every series.
	families, err := reg.Gather()
	require.NoError(t, err)
	reasons := map[string]bool{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					require.NotContains(t, l.GetValue(), s)
				}
				if f.GetName() == auth.FailureMetricName {
					reasons[l.GetValue()] = true
				}
			}
		}
	}
	for _, r := range []string{"unknown_key", "malformed", "missing", "revoked", "store_unavailable"} {
		require.True(t, reasons[r], "reason %s counted; have %v", r, reasons)
	}
}
