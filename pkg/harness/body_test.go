package harness

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// frames is a request body whose Reads return exactly the frames pushed, EOF on close.
type frames chan []byte

func (f frames) Read(p []byte) (int, error) {
	b, ok := <-f
	if !ok {
		return 0, io.EOF
	}
	return copy(p, b), nil
}

func bodiesOf(ms []*extprocsvc.ProcessingRequest, request bool) []string {
	var out []string
	for _, m := range ms {
		if request && m.GetRequestBody() != nil {
			out = append(out, string(m.GetRequestBody().GetBody())+eosMark(m.GetRequestBody().GetEndOfStream()))
		}
		if !request && m.GetResponseBody() != nil {
			out = append(out, string(m.GetResponseBody().GetBody())+eosMark(m.GetResponseBody().GetEndOfStream()))
		}
	}
	return out
}

func eosMark(eos bool) string {
	if eos {
		return "|eos"
	}
	return ""
}

func setMode(m *extprocv3.ProcessingMode) func(*extprocv3.ExternalProcessor) {
	return func(c *extprocv3.ExternalProcessor) { c.ProcessingMode = m }
}

// Item 47: NONE sends no body message; the body passes unchanged.
func TestItem47_BodyModeNone(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "resp") })
	e := harnessFor(t, fp, extProc(headersOnly()), u)
	resp := do(t, e, post(`{"q":1}`))
	require.Equal(t, "resp", string(resp.Body))
	require.Equal(t, `{"q":1}`, u.requests()[0].body)
	require.Equal(t, []string{"request_headers", "response_headers"}, kinds(fp.allStreams()[0].messages()))
}

// Items 48, 49, 76: BUFFERED sends one body message with the whole body and eos, after the
// headers response; frames that came early are part of it; a new body with a matching
// content-length set in the same response is accepted.
func TestItem48And49_Buffered(t *testing.T) {
	body := make(frames, 10)
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		body <- []byte(`{"a":`)
		time.Sleep(50 * time.Millisecond) // the early frame arrives during the headers call
		ps.send(continueFor(m))
		body <- []byte(`1}`)
		close(body)
		b := ps.recv()
		require.Equal(t, `{"a":1}`, string(b.GetRequestBody().GetBody()))
		require.True(t, b.GetRequestBody().GetEndOfStream())
		ps.send(reqBodyResp(&extprocsvc.CommonResponse{HeaderMutation: setH("content-length", "9"), BodyMutation: bodyMut(`{"b":22}` + "\n")}))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	resp := do(t, e, &Request{Method: "POST", Header: http.Header{"Content-Length": {"7"}}, Body: body})
	require.Equal(t, 200, resp.Status)
	r := u.requests()[0]
	require.Equal(t, "{\"b\":22}\n", r.body)
	require.Equal(t, "9", r.header.Get("Content-Length"))
	require.Equal(t, []string{`{"a":1}|eos`}, bodiesOf(fp.allStreams()[0].messages(), true))
}

// Item 50: BUFFERED body ended by trailers is sent with eos false; trailers follow after the
// body response; trailer mutations reach the upstream.
func TestItem50_BufferedWithTrailers(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if kind(m) == "request_trailers" {
				v, _ := headerValue(m.GetRequestTrailers().GetTrailers(), "x-checksum")
				require.Equal(t, "abc", v)
				ps.send(respond(m, &extprocsvc.CommonResponse{HeaderMutation: setH("x-checksum", "def")}))
				continue
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED, RequestTrailerMode: extprocv3.ProcessingMode_SEND, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP})), u)
	req := &Request{Method: "POST", Body: strings.NewReader("hello"), Trailer: http.Header{"X-Checksum": {"abc"}}}
	require.Equal(t, 200, do(t, e, req).Status)
	msgs := fp.allStreams()[0].messages()
	require.Equal(t, []string{"request_headers", "request_body", "request_trailers"}, kinds(msgs))
	require.Equal(t, []string{"hello"}, bodiesOf(msgs, true))
	r := u.requests()[0]
	require.Equal(t, "hello", r.body)
	require.Equal(t, "def", r.trailer.Get("X-Checksum"))
}

