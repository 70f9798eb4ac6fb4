package harness

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Item 18: a processor that cannot be reached fails the stream like a gRPC error (14/15).
func TestItem18_ProcessorUnreachable(t *testing.T) {
	conn, err := grpc.NewClient(strings.TrimPrefix(closedAddr(t), "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	for _, tc := range []struct {
		name   string
		open   bool
		status int
	}{{"fail-closed", false, 500}, {"fail-open", true, 200}} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, nil)
			e, err := New(Config{
				RouterFilter: extProc(func(c *extprocv3.ExternalProcessor) { c.FailureModeAllow = tc.open }),
				Processor:    conn,
				Routes:       []Route{{Cluster: "c"}},
				Clusters:     []Cluster{{Name: "c", Endpoints: []Endpoint{{Address: u.URL}}}},
			})
			require.NoError(t, err)
			defer e.Close()
			resp := do(t, e, post(`{}`))
			require.Equal(t, tc.status, resp.Status)
			if !tc.open {
				require.True(t, strings.HasPrefix(resp.Details, "ext_proc_error_gRPC_error_14{"), resp.Details)
			}
			require.EqualValues(t, 1, e.Stats()["streams_failed"])
		})
	}
}

// Item 5: forward_rules filter which headers are sent; disallowed wins over allowed.
func TestItem5_ForwardRules(t *testing.T) {
	fp := newFakeProc(t, nil)
	e := harnessFor(t, fp, extProc(headersOnly(), func(c *extprocv3.ExternalProcessor) {
		c.ForwardRules = &extprocv3.HeaderForwardingRules{
			AllowedHeaders:    &matcherv3.ListStringMatcher{Patterns: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "x-"}}, {MatchPattern: &matcherv3.StringMatcher_Exact{Exact: ":path"}}}},
			DisallowedHeaders: &matcherv3.ListStringMatcher{Patterns: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "X-SECRET"}, IgnoreCase: true}}},
		}
	}), newUpstream(t, nil))
	require.Equal(t, 200, do(t, e, &Request{Method: "GET", Header: http.Header{"X-Keep": {"1"}, "X-Secret": {"s"}, "Authorization": {"a"}}}).Status)
	var keys []string
	for _, h := range fp.allStreams()[0].messages()[0].GetRequestHeaders().GetHeaders().GetHeaders() {
		keys = append(keys, h.GetKey())
	}
	require.ElementsMatch(t, []string{":path", "x-keep", "x-forwarded-proto", "x-request-id"}, keys)
}

// Items 46, 96: response trailers are sent when present and may be mutated.
func TestItem46_ResponseTrailers(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if m.GetResponseTrailers() != nil {
				ps.send(respond(m, &extprocsvc.CommonResponse{HeaderMutation: setH("x-usage", "42")}))
				continue
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Usage")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Usage", "1")
	})
	e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_BUFFERED, ResponseTrailerMode: extprocv3.ProcessingMode_SEND})), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, "body", string(resp.Body))
	require.Equal(t, "42", resp.Trailer.Get("X-Usage"))
	require.Equal(t, []string{"request_headers", "response_headers", "response_body", "response_trailers"}, kinds(fp.allStreams()[0].messages()))
	require.Equal(t, []string{"body"}, bodiesOf(fp.allStreams()[0].messages(), false), "item 50: eos false before trailers")
}

// Item 58: unanswered STREAMED chunks above the buffer limit pause the upstream reader; the
// response still arrives complete and in order.
func TestItem58_StreamedWatermark(t *testing.T) {
	chunk := strings.Repeat("q", 600)
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if m.GetResponseBody() != nil {
				time.Sleep(5 * time.Millisecond)
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 20; i++ {
			_, _ = io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
		}
	})
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u, func(c *Config) { c.BufferLimitBytes = 1000 })
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, strings.Repeat(chunk, 20), string(resp.Body))
}

