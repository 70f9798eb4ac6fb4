package harness

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

func itoa(n int) string { return strconv.Itoa(n) }

// pipe is the input side of one direction of a filter chain: headers, then data, then
// optionally trailers. End of message is signalled by eos on headers or data, or by trailers.
type pipe interface {
	onHeaders(h *hmap, eos bool)
	onData(b []byte, eos bool)
	onTrailers(t *hmap)
}

// localReplyReq is a local reply requested by a filter (immediate_response or an error).
type localReplyReq struct {
	code    int
	body    []byte
	details string
	mutate  func(*hmap)
}

// filterHost connects a filter instance to its position: the downstream stream (router-level
// filter) or one upstream attempt (upstream filter).
type filterHost struct {
	localReply      func(localReplyReq)
	clearRouteCache func()
	attrEnv         func() *attrEnv
	watermark       func(request, on bool)
	overflow        func(request bool)
	dead            func() bool
}

// extProcFilter is one instance of envoy.filters.http.ext_proc for one HTTP stream (or one
// upstream attempt). It mirrors Envoy's Filter class; dirState mirrors ProcessorState.
type extProcFilter struct {
	s                  *stream
	cfg                *filterConfig
	host               filterHost
	side               *sideStream
	processingComplete bool
	protocolConfigSent bool
	sentImmediate      bool
	destroyed          bool
	dec, enc           dirState
}

func newFilter(s *stream, cfg *filterConfig, host filterHost, decNext, encNext pipe) *extProcFilter {
	f := &extProcFilter{s: s, cfg: cfg, host: host}
	f.dec = dirState{f: f, request: true, next: decNext}
	f.enc = dirState{f: f, request: false, next: encNext}
	f.dec.setMode(cfg.mode)
	f.enc.setMode(cfg.mode)
	return f
}

func (f *extProcFilter) dead() bool { return f.destroyed || f.host.dead() }

func (f *extProcFilter) inc(name string) {
	f.s.e.stats.inc(name)
	f.s.e.stats.inc("ext_proc." + f.cfg.name + "." + name)
}

type openResult int

const (
	openOK openResult = iota
	openIgnore
	openError
)

// openStream is Filter::openStream: the side stream is opened lazily by the first message
// that needs sending (item 1).
func (f *extProcFilter) openStream() openResult {
	if f.processingComplete {
		return openIgnore
	}
	if f.side == nil {
		ss, err := f.startSide()
		if err != nil {
			// A synchronous gRPC failure follows items 14/15 (item 18).
			f.onGrpcError(err)
			if f.sentImmediate {
				return openError
			}
			return openIgnore
		}
		f.side = ss
		f.inc("streams_started")
	}
	return openOK
}

func (f *extProcFilter) closeStream() {
	if f.side == nil {
		return
	}
	if f.side.close() {
		f.inc("streams_closed")
	}
	f.side = nil
}

// onDestroy is Filter::onDestroy: stop timers, close the stream, no local reply (item 32).
func (f *extProcFilter) onDestroy() {
	if f.destroyed {
		return
	}
	f.processingComplete = true
	f.dec.stopTimer()
	f.enc.stopTimer()
	f.closeStream()
	f.destroyed = true
}

func (f *extProcFilter) send(req *extprocsvc.ProcessingRequest) {
	f.side.send(req)
	f.inc("stream_msgs_sent")
}

// addCommon fills attributes (first message of a direction, item 94), metadata_context
// (always, item 7) and protocol_config (first message only, item 6).
func (f *extProcFilter) addCommon(d *dirState, req *extprocsvc.ProcessingRequest) {
	exprs := f.cfg.respAttrs
	if d.request {
		exprs = f.cfg.reqAttrs
	}
	if !d.sentAttrs && len(exprs) > 0 {
		d.sentAttrs = true
		env := f.host.attrEnv()
		if d.request {
			env.respHeaders = nil
		}
		req.Attributes = map[string]*structpb.Struct{attrKey: evalAttributes(exprs, env)}
	}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for _, ns := range f.cfg.forwardingNS {
		if v, ok := f.s.meta[ns]; ok {
			md.FilterMetadata[ns] = proto.Clone(v).(*structpb.Struct)
		}
	}
	req.MetadataContext = md
	if !f.protocolConfigSent {
		f.protocolConfigSent = true
		req.ProtocolConfig = &extprocsvc.ProtocolConfiguration{
			RequestBodyMode:                         f.dec.bodyMode,
			ResponseBodyMode:                        f.enc.bodyMode,
			SendBodyWithoutWaitingForHeaderResponse: f.cfg.sendBodyWithoutWaiting,
		}
	}
}