// Items 51, 96: which body messages exist depends on how the message ends; trailers are only
// sent when present.
func TestItem51_BodyEdgeCases(t *testing.T) {
	mode := &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED, RequestTrailerMode: extprocv3.ProcessingMode_SEND,
		ResponseHeaderMode: extprocv3.ProcessingMode_SKIP}
	for _, tc := range []struct {
		name  string
		req   func() *Request
		kinds []string
		body  []string
	}{
		{"headers end the stream", func() *Request { return &Request{Method: "GET"} }, []string{"request_headers"}, nil},
		{"empty final data frame", func() *Request { f := make(frames); close(f); return &Request{Method: "POST", Body: f} },
			[]string{"request_headers", "request_body"}, []string{"|eos"}},
		{"headers and trailers only", func() *Request {
			return &Request{Method: "POST", Trailer: http.Header{"X-T": {"1"}}}
		}, []string{"request_headers", "request_trailers"}, nil},
	} {
		for _, m := range []extprocv3.ProcessingMode_BodySendMode{extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_STREAMED, extprocv3.ProcessingMode_BUFFERED_PARTIAL} {
			t.Run(tc.name+"/"+m.String(), func(t *testing.T) {
				fp := newFakeProc(t, nil)
				mm := proto.Clone(mode).(*extprocv3.ProcessingMode)
				mm.RequestBodyMode = m
				e := harnessFor(t, fp, extProc(setMode(mm)), newUpstream(t, nil))
				require.Equal(t, 200, do(t, e, tc.req()).Status)
				msgs := fp.allStreams()[0].messages()
				require.Equal(t, tc.kinds, kinds(msgs))
				require.Equal(t, tc.body, bodiesOf(msgs, true))
			})
		}
	}
}

// Item 52: a BUFFERED request body over the buffer limit is a 413 and never reaches the
// processor.
func TestItem52_RequestOverLimit(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u, func(c *Config) { c.BufferLimitBytes = 1024 })
	resp := do(t, e, &Request{Method: "POST", Body: bytes.NewReader(bytes.Repeat([]byte("x"), 64<<10))})
	require.Equal(t, 413, resp.Status)
	require.Equal(t, "Payload Too Large", string(resp.Body))
	require.Equal(t, "request_payload_too_large", resp.Details)
	require.Equal(t, []string{"request_headers"}, kinds(fp.allStreams()[0].messages()))
	require.Equal(t, 0, u.callCount())
}

// Item 53: a BUFFERED response body over the limit is a 500.
func TestItem53_ResponseOverLimit(t *testing.T) {
	fp := newFakeProc(t, nil)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(bytes.Repeat([]byte("y"), 64<<10)) })
	e := harnessFor(t, fp, extProc(), u, func(c *Config) { c.BufferLimitBytes = 1024 })
	resp := do(t, e, post(`{}`))
	require.Equal(t, 500, resp.Status)
	require.Equal(t, "response_payload_too_large", resp.Details)
	require.NotContains(t, kinds(fp.allStreams()[0].messages()), "response_body")
}

// Item 54: BodyMutation semantics.
func TestItem54_BodyMutation(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *extprocsvc.BodyMutation
		want string
	}{
		{"body replaces", bodyMut("new"), "new"},
		{"empty body empties", bodyMut(""), ""},
		{"clear_body true", &extprocsvc.BodyMutation{Mutation: &extprocsvc.BodyMutation_ClearBody{ClearBody: true}}, ""},
		{"clear_body false", &extprocsvc.BodyMutation{Mutation: &extprocsvc.BodyMutation_ClearBody{ClearBody: false}}, "old"},
		{"unset", &extprocsvc.BodyMutation{}, "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, string(applyBodyMutation(tc.m, []byte("old"))))
		})
	}
}

