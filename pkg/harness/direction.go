package harness

import (
	"strconv"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// cbState is ProcessorState::CallbackState.
type cbState int

const (
	cbIdle cbState = iota
	cbHeaders
	cbBufferedBody
	cbStreamedBody
	cbPartialBody
	cbTrailers
)

type qchunk struct {
	n   int
	eos bool
}

const (
	modeNone     = extprocv3.ProcessingMode_NONE
	modeBuffered = extprocv3.ProcessingMode_BUFFERED
	modeStreamed = extprocv3.ProcessingMode_STREAMED
	modePartial  = extprocv3.ProcessingMode_BUFFERED_PARTIAL
)

// dirState is one direction of an ext_proc filter: Envoy's Decoding/EncodingProcessorState
// together with the filter-manager bookkeeping (held headers, buffered data, held trailers)
// that decides what reaches the next filter and when.
type dirState struct {
	f       *extProcFilter
	request bool
	next    pipe

	sendHeaders, sendTrailers bool
	bodyMode                  extprocv3.ProcessingMode_BodySendMode

	cb     cbState
	paused bool

	hdrs           *hmap // the message's header map
	headers        *hmap // headers_: non-nil while they may still be mutated
	headersEOS     bool  // no_body_
	headersPassed  bool
	completeBody   bool // complete_body_available_
	sourceEnded    bool
	eosPassed      bool
	trailers       *hmap
	trailersAvail  bool
	trailersPassed bool

	buf    []byte // filter-manager buffered data (bufferedData())
	hasBuf bool

	queue            []qchunk
	qdata            []byte
	bodyReplaced     bool
	partialProcessed bool
	sentAttrs        bool
	watermark        bool

	timer              *time.Timer
	timerGen           uint64
	timerOn            bool
	newTimeoutReceived bool
}

func (d *dirState) setMode(m *extprocv3.ProcessingMode) {
	if d.request {
		d.sendHeaders = m.GetRequestHeaderMode() != extprocv3.ProcessingMode_SKIP
		d.sendTrailers = m.GetRequestTrailerMode() == extprocv3.ProcessingMode_SEND
		d.bodyMode = m.GetRequestBodyMode()
	} else {
		d.sendHeaders = m.GetResponseHeaderMode() != extprocv3.ProcessingMode_SKIP
		d.sendTrailers = m.GetResponseTrailerMode() == extprocv3.ProcessingMode_SEND
		d.bodyMode = m.GetResponseBodyMode()
	}
}

func (d *dirState) noExternalProcess() bool {
	return !d.sendHeaders && !d.sendTrailers && d.bodyMode == modeNone
}

// shouldRemoveContentLength is item 74.
func (d *dirState) shouldRemoveContentLength() bool {
	return (d.bodyMode == modeBuffered && !d.sendHeaders) || d.bodyMode == modeStreamed || d.bodyMode == modePartial
}

func (d *dirState) limit() int { return d.f.s.e.bufferLimit }

// ---- timers (item 28) ----

func (d *dirState) onStartProcessorCall(next cbState) {
	d.cb = next
	d.startTimer(d.f.cfg.messageTimeout)
	d.newTimeoutReceived = false
}

func (d *dirState) onFinishProcessorCall(next cbState) {
	d.stopTimer()
	d.cb = next
	d.newTimeoutReceived = false
}

func (d *dirState) startTimer(dur time.Duration) {
	d.stopTimer()
	d.timerOn = true
	d.timerGen++
	gen := d.timerGen
	f := d.f
	d.timer = time.AfterFunc(dur, func() {
		f.s.post(func() {
			if d.timerOn && d.timerGen == gen && !f.dead() {
				d.timerOn = false
				f.onMessageTimeout()
			}
		})
	})
}

func (d *dirState) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.timerOn = false
	d.timerGen++
}

// restartTimer is ProcessorState::restartMessageTimer (item 31).
func (d *dirState) restartTimer(ms int64) bool {
	if !d.timerOn || d.newTimeoutReceived {
		return false
	}
	d.startTimer(time.Duration(ms) * time.Millisecond)
	d.newTimeoutReceived = true
	return true
}

