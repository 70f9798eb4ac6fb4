package harness

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
)

// twoBackends configures routes: x-llm-router-backend=a → cluster a, =b → cluster b, else a.
func twoBackends(t *testing.T, fp *fakeProc, rf *extprocv3.ExternalProcessor, ua, ub *upstream) *Envoy {
	e, err := New(Config{
		RouterFilter: rf,
		Processor:    fp.conn,
		Routes: []Route{
			{Name: "to-a", Header: "x-llm-router-backend", Value: "a", Cluster: "a"},
			{Name: "to-b", Header: "x-llm-router-backend", Value: "b", Cluster: "b"},
			{Name: "default", Cluster: "a"},
		},
		Clusters: []Cluster{{Name: "a", Endpoints: []Endpoint{{Address: ua.URL}}}, {Name: "b", Endpoints: []Endpoint{{Address: ub.URL}}}},
	})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

// Items 77–80: the route is computed from the original headers and recomputed only when a
// request-path response clears the route cache together with a header_mutation.
func TestItems77to80_ClearRouteCache(t *testing.T) {
	hm := setH("x-llm-router-backend", "b")
	for _, tc := range []struct {
		name    string
		action  extprocv3.ExternalProcessor_RouteCacheAction
		disable bool
		cr      *extprocsvc.CommonResponse
		onBody  bool
		wantB   bool
		stat    string
	}{
		{name: "no clear keeps the original route", cr: &extprocsvc.CommonResponse{HeaderMutation: hm}},
		{name: "77 clear with header_mutation", cr: &extprocsvc.CommonResponse{HeaderMutation: hm, ClearRouteCache: true}, wantB: true},
		{name: "77 clear on a buffered body response", cr: &extprocsvc.CommonResponse{HeaderMutation: hm, ClearRouteCache: true}, onBody: true, wantB: true},
		{name: "77 empty header_mutation is enough", cr: &extprocsvc.CommonResponse{HeaderMutation: &extprocsvc.HeaderMutation{}, ClearRouteCache: true}},
		{name: "78 clear without header_mutation ignored", cr: &extprocsvc.CommonResponse{ClearRouteCache: true}, stat: "clear_route_cache_ignored"},
		{name: "79 CLEAR action clears without the flag", action: extprocv3.ExternalProcessor_CLEAR, cr: &extprocsvc.CommonResponse{HeaderMutation: hm}, wantB: true},
		{name: "79 RETAIN never clears", action: extprocv3.ExternalProcessor_RETAIN, cr: &extprocsvc.CommonResponse{HeaderMutation: hm, ClearRouteCache: true}, stat: "clear_route_cache_disabled"},
		{name: "79 disable_clear_route_cache", disable: true, cr: &extprocsvc.CommonResponse{HeaderMutation: hm, ClearRouteCache: true}, stat: "clear_route_cache_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				for m := range ps.in {
					if (kind(m) == "request_headers" && !tc.onBody) || (kind(m) == "request_body" && tc.onBody) {
						ps.send(respond(m, tc.cr))
						continue
					}
					ps.send(continueFor(m))
				}
				return nil
			})
			ua, ub := newUpstream(t, nil), newUpstream(t, nil)
			var got AccessLogEntry
			e := twoBackends(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
				c.RouteCacheAction = tc.action
				c.DisableClearRouteCache = tc.disable
			}), ua, ub)
			e.cfg.AccessLog = func(a AccessLogEntry) { got = a }
			require.Equal(t, 200, do(t, e, post(`{}`)).Status)
			if tc.wantB {
				require.Equal(t, 1, ub.callCount())
				require.Equal(t, "to-b", got.RouteName)
				require.Equal(t, "b", got.Cluster)
			} else {
				require.Equal(t, 1, ua.callCount())
				require.Equal(t, "default", got.RouteName)
			}
			if tc.stat != "" {
				require.EqualValues(t, 1, e.Stats()[tc.stat])
			}
		})
	}
}

// Item 80: clear_route_cache on a response-path message is ignored silently.
func TestItem80_ClearRouteCacheOnResponseIgnored(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			ps.send(respond(m, &extprocsvc.CommonResponse{HeaderMutation: &extprocsvc.HeaderMutation{}, ClearRouteCache: kind(m) == "response_headers"}))
		}
		return nil
	})
	e := harnessFor(t, fp, extProc(headersOnly()), newUpstream(t, nil))
	require.Equal(t, 200, do(t, e, &Request{Method: "GET"}).Status)
	st := e.Stats()
	require.EqualValues(t, 0, st["clear_route_cache_ignored"])
	require.EqualValues(t, 0, st["clear_route_cache_disabled"])
}

