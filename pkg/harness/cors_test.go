package harness

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The CORS filter is emulated from Envoy's source/extensions/filters/http/cors/cors_filter.cc
// (CorsFilter::decodeHeaders, encodeHeaders, isOriginAllowed, forwardNotMatchingPreflights)
// and test/extensions/filters/http/cors/cors_filter_integration_test.cc. Citations below
// name the function and the condition in it.

const appOrigin = "https://app.example.com"

// corsTestPolicy is the shape of envoyconfig.CORSPolicy with one explicit origin and
// credentials.
func corsTestPolicy(mods ...func(*corsv3.CorsPolicy)) *corsv3.CorsPolicy {
	p := &corsv3.CorsPolicy{
		AllowOriginStringMatch: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: appOrigin}, IgnoreCase: true}},
		AllowMethods:           "GET, POST, OPTIONS",
		AllowHeaders:           "authorization, content-type",
		ExposeHeaders:          "x-request-id, retry-after",
		MaxAge:                 "600",
		AllowCredentials:       wrapperspb.Bool(true),
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// corsProc continues everything, except that request headers for :path /deny get an
// immediate 401 (as the gateway answers a missing key).
func corsProc(ps *procStream) error {
	for m := range ps.in {
		if rh := m.GetRequestHeaders(); rh != nil {
			if p, _ := headerValue(rh.GetHeaders(), ":path"); p == "/deny" {
				ps.send(immediate(401, `{"error":"no key"}`, "unauthenticated"))
				return ps.drain()
			}
		}
		ps.send(continueFor(m))
	}
	return nil
}

func preflight(origin, path string, extra ...string) *Request {
	h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	if origin == "" {
		h.Del("Origin")
	}
	return &Request{Method: "OPTIONS", Path: path, Header: h}
}

func withOrigin(r *Request, origin string) *Request {
	r.Header.Set("Origin", origin)
	return r
}

