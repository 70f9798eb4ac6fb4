package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
	"github.com/llm-router/llm-router/pkg/ledger"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

func TestUsageSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		d := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
		require.NoError(t, e.usage.Write(ctx, []ledger.Record{
			{ID: "1", KeyID: "k1", Owner: "alice", Model: "gpt", InputTokens: 10, OutputTokens: 5, CostUSD: 0.25, Status: 200, Latency: 2 * time.Millisecond, Time: d},
			{ID: "2", KeyID: "k1", Owner: "alice", Model: "gpt", InputTokens: 20, OutputTokens: 5, CostUSD: 1, Status: 500, ErrorType: "upstream", Time: d.Add(24 * time.Hour)},
			{ID: "3", KeyID: "k2", Owner: "=bob", Model: "claude", InputTokens: 1, CostUSD: 0.000000001, Status: 200, Time: d},
		}))

		rep, err := e.client.UsageReport(ctx, &adminv1.GetUsageReportRequest{GroupBy: []string{"day", "key"}, StartDate: "2025-02-03", EndDate: "2025-02-04"})
		require.NoError(t, err)
		require.Len(t, rep.GetRows(), 3)
		r0 := rep.GetRows()[0]
		require.Equal(t, "2025-02-03", r0.GetDay())
		require.Equal(t, "k1", r0.GetKeyId())
		require.Equal(t, "0.250000000", r0.GetCostUsd())
		require.Equal(t, int64(250_000_000), r0.GetCostNanoUsd())
		require.InDelta(t, 2.0, r0.GetMeanLatencyMs(), 0.001)

		rep, err = e.client.UsageReport(ctx, &adminv1.GetUsageReportRequest{KeyId: "k1", EndDate: "2025-02-03"})
		require.NoError(t, err)
		require.Len(t, rep.GetRows(), 1)
		require.Equal(t, int64(1), rep.GetRows()[0].GetRequests(), "end date is inclusive, next day excluded")

		// The JSON body uses snake_case and exact decimal costs.
		code, body, _ := e.raw(t, "GET", "/v1/admin/usage?group_by=model&group_by=owner", "", nil)
		require.Equal(t, 200, code)
		require.Contains(t, body, `"cost_usd":"1.250000000"`)

		var csv bytes.Buffer
		require.NoError(t, e.client.UsageCSV(ctx, &adminv1.GetUsageReportRequest{GroupBy: []string{"owner"}}, &csv))
		require.Equal(t, strings.Join(ledger.CSVHeader, ",")+"\n,,'=bob,,1,0,0,1,0,0,0,0,0.000000001,0.000\n,,alice,,2,1,0,30,10,0,0,0,1.250000000,1.000\n", csv.String())
		code, body, hdr := e.raw(t, "GET", "/v1/admin/usage?group_by=key", "", map[string]string{"Accept": "text/csv"})
		require.Equal(t, 200, code)
		require.Equal(t, "text/csv; charset=utf-8", hdr.Get("Content-Type"))
		require.True(t, strings.HasPrefix(body, "day,key_id"))

		for _, q := range []string{"format=xml", "start_date=yesterday", "end_date=2025-13-01", "group_by=planet", "start_date=2025-02-05&end_date=2025-02-01"} {
			code, _, _ := e.raw(t, "GET", "/v1/admin/usage?"+q, "", nil)
			require.Equal(t, 400, code, q)
		}
		code, _, _ = e.raw(t, "GET", "/v1/admin/usage?format=csv&group_by=planet", "", nil)
		require.Equal(t, 400, code)

		n, err := e.client.EraseUsage(ctx, &adminv1.EraseUsageRequest{KeyId: "k2"})
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		n, err = e.client.EraseUsage(ctx, &adminv1.EraseUsageRequest{Owner: "alice"})
		require.NoError(t, err)
		require.Equal(t, int64(4), n)
		_, err = e.client.EraseUsage(ctx, &adminv1.EraseUsageRequest{})
		require.Equal(t, 400, apiStatus(t, err))
		code, _, _ = e.raw(t, "POST", "/v1/admin/usage/erase", `{"key_id":`, nil)
		require.Equal(t, 400, code)
		rep, err = e.client.UsageReport(ctx, &adminv1.GetUsageReportRequest{})
		require.NoError(t, err)
		require.Empty(t, rep.GetRows())

		// The owner's name is personal data: the audit log of the erasure has only its hash.
		for _, entry := range e.logs.All() {
			for _, v := range entry.ContextMap() {
				if s, ok := v.(string); ok {
					require.NotEqual(t, "alice", s, "%v", entry.ContextMap())
				}
			}
		}
	})
}

