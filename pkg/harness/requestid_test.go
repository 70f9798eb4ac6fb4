package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

// always_set_request_id_in_response is emulated from Envoy's source:
//   - source/common/http/conn_manager_impl.cc, ActiveStream::encodeHeaders: every
//     response reaches it after the last encoder filter (a local reply through
//     FilterManager::sendLocalReplyViaFilterChain, the CORS filter's preflight answer
//     through decoder_callbacks_->encodeHeaders), and it calls
//     ConnectionManagerUtility::mutateResponseHeaders with the stream's request headers;
//   - source/common/http/conn_manager_utility.cc, mutateResponseHeaders:
//     `request_headers != nullptr && (config.alwaysSetRequestIdInResponse() ||
//     request_headers->EnvoyForceTrace())` → requestIDExtension()->setInResponse;
//   - source/extensions/request_id/uuid/config.cc, UUIDRequestIDExtension::setInResponse:
//     `if (request_headers.RequestId()) response_headers.setRequestId(...)`: a set, so
//     an x-request-id the upstream sent is replaced, and nothing happens without one.
//
// Because it runs after the encoder filters, the router-level processor's
// response_headers never contain it (unless the upstream sent one).

// idProc continues everything, except: :path /deny gets an immediate 401, and a request
// with x-rewrite-id has its x-request-id set to that value.
func idProc(ps *procStream) error {
	for m := range ps.in {
		if rh := m.GetRequestHeaders(); rh != nil {
			if p, _ := headerValue(rh.GetHeaders(), ":path"); p == "/deny" {
				ps.send(immediate(401, `{"error":"no key"}`, "unauthenticated"))
				return ps.drain()
			}
			if id, ok := headerValue(rh.GetHeaders(), "x-rewrite-id"); ok {
				ps.send(reqHeadersResp(&extprocsvc.CommonResponse{HeaderMutation: setH("x-request-id", id)}))
				continue
			}
		}
		ps.send(continueFor(m))
	}
	return nil
}

func withID(r *Request, id string) *Request {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("X-Request-Id", id)
	return r
}

func TestAlwaysSetRequestIDInResponse(t *testing.T) {
	sse := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"} {
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	}
	providerError := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_provider")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"message":"slow down","type":"requests"}}`)
	}
	tests := []struct {
		name   string
		off    bool // AlwaysSetRequestIDInResponse false (Envoy's default)
		mode   func(*extprocv3.ExternalProcessor)
		up     http.HandlerFunc
		mods   func(*Config)
		req    *Request
		status int
		// want is the response's x-request-id: "" for the request's own (as the access
		// log records the final request headers), "-" for none, else that value.
		want string
	}{
		{
			name: "proxied answer carries the caller's id",
			req:  withID(post(`{}`), "caller-1"), status: 200, want: "caller-1",
		},
		{
			// generate_request_id (default true) created one before the filters; the
			// answer carries that one.
			name: "generated id when the caller sent none",
			req:  post(`{}`), status: 200,
		},
		{
			// setInResponse is setRequestId: the provider's own id is replaced.
			name: "provider error passed through: its id is replaced",
			up:   providerError, req: withID(post(`{}`), "caller-2"), status: 429, want: "caller-2",
		},
		{
			name: "streamed answer",
			mode: withMode(extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_STREAMED),
			up:   sse, req: withID(post(`{}`), "caller-3"), status: 200, want: "caller-3",
		},
		{
			// An immediate response is a local reply: it reaches ActiveStream::encodeHeaders
			// like any other response.
			name: "processor's immediate response",
			req:  withID(&Request{Method: "GET", Path: "/deny"}, "caller-4"), status: 401, want: "caller-4",
		},
		{
			name: "route_not_found local reply",
			mods: func(c *Config) { c.Routes = []Route{{Name: "v2", PathPrefix: "/v2/", Cluster: "backend"}} },
			req:  withID(post(`{}`), "caller-5"), status: 404, want: "caller-5",
		},
		{
			// The CORS filter answers with decoder_callbacks_->encodeHeaders, which ends in
			// ActiveStream::encodeHeaders too.
			name: "CORS preflight answer",
			mods: func(c *Config) { c.CORS = corsTestPolicy() },
			req:  withID(preflight(appOrigin, "/v1/chat/completions"), "caller-6"), status: 200, want: "caller-6",
		},
		{
			// The request headers as the decoder filters left them.
			name: "id rewritten by the processor",
			req:  withID(withHeader(post(`{}`), "X-Rewrite-Id", "proc-1"), "caller-7"), status: 200, want: "proc-1",
		},
		{
			name: "off: the proxied answer has none",
			off:  true, req: withID(post(`{}`), "caller-8"), status: 200, want: "-",
		},
		{
			name: "off: the provider's id passes through",
			off:  true, up: providerError, req: withID(post(`{}`), "caller-9"), status: 429, want: "req_provider",
		},
		{
			name: "off: local reply has none",
			off:  true, req: withID(&Request{Method: "GET", Path: "/deny"}, "caller-10"), status: 401, want: "-",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakeProc(t, idProc)
			rf := extProc()
			if tt.mode != nil {
				rf = extProc(tt.mode)
			}
			var logged AccessLogEntry
			e := harnessFor(t, fp, rf, newUpstream(t, tt.up), func(c *Config) {
				c.AlwaysSetRequestIDInResponse = !tt.off
				c.AccessLog = func(a AccessLogEntry) { logged = a }
				if tt.mods != nil {
					tt.mods(c)
				}
			})
			resp := do(t, e, tt.req)
			require.Equal(t, tt.status, resp.Status, "body %s", resp.Body)
			reqID := logged.RequestHeaders.Get("X-Request-Id")
			require.NotEmpty(t, reqID)
			switch tt.want {
			case "":
				require.Equal(t, []string{reqID}, resp.Header.Values("X-Request-Id"))
			case "-":
				require.Empty(t, resp.Header.Values("X-Request-Id"))
			default:
				require.Equal(t, []string{tt.want}, resp.Header.Values("X-Request-Id"))
			}
			require.Equal(t, resp.Header.Values("X-Request-Id"), logged.ResponseHeaders.Values("X-Request-Id"),
				"the access log sees the response as sent")
		})
	}
}

func withHeader(r *Request, k, v string) *Request {
	r.Header.Set(k, v)
	return r
}

// The id is set after the encoder filters: the processor's response_headers do not
// carry it, the client's response does, over HTTP as through Do.
func TestRequestIDAddedAfterTheProcessor(t *testing.T) {
	fp := newFakeProc(t, nil)
	e := harnessFor(t, fp, extProc(), newUpstream(t, nil), func(c *Config) { c.AlwaysSetRequestIDInResponse = true })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "caller-http")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"caller-http"}, resp.Header.Values("X-Request-Id"))
	require.Len(t, fp.allStreams(), 1)
	var seen int
	for _, m := range fp.allStreams()[0].messages() {
		if rh := m.GetResponseHeaders(); rh != nil {
			seen++
			_, has := headerValue(rh.GetHeaders(), "x-request-id")
			require.False(t, has, "the processor sees the response before the HCM sets the id")
		}
	}
	require.Equal(t, 1, seen, "one response_headers message")
}