func (f *extProcFilter) buildHeaderRequest(d *dirState, h *hmap, eos bool) *extprocsvc.ProcessingRequest {
	req := &extprocsvc.ProcessingRequest{}
	f.addCommon(d, req)
	hh := &extprocsvc.HttpHeaders{Headers: h.toProto(f.cfg.headerForwardable), EndOfStream: eos}
	if d.request {
		req.Request = &extprocsvc.ProcessingRequest_RequestHeaders{RequestHeaders: hh}
	} else {
		req.Request = &extprocsvc.ProcessingRequest_ResponseHeaders{ResponseHeaders: hh}
	}
	return req
}

func (f *extProcFilter) setupBodyChunk(d *dirState, data []byte, eos bool) *extprocsvc.ProcessingRequest {
	req := &extprocsvc.ProcessingRequest{}
	f.addCommon(d, req)
	hb := &extprocsvc.HttpBody{Body: append([]byte(nil), data...), EndOfStream: eos}
	if d.request {
		req.Request = &extprocsvc.ProcessingRequest_RequestBody{RequestBody: hb}
	} else {
		req.Request = &extprocsvc.ProcessingRequest_ResponseBody{ResponseBody: hb}
	}
	return req
}

func (f *extProcFilter) sendBodyChunk(d *dirState, next cbState, req *extprocsvc.ProcessingRequest) {
	d.onStartProcessorCall(next)
	f.send(req)
}

func (f *extProcFilter) sendTrailers(d *dirState, t *hmap) {
	req := &extprocsvc.ProcessingRequest{}
	f.addCommon(d, req)
	ht := &extprocsvc.HttpTrailers{Trailers: t.toProto(f.cfg.headerForwardable)}
	if d.request {
		req.Request = &extprocsvc.ProcessingRequest_RequestTrailers{RequestTrailers: ht}
	} else {
		req.Request = &extprocsvc.ProcessingRequest_ResponseTrailers{ResponseTrailers: ht}
	}
	d.onStartProcessorCall(cbTrailers)
	f.send(req)
}

// failureModeAllow is failure_mode_allow (FULL_DUPLEX_STREAMED is not emulated, item 69).
func (f *extProcFilter) failureModeAllow() bool { return f.cfg.failureModeAllow }

type procErr struct {
	spurious bool
	msg      string
}

func (e *procErr) Error() string { return e.msg }

func spurious(msg string) error { return &procErr{spurious: true, msg: msg} }

// onReceiveMessage is Filter::onReceiveMessage (items 13–31, 82–88).
func (f *extProcFilter) onReceiveMessage(resp *extprocsvc.ProcessingResponse) {
	if f.processingComplete {
		return // item 16
	}
	if resp.GetOverrideMessageTimeout() != nil {
		f.onNewTimeout(resp) // item 23: nothing else in the message is looked at
		return
	}
	if resp.GetModeOverride() != nil && f.cfg.allowModeOverride && !f.cfg.sendBodyWithoutWaiting &&
		(f.dec.cb == cbHeaders || f.enc.cb == cbHeaders) {
		f.applyModeOverride(resp.GetModeOverride()) // items 85–87
	}
	var err error
	isLastBody := false
	switch r := resp.GetResponse().(type) {
	case *extprocsvc.ProcessingResponse_RequestHeaders:
		f.setDynamicMetadata(resp)
		err = f.dec.handleHeadersResponse(r.RequestHeaders.GetResponse())
	case *extprocsvc.ProcessingResponse_ResponseHeaders:
		f.setDynamicMetadata(resp)
		err = f.enc.handleHeadersResponse(r.ResponseHeaders.GetResponse())
	case *extprocsvc.ProcessingResponse_RequestBody:
		isLastBody = f.dec.isLastBodyResponse()
		f.setDynamicMetadata(resp)
		err = f.dec.handleBodyResponse(r.RequestBody.GetResponse())
	case *extprocsvc.ProcessingResponse_ResponseBody:
		isLastBody = f.enc.isLastBodyResponse()
		f.setDynamicMetadata(resp)
		err = f.enc.handleBodyResponse(r.ResponseBody.GetResponse())
	case *extprocsvc.ProcessingResponse_RequestTrailers:
		f.setDynamicMetadata(resp)
		err = f.dec.handleTrailersResponse(r.RequestTrailers)
	case *extprocsvc.ProcessingResponse_ResponseTrailers:
		f.setDynamicMetadata(resp)
		err = f.enc.handleTrailersResponse(r.ResponseTrailers)
	case *extprocsvc.ProcessingResponse_ImmediateResponse:
		if f.cfg.disableImmediate {
			err = spurious("unhandled immediate response due to config disabled it")
			break
		}
		f.setDynamicMetadata(resp)
		f.processingComplete = true
		f.onFinishProcessorCalls()
		f.closeStream()
		f.inc("stream_msgs_received")
		f.sendImmediateResponse(r.ImmediateResponse) // item 24: accepted in any state
		return
	default:
		// No oneof (item 22), or streamed_immediate_response, which this emulation of the
		// pre-1.37 filter treats as unknown (item 100).
		err = spurious("unhandled message")
	}
	if err == nil {
		f.inc("stream_msgs_received")
		if !f.dead() {
			f.closeIfLastResponse(resp, isLastBody)
		}
		return
	}
	if f.dead() {
		return
	}
	if pe, ok := err.(*procErr); ok && pe.spurious {
		f.inc("spurious_msgs_received")
		f.processingComplete = true
		if f.failureModeAllow() { // item 21
			f.closeStream()
			f.inc("failure_mode_allowed")
			f.clearAsyncState()
			return
		}
		f.onFinishProcessorCalls() // item 20
		f.closeStream()
		f.sendImmediateResponse(&extprocsvc.ImmediateResponse{Details: err.Error()}, f.cfg.statusOnError)
		return
	}
	// Any other processing error: a local reply with status_on_error (items 27, 36, 41, 76).
	f.inc("stream_msgs_received")
	f.processingComplete = true
	f.onFinishProcessorCalls()
	f.closeStream()
	f.sendImmediateResponse(&extprocsvc.ImmediateResponse{Details: err.Error()}, f.cfg.statusOnError)
}

