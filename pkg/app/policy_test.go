package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/harness"
)

// TestRoutePolicyFromEnvoyMetadata: a platform team puts filter_metadata.llm_router on
// the Envoy route; the router-level filter sends it as xds.route_metadata and the
// processor narrows what the route serves.
func TestRoutePolicyFromEnvoyMetadata(t *testing.T) {
	cfg := config.Default(func(string) string { return "" })
	l, err := StartLocal(cfg, RunOptions{DevKey: "k"})
	require.NoError(t, err)
	defer l.Close()
	hc, err := HarnessConfig(cfg, l.conn, l.Processor.Components.Registry.DefaultBaseURL)
	require.NoError(t, err)
	policy, err := structpb.NewStruct(map[string]any{"allowed_models": []any{"mock"}, "cache": "never"})
	require.NoError(t, err)
	// The first pass matches this route (the backend routes need x-llm-router-backend,
	// which the processor sets); after clear_route_cache the backend route wins. It goes
	// before the catch-all, which is last.
	catchAll := hc.Routes[len(hc.Routes)-1]
	hc.Routes = append(hc.Routes[:len(hc.Routes)-1], harness.Route{
		Name: "team-a", PathPrefix: "/v1/", Cluster: hc.Clusters[0].Name,
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"llm_router": policy}},
	}, catchAll)
	env, err := harness.New(hc)
	require.NoError(t, err)
	srv := httptest.NewServer(env)
	defer srv.Close()

	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	code, body := post("/v1/chat/completions", `{"model":"mock","messages":[{"role":"user","content":"allowed"}]}`)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "allowed")
	code, body = post("/v1/embeddings", `{"model":"mock-embed","input":"x"}`)
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "not served on this route")
}