// Route not found: 404 local reply with details route_not_found, not sent to the processor
// (item 99).
func TestRouteNotFound(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(headersOnly()), u, func(c *Config) {
		c.Routes = []Route{{Name: "only-v1", PathPrefix: "/v1/", Cluster: "backend"}}
	})
	resp := do(t, e, &Request{Method: "GET", Path: "/v2/x"})
	require.Equal(t, 404, resp.Status)
	require.Equal(t, "route_not_found", resp.Details)
	require.Equal(t, []string{"request_headers"}, kinds(fp.allStreams()[0].messages()))
	require.Equal(t, 200, do(t, e, &Request{Method: "GET", Path: "/v1/x"}).Status)
}

func upstreamExtProc(mods ...func(*extprocv3.ExternalProcessor)) *extprocv3.ExternalProcessor {
	c := &extprocv3.ExternalProcessor{
		GrpcService:       grpcService(),
		RequestAttributes: []string{"xds.upstream_host_metadata", "xds.cluster_name", "xds.cluster_metadata", "xds.upstream_host_metadata.filter_metadata['llm_router']['backend']"},
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:  extprocv3.ProcessingMode_SEND,
			RequestBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseHeaderMode: extprocv3.ProcessingMode_SKIP,
		},
		MetadataOptions: &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{"llm_router"}}},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// Items 97, 81 and retries: each attempt gets its own upstream-filter stream that learns the
// chosen host from request_attributes (encoded as Envoy does: the Metadata message as a
// text-format string, the way Envoy AI Gateway parses it with prototext); retries walk the
// priority levels with previous_priorities; clear_route_cache is ignored upstream.
func TestItem97_UpstreamFilterPerAttemptWithPriorityRetry(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	fp := newFakeProc(t, func(ps *procStream) error {
		first := ps.recv()
		attrs := first.GetAttributes()[attrKey]
		if attrs == nil { // router-level stream
			ps.send(continueFor(first))
			return ps.serveDefault()
		}
		var md corev3.Metadata
		require.NoError(t, prototext.Unmarshal([]byte(attrs.GetFields()["xds.upstream_host_metadata"].GetStringValue()), &md))
		backend := md.GetFilterMetadata()["llm_router"].GetFields()["backend"].GetStringValue()
		require.Equal(t, backend, attrs.GetFields()["xds.upstream_host_metadata.filter_metadata['llm_router']['backend']"].GetStringValue())
		require.Equal(t, "providers", attrs.GetFields()["xds.cluster_name"].GetStringValue())
		auth, _ := headerValue(first.GetRequestHeaders().GetHeaders(), ":authority")
		mu.Lock()
		seen = append(seen, backend+"@"+auth)
		mu.Unlock()
		ps.send(reqHeadersResp(&extprocsvc.CommonResponse{
			Status:          extprocsvc.CommonResponse_CONTINUE_AND_REPLACE,
			HeaderMutation:  setH("authorization", "Bearer key-"+backend),
			BodyMutation:    bodyMut(`{"for":"` + backend + `"}`),
			ClearRouteCache: true,
		}))
		return ps.serveDefault()
	})
	good := newUpstream(t, nil)
	bad := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	e, err := New(Config{
		RouterFilter: extProc(),
		Processor:    fp.conn,
		Routes: []Route{{Name: "r", Cluster: "providers", Retry: &RetryPolicy{
			NumRetries: 3, RetryOn: []string{"connect-failure", "5xx"}, PreviousPriorities: true, BaseInterval: time.Millisecond,
		}}},
		Clusters: []Cluster{{Name: "providers", UpstreamFilter: upstreamExtProc(), Endpoints: []Endpoint{
			{Address: closedAddr(t), Hostname: "p0.example", Priority: 0, Metadata: hostMeta("dead")},
			{Address: bad.URL, Hostname: "p1.example", Priority: 1, Metadata: hostMeta("overloaded")},
			{Address: good.URL, Hostname: "p2.example", Priority: 2, Metadata: hostMeta("healthy")},
		}}},
	})
	require.NoError(t, err)
	defer e.Close()
	var entry AccessLogEntry
	e.cfg.AccessLog = func(a AccessLogEntry) { entry = a }
	resp := do(t, e, post(`{"model":"m"}`))
	require.Equal(t, 200, resp.Status)
	require.Equal(t, []string{"dead@p0.example", "overloaded@p1.example", "healthy@p2.example"}, seen)
	require.Equal(t, `{"for":"healthy"}`, good.requests()[0].body)
	require.Equal(t, "Bearer key-healthy", good.requests()[0].header.Get("Authorization"))
	require.Equal(t, "p2.example", good.requests()[0].host)
	require.Equal(t, `{"for":"overloaded"}`, bad.requests()[0].body)
	require.Equal(t, 3, entry.Attempts)
	st := e.Stats()
	require.EqualValues(t, 2, st["upstream_rq_retry"])
	require.EqualValues(t, 3, st["ext_proc.upstream.streams_started"])
	require.EqualValues(t, 3, st["clear_route_cache_upstream_ignored"])
	require.EqualValues(t, 1, st["upstream_cx_connect_fail"])
}

