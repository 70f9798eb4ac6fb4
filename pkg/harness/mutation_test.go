package harness

import (
	"net/http"
	"testing"

	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func hvo(k, raw string, appendV *bool) *corev3.HeaderValueOption {
	o := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, RawValue: []byte(raw)}}
	if appendV != nil {
		o.Append = wrapperspb.Bool(*appendV) //nolint:staticcheck // SA1019: the test covers the deprecated field, which Envoy still honours.
	}
	return o
}

func bptr(b bool) *bool { return &b }

// Items 33–41, 43, 44 on MutationUtils::applyHeaderMutations with the default and custom rules.
func TestItems33to44_ApplyHeaderMutations(t *testing.T) {
	base := func() hmap {
		return hmap{{":authority", "a.example"}, {":path", "/x"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "b"}}
	}
	defaults, _ := newMutationChecker(nil)
	for _, tc := range []struct {
		name      string
		rules     *mutationrulesv3.HeaderMutationRules
		mut       *extprocsvc.HeaderMutation
		replacing bool
		dropCL    bool
		want      hmap
		err       string
		rejected  int
	}{
		{name: "33 remove then set", mut: &extprocsvc.HeaderMutation{RemoveHeaders: []string{"x-b"}, SetHeaders: []*corev3.HeaderValueOption{hvo("x-b", "new", nil)}},
			want: hmap{{":authority", "a.example"}, {":path", "/x"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "new"}}},
		{name: "34 append default false replaces all values", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{hvo("X-A", "z", nil)}},
			want: hmap{{":authority", "a.example"}, {":path", "/x"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "z"}, {"x-b", "b"}}},
		{name: "34 append true adds", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{hvo("x-a", "3", bptr(true))}},
			want: append(base(), hdr{"x-a", "3"})},
		{name: "34 append_action is ignored", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-b", RawValue: []byte("c")}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT}}},
			want: hmap{{":authority", "a.example"}, {":path", "/x"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "c"}}},
		{name: "34 entry without header skipped", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{}}}, want: base()},
		{name: "35 value only sets an empty header", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-v", Value: "ignored"}}}},
			want: append(base(), hdr{"x-v", ""})},
		{name: "35 value and raw_value is an error", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-v", Value: "a", RawValue: []byte("b")}}}},
			err: "Only one of value or raw_value in the HeaderValue message should be set.", rejected: 1},
		{name: "36 invalid value char is a hard error", mut: setH("x-v", "a\r\nb"), err: "Invalid character in set_headers mutation.", rejected: 1},
		{name: "36 invalid name is a hard error", mut: setH("x v", "a"), err: "Invalid character in set_headers mutation.", rejected: 1},
		{name: "36 invalid remove name", mut: &extprocsvc.HeaderMutation{RemoveHeaders: []string{"x\x00"}}, err: "Invalid character in remove_headers mutation.", rejected: 1},
		{name: "37 defaults refuse routing and x-envoy, allow :path", mut: setH("host", "evil", ":authority", "evil", ":method", "GET", ":scheme", "https", "x-envoy-retry-on", "5xx", ":path", "/y"),
			want: hmap{{":authority", "a.example"}, {":path", "/y"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "b"}}, rejected: 5},
		{name: "38 removing pseudo or host is always refused", rules: &mutationrulesv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true)},
			mut: &extprocsvc.HeaderMutation{RemoveHeaders: []string{":path", "host"}}, want: base(), rejected: 2},
		{name: "38 disallow_expression beats allow_expression", rules: &mutationrulesv3.HeaderMutationRules{
			AllowExpression: &matcherv3.RegexMatcher{Regex: "x-.*"}, DisallowExpression: &matcherv3.RegexMatcher{Regex: "x-b"}},
			mut: setH("x-b", "no", "x-c", "yes"), want: append(base(), hdr{"x-c", "yes"}), rejected: 1},
		{name: "38 allow_expression beats disallow_all and x-envoy", rules: &mutationrulesv3.HeaderMutationRules{
			DisallowAll: wrapperspb.Bool(true), AllowExpression: &matcherv3.RegexMatcher{Regex: "x-envoy-.*"}},
			mut: setH("x-envoy-x", "1", "x-c", "2"), want: append(base(), hdr{"x-envoy-x", "1"}), rejected: 1},
		{name: "38 allow_all_routing and allow_envoy", rules: &mutationrulesv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true), AllowEnvoy: wrapperspb.Bool(true)},
			mut: setH(":authority", "b.example", "x-envoy-x", "1"), want: hmap{{":authority", "b.example"}, {":path", "/x"}, {":method", "POST"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "b"}, {"x-envoy-x", "1"}}},
		{name: "38 disallow_system refuses :path", rules: &mutationrulesv3.HeaderMutationRules{DisallowSystem: wrapperspb.Bool(true)},
			mut: setH(":path", "/z"), want: base(), rejected: 1},
		{name: "39 :status must be >= 200", mut: setH(":status", "100"), want: base(), rejected: 1},
		{name: "39 :scheme must be http or https", rules: &mutationrulesv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true)}, mut: setH(":scheme", "tcp"), want: base(), rejected: 1},
		{name: "40 append on existing pseudo refused", mut: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{hvo(":path", "/2", bptr(true))}}, want: base(), rejected: 1},
		{name: "41 disallow_is_error stops, earlier mutations stay", rules: &mutationrulesv3.HeaderMutationRules{DisallowIsError: wrapperspb.Bool(true)},
			mut: setH("x-first", "1", "host", "evil", "x-after", "2"), want: append(base(), hdr{"x-first", "1"}), err: "Invalid attempt to modify host", rejected: 1},
		{name: "41 disallow_is_error on remove", rules: &mutationrulesv3.HeaderMutationRules{DisallowIsError: wrapperspb.Bool(true)},
			mut: &extprocsvc.HeaderMutation{RemoveHeaders: []string{"x-envoy-a"}}, want: base(), err: "Invalid attempt to remove x-envoy-a", rejected: 1},
		{name: "43 CONTINUE_AND_REPLACE may set :method only", replacing: true, mut: setH(":method", "GET", ":scheme", "https"),
			want: hmap{{":authority", "a.example"}, {":path", "/x"}, {":method", "GET"}, {":scheme", "http"}, {"host", "h"}, {"x-a", "1"}, {"x-a", "2"}, {"x-b", "b"}}, rejected: 1},
		{name: "75 content-length dropped silently in streamed modes", dropCL: true, mut: setH("content-length", "5"), want: base()},
		{name: "44 too many set_headers", mut: func() *extprocsvc.HeaderMutation {
			m := &extprocsvc.HeaderMutation{}
			for i := 0; i < 101; i++ {
				m.SetHeaders = append(m.SetHeaders, hvo("x-n", "v", nil))
			}
			return m
		}(), err: "Header mutation remove header count 0 or set header count 101 exceed the HCM header countlimit 100", rejected: 1},
		{name: "44 result over the count limit", mut: func() *extprocsvc.HeaderMutation {
			m := &extprocsvc.HeaderMutation{}
			for i := 0; i < 95; i++ {
				m.SetHeaders = append(m.SetHeaders, hvo("x-n"+itoa(i), "v", nil))
			}
			return m
		}(), rejected: 1, err: "Header mutation causes end result header count 103 or header size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults
			if tc.rules != nil {
				var err error
				c, err = newMutationChecker(tc.rules)
				require.NoError(t, err)
			}
			h := base()
			rejected := 0
			err := applyHeaderMutations(tc.mut, &h, tc.replacing, tc.dropCL, c, func() { rejected++ })
			if tc.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.err)
			} else {
				require.NoError(t, err)
			}
			if tc.want != nil {
				require.Equal(t, tc.want, h)
			}
			require.Equal(t, tc.rejected, rejected)
		})
	}
}