// closeIfLastResponse is the stream close optimisation (item 11).
func (f *extProcFilter) closeIfLastResponse(resp *extprocsvc.ProcessingResponse, isLastBody bool) {
	if f.side == nil {
		return
	}
	last := false
	switch resp.GetResponse().(type) {
	case *extprocsvc.ProcessingResponse_RequestHeaders:
		last = (f.dec.headersEOS || (f.dec.bodyMode == extprocv3.ProcessingMode_NONE && !f.dec.sendTrailers)) && f.enc.noExternalProcess()
	case *extprocsvc.ProcessingResponse_RequestBody:
		last = isLastBody && f.enc.noExternalProcess()
	case *extprocsvc.ProcessingResponse_RequestTrailers:
		last = f.enc.noExternalProcess()
	case *extprocsvc.ProcessingResponse_ResponseHeaders:
		last = f.enc.headersEOS || (f.enc.bodyMode == extprocv3.ProcessingMode_NONE && !f.enc.sendTrailers)
	case *extprocsvc.ProcessingResponse_ResponseBody:
		last = isLastBody
	case *extprocsvc.ProcessingResponse_ResponseTrailers:
		last = true
	}
	if last {
		f.closeStream()
	}
}

// applyModeOverride computes the effective override (item 86) and applies it when allowed
// (item 87).
func (f *extProcFilter) applyModeOverride(mo *extprocv3.ProcessingMode) {
	base := f.cfg.mode
	eff := &extprocv3.ProcessingMode{
		RequestHeaderMode:   mo.GetRequestHeaderMode(),
		ResponseHeaderMode:  mo.GetResponseHeaderMode(),
		RequestBodyMode:     mo.GetRequestBodyMode(),
		ResponseBodyMode:    mo.GetResponseBodyMode(),
		RequestTrailerMode:  mo.GetRequestTrailerMode(),
		ResponseTrailerMode: mo.GetResponseTrailerMode(),
	}
	def := extprocv3.ProcessingMode_DEFAULT
	if eff.RequestHeaderMode == def {
		eff.RequestHeaderMode = base.GetRequestHeaderMode()
	}
	if eff.ResponseHeaderMode == def {
		eff.ResponseHeaderMode = base.GetResponseHeaderMode()
	}
	if eff.RequestTrailerMode == def {
		eff.RequestTrailerMode = base.GetRequestTrailerMode()
	}
	if eff.ResponseTrailerMode == def {
		eff.ResponseTrailerMode = base.GetResponseTrailerMode()
	}
	if len(f.cfg.allowedOverrideModes) > 0 {
		ok := false
		for _, a := range f.cfg.allowedOverrideModes {
			if a.GetRequestBodyMode() == eff.RequestBodyMode && a.GetRequestTrailerMode() == eff.RequestTrailerMode &&
				a.GetResponseHeaderMode() == eff.ResponseHeaderMode && a.GetResponseBodyMode() == eff.ResponseBodyMode &&
				a.GetResponseTrailerMode() == eff.ResponseTrailerMode {
				ok = true
				break
			}
		}
		if !ok {
			return
		}
	}
	f.dec.setMode(eff)
	f.enc.setMode(eff)
}