// Items 55, 56: STREAMED sends one message per frame after the headers response; frames that
// arrived before it are coalesced into one message; responses apply FIFO to chunks.
func TestItem55And56_StreamedRequest(t *testing.T) {
	body := make(frames, 10)
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		body <- []byte("a")
		body <- []byte("b")
		body <- []byte("c")
		time.Sleep(100 * time.Millisecond)
		ps.send(continueFor(m))
		c := ps.recv()
		require.Equal(t, "abc", string(c.GetRequestBody().GetBody()))
		require.False(t, c.GetRequestBody().GetEndOfStream())
		ps.send(continueFor(c))
		for _, f := range []string{"d", "e"} {
			body <- []byte(f)
			m := ps.recv()
			require.Equal(t, f, string(m.GetRequestBody().GetBody()))
			ps.send(reqBodyResp(&extprocsvc.CommonResponse{BodyMutation: bodyMut(strings.ToUpper(f))}))
		}
		close(body)
		last := ps.recv()
		require.True(t, last.GetRequestBody().GetEndOfStream())
		ps.send(continueFor(last))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_STREAMED, extprocv3.ProcessingMode_NONE)), u)
	resp := do(t, e, &Request{Method: "POST", Header: http.Header{"Content-Length": {"5"}}, Body: body})
	require.Equal(t, 200, resp.Status)
	require.Equal(t, []string{"abc", "d", "e", "|eos"}, bodiesOf(fp.allStreams()[0].messages(), true))
	r := u.requests()[0]
	require.Equal(t, "abcDE", r.body)
	require.Empty(t, r.header.Get("Content-Length"), "item 74: content-length removed in STREAMED")
	v, _ := headerValue(fp.allStreams()[0].messages()[0].GetRequestHeaders().GetHeaders(), "content-length")
	require.Equal(t, "5", v, "item 74: the processor still saw the original content-length")
}

// Item 55 on the response path: every upstream chunk is its own message and is forwarded
// (mutated) as its response arrives; content-length is removed (item 74).
func TestItem55_StreamedResponse(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if b := m.GetResponseBody(); b != nil {
				ps.send(respBodyResp(&extprocsvc.CommonResponse{BodyMutation: bodyMut(strings.ToUpper(string(b.GetBody())))}))
				continue
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{"data: a\n\n", "data: b\n\n", "data: c\n\n"} {
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	})
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, "DATA: A\n\nDATA: B\n\nDATA: C\n\n", string(resp.Body))
	require.Equal(t, []string{"DATA: A\n\n", "DATA: B\n\n", "DATA: C\n\n"}, chunkStrings(resp.Chunks))
	require.Equal(t, []string{"data: a\n\n", "data: b\n\n", "data: c\n\n", "|eos"}, bodiesOf(fp.allStreams()[0].messages(), false))
	require.Empty(t, resp.Header.Get("Content-Length"))
}

func chunkStrings(cs [][]byte) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c))
	}
	return out
}

// Item 60: STREAMED ended by trailers: all body messages have eos false and the trailers
// message is sent only after every chunk was answered.
func TestItem60_StreamedWithTrailers(t *testing.T) {
	body := make(frames, 10)
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.send(continueFor(ps.recv()))
		body <- []byte("x")
		c1 := ps.recv()
		body <- []byte("y")
		c2 := ps.recv()
		close(body)
		time.Sleep(50 * time.Millisecond)
		ps.send(continueFor(c1))
		ps.send(continueFor(c2))
		tr := ps.recv()
		require.Equal(t, "request_trailers", kind(tr))
		ps.send(continueFor(tr))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_STREAMED, RequestTrailerMode: extprocv3.ProcessingMode_SEND, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP})), u)
	require.Equal(t, 200, do(t, e, &Request{Method: "POST", Body: body, Trailer: http.Header{"X-T": {"1"}}}).Status)
	msgs := fp.allStreams()[0].messages()
	require.Equal(t, []string{"x", "y"}, bodiesOf(msgs, true))
	require.Equal(t, "request_trailers", kind(msgs[len(msgs)-1]))
	require.Equal(t, "xy", u.requests()[0].body)
	require.Equal(t, "1", u.requests()[0].trailer.Get("X-T"))
}

