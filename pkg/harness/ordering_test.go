package harness

import (
	"io"
	"net/http"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"
)

// Items 19, 20, 22, 27: a response of the wrong kind, an extra response or an empty oneof is
// spurious: fail-closed local reply with status_on_error and the message as details.
func TestItem19And20_SpuriousFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  func(ps *procStream)
		details string
		soe     int
		// raced: the spurious message arrives after a valid reply, so the request may
		// already have gone upstream when it is detected (Envoy races the same way).
		raced bool
	}{
		{"response_headers answering request_headers", func(ps *procStream) {
			ps.recv()
			ps.send(respHeadersResp(&extprocsvc.CommonResponse{}))
		}, "spurious_message", 500, false},
		{"body response while waiting for headers", func(ps *procStream) {
			ps.recv()
			ps.send(reqBodyResp(&extprocsvc.CommonResponse{}))
		}, "spurious_message", 500, false},
		{"trailers response without trailers call", func(ps *procStream) {
			ps.recv()
			ps.send(&extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocsvc.TrailersResponse{}}})
		}, "spurious_message", 500, false},
		{"extra reply (item 25)", func(ps *procStream) {
			m := ps.recv()
			ps.send(continueFor(m))
			ps.send(continueFor(m))
		}, "spurious_message", 500, true},
		{"empty oneof (item 22)", func(ps *procStream) {
			ps.recv()
			ps.send(&extprocsvc.ProcessingResponse{})
		}, "unhandled_message", 500, false},
		{"streamed_immediate_response is unknown (item 100)", func(ps *procStream) {
			ps.recv()
			ps.send(&extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_StreamedImmediateResponse{StreamedImmediateResponse: &extprocsvc.StreamedImmediateResponse{}}})
		}, "unhandled_message", 500, false},
		{"custom status_on_error (item 27)", func(ps *procStream) {
			ps.recv()
			ps.send(&extprocsvc.ProcessingResponse{})
		}, "unhandled_message", 422, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				tc.script(ps)
				return ps.drain()
			})
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(headersOnly(), func(c *extprocv3.ExternalProcessor) {
				if tc.soe != 500 {
					c.StatusOnError = statusCode(tc.soe)
				}
			}), u)
			resp := do(t, e, &Request{Method: "GET"})
			require.Equal(t, tc.soe, resp.Status)
			require.Equal(t, tc.details, resp.Details)
			require.Empty(t, resp.Body)
			if !tc.raced {
				require.Equal(t, 0, u.callCount())
			}
			require.EqualValues(t, 1, e.Stats()["spurious_msgs_received"])
			ps := fp.allStreams()[0]
			ps.waitEnd()
			require.True(t, ps.canceled, "the side stream is closed")
		})
	}
}

// Item 21: fail-open, a spurious message abandons the processor for the rest of the request:
// the request proceeds unmodified and no response-path message is sent.
func TestItem21_SpuriousFailOpen(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.recv()
		ps.send(respHeadersResp(&extprocsvc.CommonResponse{HeaderMutation: setH("x-late", "1")}))
		return ps.drain()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(failOpen), u)
	resp := do(t, e, post(`{"a":1}`))
	require.Equal(t, 200, resp.Status)
	require.Equal(t, `{"a":1}`, u.requests()[0].body)
	require.Len(t, fp.allStreams()[0].messages(), 1)
	st := e.Stats()
	require.EqualValues(t, 1, st["spurious_msgs_received"])
	require.EqualValues(t, 1, st["failure_mode_allowed"])
}

// Items 22, 83: dynamic metadata in an empty-oneof response is not applied; in a spurious
// response of a known kind it is.
func TestItem22And83_MetadataOnSpurious(t *testing.T) {
	md := func(k string) *structpb.Struct {
		s, _ := structpb.NewStruct(map[string]any{"llm_router": map[string]any{k: "v"}})
		return s
	}
	for _, tc := range []struct {
		name string
		resp *extprocsvc.ProcessingResponse
		want bool
	}{
		{"empty oneof", &extprocsvc.ProcessingResponse{DynamicMetadata: md("a")}, false},
		{"wrong kind", &extprocsvc.ProcessingResponse{DynamicMetadata: md("a"), Response: &extprocsvc.ProcessingResponse_RequestBody{RequestBody: &extprocsvc.BodyResponse{}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got AccessLogEntry
			fp := newFakeProc(t, func(ps *procStream) error {
				ps.recv()
				ps.send(tc.resp)
				return ps.drain()
			})
			e := harnessFor(t, fp, extProc(), newUpstream(t, nil), func(c *Config) { c.AccessLog = func(a AccessLogEntry) { got = a } })
			require.Equal(t, 500, do(t, e, post(`{}`)).Status)
			_, ok := got.DynamicMetadata["llm_router"]
			require.Equal(t, tc.want, ok)
		})
	}
}

// Items 23, 31: override_message_timeout consumes the whole message; with the default
// max_message_timeout (0) it is ignored, so a reply packed into it is lost and the call times out.
func TestItem23_OverrideMessageTimeoutConsumesMessage(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		r := continueFor(m)
		r.OverrideMessageTimeout = ms(1000)
		ps.send(r)
		return ps.drain()
	})
	e := harnessFor(t, fp, extProc(headersOnly()), newUpstream(t, nil))
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, 504, resp.Status)
	require.Equal(t, "ext_proc_error_per-message_timeout_exceeded", resp.Details)
	st := e.Stats()
	require.EqualValues(t, 1, st["override_message_timeout_ignored"])
	require.EqualValues(t, 1, st["message_timeouts"])
}