// setDynamicMetadata writes only receiving namespaces, merging into existing ones (item 82).
func (f *extProcFilter) setDynamicMetadata(resp *extprocsvc.ProcessingResponse) {
	dm := resp.GetDynamicMetadata()
	if dm == nil || len(f.cfg.receivingNS) == 0 {
		return
	}
	for _, ns := range f.cfg.receivingNS {
		v, ok := dm.GetFields()[ns]
		if !ok {
			continue
		}
		src := v.GetStructValue()
		if src == nil {
			src = &structpb.Struct{}
		}
		if cur, ok := f.s.meta[ns]; ok {
			proto.Merge(cur, src)
		} else {
			f.s.meta[ns] = proto.Clone(src).(*structpb.Struct)
		}
	}
}

func (f *extProcFilter) onFinishProcessorCalls() {
	f.dec.onFinishProcessorCall(cbIdle)
	f.enc.onFinishProcessorCall(cbIdle)
}

func (f *extProcFilter) clearAsyncState() {
	f.dec.clearAsyncState()
	if f.dead() {
		return
	}
	f.enc.clearAsyncState()
}

// onGrpcError is Filter::onGrpcError (items 14, 15).
func (f *extProcFilter) onGrpcError(err error) {
	f.inc("streams_failed")
	if f.processingComplete {
		return
	}
	if f.failureModeAllow() {
		f.onGrpcClose()
		f.inc("failure_mode_allowed")
		return
	}
	f.processingComplete = true
	f.onFinishProcessorCalls()
	f.closeStream()
	f.sendImmediateResponse(&extprocsvc.ImmediateResponse{Details: grpcErrorDetails(err)}, f.cfg.statusOnError)
}

// onGrpcClose is Filter::onGrpcClose: a clean close ends processing in both directions
// whatever failure_mode_allow says (item 13).
func (f *extProcFilter) onGrpcClose() {
	f.processingComplete = true
	f.inc("streams_closed")
	f.closeStream()
	f.clearAsyncState()
}

// onMessageTimeout is Filter::onMessageTimeout (items 29, 30).
func (f *extProcFilter) onMessageTimeout() {
	f.inc("message_timeouts")
	f.processingComplete = true
	f.closeStream()
	if f.failureModeAllow() {
		f.inc("failure_mode_allowed")
		f.clearAsyncState()
		return
	}
	f.onFinishProcessorCalls()
	f.sendImmediateResponse(&extprocsvc.ImmediateResponse{Details: "ext_proc_error_per-message_timeout_exceeded"}, 504)
}

// onNewTimeout handles override_message_timeout (items 23, 31).
func (f *extProcFilter) onNewTimeout(resp *extprocsvc.ProcessingResponse) {
	d := resp.GetOverrideMessageTimeout()
	if d.CheckValid() != nil {
		f.inc("override_message_timeout_ignored")
		return
	}
	ms := d.AsDuration().Milliseconds()
	if ms < 1 || ms > f.cfg.maxMessageTimeout.Milliseconds() {
		f.inc("override_message_timeout_ignored")
		return
	}
	decR := f.dec.restartTimer(ms)
	encR := f.enc.restartTimer(ms)
	if !decR && !encR {
		f.inc("override_message_timeout_ignored")
		return
	}
	f.inc("override_message_timeout_received")
}

// sendImmediateResponse is Filter::sendImmediateResponse (item 88). code, when given,
// overrides the response's status (used for the error paths).
func (f *extProcFilter) sendImmediateResponse(ir *extprocsvc.ImmediateResponse, code ...int) {
	status := 200
	if ir.GetStatus() != nil {
		status = int(ir.GetStatus().GetCode())
	}
	if len(code) > 0 {
		status = code[0]
	}
	if status < 200 {
		status = 200
	}
	headers := ir.GetHeaders()
	mutate := func(h *hmap) {
		if headers == nil {
			return
		}
		// Item 89: the filter's mutation rules apply; errors are only logged.
		if err := applyHeaderMutations(headers, h, false, false, f.cfg.checker, func() { f.inc("rejected_header_mutations") }); err != nil {
			f.s.e.log.Debug("immediate response header mutation failed", zap.Error(err))
		}
	}
	f.sentImmediate = true
	f.host.localReply(localReplyReq{code: status, body: ir.GetBody(), details: replaceAllEmptySpace(ir.GetDetails()), mutate: mutate})
}