// Items 71, 43: CONTINUE_AND_REPLACE with a body mutation replaces the body (dropping the
// original frames), removes content-length, may change :method, and stops body processing.
func TestItem71_ContinueAndReplace(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.recv()
		ps.send(reqHeadersResp(&extprocsvc.CommonResponse{
			Status:         extprocsvc.CommonResponse_CONTINUE_AND_REPLACE,
			HeaderMutation: setH(":method", "POST", "x-api-key", "sk-upstream"),
			BodyMutation:   bodyMut(`{"translated":true}`),
		}))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	resp := do(t, e, &Request{Method: "PUT", Header: http.Header{"Content-Length": {"8"}}, Body: strings.NewReader("original")})
	require.Equal(t, 200, resp.Status)
	r := u.requests()[0]
	require.Equal(t, "POST", r.method)
	require.Equal(t, `{"translated":true}`, r.body)
	require.Equal(t, "sk-upstream", r.header.Get("X-Api-Key"))
	require.Empty(t, r.header.Get("Content-Length"))
	require.Equal(t, []string{"request_headers", "response_headers", "response_body"}, kinds(fp.allStreams()[0].messages()))
}

// Item 72: CONTINUE_AND_REPLACE without body_mutation forwards the original body and sends no
// body message in that direction.
func TestItem72_ContinueAndReplaceWithoutBody(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.recv()
		ps.send(reqHeadersResp(&extprocsvc.CommonResponse{Status: extprocsvc.CommonResponse_CONTINUE_AND_REPLACE}))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	require.Equal(t, 200, do(t, e, post(`{"orig":1}`)).Status)
	require.Equal(t, `{"orig":1}`, u.requests()[0].body)
	require.Equal(t, "10", u.requests()[0].header.Get("Content-Length"))
	require.NotContains(t, kinds(fp.allStreams()[0].messages()), "request_body")
}

// Item 73: CONTINUE_AND_REPLACE in a body response acts as CONTINUE, but allows :method.
func TestItem73_ContinueAndReplaceInBodyResponse(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.send(continueFor(ps.recv()))
		ps.recv()
		ps.send(reqBodyResp(&extprocsvc.CommonResponse{Status: extprocsvc.CommonResponse_CONTINUE_AND_REPLACE, HeaderMutation: setH(":method", "PATCH")}))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(), u)
	require.Equal(t, 200, do(t, e, post(`{}`)).Status)
	require.Equal(t, "PATCH", u.requests()[0].method)
	require.Contains(t, kinds(fp.allStreams()[0].messages()), "response_body")
}

// Items 74, 75, 76: content-length handling per mode.
func TestItems74to76_ContentLength(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    *extprocv3.ProcessingMode
		cr      func(m *extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse
		status  int
		details string
		wantCL  string
		body    string
	}{
		{name: "76 BUFFERED+SEND mismatch", mode: &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED},
			cr: func(*extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse {
				return &extprocsvc.CommonResponse{BodyMutation: bodyMut("longer body")}
			},
			status: 500, details: "mismatch_between_content_length_and_the_length_of_the_mutated_body"},
		{name: "76 clear_body counts as 0", mode: &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED},
			cr: func(*extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse {
				return &extprocsvc.CommonResponse{BodyMutation: &extprocsvc.BodyMutation{Mutation: &extprocsvc.BodyMutation_ClearBody{ClearBody: true}}}
			},
			status: 500, details: "mismatch_between_content_length_and_the_length_of_the_mutated_body"},
		{name: "76 matching content-length set in the same response", mode: &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED},
			cr: func(*extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse {
				return &extprocsvc.CommonResponse{HeaderMutation: setH("content-length", "11"), BodyMutation: bodyMut("longer body")}
			},
			status: 200, wantCL: "11", body: "longer body"},
		{name: "74 BUFFERED with headers SKIP removes content-length", mode: &extprocv3.ProcessingMode{RequestHeaderMode: extprocv3.ProcessingMode_SKIP, RequestBodyMode: extprocv3.ProcessingMode_BUFFERED},
			cr: func(*extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse {
				return &extprocsvc.CommonResponse{BodyMutation: bodyMut("longer body")}
			},
			status: 200, wantCL: "", body: "longer body"},
		{name: "75 STREAMED drops a processor content-length", mode: &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_STREAMED},
			cr: func(m *extprocsvc.ProcessingRequest) *extprocsvc.CommonResponse {
				if m.GetRequestHeaders() != nil {
					return &extprocsvc.CommonResponse{HeaderMutation: setH("content-length", "99")}
				}
				return &extprocsvc.CommonResponse{}
			},
			status: 200, wantCL: "", body: "short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				for m := range ps.in {
					if kind(m) == "request_body" || (kind(m) == "request_headers" && tc.mode.RequestBodyMode == extprocv3.ProcessingMode_STREAMED) {
						ps.send(respond(m, tc.cr(m)))
						continue
					}
					ps.send(continueFor(m))
				}
				return nil
			})
			u := newUpstream(t, nil)
			tc.mode.ResponseHeaderMode = extprocv3.ProcessingMode_SKIP
			e := harnessFor(t, fp, extProc(setMode(tc.mode)), u)
			resp := do(t, e, post("short"))
			require.Equal(t, tc.status, resp.Status)
			if tc.details != "" {
				require.Equal(t, tc.details, resp.Details)
				return
			}
			r := u.requests()[0]
			require.Equal(t, tc.body, r.body)
			require.Equal(t, tc.wantCL, r.header.Get("Content-Length"))
		})
	}
}