// ---- flow control ----

func (d *dirState) requestWatermark() {
	if !d.watermark {
		d.watermark = true
		d.f.host.watermark(d.request, true)
	}
}

func (d *dirState) clearWatermark() {
	if d.watermark {
		d.watermark = false
		d.f.host.watermark(d.request, false)
	}
}

func (d *dirState) enqueue(b []byte, eos bool) {
	d.queue = append(d.queue, qchunk{n: len(b), eos: eos})
	d.qdata = append(d.qdata, b...)
	if len(d.qdata) > d.limit() {
		d.requestWatermark()
	}
}

func (d *dirState) dequeue() (qchunk, []byte) {
	c := d.queue[0]
	d.queue = d.queue[1:]
	data := append([]byte(nil), d.qdata[:c.n]...)
	d.qdata = d.qdata[c.n:]
	return c, data
}

func (d *dirState) consolidate() qchunk {
	if len(d.queue) > 1 {
		d.queue = []qchunk{{n: len(d.qdata), eos: d.queue[len(d.queue)-1].eos}}
	}
	return d.queue[0]
}

func (d *dirState) clearQueue() {
	d.queue = nil
	d.qdata = nil
}

func (d *dirState) queueBelowLow() bool { return len(d.qdata) < d.limit()/2 }

func (d *dirState) isLastBodyResponse() bool {
	if d.bodyMode == modeStreamed && d.cb == cbStreamedBody && len(d.queue) > 0 {
		return d.queue[0].eos
	}
	return false
}

// ---- passing things to the next filter (the filter manager's continueDecoding) ----

func (d *dirState) resume() {
	if d.f.dead() {
		return
	}
	if !d.headersPassed {
		d.headersPassed = true
		eos := d.sourceEnded && !d.hasBuf && !d.trailersAvail
		d.eosPassed = eos
		d.next.onHeaders(d.hdrs, eos)
		if eos || d.f.dead() {
			return
		}
	}
	if d.hasBuf {
		b := d.buf
		d.buf, d.hasBuf = nil, false
		eos := d.sourceEnded && !d.trailersAvail
		d.eosPassed = eos
		d.next.onData(b, eos)
		if d.f.dead() {
			return
		}
	}
	if d.trailersAvail && !d.trailersPassed {
		d.trailersPassed, d.eosPassed = true, true
		d.next.onTrailers(d.trailers)
		return
	}
	if d.sourceEnded && !d.eosPassed && !d.trailersAvail {
		d.eosPassed = true
		d.next.onData(nil, true)
	}
}

// passData is a Continue from decodeData/encodeData.
func (d *dirState) passData(b []byte) {
	d.buf = append(d.buf, b...)
	d.hasBuf = true
	d.paused = false
	d.resume()
}

// inject is injectDecodedDataToFilterChain / injectEncodedDataToFilterChain.
func (d *dirState) inject(b []byte, eos bool) {
	if d.f.dead() {
		return
	}
	if !d.headersPassed {
		d.headersPassed = true
		d.next.onHeaders(d.hdrs, false)
		if d.f.dead() {
			return
		}
	}
	if eos {
		d.eosPassed = true
	}
	d.next.onData(b, eos)
}

func (d *dirState) continueIfNecessary() {
	if d.paused {
		d.paused = false
		d.resume()
	}
}

func (d *dirState) clearAsyncState() {
	d.onFinishProcessorCall(cbIdle)
	if len(d.queue) > 0 {
		c := d.consolidate()
		data := d.qdata
		d.clearQueue()
		d.inject(data, c.eos)
	}
	d.clearWatermark()
	d.continueIfNecessary()
}

// ---- callbacks from the previous stage ----

// onHeaders is decodeHeaders/encodeHeaders.
func (d *dirState) onHeaders(h *hmap, eos bool) {
	f := d.f
	d.hdrs = h
	if eos {
		d.completeBody, d.sourceEnded = true, true
	}
	cont := true
	if !f.processingComplete && d.sendHeaders {
		cont = f.onHeaders(d, h, eos)
	}
	if f.dead() {
		return
	}
	if !f.processingComplete && d.shouldRemoveContentLength() {
		h.del("content-length")
	}
	if !d.request && !f.processingComplete && d.noExternalProcess() {
		f.closeStream() // item 12
	}
	if cont {
		d.resume()
	} else {
		d.paused = true
	}
}

