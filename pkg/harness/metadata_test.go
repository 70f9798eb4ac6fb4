package harness

import (
	"io"
	"net/http"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"
)

func dm(t *testing.T, m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	require.NoError(t, err)
	return s
}

// Items 82, 83: dynamic_metadata lands only in receiving namespaces, merged into existing
// ones (same-named fields overwritten); a non-Struct value becomes an empty Struct; the
// metadata is forwarded back in metadata_context for forwarding namespaces (item 84).
func TestItem82_DynamicMetadata(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			r := continueFor(m)
			switch kind(m) {
			case "request_headers":
				r.DynamicMetadata = dm(t, map[string]any{
					"llm_router": map[string]any{"backend": "openai", "model": "gpt-4o"},
					"other":      map[string]any{"x": 1},
					"scalar_ns":  "not a struct",
				})
			case "response_body":
				fc := m.GetMetadataContext().GetFilterMetadata()["llm_router"].GetFields()
				require.Equal(t, "gpt-4o", fc["model"].GetStringValue(), "item 84: forwarded")
				r.DynamicMetadata = dm(t, map[string]any{"llm_router": map[string]any{"model": "gpt-4o-2024", "total_tokens": 42}})
			}
			ps.send(r)
		}
		return nil
	})
	var entry AccessLogEntry
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.MetadataOptions = &extprocv3.MetadataOptions{
			ReceivingNamespaces:  &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{"llm_router", "scalar_ns"}},
			ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{"llm_router"}},
		}
	}), newUpstream(t, nil), func(c *Config) { c.AccessLog = func(a AccessLogEntry) { entry = a } })
	require.Equal(t, 200, do(t, e, post(`{}`)).Status)
	require.Equal(t, map[string]any{"backend": "openai", "model": "gpt-4o-2024", "total_tokens": float64(42)}, entry.DynamicMetadata["llm_router"].AsMap())
	require.NotContains(t, entry.DynamicMetadata, "other")
	require.Empty(t, entry.DynamicMetadata["scalar_ns"].GetFields())
}

// Item 82: with no receiving namespaces nothing is written.
func TestItem82_NoReceivingNamespaces(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			r := continueFor(m)
			r.DynamicMetadata = dm(t, map[string]any{"llm_router": map[string]any{"a": "b"}})
			ps.send(r)
		}
		return nil
	})
	var entry AccessLogEntry
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) { c.MetadataOptions = nil }), newUpstream(t, nil),
		func(c *Config) { c.AccessLog = func(a AccessLogEntry) { entry = a } })
	require.Equal(t, 200, do(t, e, post(`{}`)).Status)
	require.Empty(t, entry.DynamicMetadata)
}

// Items 85, 86: mode_override on the response headers switches the response body to
// STREAMED (how the processor handles SSE); header/trailer DEFAULT keep the filter-level
// values, body modes are literal.
func TestItem85And86_ModeOverrideForSSE(t *testing.T) {
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			r := continueFor(m)
			if kind(m) == "response_headers" {
				ct, _ := headerValue(m.GetResponseHeaders().GetHeaders(), "content-type")
				if ct == "text/event-stream" {
					r.ModeOverride = &extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_STREAMED}
				}
			}
			ps.send(r)
		}
		return nil
	})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for _, ev := range []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"} {
			time.Sleep(10 * time.Millisecond)
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
		time.Sleep(10 * time.Millisecond) // the end of the stream comes as its own frame
	})
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) { c.AllowModeOverride = true }), u)
	resp := do(t, e, post(`{"stream":true}`))
	require.Equal(t, "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n", string(resp.Body))
	require.Equal(t, []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"}, chunkStrings(resp.Chunks))
	require.Equal(t, []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n", "|eos"}, bodiesOf(fp.allStreams()[0].messages(), false))
}

// Items 85–87: when an override applies.
func TestItems85to87_ModeOverrideRules(t *testing.T) {
	none := extprocv3.ProcessingMode_NONE
	for _, tc := range []struct {
		name    string
		allow   bool
		allowed []*extprocv3.ProcessingMode
		onBody  bool
		mo      *extprocv3.ProcessingMode
		kinds   []string
		sendHdr bool // filter-level response_header_mode SEND instead of DEFAULT
	}{
		{name: "disabled by default", mo: &extprocv3.ProcessingMode{RequestBodyMode: none},
			kinds: []string{"request_headers", "request_body", "response_headers", "response_body"}},
		{name: "applied on request headers, unset body modes become NONE (86)", allow: true, mo: &extprocv3.ProcessingMode{},
			kinds: []string{"request_headers", "response_headers"}},
		{name: "DEFAULT header mode keeps filter level (86)", allow: true, mo: &extprocv3.ProcessingMode{ResponseHeaderMode: extprocv3.ProcessingMode_DEFAULT, ResponseBodyMode: extprocv3.ProcessingMode_BUFFERED},
			kinds: []string{"request_headers", "response_headers", "response_body"}},
		{name: "SKIP response headers", allow: true, mo: &extprocv3.ProcessingMode{ResponseHeaderMode: extprocv3.ProcessingMode_SKIP},
			kinds: []string{"request_headers"}},
		{name: "ignored on a body response (85)", allow: true, onBody: true, mo: &extprocv3.ProcessingMode{},
			kinds: []string{"request_headers", "request_body", "response_headers", "response_body"}},
		{name: "allowed_override_modes match (87)", allow: true, allowed: []*extprocv3.ProcessingMode{{ResponseHeaderMode: extprocv3.ProcessingMode_SEND}},
			mo: &extprocv3.ProcessingMode{ResponseHeaderMode: extprocv3.ProcessingMode_SEND}, kinds: []string{"request_headers", "response_headers"}},
		{name: "allowed_override_modes DEFAULT must match literally (87)", allow: true, allowed: []*extprocv3.ProcessingMode{{ResponseHeaderMode: extprocv3.ProcessingMode_DEFAULT}},
			mo: &extprocv3.ProcessingMode{}, sendHdr: true, kinds: []string{"request_headers", "request_body", "response_headers", "response_body"}},
		{name: "allowed_override_modes all-DEFAULT entry matches an all-DEFAULT effective mode (87)", allow: true, allowed: []*extprocv3.ProcessingMode{{}},
			mo: &extprocv3.ProcessingMode{}, kinds: []string{"request_headers", "response_headers"}},
		{name: "allowed_override_modes ignore request_header_mode (87)", allow: true, allowed: []*extprocv3.ProcessingMode{{RequestHeaderMode: extprocv3.ProcessingMode_SKIP, ResponseHeaderMode: extprocv3.ProcessingMode_SEND}},
			mo: &extprocv3.ProcessingMode{ResponseHeaderMode: extprocv3.ProcessingMode_SEND}, kinds: []string{"request_headers", "response_headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProc(t, func(ps *procStream) error {
				for m := range ps.in {
					r := continueFor(m)
					if (kind(m) == "request_headers" && !tc.onBody) || (kind(m) == "request_body" && tc.onBody) {
						r.ModeOverride = tc.mo
					}
					ps.send(r)
				}
				return nil
			})
			e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
				c.AllowModeOverride = tc.allow
				c.AllowedOverrideModes = tc.allowed
				if tc.sendHdr {
					c.ProcessingMode.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
				}
			}), newUpstream(t, nil))
			require.Equal(t, 200, do(t, e, post(`{}`)).Status)
			require.Equal(t, tc.kinds, kinds(fp.allStreams()[0].messages()))
		})
	}
}