func TestUsageWithoutLedger(t *testing.T) {
	e := newEnv(t, sqldbtest.SQLite(t), func(o *Options) { o.Usage = nil })
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/admin/usage", ""},
		{"GET", "/v1/admin/usage?format=csv", ""},
		{"POST", "/v1/admin/usage/erase", `{"key_id":"k"}`},
	} {
		code, body, _ := e.raw(t, tc.method, tc.path, tc.body, nil)
		require.Equal(t, 501, code, tc.path)
		require.Contains(t, body, `"unimplemented"`)
	}
}

// servedByApp are the admin-listener operations the document describes that pkg/app's
// AdminHandler serves rather than this package's Handler; pkg/app/admindoc_test.go
// checks them against the real handler.
var servedByApp = []string{
	"GET /healthz", "GET /readyz", "GET /statusz", "GET /metrics",
	"GET /v1/admin/log-level", "PUT /v1/admin/log-level", "POST /v1/admin/reload",
	"GET /openapi.json", "GET /openapi/{document}.json", "GET /docs/",
}

// TestOpenAPICoversRoutes checks that the OpenAPI document and the handler agree: every
// route is documented and every documented operation is served, here or by pkg/app.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	served := map[string]bool{}
	for _, op := range servedByApp {
		served[op] = true
	}
	for _, r := range Routes() {
		served[r.Method+" "+r.Path] = true
		ops, ok := doc.Paths[r.Path]
		require.True(t, ok, "path %s missing from openapi.json", r.Path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "%s %s missing from openapi.json", r.Method, r.Path)
	}
	methods := regexp.MustCompile(`^(get|put|post|patch|delete|head|options)$`)
	for path, ops := range doc.Paths {
		for m := range ops {
			if methods.MatchString(m) {
				require.True(t, served[strings.ToUpper(m)+" "+path], "openapi.json documents %s %s, which is not served", m, path)
			}
		}
	}
	// Every $ref resolves.
	var whole map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI(), &whole))
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(OpenAPI()), -1) {
		var node any = whole
		for _, part := range strings.Split(ref[1], "/") {
			m, ok := node.(map[string]any)
			require.True(t, ok, ref[1])
			node, ok = m[part]
			require.True(t, ok, "unresolved $ref %s", ref[1])
		}
	}
}

// TestGRPC serves the same Server over gRPC with the interceptor.
func TestGRPC(t *testing.T) {
	e := newEnv(t, sqldbtest.SQLite(t), nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(e.srv.UnaryInterceptor()))
	adminv1.RegisterAdminServiceServer(gs, e.srv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	cl := adminv1.NewAdminServiceClient(conn)

	_, err = cl.ListKeys(context.Background(), &adminv1.ListKeysRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	bad := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer wrong")
	_, err = cl.ListKeys(bad, &adminv1.ListKeysRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
	created, err := cl.CreateKey(ctx, &adminv1.CreateKeyRequest{Name: "grpc"})
	require.NoError(t, err)
	require.NotEmpty(t, created.GetSecret())
	got, err := cl.GetKey(ctx, &adminv1.GetKeyRequest{Id: created.GetKey().GetId()})
	require.NoError(t, err)
	require.Equal(t, "grpc", got.GetKey().GetName())
	_, err = cl.GetKey(ctx, &adminv1.GetKeyRequest{Id: "missing"})
	require.Equal(t, codes.NotFound, status.Code(err))

	// Other services on the same server are not affected by the interceptor.
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)

	entries := e.logs.FilterField(zapString("action", "keys.create")).All()
	require.Len(t, entries, 1)
	require.Contains(t, entries[0].ContextMap()["remote"], "127.0.0.1")
}

func zapString(k, v string) zap.Field { return zap.String(k, v) }