func (f *extProcFilter) onHeaders(d *dirState, h *hmap, eos bool) bool {
	switch f.openStream() {
	case openError:
		return false
	case openIgnore:
		return true
	}
	d.headers = h
	d.headersEOS = eos
	req := f.buildHeaderRequest(d, h, eos)
	d.onStartProcessorCall(cbHeaders)
	f.send(req)
	return false
}

// onData is Filter::onData for BUFFERED, STREAMED, BUFFERED_PARTIAL and NONE.
func (d *dirState) onData(b []byte, eos bool) {
	f := d.f
	if eos {
		d.completeBody, d.sourceEnded = true, true
	}
	if d.bodyReplaced {
		d.passData(nil) // CONTINUE_AND_REPLACE dropped the original body (item 71)
		return
	}
	if f.processingComplete {
		d.passData(b)
		return
	}
	if d.cb == cbHeaders {
		// Held until the headers response (items 47, 49, 56). Envoy raises a watermark at
		// once, which stops socket reads while data already read is still dispatched; the
		// emulation keeps reading until the held data exceeds the buffer limit.
		d.buf = append(d.buf, b...)
		d.hasBuf = true
		d.paused = true
		if len(d.buf) > d.limit() {
			d.requestWatermark()
		}
		return
	}
	switch d.bodyMode {
	case modeBuffered:
		d.buf = append(d.buf, b...)
		d.hasBuf = true
		d.paused = true
		if d.overflowed() {
			return
		}
		if eos {
			switch f.openStream() {
			case openError:
				return
			case openIgnore:
				d.passData(nil)
				return
			}
			f.sendBodyChunk(d, cbBufferedBody, f.setupBodyChunk(d, d.buf, true))
		}
	case modeStreamed:
		switch f.openStream() {
		case openError:
			return
		case openIgnore:
			d.passData(b)
			return
		}
		req := f.setupBodyChunk(d, b, eos)
		d.enqueue(b, eos)
		f.sendBodyChunk(d, cbStreamedBody, req)
		if eos {
			d.paused = true
		}
	case modePartial:
		switch {
		case d.partialProcessed:
			d.headers = nil
			d.passData(b)
		case d.cb == cbPartialBody:
			d.enqueue(b, eos)
			d.paused = true
		default:
			d.enqueue(b, eos)
			d.paused = true
			if eos || len(d.qdata) > d.limit() {
				d.sendStreamChunk()
			}
		}
	default:
		d.passData(b)
	}
}

// overflowed enforces the buffer limit on BUFFERED bodies (items 52, 53).
func (d *dirState) overflowed() bool {
	if len(d.buf) > d.limit() {
		d.f.host.overflow(d.request)
		return true
	}
	return false
}

func (d *dirState) sendStreamChunk() {
	f := d.f
	switch f.openStream() {
	case openError:
		return
	case openIgnore:
		d.clearAsyncState()
		return
	}
	c := d.consolidate()
	f.sendBodyChunk(d, cbPartialBody, f.setupBodyChunk(d, d.qdata, c.eos))
}

// onTrailers is Filter::onTrailers (items 50, 60, 96).
func (d *dirState) onTrailers(t *hmap) {
	f := d.f
	d.sourceEnded = true
	if f.processingComplete {
		d.trailers, d.trailersAvail = t, true
		d.paused = false
		d.resume()
		return
	}
	bodyDelivered := d.completeBody
	d.completeBody, d.trailersAvail, d.trailers = true, true, t
	if d.cb != cbIdle {
		d.paused = true
		return
	}
	if !bodyDelivered && ((d.hasBuf && d.bodyMode == modeBuffered) || (len(d.queue) > 0 && d.bodyMode == modePartial)) {
		switch f.openStream() {
		case openError:
			return
		case openIgnore:
			d.paused = false
			d.resume()
			return
		}
		if d.bodyMode == modeBuffered {
			if d.overflowed() {
				return
			}
			f.sendBodyChunk(d, cbBufferedBody, f.setupBodyChunk(d, d.buf, false))
		} else {
			d.consolidate()
			f.sendBodyChunk(d, cbPartialBody, f.setupBodyChunk(d, d.qdata, false))
		}
		d.paused = true
		return
	}
	if !d.sendTrailers {
		d.paused = false
		d.resume()
		return
	}
	switch f.openStream() {
	case openError:
		return
	case openIgnore:
		d.paused = false
		d.resume()
		return
	}
	f.sendTrailers(d, t)
	d.paused = true
}

