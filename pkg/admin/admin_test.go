package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
	"github.com/llm-router/llm-router/pkg/ledger"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

const adminToken = "admin-token-for-tests-0123456789"

type env struct {
	srv    *Server
	http   *httptest.Server
	client *Client
	keys   *keystore.SQLStore
	usage  *ledger.SQLStore
	logs   *observer.ObservedLogs
}

func newEnv(t *testing.T, db *sqldb.DB, mutate func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	ks, err := keystore.NewSQL(ctx, db, keystore.Options{})
	require.NoError(t, err)
	ls, err := ledger.NewSQL(ctx, db)
	require.NoError(t, err)
	core, logs := observer.New(zap.DebugLevel)
	opts := Options{Keys: ks, Usage: ls, Tokens: []Token{{ID: "ops", SHA256: sha256.Sum256([]byte(adminToken))}}, AuditLogger: zap.New(core)}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &env{srv: s, http: hs, client: NewClient(hs.URL+"/", adminToken), keys: ks, usage: ls, logs: logs}
}

func (e *env) raw(t *testing.T, method, path, body string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data), resp.Header
}

func apiStatus(t *testing.T, err error) int {
	t.Helper()
	var ae *APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	return ae.Status
}

// TestKeysSuite runs the key API end to end over HTTP against both stores.
func TestKeysSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		c := e.client

		created, err := c.CreateKey(ctx, &adminv1.CreateKeyRequest{Name: "ci", Owner: "alice", Team: "ml", Tags: map[string]string{"env": "prod"},
			Models: []string{"gpt-4o"}, Endpoints: []string{"chat"}, Limits: &adminv1.Limits{RequestsPerMinute: 60},
			Budget: &adminv1.Budget{Usd: 10, Period: "month"}, Priority: 2, Ttl: durationpb.New(time.Hour)})
		require.NoError(t, err)
		secret := created.GetSecret()
		require.True(t, keystore.LooksLikeSecret(secret))
		k := created.GetKey()
		require.Equal(t, "ci", k.GetName())
		require.Equal(t, "active", k.GetStatus())
		require.Equal(t, secret[:len(k.GetDisplayPrefix())], k.GetDisplayPrefix())
		require.NotNil(t, k.GetExpireTime())
		stored, err := e.keys.GetByHash(ctx, keystore.HashSecret(secret))
		require.NoError(t, err)
		require.Equal(t, k.GetId(), stored.ID)

		t.Run("get never shows the secret", func(t *testing.T) {
			code, body, hdr := e.raw(t, "GET", "/v1/admin/keys/"+k.GetId(), "", nil)
			require.Equal(t, 200, code)
			require.NotContains(t, body, secret[len(k.GetDisplayPrefix()):])
			require.Contains(t, body, `"display_prefix"`)
			require.Equal(t, "no-store", hdr.Get("Cache-Control"))
			got, err := c.GetKey(ctx, k.GetId())
			require.NoError(t, err)
			require.Equal(t, []string{"gpt-4o"}, got.GetModels())
			require.Equal(t, int64(60), got.GetLimits().GetRequestsPerMinute())
			_, err = c.GetKey(ctx, "key_missing")
			require.Equal(t, 404, apiStatus(t, err))
		})

		t.Run("list filters and pages", func(t *testing.T) {
			for i := 0; i < 3; i++ {
				_, err := c.CreateKey(ctx, &adminv1.CreateKeyRequest{Name: "bulk", Owner: "bob", Tags: map[string]string{"n": "x"}})
				require.NoError(t, err)
			}
			page, err := c.ListKeys(ctx, &adminv1.ListKeysRequest{Owner: "bob", PageSize: 2})
			require.NoError(t, err)
			require.Len(t, page.GetKeys(), 2)
			require.NotEmpty(t, page.GetNextPageToken())
			page2, err := c.ListKeys(ctx, &adminv1.ListKeysRequest{Owner: "bob", PageSize: 2, PageToken: page.GetNextPageToken()})
			require.NoError(t, err)
			require.Len(t, page2.GetKeys(), 1)
			require.Empty(t, page2.GetNextPageToken())
			page, err = c.ListKeys(ctx, &adminv1.ListKeysRequest{Tags: map[string]string{"env": "prod"}, Status: "active", Team: "ml"})
			require.NoError(t, err)
			require.Len(t, page.GetKeys(), 1)
			code, _, _ := e.raw(t, "GET", "/v1/admin/keys?tag=n:x", "", nil)
			require.Equal(t, 200, code)
			for _, q := range []string{"page_size=x", "tag=novalue", "status=weird", "page_token=%25%25", "page_size=-1"} {
				code, body, _ := e.raw(t, "GET", "/v1/admin/keys?"+q, "", nil)
				require.Equal(t, 400, code, q)
				require.Contains(t, body, `"invalid_argument"`, q)
			}
		})

		t.Run("update", func(t *testing.T) {
			got, err := c.UpdateKey(ctx, &adminv1.UpdateKeyRequest{Id: k.GetId(), Name: "renamed", Models: nil, Priority: 0,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "models", "priority"}}})
			require.NoError(t, err)
			require.Equal(t, "renamed", got.GetName())
			require.Empty(t, got.GetModels(), "masked empty list clears the scope")
			require.Zero(t, got.GetPriority())
			require.Equal(t, "alice", got.GetOwner(), "unmasked fields stay")

			// PATCH without a mask changes exactly the fields present in the body.
			code, body, _ := e.raw(t, "PATCH", "/v1/admin/keys/"+k.GetId(), `{"team":"infra","budget":{"usd":3,"period":"day"},"expire_time":null}`, nil)
			require.Equal(t, 200, code, body)
			got, err = c.GetKey(ctx, k.GetId())
			require.NoError(t, err)
			require.Equal(t, "infra", got.GetTeam())
			require.Equal(t, 3.0, got.GetBudget().GetUsd())
			require.Nil(t, got.GetExpireTime(), "expire_time: null removes the expiry")
			require.Equal(t, "renamed", got.GetName())

			_, err = c.UpdateKey(ctx, &adminv1.UpdateKeyRequest{Id: k.GetId(), Name: "x"})
			require.Error(t, err, "the client requires a mask")
			for name, tc := range map[string]struct {
				body string
				code int
			}{
				"unknown field":   {`{"secret":"x"}`, 400},
				"no fields":       {`{}`, 400},
				"id mismatch":     {`{"id":"key_other","name":"x"}`, 400},
				"bad period":      {`{"budget":{"usd":1,"period":"week"}}`, 400},
				"bad mask":        {`{"update_mask":"planet"}`, 400},
				"empty model":     {`{"models":[""]}`, 400},
				"not json":        {`{`, 400},
				"bad expire time": {`{"expire_time":"yesterday"}`, 400},
			} {
				code, body, _ := e.raw(t, "PATCH", "/v1/admin/keys/"+k.GetId(), tc.body, nil)
				require.Equal(t, tc.code, code, "%s: %s", name, body)
			}
			code, _, _ = e.raw(t, "PATCH", "/v1/admin/keys/key_missing", `{"name":"x"}`, nil)
			require.Equal(t, 404, code)
			code, _, _ = e.raw(t, "PATCH", "/v1/admin/keys/"+k.GetId(), `{"expire_time":"2099-01-01T00:00:00Z"}`, nil)
			require.Equal(t, 200, code)
		})

		t.Run("rotate", func(t *testing.T) {
			rot, err := c.RotateKey(ctx, k.GetId(), 10*time.Minute)
			require.NoError(t, err)
			require.NotEqual(t, secret, rot.GetSecret())
			require.True(t, keystore.LooksLikeSecret(rot.GetSecret()))
			require.NotNil(t, rot.GetKey().GetPreviousSecretExpireTime())
			old, err := e.keys.GetByHash(ctx, keystore.HashSecret(secret))
			require.NoError(t, err, "old secret still found during grace")
			require.Equal(t, k.GetId(), old.ID)

			code, body, _ := e.raw(t, "POST", "/v1/admin/keys/"+k.GetId()+"/rotate?grace_period=0s", "", nil)
			require.Equal(t, 200, code, body)
			_, err = c.RotateKey(ctx, k.GetId(), -1) // server default grace
			require.NoError(t, err)
			for _, q := range []string{"?grace_period=forever", "?grace_period=-1s", "?grace_period=10000h"} {
				code, _, _ := e.raw(t, "POST", "/v1/admin/keys/"+k.GetId()+"/rotate"+q, "", nil)
				require.Equal(t, 400, code, q)
			}
			code, _, _ = e.raw(t, "POST", "/v1/admin/keys/"+k.GetId()+"/rotate", `{"grace_period":"1"}`, nil)
			require.Equal(t, 400, code)
			_, err = c.RotateKey(ctx, "key_missing", 0)
			require.Equal(t, 404, apiStatus(t, err))
		})

		t.Run("revoke and delete", func(t *testing.T) {
			rev, err := c.RevokeKey(ctx, k.GetId())
			require.NoError(t, err)
			require.Equal(t, "revoked", rev.GetStatus())
			require.NotNil(t, rev.GetRevokeTime())
			_, err = c.RotateKey(ctx, k.GetId(), 0)
			require.Equal(t, 409, apiStatus(t, err))
			require.NoError(t, c.DeleteKey(ctx, k.GetId()))
			require.Equal(t, 404, apiStatus(t, c.DeleteKey(ctx, k.GetId())))
			_, err = c.RevokeKey(ctx, k.GetId())
			require.Equal(t, 404, apiStatus(t, err))
		})

		t.Run("create validation", func(t *testing.T) {
			past := timestamppb.New(time.Now().Add(-time.Hour))
			for name, req := range map[string]*adminv1.CreateKeyRequest{
				"both expiries": {ExpireTime: timestamppb.New(time.Now().Add(time.Hour)), Ttl: durationpb.New(time.Hour)},
				"past expiry":   {ExpireTime: past},
				"negative ttl":  {Ttl: durationpb.New(-time.Hour)},
				"bad budget":    {Budget: &adminv1.Budget{Usd: 1, Period: "fortnight"}},
				"blank model":   {Models: []string{" "}},
			} {
				_, err := c.CreateKey(ctx, req)
				require.Equal(t, 400, apiStatus(t, err), name)
			}
			code, body, hdr := e.raw(t, "POST", "/v1/admin/keys", `{"name":"plain"}`, nil)
			require.Equal(t, 201, code, body)
			require.True(t, strings.HasPrefix(hdr.Get("Location"), "/v1/admin/keys/key_"))
			code, _, _ = e.raw(t, "POST", "/v1/admin/keys", "", nil)
			require.Equal(t, 201, code, "an empty body issues a key with defaults")
			code, _, _ = e.raw(t, "POST", "/v1/admin/keys", strings.Repeat(" ", maxBody+10)+"{}", nil)
			require.Equal(t, 400, code)
		})

		// Every call was audit-logged with its action and actor.
		actions := map[string]bool{}
		for _, entry := range e.logs.All() {
			m := entry.ContextMap()
			if a, ok := m["action"].(string); ok {
				actions[a] = true
				require.Equal(t, "ops", m["actor"], "%v", m)
			}
		}
		for _, a := range []string{"keys.create", "keys.get", "keys.list", "keys.update", "keys.rotate", "keys.revoke", "keys.delete"} {
			require.True(t, actions[a], a)
		}
	})
}