// Item 31: an override within 1ms..max_message_timeout restarts the running timer, once.
func TestItem31_OverrideMessageTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides []int
		delay     time.Duration
		status    int
		received  uint64
		ignored   uint64
	}{
		{"accepted", []int{600}, 350 * time.Millisecond, 200, 1, 0},
		{"second override ignored", []int{600, 900}, 350 * time.Millisecond, 200, 1, 1},
		{"too small", []int{0}, 350 * time.Millisecond, 504, 0, 1},
		{"above max", []int{2000}, 350 * time.Millisecond, 504, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				m := ps.recv()
				for _, o := range tc.overrides {
					ps.send(&extprocsvc.ProcessingResponse{OverrideMessageTimeout: ms(o)})
				}
				time.Sleep(tc.delay)
				ps.send(continueFor(m))
				return ps.serveDefault()
			})
			e := harnessFor(t, fp, extProc(headersOnly(), func(c *extprocv3.ExternalProcessor) {
				c.MaxMessageTimeout = ms(1000)
			}), newUpstream(t, nil))
			require.Equal(t, tc.status, do(t, e, &Request{Method: "GET"}).Status)
			st := e.Stats()
			require.Equal(t, tc.received, st["override_message_timeout_received"])
			require.Equal(t, tc.ignored, st["override_message_timeout_ignored"])
		})
	}
}

// Item 24: an immediate_response is accepted in any state, e.g. while the request is upstream.
func TestItem24_ImmediateResponseWhileUpstream(t *testing.T) {
	upstreamCtxDone := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(upstreamCtxDone)
	})
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		ps.send(continueFor(m))
		time.Sleep(100 * time.Millisecond)
		ps.send(immediate(429, "slow down", "rate limited"))
		return ps.drain()
	})
	e := harnessFor(t, fp, extProc(headersOnly()), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, 429, resp.Status)
	require.Equal(t, "slow down", string(resp.Body))
	require.Equal(t, "rate_limited", resp.Details)
	select {
	case <-upstreamCtxDone:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
}

// Item 25: directions interleave, each FIFO; one body response more than chunks is spurious.
func TestItem25_ExtraStreamedBodyResponseIsSpurious(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			ps.send(continueFor(m))
			if kind(m) == "response_body" {
				ps.send(continueFor(m))
				break
			}
		}
		return ps.drain()
	})
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "data: a\n\n")
		w.(http.Flusher).Flush()
		<-release
	})
	defer close(release)
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.True(t, resp.Reset, "headers already went downstream, so the SoE reply becomes a reset")
	require.Equal(t, "spurious_message", resp.Details)
	require.EqualValues(t, 1, e.Stats()["spurious_msgs_received"])
}

// Item 28: the timer restarts on every send and stops on any response in that direction,
// even with STREAMED chunks still unanswered.
func TestItem28_TimerStopsOnAnyResponse(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "A")
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(w, "B")
		w.(http.Flusher).Flush()
		<-release
	})
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv() // response headers
		ps.send(continueFor(m))
		a := ps.recv()
		b := ps.recv()
		require.Equal(t, "A", string(a.GetResponseBody().GetBody()))
		require.Equal(t, "B", string(b.GetResponseBody().GetBody()))
		ps.send(continueFor(a)) // stops the timer although B is unanswered
		time.Sleep(400 * time.Millisecond)
		ps.send(continueFor(b))
		close(release)
		return ps.serveDefault()
	})
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.ProcessingMode = &extprocv3.ProcessingMode{RequestHeaderMode: extprocv3.ProcessingMode_SKIP, ResponseBodyMode: extprocv3.ProcessingMode_STREAMED}
	}), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, 200, resp.Status)
	require.Equal(t, "AB", string(resp.Body))
	require.EqualValues(t, 0, e.Stats()["message_timeouts"])
}