// Item 45: header_mutation in a BUFFERED body response applies; in STREAMED it is ignored.
func TestItem45_HeaderMutationInBodyResponse(t *testing.T) {
	for _, tc := range []struct {
		mode extprocv3.ProcessingMode_BodySendMode
		want string
	}{
		{extprocv3.ProcessingMode_BUFFERED, "yes"},
		{extprocv3.ProcessingMode_STREAMED, ""},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				for m := range ps.in {
					if kind(m) == "response_body" {
						ps.send(respond(m, &extprocsvc.CommonResponse{HeaderMutation: setH("x-from-body", "yes")}))
						continue
					}
					ps.send(continueFor(m))
				}
				return nil
			})
			// The body comes after the headers response; a body complete during the headers
			// call would be sent as one BufferedBodyCallback message even in STREAMED mode.
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
				_, _ = io.WriteString(w, "late body")
			})
			e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, tc.mode)), u)
			resp := do(t, e, &Request{Method: "GET"})
			require.Equal(t, 200, resp.Status)
			require.Equal(t, "late body", string(resp.Body))
			require.Equal(t, tc.want, resp.Header.Get("X-From-Body"))
		})
	}
}

// BUFFERED_PARTIAL: under the limit it behaves like BUFFERED; over it, one message with all
// data so far (eos false) and the rest passes through unprocessed (items 61, 62).
func TestItem61_BufferedPartial(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		bodies []string
	}{
		{"under the limit", 100, []string{strings.Repeat("p", 100) + "|eos"}},
		{"over the limit", 3000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				for m := range ps.in {
					if b := m.GetRequestBody(); b != nil {
						ps.send(reqBodyResp(&extprocsvc.CommonResponse{BodyMutation: bodyMut(strings.ToUpper(string(b.GetBody())))}))
						continue
					}
					ps.send(continueFor(m))
				}
				return nil
			})
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED_PARTIAL, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP})), u,
				func(c *Config) { c.BufferLimitBytes = 1024 })
			f := make(frames, 100)
			for i := 0; i < tc.size; i += 500 {
				f <- []byte(strings.Repeat("p", min(500, tc.size-i)))
			}
			close(f)
			require.Equal(t, 200, do(t, e, &Request{Method: "POST", Body: f}).Status)
			bodies := bodiesOf(fp.allStreams()[0].messages(), true)
			got := u.requests()[0].body
			require.Len(t, got, tc.size)
			if tc.bodies != nil {
				require.Equal(t, tc.bodies, bodies)
				require.Equal(t, strings.ToUpper(got), got)
				return
			}
			require.Len(t, bodies, 1)
			require.NotContains(t, bodies[0], "|eos")
			n := len(bodies[0])
			require.Greater(t, n, 1024)
			require.Equal(t, strings.Repeat("P", n)+strings.Repeat("p", tc.size-n), got)
		})
	}
}