// ---- processor responses ----

func (d *dirState) processHeaderMutation(cr *extprocsvc.CommonResponse) error {
	return applyHeaderMutations(cr.GetHeaderMutation(), d.headers,
		cr.GetStatus() == extprocsvc.CommonResponse_CONTINUE_AND_REPLACE, d.shouldRemoveContentLength(),
		d.f.cfg.checker, func() { d.f.inc("rejected_header_mutations") })
}

// handleHeadersResponse is ProcessorState::handleHeadersResponse.
func (d *dirState) handleHeadersResponse(cr *extprocsvc.CommonResponse) error {
	if d.cb != cbHeaders {
		return spurious("spurious message") // item 19
	}
	f := d.f
	if cr.GetHeaderMutation() != nil {
		if err := d.processHeaderMutation(cr); err != nil {
			return err
		}
	}
	d.clearRouteCache(cr)
	d.onFinishProcessorCall(cbIdle)
	if cr.GetStatus() == extprocsvc.CommonResponse_CONTINUE_AND_REPLACE {
		// Items 71, 72.
		if bm := cr.GetBodyMutation(); bm != nil {
			d.headers.del("content-length")
			d.bodyReplaced = true
			d.buf = applyBodyMutation(bm, d.buf)
			d.hasBuf = true
		}
		d.clearQueue()
		d.bodyMode = modeNone
		d.sendTrailers = false
		d.clearWatermark()
	} else {
		switch {
		case d.headersEOS:
		case d.completeBody && d.bodyMode != modeNone:
			if d.hasBuf {
				if d.bodyMode == modeBuffered && d.overflowed() {
					return nil
				}
				f.sendBodyChunk(d, cbBufferedBody, f.setupBodyChunk(d, d.buf, !d.trailersAvail))
				d.clearWatermark()
				return nil
			}
		case d.bodyMode == modeBuffered:
			d.clearWatermark()
			if d.overflowed() {
				return nil
			}
			return nil
		case d.bodyMode == modeStreamed:
			d.sendBufferedDataInStreamedMode(false)
			return nil
		case d.bodyMode == modePartial:
			if d.hasBuf && len(d.buf) > 0 {
				b := d.buf
				d.buf = nil
				d.enqueue(b, false)
			}
			if len(d.qdata) > d.limit() {
				d.consolidate()
				f.sendBodyChunk(d, cbPartialBody, f.setupBodyChunk(d, d.qdata, false))
			} else {
				d.clearWatermark()
			}
			return nil
		}
		if d.sendTrailers && d.trailersAvail {
			f.sendTrailers(d, d.trailers)
			d.clearWatermark()
			return nil
		}
	}
	d.headers = nil
	d.continueIfNecessary()
	d.clearWatermark()
	return nil
}

// sendBufferedDataInStreamedMode coalesces the data held during the headers call into one
// chunk (item 56).
func (d *dirState) sendBufferedDataInStreamedMode(eos bool) {
	f := d.f
	if d.hasBuf && len(d.buf) > 0 {
		chunk := d.buf
		d.buf = nil
		req := f.setupBodyChunk(d, chunk, eos)
		d.enqueue(chunk, eos)
		f.sendBodyChunk(d, cbStreamedBody, req)
	}
	if d.queueBelowLow() {
		d.clearWatermark()
	}
	d.continueIfNecessary()
}