// Items 13, 15, 30: when the processor is abandoned (clean close, fail-open error or
// timeout) queued STREAMED chunks are re-injected unmodified and the rest passes through.
func TestItems13And30_ReinjectQueuedChunks(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(ps *procStream) error
		mods []func(*extprocv3.ExternalProcessor)
	}{
		{"clean close", func(*procStream) error { return nil }, nil},
		{"gRPC error fail-open", func(*procStream) error { return fmt.Errorf("boom") }, []func(*extprocv3.ExternalProcessor){failOpen}},
		{"timeout fail-open", func(ps *procStream) error { return ps.drain() }, []func(*extprocv3.ExternalProcessor){failOpen, func(c *extprocv3.ExternalProcessor) { c.MessageTimeout = ms(100) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			fp := newFakeProc(t, func(ps *procStream) error {
				ps.send(continueFor(ps.recv())) // response headers
				first := ps.recv()
				ps.send(respBodyResp(&extprocsvc.CommonResponse{BodyMutation: bodyMut("ONE")}))
				require.Equal(t, "one", string(first.GetResponseBody().GetBody()))
				ps.recv() // "two" stays unanswered
				close(release)
				time.Sleep(20 * time.Millisecond)
				return tc.end(ps)
			})
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "one")
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
				_, _ = io.WriteString(w, "two")
				w.(http.Flusher).Flush()
				<-release
				time.Sleep(200 * time.Millisecond)
				_, _ = io.WriteString(w, "three")
			})
			e := harnessFor(t, fp, extProc(append(tc.mods, func(c *extprocv3.ExternalProcessor) {
				c.ProcessingMode = &extprocv3.ProcessingMode{RequestHeaderMode: extprocv3.ProcessingMode_SKIP, ResponseBodyMode: extprocv3.ProcessingMode_STREAMED}
			})...), u)
			resp := do(t, e, &Request{Method: "GET"})
			require.Equal(t, 200, resp.Status)
			require.Equal(t, "ONEtwothree", string(resp.Body))
		})
	}
}

// Items 61, 62: BUFFERED_PARTIAL with data after the headers response: one message when the
// queue passes the limit, later data passes through unprocessed.
func TestItem61_BufferedPartialAfterHeaders(t *testing.T) {
	body := make(frames, 10)
	fp := newFakeProc(t, func(ps *procStream) error {
		ps.send(continueFor(ps.recv()))
		body <- bytes.Repeat([]byte("a"), 700)
		body <- bytes.Repeat([]byte("b"), 700)
		m := ps.recv()
		require.Equal(t, 1400, len(m.GetRequestBody().GetBody()))
		require.False(t, m.GetRequestBody().GetEndOfStream())
		body <- []byte("tail")
		close(body)
		time.Sleep(20 * time.Millisecond)
		ps.send(reqBodyResp(&extprocsvc.CommonResponse{BodyMutation: bodyMut("X")}))
		return ps.serveDefault()
	})
	u := newUpstream(t, nil)
	e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED_PARTIAL, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP})), u,
		func(c *Config) { c.BufferLimitBytes = 1024 })
	require.Equal(t, 200, do(t, e, &Request{Method: "POST", Body: body}).Status)
	require.Equal(t, "Xtail", u.requests()[0].body)
}

// Local reply formatting: dynamic metadata, response headers, flags, omit_empty_values,
// header and response-flag filters.
func TestLocalReplyFormatting(t *testing.T) {
	jf, _ := structpb.NewStruct(map[string]any{"key": "%DYNAMIC_METADATA(llm_router:key_id)%", "all": "%DYNAMIC_METADATA(llm_router)%",
		"flags": "%RESPONSE_FLAGS%", "ct": "%RESP(content-type)%", "missing": "%REQ(x-none)%", "route": "%ROUTE_NAME%", "mixed": "code=%RESPONSE_CODE% host=%UPSTREAM_HOST%",
		"proto": "%PROTOCOL%", "cluster": "%UPSTREAM_CLUSTER%", "trunc": "%REQ(x-long):3%", "list": []any{"%RESPONSE_CODE%", 1.0}})
	fp := newFakeProc(t, func(ps *procStream) error {
		m := ps.recv()
		r := immediate(403, "denied", "key revoked")
		r.DynamicMetadata, _ = structpb.NewStruct(map[string]any{"llm_router": map[string]any{"key_id": "k1"}})
		_ = m
		ps.send(r)
		return ps.drain()
	})
	e := harnessFor(t, fp, extProc(), newUpstream(t, nil), func(c *Config) {
		c.LocalReply = &hcmv3.LocalReplyConfig{
			Mappers: []*hcmv3.ResponseMapper{{
				Filter:       &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{"UF"}}}},
				HeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-never", Value: "1"}}},
			}},
			BodyFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: jf}, OmitEmptyValues: true},
		}
	})
	resp := do(t, e, &Request{Method: "POST", Header: http.Header{"X-Long": {"abcdef"}}, Body: strings.NewReader("{}")})
	require.Equal(t, 403, resp.Status)
	require.Empty(t, resp.Header.Get("X-Never"))
	require.JSONEq(t, `{"key":"k1","all":{"key_id":"k1"},"flags":"-","route":"default","mixed":"code=403 host=",
		"proto":"HTTP/1.1","cluster":"backend","trunc":"abc","list":[403,1]}`, string(resp.Body))
}

