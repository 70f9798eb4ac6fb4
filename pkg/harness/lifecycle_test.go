package harness

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Items 1, 2, 10: one bidi stream per HTTP request carries both directions; it is closed by
// Envoy (END_STREAM + reset, so the processor sees a cancellation), never half-closed early.
func TestItem1_OneStreamPerRequestBothDirections(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	for i := 0; i < 3; i++ {
		resp := do(t, e, post(`{"n":1}`))
		require.Equal(t, 200, resp.Status)
	}
	streams := fp.allStreams()
	require.Len(t, streams, 3)
	for _, ps := range streams {
		require.Equal(t, []string{"request_headers", "request_body", "response_headers", "response_body"}, kinds(ps.messages()))
		ps.waitEnd()
		require.True(t, ps.canceled, "item 10: processor sees a reset")
	}
	st := e.Stats()
	require.EqualValues(t, 3, st["streams_started"])
	require.EqualValues(t, 12, st["stream_msgs_sent"])
	require.EqualValues(t, 12, st["stream_msgs_received"])
}

// Item 1: with everything SKIP/NONE no stream is opened.
func TestItem1_NoStreamWhenNothingToSend(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.ProcessingMode = &extprocv3.ProcessingMode{RequestHeaderMode: extprocv3.ProcessingMode_SKIP, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP}
	}), u)
	resp := do(t, e, post(`{}`))
	require.Equal(t, 200, resp.Status)
	require.Empty(t, fp.allStreams())
	require.EqualValues(t, 0, e.Stats()["streams_started"])
}