// Items 35, 36, 37, 41 end to end: what the upstream sees, and the 500 local replies.
func TestItems35to41_MutationsThroughHarness(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rules    *mutationrulesv3.HeaderMutationRules
		cr       *extprocsvc.CommonResponse
		status   int
		details  string
		check    func(t *testing.T, r *recordedReq)
		rejected uint64
	}{
		{name: "allowed set, :path rewrite, routing refused", cr: &extprocsvc.CommonResponse{HeaderMutation: setH("x-llm", "1", ":path", "/v2/x", "host", "evil", ":authority", "evil")},
			status: 200, rejected: 2, check: func(t *testing.T, r *recordedReq) {
				require.Equal(t, "1", r.header.Get("X-Llm"))
				require.Equal(t, "/v2/x", r.path)
				require.NotEqual(t, "evil", r.host)
			}},
		{name: "both value and raw_value", cr: &extprocsvc.CommonResponse{HeaderMutation: &extprocsvc.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x", Value: "a", RawValue: []byte("b")}}}}},
			status: 500, details: "Only_one_of_value_or_raw_value_in_the_HeaderValue_message_should_be_set.", rejected: 1},
		{name: "invalid character without disallow_is_error", cr: &extprocsvc.CommonResponse{HeaderMutation: setH("x", "a\nb")},
			status: 500, details: "Invalid_character_in_set_headers_mutation.", rejected: 1},
		{name: "disallow_is_error", rules: &mutationrulesv3.HeaderMutationRules{DisallowIsError: wrapperspb.Bool(true)}, cr: &extprocsvc.CommonResponse{HeaderMutation: setH(":scheme", "tcp")},
			status: 500, details: "Invalid_attempt_to_modify_:scheme", rejected: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				ps.recv()
				ps.send(reqHeadersResp(tc.cr))
				return ps.serveDefault()
			})
			u := newUpstream(t, nil)
			e := harnessFor(t, fp, extProc(headersOnly(), func(c *extprocv3.ExternalProcessor) { c.MutationRules = tc.rules }), u)
			resp := do(t, e, &Request{Method: "GET", Path: "/v1/x"})
			require.Equal(t, tc.status, resp.Status)
			if tc.details != "" {
				require.Equal(t, tc.details, resp.Details)
				require.Equal(t, 0, u.callCount())
			}
			if tc.check != nil {
				tc.check(t, u.requests()[0])
			}
			require.Equal(t, tc.rejected, e.Stats()["rejected_header_mutations"])
		})
	}
}

// Item 39 on the response path: :status may be changed to a valid code.
func TestItem39_ResponseStatusMutation(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			if kind(m) == "response_headers" {
				ps.send(respHeadersResp(&extprocsvc.CommonResponse{HeaderMutation: setH(":status", "201", "x-resp", "1")}))
				continue
			}
			ps.send(continueFor(m))
		}
		return nil
	})
	e := harnessFor(t, fp, extProc(headersOnly()), newUpstream(t, nil))
	resp := do(t, e, &Request{Method: "GET"})
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, "1", resp.Header.Get("X-Resp"))
}