// handleBodyResponse is ProcessorState::handleBodyResponse.
func (d *dirState) handleBodyResponse(cr *extprocsvc.CommonResponse) error {
	f := d.f
	shouldContinue := false
	bm := cr.GetBodyMutation()
	switch d.cb {
	case cbBufferedBody:
		if cr.GetHeaderMutation() != nil && d.headers != nil {
			if err := d.processHeaderMutation(cr); err != nil {
				return err
			}
		}
		if bm != nil {
			if d.headers != nil {
				if cl, ok := d.headers.get("content-length"); ok {
					if n, err := strconv.ParseUint(cl, 10, 64); err == nil && n != uint64(len(bm.GetBody())) {
						return &procErr{msg: "mismatch between content length and the length of the mutated body"} // item 76
					}
				}
			}
			d.buf = applyBodyMutation(bm, d.buf)
		}
		d.clearWatermark()
		d.onFinishProcessorCall(cbIdle)
		shouldContinue = true
	case cbStreamedBody:
		if bm.GetStreamedResponse() != nil {
			return spurious("spurious message") // item 59
		}
		c, data := d.dequeue()
		if bm != nil {
			data = applyBodyMutation(bm, data)
		}
		shouldContinue = c.eos || (len(d.queue) == 0 && d.trailersAvail)
		if len(data) > 0 {
			d.inject(data, c.eos)
			if f.dead() {
				return nil
			}
		}
		if d.queueBelowLow() {
			d.clearWatermark()
		}
		if len(d.queue) == 0 {
			d.onFinishProcessorCall(cbIdle)
		} else {
			d.onFinishProcessorCall(d.cb)
		}
	case cbPartialBody:
		c, data := d.dequeue()
		if cr.GetHeaderMutation() != nil && d.headers != nil {
			if err := d.processHeaderMutation(cr); err != nil {
				return err
			}
		}
		if bm != nil {
			data = applyBodyMutation(bm, data)
		}
		if len(data) > 0 {
			d.inject(data, c.eos)
			if f.dead() {
				return nil
			}
		}
		shouldContinue = true
		d.clearWatermark()
		d.onFinishProcessorCall(cbIdle)
		d.partialProcessed = true
		if len(d.qdata) > 0 {
			lc := d.consolidate()
			rest := d.qdata
			d.clearQueue()
			d.inject(rest, lc.eos)
		} else {
			d.clearQueue()
		}
	default:
		return spurious("spurious message")
	}
	d.clearRouteCache(cr)
	d.headers = nil
	if d.sendTrailers && d.trailersAvail && len(d.queue) == 0 {
		f.sendTrailers(d, d.trailers)
		return nil
	}
	if shouldContinue {
		d.continueIfNecessary()
	}
	return nil
}

// handleTrailersResponse is ProcessorState::handleTrailersResponse (item 46).
func (d *dirState) handleTrailersResponse(tr *extprocsvc.TrailersResponse) error {
	if d.cb != cbTrailers {
		return spurious("spurious message")
	}
	if tr.GetHeaderMutation() != nil {
		if err := applyHeaderMutations(tr.GetHeaderMutation(), d.trailers, false, false, d.f.cfg.checker,
			func() { d.f.inc("rejected_header_mutations") }); err != nil {
			return err
		}
	}
	d.onFinishProcessorCall(cbIdle)
	d.continueIfNecessary()
	return nil
}

// clearRouteCache is DecodingProcessorState::clearRouteCache (items 77–81); the encoding
// side ignores the flag silently (item 80).
func (d *dirState) clearRouteCache(cr *extprocsvc.CommonResponse) {
	if !d.request {
		return
	}
	f := d.f
	flag := cr.GetClearRouteCache()
	if f.cfg.upstream {
		if flag {
			f.inc("clear_route_cache_upstream_ignored")
		}
		return
	}
	if cr.GetHeaderMutation() == nil {
		if flag {
			f.inc("clear_route_cache_ignored")
		}
		return
	}
	switch f.cfg.routeCacheAction {
	case extprocv3.ExternalProcessor_CLEAR:
		f.host.clearRouteCache()
	case extprocv3.ExternalProcessor_RETAIN:
		if flag {
			f.inc("clear_route_cache_disabled")
		}
	default:
		if flag {
			f.host.clearRouteCache()
		}
	}
}