// Item 98: an immediate_response from the upstream filter goes downstream and is not retried.
func TestItem98_UpstreamImmediateResponseNotRetried(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		first := ps.recv()
		if first.GetAttributes() == nil {
			ps.send(continueFor(first))
			return ps.serveDefault()
		}
		ps.send(immediate(401, `{"error":"bad upstream key"}`, "upstream auth"))
		return ps.drain()
	})
	u := newUpstream(t, nil)
	e, err := New(Config{
		RouterFilter: extProc(),
		Processor:    fp.conn,
		Routes:       []Route{{Name: "r", Cluster: "c", Retry: &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx", "retriable-status-codes"}, RetriableStatusCodes: []uint32{401}}}},
		Clusters:     []Cluster{{Name: "c", UpstreamFilter: upstreamExtProc(), Endpoints: []Endpoint{{Address: u.URL}}}},
	})
	require.NoError(t, err)
	defer e.Close()
	resp := do(t, e, post(`{}`))
	require.Equal(t, 401, resp.Status)
	require.Equal(t, `{"error":"bad upstream key"}`, string(resp.Body))
	require.Equal(t, "upstream_auth", resp.Details)
	require.Equal(t, 0, u.callCount())
	require.EqualValues(t, 0, e.Stats()["upstream_rq_retry"])
	// Item 99: the local reply is not sent to the router-level processor.
	for _, ps := range fp.allStreams() {
		require.NotContains(t, kinds(ps.messages()), "response_headers")
	}
}

// Retry exhaustion: the last real upstream response goes through router-level response
// processing; a reset ends in a 503 local reply that does not (item 99).
func TestRetryExhaustion(t *testing.T) {
	t.Run("last 5xx response is processed", func(t *testing.T) {
		fp := newFakeProc(t, nil)
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			_, _ = io.WriteString(w, "busy")
		})
		e := harnessFor(t, fp, extProc(), u, func(c *Config) {
			c.Routes[0].Retry = &RetryPolicy{NumRetries: 2, RetryOn: []string{"retriable-status-codes"}, RetriableStatusCodes: []uint32{429}, BaseInterval: time.Millisecond}
		})
		resp := do(t, e, post(`{}`))
		require.Equal(t, 429, resp.Status)
		require.Equal(t, "busy", string(resp.Body))
		require.Equal(t, 3, u.callCount())
		require.Equal(t, []string{"request_headers", "request_body", "response_headers", "response_body"}, kinds(fp.allStreams()[0].messages()))
		st := e.Stats()
		require.EqualValues(t, 2, st["upstream_rq_retry"])
		require.EqualValues(t, 1, st["upstream_rq_retry_limit_exceeded"])
	})
	t.Run("connect failure local reply", func(t *testing.T) {
		fp := newFakeProc(t, nil)
		var entry AccessLogEntry
		e, err := New(Config{
			RouterFilter: extProc(),
			Processor:    fp.conn,
			Routes:       []Route{{Name: "r", Cluster: "c", Retry: &RetryPolicy{NumRetries: 1, RetryOn: []string{"connect-failure"}}}},
			Clusters:     []Cluster{{Name: "c", Endpoints: []Endpoint{{Address: closedAddr(t)}}}},
			AccessLog:    func(a AccessLogEntry) { entry = a },
		})
		require.NoError(t, err)
		resp := do(t, e, post(`{}`))
		require.Equal(t, 503, resp.Status)
		require.True(t, strings.HasPrefix(string(resp.Body), "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: "), string(resp.Body))
		require.True(t, strings.HasPrefix(resp.Details, "upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_"), resp.Details)
		require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		require.Equal(t, []string{"request_headers", "request_body"}, kinds(fp.allStreams()[0].messages()))
		require.Equal(t, 2, entry.Attempts)
		require.Contains(t, entry.ResponseFlags, "UF")
		require.Contains(t, entry.ResponseFlags, "URX")
	})
	t.Run("reset before headers without retry policy", func(t *testing.T) {
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		})
		e := harnessFor(t, nil, nil, u)
		resp := do(t, e, &Request{Method: "GET"})
		require.Equal(t, 503, resp.Status)
		require.Equal(t, "upstream connect error or disconnect/reset before headers. reset reason: connection termination", string(resp.Body))
		require.Equal(t, "upstream_reset_before_response_started{connection_termination}", resp.Details)
	})
}