func TestCORS(t *testing.T) {
	noCORS := map[string]string{
		"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Access-Control-Expose-Headers": "",
		"Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "", "Access-Control-Max-Age": "",
	}
	simple := map[string]string{ // encodeHeaders on a CORS request from an allowed origin
		"Access-Control-Allow-Origin": appOrigin, "Access-Control-Allow-Credentials": "true",
		"Access-Control-Expose-Headers": "x-request-id, retry-after",
		"Access-Control-Allow-Methods":  "", "Access-Control-Max-Age": "",
	}
	tests := []struct {
		name    string
		policy  *corsv3.CorsPolicy // nil: no CORS filter
		routes  []Route            // nil: one catch-all route to "backend"
		req     *Request
		status  int
		headers map[string]string // "" = absent
		details string            // %RESPONSE_CODE_DETAILS%, when checked
		proc    []string          // message kinds the processor received
		up      int               // upstream calls
	}{
		{
			// decodeHeaders: OPTIONS + Origin + Access-Control-Request-Method is a preflight;
			// from an allowed origin it is answered with 200 and allow-origin (the request's
			// Origin), allow-credentials, allow-methods, allow-headers, max-age, through
			// decoder_callbacks_->encodeHeaders(..., "cors_response") and StopIteration: the
			// request never reaches ext_proc or the router. That answer is encoded through the
			// whole encoder chain (ActiveStreamDecoderFilter::encodeHeaders →
			// FilterManager::encodeHeaders(nullptr, ...) from the first encoder filter), so
			// ext_proc sees it as a response_headers message (not a local reply: onLocalReply
			// is not called, item 99 does not apply), and the CORS filter's own encodeHeaders
			// adds expose-headers (integration test TestRouteConfigSuccess, 2019 version).
			name: "preflight from an allowed origin is answered", policy: corsTestPolicy(),
			req: preflight(appOrigin, "/v1/chat/completions", "Access-Control-Request-Headers", "authorization,content-type"), status: 200,
			headers: map[string]string{
				"Access-Control-Allow-Origin": appOrigin, "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
				"Access-Control-Allow-Headers": "authorization, content-type", "Access-Control-Max-Age": "600",
				"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "x-request-id, retry-after",
			},
			details: "cors_response", proc: []string{"response_headers"},
		},
		{
			// isOriginAllowed uses the StringMatcher; ignore_case makes the match
			// case-insensitive, and allow-origin echoes the Origin as sent.
			name: "origin matched without case", policy: corsTestPolicy(),
			req: preflight("HTTPS://APP.example.com", "/"), status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": "HTTPS://APP.example.com"},
			proc:    []string{"response_headers"},
		},
		{
			// decodeHeaders: `!origin_allowed && forwardNotMatchingPreflights()` → Continue;
			// forward_not_matching_preflights defaults to true. encodeHeaders: latched_origin_
			// empty → the response is untouched.
			name: "preflight from another origin goes down the chain", policy: corsTestPolicy(),
			req: preflight("https://evil.example", "/v1/chat/completions"), status: 200, headers: noCORS,
			proc: []string{"request_headers", "response_headers", "response_body"}, up: 1,
		},
		{
			// forward_not_matching_preflights false: answered with 200 without allow-origin;
			// allow-credentials is set whenever the policy allows them.
			name: "preflight from another origin answered when not forwarded",
			policy: corsTestPolicy(func(p *corsv3.CorsPolicy) {
				p.ForwardNotMatchingPreflights = wrapperspb.Bool(false)
			}),
			req: preflight("https://evil.example", "/"), status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Expose-Headers": ""},
			proc:    []string{"response_headers"},
		},
		{
			// decodeHeaders: OPTIONS without Access-Control-Request-Method is no preflight
			// (Continue), but is_cors_request_ is set, so encodeHeaders decorates the answer.
			name: "OPTIONS without request method is forwarded", policy: corsTestPolicy(),
			req:    &Request{Method: "OPTIONS", Path: "/", Header: http.Header{"Origin": {appOrigin}}},
			status: 200, headers: simple, proc: []string{"request_headers", "response_headers", "response_body"}, up: 1,
		},
		{
			// encodeHeaders: allow-origin (latched), allow-credentials, expose-headers on the
			// upstream response.
			name: "request from an allowed origin", policy: corsTestPolicy(),
			req: withOrigin(post(`{}`), appOrigin), status: 200, headers: simple,
			proc: []string{"request_headers", "request_body", "response_headers", "response_body"}, up: 1,
		},
		{
			// An immediate response is a local reply (sendLocalReply), encoded through every
			// encoder filter from the first (FilterManager::sendLocalReplyViaFilterChain →
			// encodeHeaders(nullptr, ...)), the CORS filter included.
			name: "processor's immediate response gets the headers", policy: corsTestPolicy(),
			req:    &Request{Method: "GET", Path: "/deny", Header: http.Header{"Origin": {appOrigin}}},
			status: 401, headers: simple, proc: []string{"request_headers"},
		},
		{
			// decodeHeaders: no Origin (or an empty one) → Continue; nothing is latched.
			name: "request without origin", policy: corsTestPolicy(),
			req: post(`{}`), status: 200, headers: noCORS,
			proc: []string{"request_headers", "request_body", "response_headers", "response_body"}, up: 1,
		},
		{
			name: "request from another origin", policy: corsTestPolicy(),
			req: withOrigin(post(`{}`), "https://evil.example"), status: 200, headers: noCORS,
			proc: []string{"request_headers", "request_body", "response_headers", "response_body"}, up: 1,
		},
		{
			name: "preflight without origin is no preflight", policy: corsTestPolicy(),
			req: preflight("", "/"), status: 200, headers: noCORS,
			proc: []string{"request_headers", "response_headers", "response_body"}, up: 1,
		},
		{
			name: "no CORS filter", policy: nil,
			req: preflight(appOrigin, "/"), status: 200, headers: noCORS,
			proc: []string{"request_headers", "response_headers", "response_body"}, up: 1,
		},
		{
			// decodeHeaders: `route() == nullptr || route()->routeEntry() == nullptr` →
			// Continue. Without a route the preflight reaches the processor and the router,
			// which answers 404 (route_not_found) with no CORS headers.
			name: "no route: the filter does nothing", policy: corsTestPolicy(),
			routes: []Route{{Name: "v1", PathPrefix: "/v1/", Cluster: "backend"}},
			req:    preflight(appOrigin, "/other"), status: 404, headers: noCORS, details: "route_not_found",
			proc: []string{"request_headers"},
		},
		{
			// A cluster_header route is a route entry, so the CORS filter acts; the router
			// then finds no cluster and answers cluster_not_found_response_code (a local
			// reply, decorated like any other).
			name: "catch-all cluster_header route: request", policy: corsTestPolicy(),
			routes: []Route{{Name: "not_found", ClusterHeader: "x-unrouted", ClusterNotFoundStatus: 404}},
			req:    withOrigin(post(`{}`), appOrigin), status: 404, headers: simple, details: "cluster_not_found",
			proc: []string{"request_headers", "request_body"},
		},
		{
			name: "catch-all cluster_header route: preflight", policy: corsTestPolicy(),
			routes: []Route{{Name: "not_found", ClusterHeader: "x-unrouted", ClusterNotFoundStatus: 404}},
			req:    preflight(appOrigin, "/v1/chat/completions"), status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Max-Age": "600"},
			details: "cors_response", proc: []string{"response_headers"},
		},
		{
			// "*" in allow_methods / allow_headers echoes the preflight's request method and
			// request headers; isOriginAllowed tries each matcher on "*" first, so ".*"
			// allows every origin.
			name: "wildcards echo the request",
			policy: corsTestPolicy(func(p *corsv3.CorsPolicy) {
				p.AllowOriginStringMatch = []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}}
				p.AllowMethods, p.AllowHeaders, p.MaxAge, p.AllowCredentials = "*", "*", "", nil
			}),
			req: preflight("http://localhost:3000", "/", "Access-Control-Request-Headers", "x-custom"), status: 200,
			headers: map[string]string{
				"Access-Control-Allow-Origin": "http://localhost:3000", "Access-Control-Allow-Methods": "POST",
				"Access-Control-Allow-Headers": "x-custom", "Access-Control-Max-Age": "", "Access-Control-Allow-Credentials": "",
			},
			proc: []string{"response_headers"},
		},
		{
			// Private network access: allowed only when asked for and configured.
			name: "private network access",
			policy: corsTestPolicy(func(p *corsv3.CorsPolicy) {
				p.AllowPrivateNetworkAccess = wrapperspb.Bool(true)
			}),
			req: preflight(appOrigin, "/", "Access-Control-Request-Private-Network", "true"), status: 200,
			headers: map[string]string{"Access-Control-Allow-Private-Network": "true"},
			proc:    []string{"response_headers"},
		},
		{
			// filter_enabled at 0%: `!enabled() && !shadowEnabled()` → Continue.
			name: "filter disabled",
			policy: corsTestPolicy(func(p *corsv3.CorsPolicy) {
				p.FilterEnabled = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 0}}
			}),
			req: preflight(appOrigin, "/"), status: 200, headers: noCORS,
			proc: []string{"request_headers", "response_headers", "response_body"}, up: 1,
		},
		{
			// shadow_enabled alone: the origin is checked (stats) but nothing is enforced:
			// `shadowEnabled() && !enabled()` → Continue before is_cors_request_ is set.
			name: "shadow mode",
			policy: corsTestPolicy(func(p *corsv3.CorsPolicy) {
				p.FilterEnabled = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 0}}
				p.ShadowEnabled = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}}
			}),
			req: withOrigin(post(`{}`), appOrigin), status: 200, headers: noCORS,
			proc: []string{"request_headers", "request_body", "response_headers", "response_body"}, up: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakeProc(t, corsProc)
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(), u, func(c *Config) {
				c.CORS = tt.policy
				if tt.routes != nil {
					c.Routes = tt.routes
				}
			})
			resp := do(t, e, tt.req)
			require.Equal(t, tt.status, resp.Status, "body %s", resp.Body)
			for k, v := range tt.headers {
				if v == "" {
					require.NotContains(t, resp.Header, http.CanonicalHeaderKey(k))
					continue
				}
				require.Equal(t, []string{v}, resp.Header.Values(k), k)
			}
			if tt.details != "" {
				require.Equal(t, tt.details, resp.Details)
			}
			var got []string
			for _, ps := range fp.allStreams() {
				got = append(got, kinds(ps.messages())...)
			}
			require.Equal(t, tt.proc, got, "messages the processor received")
			require.Equal(t, tt.up, u.callCount(), "upstream calls")
		})
	}
}

