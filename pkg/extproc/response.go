package extproc

import (
	"context"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// Responses are built fresh for every message (gRPC may still read a sent message, so
// nothing here is pooled), but the messages one response always needs are allocated
// together: a response costs a handful of allocations instead of one per message.

// dispatch routes one request message to the exchange and builds the matching
// response. done reports an immediate response; err ends the stream.
func dispatch(ctx context.Context, ex Exchange, req *extprocv3.ProcessingRequest) (resp *extprocv3.ProcessingResponse, done bool, err error) {
	var reply Reply
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		rh := &RequestHeaders{
			Headers:     NewHeaders(r.RequestHeaders.GetHeaders().GetHeaders()),
			EndOfStream: r.RequestHeaders.GetEndOfStream(),
			Metadata:    req.GetMetadataContext(),
		}
		if a := req.GetAttributes()[AttributesKey]; a != nil {
			rh.Attributes = a.GetFields()
		}
		reply = ex.RequestHeaders(ctx, rh)
		resp = headersResponse(&reply, true)
	case *extprocv3.ProcessingRequest_RequestBody:
		reply = ex.RequestBody(ctx, r.RequestBody.GetBody(), r.RequestBody.GetEndOfStream())
		resp = bodyResponse(&reply, true)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		reply = ex.ResponseHeaders(ctx, NewHeaders(r.ResponseHeaders.GetHeaders().GetHeaders()), r.ResponseHeaders.GetEndOfStream())
		resp = headersResponse(&reply, false)
	case *extprocv3.ProcessingRequest_ResponseBody:
		reply = ex.ResponseBody(ctx, r.ResponseBody.GetBody(), r.ResponseBody.GetEndOfStream())
		resp = bodyResponse(&reply, false)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}, false, nil
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}, false, nil
	default:
		return nil, false, status.Error(codes.InvalidArgument, "unsupported ext_proc message")
	}
	if err := reply.Metadata.Err(); err != nil {
		// gRPC's marshaller refused such a Struct the same way.
		return nil, false, status.Error(codes.Internal, err.Error())
	}
	return resp, reply.Immediate != nil, nil
}

// headersWire is every message of a headers response, allocated at once.
type headersWire struct {
	resp   extprocv3.ProcessingResponse
	req    extprocv3.ProcessingResponse_RequestHeaders
	res    extprocv3.ProcessingResponse_ResponseHeaders
	hr     extprocv3.HeadersResponse
	common extprocv3.CommonResponse
}

func headersResponse(reply *Reply, request bool) *extprocv3.ProcessingResponse {
	if reply.Immediate != nil {
		return immediate(reply)
	}
	w := &headersWire{}
	commonResponse(&w.common, reply)
	if reply.ContinueAndReplace {
		w.common.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
	}
	w.hr.Response = &w.common
	w.resp.DynamicMetadata = reply.Metadata.dynamicMetadata(nil)
	if request {
		w.req.RequestHeaders = &w.hr
		w.resp.Response = &w.req
	} else {
		w.res.ResponseHeaders = &w.hr
		w.resp.Response = &w.res
		switch {
		case reply.StreamResponseBody:
			// Body modes in an override are literal (item 86): name both.
			w.resp.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED}
		case reply.SkipResponseBody:
			w.resp.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE}
		}
	}
	return &w.resp
}

// bodyWire is every message of a body response, allocated at once.
type bodyWire struct {
	resp   extprocv3.ProcessingResponse
	req    extprocv3.ProcessingResponse_RequestBody
	res    extprocv3.ProcessingResponse_ResponseBody
	br     extprocv3.BodyResponse
	common extprocv3.CommonResponse
}

// bodyWireMetadata is a bodyWire with the dynamic metadata Struct, for the body
// replies that carry metadata (streamed chunks mostly do not).
type bodyWireMetadata struct {
	bodyWire
	md structpb.Struct
}

func bodyResponse(reply *Reply, request bool) *extprocv3.ProcessingResponse {
	if reply.Immediate != nil {
		return immediate(reply)
	}
	var w *bodyWire
	if reply.Metadata.Empty() {
		w = &bodyWire{}
	} else {
		wm := &bodyWireMetadata{}
		w = &wm.bodyWire
		w.resp.DynamicMetadata = reply.Metadata.dynamicMetadata(&wm.md)
	}
	commonResponse(&w.common, reply)
	w.br.Response = &w.common
	if request {
		w.req.RequestBody = &w.br
		w.resp.Response = &w.req
	} else {
		w.res.ResponseBody = &w.br
		w.resp.Response = &w.res
	}
	return &w.resp
}

// bodyMutationWire is a body mutation that replaces the body.
type bodyMutationWire struct {
	bm   extprocv3.BodyMutation
	body extprocv3.BodyMutation_Body
}

// commonResponse fills c from the reply's header and body changes.
func commonResponse(c *extprocv3.CommonResponse, reply *Reply) {
	if !reply.Headers.Empty() || reply.ClearRouteCache {
		// clear_route_cache only works with a header_mutation present (item 78).
		c.HeaderMutation = headerMutation(&reply.Headers)
		c.ClearRouteCache = reply.ClearRouteCache
	}
	if reply.ReplaceBody {
		m := &bodyMutationWire{}
		m.body.Body = reply.Body
		m.bm.Mutation = &m.body
		c.BodyMutation = &m.bm
	}
}

// headerOption is one set_headers entry with its header.
type headerOption struct {
	opt corev3.HeaderValueOption
	hv  corev3.HeaderValue
}

// headerMutation converts m. The entries, and the bytes of all values, are allocated
// in one block each; the set list itself is copied, so the Exchange may reuse it.
func headerMutation(m *HeaderMutation) *extprocv3.HeaderMutation {
	hm := &extprocv3.HeaderMutation{RemoveHeaders: m.Remove}
	n := len(m.Set)
	if n == 0 {
		return hm
	}
	size := 0
	for _, h := range m.Set {
		size += len(h.Value)
	}
	raw := make([]byte, 0, size)
	opts := make([]headerOption, n)
	hm.SetHeaders = make([]*corev3.HeaderValueOption, n)
	for i, h := range m.Set {
		start := len(raw)
		raw = append(raw, h.Value...)
		o := &opts[i]
		// Values go in raw_value only (item 35); append unset means overwrite (item 34).
		o.hv.Key = h.Name
		o.hv.RawValue = raw[start:len(raw):len(raw)]
		o.opt.Header = &o.hv
		hm.SetHeaders[i] = &o.opt
	}
	return hm
}

func immediate(reply *Reply) *extprocv3.ProcessingResponse {
	ir := reply.Immediate
	out := &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(ir.Status)},
		Body:    ir.Body,
		Details: ir.Details,
	}
	if len(ir.Headers) > 0 {
		out.Headers = headerMutation(&HeaderMutation{Set: ir.Headers})
	}
	return &extprocv3.ProcessingResponse{
		Response:        &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: out},
		DynamicMetadata: reply.Metadata.dynamicMetadata(nil),
	}
}