func TestMatchers(t *testing.T) {
	h := hmap{{"x-a", "hello"}, {"x-n", "15"}}
	// The deprecated specifiers (exact, prefix, suffix, contains, safe_regex) are still honoured
	// by Envoy, so the emulator supports them and this test covers them: SA1019 does not apply.
	for _, tc := range []struct {
		m    *routev3.HeaderMatcher
		want bool
	}{
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "hello"}}, true},                                        //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{PrefixMatch: "he"}}, true},                                         //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_SuffixMatch{SuffixMatch: "lo"}}, true},                                         //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_ContainsMatch{ContainsMatch: "ell"}}, true},                                    //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "h.*o"}}}, true}, //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-n", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 10, End: 20}}}, true},
		{&routev3.HeaderMatcher{Name: "x-z", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}, false},
		{&routev3.HeaderMatcher{Name: "x-z", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}, InvertMatch: true}, true},
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "hello"}, InvertMatch: true}, false},         //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-z", HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: ""}, TreatMissingHeaderAsEmpty: true}, true}, //nolint:staticcheck // SA1019, see above.
		{&routev3.HeaderMatcher{Name: "x-a"}, true},
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "LLO"}, IgnoreCase: true}}}, true},
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "zz"}}}}, false},
		{&routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "[a-z]+"}}}}}, true},
	} {
		m, err := compileHeaderMatcher(tc.m)
		require.NoError(t, err)
		require.Equal(t, tc.want, m(h), "%v", tc.m)
	}
	_, err := compileHeaderMatcher(&routev3.HeaderMatcher{Name: "x", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "("}}}) //nolint:staticcheck // SA1019, see above.
	require.Error(t, err)
	_, err = compileStringMatcher(&matcherv3.StringMatcher{})
	require.Error(t, err)
	// Header map helpers keep pseudo-headers first.
	var m hmap
	m.add("x-b", "1")
	m.add(":status", "200")
	m.add(":x", "y")
	require.Equal(t, hmap{{":status", "200"}, {":x", "y"}, {"x-b", "1"}}, m)
	require.Nil(t, hmap(nil).clone())
	lc := &localReplyConfig{mappers: []*lrMapper{{filter: func(*lrContext) bool { return true }, headers: []*corev3.HeaderValueOption{
		{Header: &corev3.HeaderValue{Key: "a", Value: "1"}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT},
		{Header: &corev3.HeaderValue{Key: "b", Value: "2"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD},
		{Header: &corev3.HeaderValue{Key: "c", Value: "3"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS},
		{Header: &corev3.HeaderValue{Key: "b", RawValue: []byte("4")}, Append: wrapperspb.Bool(true)},
		{Header: &corev3.HeaderValue{Key: "a", Value: "5"}, Append: wrapperspb.Bool(false)},
	}}}}
	out := hmap{{":status", "500"}}
	lc.rewrite(&lrContext{code: 500}, &out)
	require.Equal(t, hmap{{":status", "500"}, {"a", "5"}, {"b", "2"}, {"b", "4"}}, out)
}

// Item 59: in STREAMED (not FULL_DUPLEX) a body response with streamed_response is spurious.
func TestItem59_StreamedResponseMutationIsSpurious(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if m.GetResponseBody() != nil {
				ps.send(respBodyResp(&extprocsvc.CommonResponse{BodyMutation: &extprocsvc.BodyMutation{Mutation: &extprocsvc.BodyMutation_StreamedResponse{
					StreamedResponse: &extprocsvc.StreamedBodyResponse{Body: []byte("x"), EndOfStream: true}}}}))
				continue
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(30 * time.Millisecond)
		_, _ = io.WriteString(w, "chunk")
	})
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_STREAMED)), u)
	resp := do(t, e, &Request{Method: "GET"})
	require.True(t, resp.Reset)
	require.Equal(t, "spurious_message", resp.Details)
	require.EqualValues(t, 1, e.Stats()["spurious_msgs_received"])
}

// Item 96: trailer mode SEND never synthesises trailers for a message without them.
func TestItem96_NoSyntheticTrailers(t *testing.T) {
	fp := newFakeProc(t, nil)
	e := harnessFor(t, fp, extProc(setMode(&extprocv3.ProcessingMode{
		RequestTrailerMode: extprocv3.ProcessingMode_SEND, ResponseTrailerMode: extprocv3.ProcessingMode_SEND,
		RequestBodyMode: extprocv3.ProcessingMode_STREAMED, ResponseBodyMode: extprocv3.ProcessingMode_STREAMED,
	})), newUpstream(t, nil))
	require.Equal(t, 200, do(t, e, post(`{"a":1}`)).Status)
	for _, k := range kinds(fp.allStreams()[0].messages()) {
		require.NotContains(t, k, "trailers")
	}
}