// Items 29, 30: a timeout is a 504 whatever status_on_error says (fail-closed); fail-open
// abandons the processor for both directions.
func TestItem29And30_MessageTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mods     []func(*extprocv3.ExternalProcessor)
		status   int
		msgs     int
		upstream int
	}{
		{"fail-closed ignores status_on_error", []func(*extprocv3.ExternalProcessor){func(c *extprocv3.ExternalProcessor) { c.StatusOnError = statusCode(503) }}, 504, 1, 0},
		{"fail-open", []func(*extprocv3.ExternalProcessor){failOpen}, 200, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				m := ps.recv()
				time.Sleep(300 * time.Millisecond)
				ps.send(continueFor(m)) // late: ignored (item 16)
				return ps.drain()
			})
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(append(tc.mods, func(c *extprocv3.ExternalProcessor) { c.MessageTimeout = ms(100) })...), u)
			resp := do(t, e, post(`{}`))
			require.Equal(t, tc.status, resp.Status)
			require.Equal(t, tc.upstream, u.callCount())
			require.Len(t, fp.allStreams()[0].messages(), tc.msgs)
			require.EqualValues(t, 1, e.Stats()["message_timeouts"])
			if tc.status == 504 {
				require.Equal(t, "ext_proc_error_per-message_timeout_exceeded", resp.Details)
			}
		})
	}
}

// Item 88: immediate_response status clamp, binary body, details with whitespace replaced,
// headers applied under the filter's mutation rules (item 89), never sent to the processor.
func TestItem88_ImmediateResponse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ir      *extprocsvc.ImmediateResponse
		status  int
		details string
	}{
		{"unset status is 200", &extprocsvc.ImmediateResponse{}, 200, ""},
		{"status below 200 becomes 200", &extprocsvc.ImmediateResponse{Status: statusCode(100)}, 200, ""},
		{"no upper clamp", &extprocsvc.ImmediateResponse{Status: statusCode(999)}, 999, ""},
		{"details whitespace", &extprocsvc.ImmediateResponse{Status: statusCode(403), Details: "no key\tgiven"}, 403, "no_key_given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				ps.recv()
				ps.send(&extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ImmediateResponse{ImmediateResponse: tc.ir}})
				return ps.drain()
			})
			e := harnessFor(t, fp, extProc(), newUpstream(t, nil))
			resp := do(t, e, post(`{}`))
			require.Equal(t, tc.status, resp.Status)
			require.Equal(t, tc.details, resp.Details)
			require.Len(t, fp.allStreams()[0].messages(), 1)
		})
	}
	t.Run("body and headers", func(t *testing.T) {
		fp := newFakeProc(t, func(ps *procStream) error {
			ps.recv()
			hm := setH("content-type", "application/json", "x-envoy-foo", "no", "x-ok", "yes", "bad\nname", "x", "x-after", "lost")
			ps.send(&extprocsvc.ProcessingResponse{Response: &extprocsvc.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocsvc.ImmediateResponse{
				Status: statusCode(401), Body: []byte("\x00\xff{}"), Headers: hm,
			}}})
			return ps.drain()
		})
		e := harnessFor(t, fp, extProc(), newUpstream(t, nil))
		resp := do(t, e, post(`{}`))
		require.Equal(t, 401, resp.Status)
		require.Equal(t, "\x00\xff{}", string(resp.Body))
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Equal(t, "yes", resp.Header.Get("X-Ok"))
		require.Empty(t, resp.Header.Get("X-Envoy-Foo"))
		require.Empty(t, resp.Header.Get("X-After"), "entries after a hard failure are not applied")
		require.Equal(t, "4", resp.Header.Get("Content-Length"))
	})
	t.Run("disable_immediate_response makes it spurious (item 91)", func(t *testing.T) {
		fp := newFakeProc(t, func(ps *procStream) error {
			ps.recv()
			ps.send(immediate(401, "x", ""))
			return ps.drain()
		})
		e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) { c.DisableImmediateResponse = true }), newUpstream(t, nil))
		resp := do(t, e, post(`{}`))
		require.Equal(t, 500, resp.Status)
		require.Equal(t, "unhandled_immediate_response_due_to_config_disabled_it", resp.Details)
	})
}

// Item 90: an immediate_response on the response path while headers are held replaces the
// response; header mutations made earlier in that response are not included.
func TestItem90_ImmediateResponseOnHeldResponse(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			switch kind(m) {
			case "response_headers":
				ps.send(respHeadersResp(&extprocsvc.CommonResponse{HeaderMutation: setH("x-added", "1")}))
			case "response_body":
				ps.send(immediate(502, "bad upstream body", "translate failed"))
			default:
				ps.send(continueFor(m))
			}
		}
		return nil
	})
	e := harnessFor(t, fp, extProc(), newUpstream(t, nil))
	resp := do(t, e, post(`{}`))
	require.Equal(t, 502, resp.Status)
	require.Equal(t, "bad upstream body", string(resp.Body))
	require.Empty(t, resp.Header.Get("X-Added"))
	require.Equal(t, "translate_failed", resp.Details)
}