func TestAdminAuth(t *testing.T) {
	rejecting := fixedAuth{err: auth.ErrInvalid}
	for name, tc := range map[string]struct {
		jwt    auth.Authenticator
		header map[string]string
		code   int
	}{
		"no credential":     {nil, map[string]string{"Authorization": ""}, 401},
		"wrong token":       {rejecting, map[string]string{"Authorization": "Bearer nope"}, 401},
		"x-api-key":         {nil, map[string]string{"Authorization": "", "x-api-key": adminToken}, 200},
		"jwt with scope":    {fixedAuth{id: &auth.Identity{KeyID: "jwt:ann", Scopes: []string{DefaultScope}}}, map[string]string{"Authorization": "Bearer a.b.c"}, 200},
		"jwt without scope": {fixedAuth{id: &auth.Identity{KeyID: "jwt:bob"}}, map[string]string{"Authorization": "Bearer a.b.c"}, 403},
		"jwks down":         {fixedAuth{err: auth.ErrUnavailable}, map[string]string{"Authorization": "Bearer a.b.c"}, 503},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, sqldbtest.SQLite(t), func(o *Options) { o.JWT = tc.jwt })
			code, body, hdr := e.raw(t, "GET", "/v1/admin/keys", "", tc.header)
			require.Equal(t, tc.code, code, body)
			if code == 401 {
				require.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
				require.Contains(t, body, `"unauthenticated"`)
			}
			if code != 200 {
				require.Equal(t, 1, e.logs.FilterMessage("admin authentication failed").Len())
			}
		})
	}
	t.Run("server methods refuse calls without an actor", func(t *testing.T) {
		e := newEnv(t, sqldbtest.SQLite(t), nil)
		_, err := e.srv.GetKey(context.Background(), &adminv1.GetKeyRequest{Id: "x"})
		require.ErrorContains(t, err, "authentication required")
	})
	t.Run("options", func(t *testing.T) {
		_, err := New(Options{})
		require.Error(t, err)
		ks, err := keystore.NewSQL(context.Background(), sqldbtest.SQLite(t), keystore.Options{})
		require.NoError(t, err)
		_, err = New(Options{Keys: ks})
		require.Error(t, err, "no way to authenticate")
		_, err = New(Options{Keys: ks, Tokens: []Token{{ID: "x"}}})
		require.Error(t, err, "token without hash")
	})
}

type fixedAuth struct {
	id  *auth.Identity
	err error
}

func (f fixedAuth) Authenticate(context.Context, string) (*auth.Identity, error) { return f.id, f.err }
