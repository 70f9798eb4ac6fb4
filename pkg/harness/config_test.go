package harness

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// New rejects configurations Envoy would reject, and valid ones the harness does not emulate.
func TestNewValidation(t *testing.T) {
	var conn grpc.ClientConnInterface = (*grpc.ClientConn)(nil)
	cl := []Cluster{{Name: "c", Endpoints: []Endpoint{{Address: "http://127.0.0.1:1"}}}}
	for _, tc := range []struct {
		name       string
		cfg        Config
		err        string
		notEmulate bool
	}{
		{name: "FULL_DUPLEX_STREAMED without trailer SEND (item 63)", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) {
			c.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED
		})}, err: "request_trailer_mode has to be set to SEND"},
		{name: "FULL_DUPLEX_STREAMED response without trailer SEND", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) {
			c.ProcessingMode.ResponseBodyMode = extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED
		})}, err: "response_trailer_mode has to be set to SEND"},
		{name: "FULL_DUPLEX_STREAMED with trailers is valid but not emulated", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) {
			c.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED
			c.ProcessingMode.RequestTrailerMode = extprocv3.ProcessingMode_SEND
		})}, notEmulate: true},
		{name: "no grpc_service", cfg: Config{Processor: conn, RouterFilter: &extprocv3.ExternalProcessor{}}, err: "one of grpc_service or http_service"},
		{name: "disable_clear_route_cache with route_cache_action (item 79)", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) {
			c.DisableClearRouteCache = true
			c.RouteCacheAction = extprocv3.ExternalProcessor_CLEAR
		})}, err: "can not be set to none-default"},
		{name: "observability mode", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) { c.ObservabilityMode = true })}, notEmulate: true},
		{name: "proto validation", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) { c.MessageTimeout = ms(-5) })}, err: "MessageTimeout"},
		{name: "bad attribute", cfg: Config{Processor: conn, RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) { c.RequestAttributes = []string{"size(request.path)"} })}, err: "attribute"},
		{name: "no processor", cfg: Config{RouterFilter: extProc()}, err: "Config.Processor is nil"},
		{name: "unknown cluster", cfg: Config{Routes: []Route{{Cluster: "nope"}}}, err: `unknown cluster "nope"`},
		{name: "duplicate cluster", cfg: Config{Clusters: append(cl, cl...)}, err: "duplicate cluster"},
		{name: "bad endpoint", cfg: Config{Clusters: []Cluster{{Name: "c", Endpoints: []Endpoint{{Address: "ftp://x"}}}}}, err: "base URL"},
		{name: "endpoint with path", cfg: Config{Clusters: []Cluster{{Name: "c", Endpoints: []Endpoint{{Address: "http://x/v1"}}}}}, err: "must not carry a path"},
		{name: "unknown retry_on", cfg: Config{Clusters: cl, Routes: []Route{{Cluster: "c", Retry: &RetryPolicy{RetryOn: []string{"sometimes"}}}}}, err: "unsupported retry_on"},
		{name: "upstream filter invalid", cfg: Config{Processor: conn, Clusters: []Cluster{{Name: "c", UpstreamFilter: &extprocv3.ExternalProcessor{}}}}, err: "cluster c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			if tc.notEmulate {
				require.ErrorIs(t, err, ErrNotEmulated)
				return
			}
			require.Contains(t, err.Error(), tc.err)
		})
	}
	_, err := New(Config{Clusters: cl, Routes: []Route{{Cluster: "c", Retry: &RetryPolicy{RetryOn: []string{"5xx,gateway-error"}}}}})
	require.NoError(t, err)
}