// Item 3: end_of_stream on headers is true iff the headers end the message, and iteration
// stops until the processor answers (the upstream is not contacted before).
func TestItem3_HeadersEndOfStreamAndIterationStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *Request
		eos  bool
	}{
		{"get", &Request{Method: "GET", Path: "/v1/models"}, true},
		{"post", post(`{"a":1}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, nil)
			fp := newFakeProc(t, func(ps *procStream) error {
				m := ps.recv()
				require.Equal(t, tc.eos, m.GetRequestHeaders().GetEndOfStream())
				time.Sleep(50 * time.Millisecond)
				require.Equal(t, 0, u.callCount(), "upstream contacted before the headers response")
				ps.send(continueFor(m))
				return ps.serveDefault()
			})
			e := harnessFor(t, fp, extProc(), u)
			require.Equal(t, 200, do(t, e, tc.req).Status)
		})
	}
}

// Item 4: every header including pseudo-headers, lower-case keys, the value byte-for-byte in
// raw_value with value empty; :status on responses.
func TestItem4_HeaderEncoding(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Resp", "v")
		w.WriteHeader(201)
	})
	e := harnessFor(t, fp, extProc(headersOnly()), u)
	req := &Request{Method: "GET", Path: "/p?q=1", Authority: "api.example.com", Scheme: "https",
		Header: http.Header{"X-Mixed-Case": {"caf\xe9\xff"}, "Connection": {"keep-alive"}}}
	require.Equal(t, 201, do(t, e, req).Status)
	msgs := fp.allStreams()[0].messages()
	rh := msgs[0].GetRequestHeaders().GetHeaders()
	for _, h := range rh.GetHeaders() {
		require.Empty(t, h.GetValue(), "value must be empty for %s", h.GetKey())
		require.Equal(t, strings.ToLower(h.GetKey()), h.GetKey())
	}
	for k, want := range map[string]string{":method": "GET", ":path": "/p?q=1", ":authority": "api.example.com", ":scheme": "https", "x-mixed-case": "caf\xe9\xff", "x-forwarded-proto": "https"} {
		v, ok := headerValue(rh, k)
		require.True(t, ok, k)
		require.Equal(t, want, v, k)
	}
	_, ok := headerValue(rh, "connection")
	require.False(t, ok, "hop-by-hop headers are not forwarded")
	_, ok = headerValue(rh, "x-request-id")
	require.True(t, ok, "x-request-id generated like Envoy's HCM")
	st, _ := headerValue(msgs[1].GetResponseHeaders().GetHeaders(), ":status")
	require.Equal(t, "201", st)
	xr, _ := headerValue(msgs[1].GetResponseHeaders().GetHeaders(), "x-resp")
	require.Equal(t, "v", xr)
}

// Items 6, 7: protocol_config only on the first message; metadata_context on every message.
func TestItem6And7_ProtocolConfigAndMetadataContext(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_STREAMED)), u)
	require.Equal(t, 200, do(t, e, post(`{}`)).Status)
	msgs := fp.allStreams()[0].messages()
	require.GreaterOrEqual(t, len(msgs), 4)
	pc := msgs[0].GetProtocolConfig()
	require.NotNil(t, pc)
	require.Equal(t, extprocv3.ProcessingMode_BUFFERED, pc.GetRequestBodyMode())
	require.Equal(t, extprocv3.ProcessingMode_STREAMED, pc.GetResponseBodyMode())
	for i, m := range msgs {
		if i > 0 {
			require.Nil(t, m.GetProtocolConfig(), "message %d", i)
		}
		require.NotNil(t, m.GetMetadataContext(), "message %d", i)
	}
}

// Item 8: no processing_mode means request and response headers only.
func TestItem8_DefaultProcessingMode(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, &extprocv3.ExternalProcessor{GrpcService: grpcService()}, u)
	req := post(`{"x":1}`)
	req.Trailer = http.Header{"X-T": {"1"}}
	require.Equal(t, 200, do(t, e, req).Status)
	require.Equal(t, []string{"request_headers", "response_headers"}, kinds(fp.allStreams()[0].messages()))
	require.Equal(t, `{"x":1}`, u.requests()[0].body)
}

// Item 11: the stream is closed as soon as the last needed response arrives.
func TestItem11_StreamCloseOptimisation(t *testing.T) {
	t.Run("request headers of a GET with nothing on the response path", func(t *testing.T) {
		fp := newFakeProc(t, nil)
		var psEnded <-chan struct{}
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-psEnded:
			case <-time.After(2 * time.Second):
				t.Errorf("side stream still open while the request is upstream")
			}
		})
		e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
			c.ProcessingMode = &extprocv3.ProcessingMode{ResponseHeaderMode: extprocv3.ProcessingMode_SKIP}
		}), u)
		fp.setHandler(func(ps *procStream) error {
			psEnded = ps.ended
			return ps.serveDefault()
		})
		require.Equal(t, 200, do(t, e, &Request{Method: "GET"}).Status)
		require.EqualValues(t, 1, e.Stats()["streams_closed"])
	})
	t.Run("streamed response closes on the eos chunk response", func(t *testing.T) {
		fp := newFakeProc(t, nil)
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "data: 1\n\n") })
		e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u)
		closedBeforeEnd := make(chan bool, 1)
		fp.setHandler(func(ps *procStream) error {
			for m := range ps.in {
				ps.send(continueFor(m))
				if m.GetResponseBody().GetEndOfStream() {
					select {
					case <-ps.ended:
						closedBeforeEnd <- true
					case <-time.After(2 * time.Second):
						closedBeforeEnd <- false
					}
				}
			}
			return nil
		})
		require.Equal(t, "data: 1\n\n", string(do(t, e, &Request{Method: "GET"}).Body))
		require.True(t, <-closedBeforeEnd)
	})
	t.Run("buffered bodies are not closed early (item 12 closes at encodeHeaders)", func(t *testing.T) {
		fp := newFakeProc(t, nil)
		var ended <-chan struct{}
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-ended:
				t.Errorf("closed before the response headers")
			default:
			}
		})
		fp.setHandler(func(ps *procStream) error {
			ended = ps.ended
			return ps.serveDefault()
		})
		e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
			c.ProcessingMode = &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP}
		}), u)
		require.Equal(t, 200, do(t, e, post(`{}`)).Status)
		require.Equal(t, []string{"request_headers", "request_body"}, kinds(fp.allStreams()[0].messages()))
	})
}

// Item 13: a clean gRPC close ends processing for both directions, even fail-closed; the
// request continues unmodified and nothing more is sent.
func TestItem13_CleanCloseGivesUp(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.recv()
		return nil // OK status without answering
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	resp := do(t, e, post(`{"keep":1}`))
	require.Equal(t, 200, resp.Status)
	require.Equal(t, `{"keep":1}`, u.requests()[0].body)
	require.Len(t, fp.allStreams()[0].messages(), 1)
	require.EqualValues(t, 1, e.Stats()["streams_closed"])
}

// Items 14, 15, 27: a gRPC error is a status_on_error local reply (fail-closed) with details
// ext_proc_error_gRPC_error_<code>{<message>}, or a clean close with failure_mode_allow.
func TestItem14And15_GrpcError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mods     []func(*extprocv3.ExternalProcessor)
		status   int
		details  string
		upstream int
	}{
		{"fail-closed", nil, 500, "ext_proc_error_gRPC_error_13{boom_now}", 0},
		{"custom status_on_error", []func(*extprocv3.ExternalProcessor){func(c *extprocv3.ExternalProcessor) { c.StatusOnError = statusCode(503) }}, 503, "ext_proc_error_gRPC_error_13{boom_now}", 0},
		{"fail-open", []func(*extprocv3.ExternalProcessor){failOpen}, 200, "via_upstream", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				ps.recv()
				return status.Error(codes.Internal, "boom now")
			})
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(tc.mods...), u)
			resp := do(t, e, post(`{}`))
			require.Equal(t, tc.status, resp.Status)
			require.Equal(t, tc.details, resp.Details)
			require.Equal(t, tc.upstream, u.callCount())
			require.EqualValues(t, 1, e.Stats()["streams_failed"])
			if tc.upstream == 1 {
				require.EqualValues(t, 1, e.Stats()["failure_mode_allowed"])
			}
		})
	}
}

// Item 14: a gRPC error after the response started downstream resets the stream.
func TestItem14_GrpcErrorAfterResponseStartedResets(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if kind(m) == "response_body" && !m.GetResponseBody().GetEndOfStream() {
				ps.send(continueFor(m))
				time.Sleep(20 * time.Millisecond)
				return status.Error(codes.Unavailable, "gone")
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "data: a\n\n")
		w.(http.Flusher).Flush()
		<-release
	})
	defer close(release)
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u)
	resp, err := e.Do(context.Background(), &Request{Method: "GET"})
	require.ErrorIs(t, err, ErrStreamReset)
	require.True(t, resp.Reset)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, "data: a\n\n", string(resp.Body))
}

// Item 16: once processing is complete, later messages are ignored.
func TestItem16_MessagesAfterCompletionIgnored(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.recv()
		ps.send(immediate(401, "first", "one"))
		ps.send(immediate(402, "second", "two"))
		ps.send(&extprocsvc.ProcessingResponse{})
		return ps.drain()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	resp := do(t, e, post(`{}`))
	require.Equal(t, 401, resp.Status)
	require.Equal(t, "first", string(resp.Body))
	require.EqualValues(t, 0, e.Stats()["spurious_msgs_received"])
}

// Item 32: a downstream disconnect while a response is awaited closes the side stream with no
// local reply, cancels the upstream request, and leaks no goroutine.
func TestItem32_DownstreamDisconnect(t *testing.T) {
	checkNoLeak(t)
	upstreamCanceled := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(upstreamCanceled)
	})
	gotBody := make(chan struct{})
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if kind(m) == "response_headers" {
				close(gotBody)
				continue // never answer: the client goes away meanwhile
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED), func(c *extprocv3.ExternalProcessor) {
		c.MessageTimeout = ms(5000)
	}), u)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-gotBody; cancel() }()
	resp, err := e.Do(ctx, &Request{Method: "GET"})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, resp.Status)
	ps := fp.allStreams()[0]
	ps.waitEnd()
	require.True(t, ps.canceled)
	select {
	case <-upstreamCanceled:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
	e.Close()
}

// Item 94: attributes are sent once per direction, on its first message, under the fixed key.
func TestItem94_AttributesFirstMessagePerDirection(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.RequestAttributes = []string{"request.path", "request.method", "request.id", "xds.cluster_name", "xds.route_name", "response.code"}
		c.ResponseAttributes = []string{"response.code", "xds.upstream_host_metadata"}
	}), u, func(c *Config) {
		c.Clusters[0].Endpoints[0].Metadata = hostMeta("openai")
	})
	require.Equal(t, 200, do(t, e, post(`{}`)).Status)
	msgs := fp.allStreams()[0].messages()
	require.Equal(t, []string{"request_headers", "request_body", "response_headers", "response_body"}, kinds(msgs))
	ra := msgs[0].GetAttributes()[attrKey].GetFields()
	require.Equal(t, "/v1/chat/completions", ra["request.path"].GetStringValue())
	require.Equal(t, "POST", ra["request.method"].GetStringValue())
	require.NotEmpty(t, ra["request.id"].GetStringValue())
	require.Equal(t, "backend", ra["xds.cluster_name"].GetStringValue())
	require.Equal(t, "default", ra["xds.route_name"].GetStringValue())
	require.NotContains(t, ra, "response.code", "not available on the request path")
	require.Nil(t, msgs[1].GetAttributes())
	rsa := msgs[2].GetAttributes()[attrKey].GetFields()
	require.Equal(t, float64(200), rsa["response.code"].GetNumberValue())
	require.Contains(t, rsa["xds.upstream_host_metadata"].GetStringValue(), `string_value: "openai"`)
	require.NotContains(t, rsa, "request.path")
	require.Nil(t, msgs[3].GetAttributes())
}