// Route and per-try timeouts: 504 "upstream request timeout"; a per-try timeout is retried.
func TestTimeouts(t *testing.T) {
	t.Run("route timeout", func(t *testing.T) {
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		})
		e := harnessFor(t, nil, nil, u, func(c *Config) { c.Routes[0].Timeout = 100 * time.Millisecond })
		resp := do(t, e, &Request{Method: "GET"})
		require.Equal(t, 504, resp.Status)
		require.Equal(t, "upstream request timeout", string(resp.Body))
		require.Equal(t, "upstream_response_timeout", resp.Details)
		require.EqualValues(t, 1, e.Stats()["upstream_rq_timeout"])
	})
	t.Run("per-try timeout retried", func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			if first {
				select {
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
				return
			}
			_, _ = io.WriteString(w, "second")
		})
		e := harnessFor(t, nil, nil, u, func(c *Config) {
			c.Routes[0].Retry = &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, PerTryTimeout: 100 * time.Millisecond, BaseInterval: time.Millisecond}
		})
		resp := do(t, e, &Request{Method: "GET"})
		require.Equal(t, 200, resp.Status)
		require.Equal(t, "second", string(resp.Body))
		require.EqualValues(t, 1, e.Stats()["upstream_rq_per_try_timeout"])
	})
	t.Run("per-try timeout exhausted", func(t *testing.T) {
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		e := harnessFor(t, nil, nil, u, func(c *Config) {
			c.Routes[0].Retry = &RetryPolicy{PerTryTimeout: 50 * time.Millisecond}
		})
		resp := do(t, e, &Request{Method: "GET"})
		require.Equal(t, 504, resp.Status)
		require.Equal(t, "upstream_per_try_timeout", resp.Details)
	})
}

// Upstream HTTP: hop-by-hop headers stripped, auto host rewrite, trailers, no Go User-Agent.
func TestUpstreamRequestShape(t *testing.T) {
	u := newUpstream(t, nil)
	e := harnessFor(t, nil, nil, u, func(c *Config) { c.Clusters[0].Endpoints[0].Hostname = "api.provider.example" })
	resp := do(t, e, &Request{Method: "POST", Path: "/v1/x?y=1", Header: http.Header{"Connection": {"x-drop"}, "X-Drop": {"1"}, "Te": {"trailers"}, "X-Keep": {"2"}},
		Body: strings.NewReader("body"), Trailer: http.Header{"X-Sum": {"9"}}})
	require.Equal(t, 200, resp.Status)
	r := u.requests()[0]
	require.Equal(t, "/v1/x?y=1", r.path)
	require.Equal(t, "api.provider.example", r.host)
	require.Equal(t, "body", r.body)
	require.Equal(t, "9", r.trailer.Get("X-Sum"))
	require.Equal(t, "2", r.header.Get("X-Keep"))
	require.Empty(t, r.header.Get("X-Drop"))
	require.Empty(t, r.header.Get("User-Agent"))
	require.NotEmpty(t, r.header.Get("X-Request-Id"))
}
