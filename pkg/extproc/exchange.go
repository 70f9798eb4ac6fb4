// Package extproc is the Envoy ext_proc gRPC server: it speaks
// envoy.service.ext_proc.v3.ExternalProcessor and turns each bidi stream (one per HTTP
// request per filter) into calls on an Exchange, in Envoy's order. It knows the
// protocol (which response kind answers which message, raw_value headers, mode
// overrides, dynamic metadata) and nothing about LLM providers; the Handler decides.
package extproc

import (
	"context"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// Handler creates one Exchange per ext_proc stream.
type Handler interface {
	NewExchange(ctx context.Context) Exchange
}

// Exchange handles one HTTP request as one ext_proc stream sees it. Methods are called
// sequentially from one goroutine, in Envoy's order; a phase the filter is not
// configured to send is simply not called.
type Exchange interface {
	// RequestHeaders handles the request headers message.
	RequestHeaders(ctx context.Context, req *RequestHeaders) Reply
	// RequestBody handles a request body message (the whole body in BUFFERED mode).
	RequestBody(ctx context.Context, body []byte, endOfStream bool) Reply
	// ResponseHeaders handles the response headers message.
	ResponseHeaders(ctx context.Context, h Headers, endOfStream bool) Reply
	// ResponseBody handles a response body message: the whole body in BUFFERED mode, or
	// one chunk in STREAMED mode.
	ResponseBody(ctx context.Context, chunk []byte, endOfStream bool) Reply
	// Close is called exactly once when the stream ends; err is nil on a clean end.
	Close(ctx context.Context, err error)
}

// RequestHeaders is the first message of a request.
type RequestHeaders struct {
	Headers     Headers
	EndOfStream bool
	// Attributes are the values of the filter's request_attributes, by expression.
	Attributes map[string]*structpb.Value
	// Metadata is the forwarded dynamic metadata (metadata_options.forwarding_namespaces).
	Metadata *corev3.Metadata
}

// Headers is a read-only view of the headers Envoy sent.
type Headers struct {
	list []*corev3.HeaderValue
}

// NewHeaders wraps Envoy's header list.
func NewHeaders(list []*corev3.HeaderValue) Headers { return Headers{list: list} }

// Get returns the first value of the lower-case header name, or "". Envoy sends values
// in raw_value; value is read only as a fallback for older Envoys.
func (h Headers) Get(name string) string {
	for _, hv := range h.list {
		if hv.GetKey() == name {
			if raw := hv.GetRawValue(); len(raw) > 0 {
				return string(raw)
			}
			return hv.GetValue()
		}
	}
	return ""
}

// Bytes returns the first value of the lower-case header name like Get, but without
// copying it (nil when absent). The slice aliases Envoy's message: do not modify it or
// keep it beyond the Exchange call.
func (h Headers) Bytes(name string) []byte {
	for _, hv := range h.list {
		if hv.GetKey() == name {
			if raw := hv.GetRawValue(); len(raw) > 0 {
				return raw
			}
			return []byte(hv.GetValue())
		}
	}
	return nil
}

// Len returns the number of header entries.
func (h Headers) Len() int { return len(h.list) }

// Each calls fn for every header entry in order.
func (h Headers) Each(fn func(name, value string)) {
	for _, hv := range h.list {
		v := hv.GetValue()
		if raw := hv.GetRawValue(); len(raw) > 0 {
			v = string(raw)
		}
		fn(hv.GetKey(), v)
	}
}

// HeaderMutation sets (replacing existing values) and removes headers. Envoy applies
// removals before sets.
type HeaderMutation struct {
	Set    []Header
	Remove []string
}

// Header is one header name and value.
type Header struct {
	Name, Value string
}

// AddSet appends a header to set.
func (m *HeaderMutation) AddSet(name, value string) { m.Set = append(m.Set, Header{name, value}) }

// AddRemove appends a header to remove.
func (m *HeaderMutation) AddRemove(name string) { m.Remove = append(m.Remove, name) }

// Empty reports whether the mutation changes nothing.
func (m *HeaderMutation) Empty() bool { return len(m.Set) == 0 && len(m.Remove) == 0 }

// Reply is the Exchange's answer to one message.
//
// The server builds the response before it calls the Exchange again. It copies
// Headers.Set and Metadata, so the Exchange may reuse their storage for its next reply;
// Headers.Remove, Body and the Immediate response are referenced by the response (gRPC
// may read it after Send returns) and must not be modified afterwards.
type Reply struct {
	// Immediate, when set, ends the request with a local response.
	Immediate *ImmediateResponse
	// Headers mutates the headers of the message's direction. On body replies it applies
	// only while Envoy still holds the headers (BUFFERED mode).
	Headers HeaderMutation
	// ReplaceBody replaces the body (or the chunk, in STREAMED mode) with Body.
	ReplaceBody bool
	Body        []byte
	// ContinueAndReplace answers a headers message with CONTINUE_AND_REPLACE: the body
	// (when ReplaceBody) replaces the original, and no body messages follow.
	ContinueAndReplace bool
	// ClearRouteCache asks Envoy to recompute the route (router-level request path only).
	ClearRouteCache bool
	// Metadata fields are written to the llm_router dynamic metadata namespace.
	Metadata Metadata
	// StreamResponseBody, on a response headers reply, switches the response body to
	// STREAMED processing (mode_override) so SSE chunks are translated as they arrive.
	StreamResponseBody bool
	// SkipResponseBody, on a response headers reply, stops response body processing.
	SkipResponseBody bool
}

// ImmediateResponse is a local reply sent instead of contacting (or forwarding) upstream.
type ImmediateResponse struct {
	Status  int
	Headers []Header
	Body    []byte
	// Details appears in Envoy's %RESPONSE_CODE_DETAILS%.
	Details string
}