// The preflight answer reaches the processor as response headers with end_of_stream
// (ext_proc's encodeHeaders runs for it, having never seen the request), and the
// processor may still change it; the CORS filter decorates what comes out.
func TestCORSPreflightResponseThroughProcessor(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		require.Equal(t, "response_headers", kind(m))
		require.True(t, m.GetResponseHeaders().GetEndOfStream())
		st, _ := headerValue(m.GetResponseHeaders().GetHeaders(), ":status")
		require.Equal(t, "200", st)
		ao, _ := headerValue(m.GetResponseHeaders().GetHeaders(), "access-control-allow-origin")
		require.Equal(t, appOrigin, ao, "the CORS filter's answer, before its own encodeHeaders")
		_, exposed := headerValue(m.GetResponseHeaders().GetHeaders(), "access-control-expose-headers")
		require.False(t, exposed, "added later, by the CORS filter's encodeHeaders")
		ps.send(respHeadersResp(&extprocsvc.CommonResponse{HeaderMutation: setH("x-seen", "1")}))
		return ps.drain()
	})
	var logged AccessLogEntry
	e := harnessFor(t, fp, extProc(), newUpstream(t, nil), func(c *Config) {
		c.CORS = corsTestPolicy()
		c.AccessLog = func(a AccessLogEntry) { logged = a }
	})
	resp := do(t, e, preflight(appOrigin, "/v1/chat/completions"))
	require.Equal(t, 200, resp.Status)
	require.Equal(t, "1", resp.Header.Get("X-Seen"))
	require.Equal(t, "x-request-id, retry-after", resp.Header.Get("Access-Control-Expose-Headers"))
	require.Equal(t, "cors_response", logged.ResponseCodeDetails)
	require.Equal(t, appOrigin, logged.ResponseHeaders.Get("Access-Control-Allow-Origin"))
	require.EqualValues(t, 1, e.Stats()["cors.origin_valid"])
}

// Over HTTP a browser-like exchange works end to end: the preflight needs no key, the
// actual request carries the origin and gets the headers.
func TestCORSOverHTTP(t *testing.T) {
	fp := newFakeProc(t, corsProc)
	e := harnessFor(t, fp, extProc(), newUpstream(t, nil), func(c *Config) { c.CORS = corsTestPolicy() })
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	srv := hs.URL

	req, _ := http.NewRequest(http.MethodOptions, srv+"/v1/chat/completions", nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, appOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "GET, POST, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))

	req, _ = http.NewRequest(http.MethodPost, srv+"/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Origin", appOrigin)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, appOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
}

func TestCORSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		policy      *corsv3.CorsPolicy
		notEmulated bool
	}{
		{"invalid regex", corsTestPolicy(func(p *corsv3.CorsPolicy) {
			p.AllowOriginStringMatch = []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "("}}}}
		}), false},
		{"proto validation", corsTestPolicy(func(p *corsv3.CorsPolicy) {
			p.AllowOriginStringMatch = []*matcherv3.StringMatcher{{}}
		}), false},
		{"fraction of requests", corsTestPolicy(func(p *corsv3.CorsPolicy) {
			p.FilterEnabled = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 50}}
		}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{CORS: tc.policy})
			require.Error(t, err)
			require.Equal(t, tc.notEmulated, errors.Is(err, ErrNotEmulated), "%v", err)
		})
	}
	p := corsTestPolicy()
	_, err := New(Config{CORS: p})
	require.NoError(t, err)
	require.True(t, proto.Equal(corsTestPolicy(), p), "the policy is not modified")
}

// cluster_header routes: the router takes the cluster from the header; a missing or
// unknown one is cluster_not_found_response_code with flag NC (router.cc decodeHeaders:
// `!cluster` → NoClusterFound, details cluster_not_found).
func TestClusterHeaderRoute(t *testing.T) {
	u := newUpstream(t, nil)
	var logged AccessLogEntry
	e := harnessFor(t, nil, nil, u, func(c *Config) {
		c.Routes = []Route{{Name: "dyn", ClusterHeader: "X-Cluster"}}
		c.AccessLog = func(a AccessLogEntry) { logged = a }
	})
	resp := do(t, e, &Request{Method: "GET", Path: "/", Header: http.Header{"X-Cluster": {"backend"}}})
	require.Equal(t, 200, resp.Status)
	require.Equal(t, "backend", logged.Cluster)
	resp = do(t, e, &Request{Method: "GET", Path: "/", Header: http.Header{"X-Cluster": {"nope"}}})
	require.Equal(t, 503, resp.Status, "Envoy's default cluster_not_found_response_code")
	require.Equal(t, "cluster_not_found", resp.Details)
	require.Equal(t, []string{"NC"}, logged.ResponseFlags)
	require.Equal(t, 1, u.callCount())
	require.EqualValues(t, 1, e.Stats()["no_cluster"])

	// internal_only_headers are stripped from downstream requests before any filter
	// (ConnectionManagerUtility::mutateRequestHeaders), so a caller cannot pick a cluster.
	e = harnessFor(t, nil, nil, u, func(c *Config) {
		c.Routes = []Route{{Name: "dyn", ClusterHeader: "x-cluster", ClusterNotFoundStatus: 404}}
		c.InternalOnlyHeaders = []string{"X-Cluster"}
	})
	resp = do(t, e, &Request{Method: "GET", Path: "/", Header: http.Header{"X-Cluster": {"backend"}}})
	require.Equal(t, 404, resp.Status)
	require.Equal(t, 1, u.callCount())

	for _, r := range []Route{
		{Name: "both", Cluster: "backend", ClusterHeader: "x"},
		{Name: "bad header", ClusterHeader: "a b"},
		{Name: "bad status", ClusterHeader: "x", ClusterNotFoundStatus: 418},
	} {
		_, err := New(Config{Routes: []Route{r}, Clusters: []Cluster{{Name: "backend", Endpoints: []Endpoint{{Address: u.URL}}}}})
		require.Error(t, err, r.Name)
	}
}
