package harness

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// frameSize is the read size for body frames (one read = one data frame).
const frameSize = 16 << 10

var framePool = sync.Pool{New: func() any { b := make([]byte, frameSize); return &b }}

// downstreamWriter is where a stream writes its response: an http.ResponseWriter (ServeHTTP)
// or a recorder (Do).
type downstreamWriter interface {
	writeHeader(status int, h hmap)
	write(b []byte)
	writeTrailers(t hmap)
}

// stream is one downstream HTTP request: the emulation of Envoy's ActiveStream with its
// filter chain [router-level ext_proc] → router. Every state change happens on the goroutine
// running run(); helpers (gRPC receivers, body readers, upstream calls, timers) post closures.
type stream struct {
	e       *Envoy
	downCtx context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	evq     chan func()
	done    chan struct{}
	wg      sync.WaitGroup
	start   time.Time

	finished  bool
	reset     bool
	downReset bool

	down            downstreamWriter
	reqHeaders      hmap
	remoteAddr      string
	reqSrc          *bodySource
	reqBytes        int64
	respHeadersSent bool
	respStatus      int
	respHeaders     hmap
	bytesSent       int64

	routeCached bool
	route       *compiledRoute

	cors corsState

	rf     *extProcFilter
	router *router

	meta    map[string]*structpb.Struct
	details string
	flags   []string
}

func newStream(e *Envoy, downCtx context.Context, down downstreamWriter, h hmap) *stream {
	s := &stream{
		e: e, downCtx: downCtx, down: down, reqHeaders: h,
		evq: make(chan func(), 64), done: make(chan struct{}), start: time.Now(),
		meta: map[string]*structpb.Struct{},
	}
	for _, k := range e.cfg.InternalOnlyHeaders {
		s.reqHeaders.del(strings.ToLower(k))
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(downCtx))
	s.router = &router{s: s}
	if e.routerFilter != nil {
		s.rf = newFilter(s, e.routerFilter, filterHost{
			localReply: func(lr localReplyReq) { s.sendLocalReply(lr.code, lr.body, lr.details, lr.mutate) },
			clearRouteCache: func() {
				s.routeCached = false
				s.route = nil
			},
			attrEnv: s.attrEnv,
			watermark: func(request, on bool) {
				if request {
					s.reqSrc.setPaused(pauseRouterFilter, on)
				} else {
					s.router.respWatermark(pauseRouterFilter, on)
				}
			},
			overflow: s.bufferOverflow,
			dead:     func() bool { return s.finished },
		}, s.router, downPipe{s})
	}
	return s
}

// post runs fn on the dispatcher goroutine; it reports false once the stream is over.
func (s *stream) post(fn func()) bool {
	select {
	case s.evq <- fn:
		return true
	case <-s.done:
		return false
	}
}

// run drives the stream to its end. body is the downstream request body (nil when the
// request ended with its headers).
func (s *stream) run(body *bodySource) {
	s.e.stats.inc("downstream_rq_total")
	s.reqSrc = body
	eos := body == nil
	if body != nil {
		body.onFrame = func(b []byte, eos bool) {
			s.reqBytes += int64(len(b))
			if s.cors.answered {
				return // held by the CORS filter, which stopped the decoder chain
			}
			if s.rf != nil {
				s.rf.dec.onData(b, eos)
			} else {
				s.router.onData(b, eos)
			}
		}
		body.onTrailers = func(t hmap) {
			if s.cors.answered {
				return
			}
			if s.rf != nil {
				s.rf.dec.onTrailers(&t)
			} else {
				s.router.onTrailers(&t)
			}
		}
		body.onError = func(error) { s.downstreamReset() }
		body.start()
	}
	// The HCM resolves the route from the original headers before the filter chain runs;
	// it is recomputed only after a filter clears the route cache.
	s.currentRoute()
	switch {
	case s.corsDecodeHeaders():
		// A preflight answered by the CORS filter, the first filter of the chain.
	case s.rf != nil:
		s.rf.dec.onHeaders(&s.reqHeaders, eos)
	default:
		s.router.onHeaders(&s.reqHeaders, eos)
	}
	for !s.finished {
		select {
		case fn := <-s.evq:
			fn()
		case <-s.downCtx.Done():
			s.downstreamReset()
		}
	}
	s.cleanup()
}

func (s *stream) cleanup() {
	s.router.abortAll()
	if s.rf != nil {
		s.rf.onDestroy()
	}
	close(s.done)
	s.cancel()
	if s.reqSrc != nil {
		s.reqSrc.stop()
	}
	s.wg.Wait()
	s.e.stats.inc("downstream_rq_completed")
	if s.respStatus > 0 {
		s.e.stats.inc("downstream_rq_" + strconv.Itoa(s.respStatus/100) + "xx")
	}
	if s.e.cfg.AccessLog != nil {
		s.e.cfg.AccessLog(s.accessLogEntry())
	}
}

func (s *stream) accessLogEntry() AccessLogEntry {
	meta := make(map[string]*structpb.Struct, len(s.meta))
	for k, v := range s.meta {
		meta[k] = proto.Clone(v).(*structpb.Struct)
	}
	ent := AccessLogEntry{
		Status:              s.respStatus,
		ResponseCodeDetails: s.details,
		ResponseFlags:       append([]string(nil), s.flags...),
		DynamicMetadata:     meta,
		Attempts:            s.router.attempts,
		BytesSent:           s.bytesSent,
		BytesReceived:       s.reqBytes,
		Duration:            time.Since(s.start),
		RequestHeaders:      s.reqHeaders.toHTTP(true),
		ResponseHeaders:     s.respHeaders.toHTTP(false),
		Reset:               s.reset,
	}
	if r := s.router.route; r != nil { // the route the router used
		ent.RouteName, ent.Cluster = r.Name, r.Cluster
	} else if s.route != nil {
		ent.RouteName, ent.Cluster = s.route.Name, s.route.Cluster
	}
	if s.router.ep != nil {
		ent.UpstreamHost = s.router.ep.hostport
	}
	return ent
}

func (s *stream) addFlag(f string) {
	for _, x := range s.flags {
		if x == f {
			return
		}
	}
	s.flags = append(s.flags, f)
}

// currentRoute is the route cache: computed lazily from the current request headers and kept
// until an ext_proc filter clears it (items 77–79).
func (s *stream) currentRoute() *compiledRoute {
	if !s.routeCached {
		s.routeCached = true
		s.route = s.e.matchRoute(s.reqHeaders)
	}
	return s.route
}

func (s *stream) attrEnv() *attrEnv {
	env := &attrEnv{reqHeaders: s.reqHeaders, protocol: "HTTP/1.1", sourceAddr: s.remoteAddr, details: s.details}
	if r := s.currentRoute(); r != nil {
		env.routeName, env.routeMeta, env.haveRoute = r.Name, r.Metadata, true
		if r.cluster != nil { // a cluster_header route has its cluster only at the router
			env.clusterName, env.clusterMeta, env.haveCluster = r.Cluster, r.cluster.Metadata, true
		}
	}
	if ep := s.router.ep; ep != nil {
		env.haveUpstream, env.hostMeta, env.hostAddr = true, ep.Metadata, ep.hostport
	}
	if s.router.respHeaders != nil {
		env.respHeaders = *s.router.respHeaders
		env.respCode, _ = strconv.Atoi(firstValue(*s.router.respHeaders, ":status"))
	}
	if len(s.meta) > 0 {
		env.dynMeta = metadataOf(s.meta)
	}
	return env
}

func firstValue(h hmap, k string) string { v, _ := h.get(k); return v }

// encodeIn is where the router sends the upstream response: the router-level filter's
// encoding side, or the downstream directly.
func (s *stream) encodeIn() pipe {
	if s.rf != nil {
		return &s.rf.enc
	}
	return downPipe{s}
}

// downPipe writes to the downstream client.
type downPipe struct{ s *stream }

func (p downPipe) onHeaders(h *hmap, eos bool) {
	s := p.s
	if s.finished {
		return
	}
	status, err := strconv.Atoi(firstValue(*h, ":status"))
	if err != nil || status < 100 || status > 999 {
		status = 502
	}
	s.corsEncodeHeaders(h)
	s.setRequestIDInResponse(h)
	s.respHeadersSent = true
	s.respStatus = status
	s.respHeaders = h.clone()
	out := make(hmap, 0, len(*h))
	for _, e := range *h {
		if e.k[0] == ':' || isHopByHop(e.k) {
			continue
		}
		out = append(out, e)
	}
	if s.reqSrc != nil && !s.reqSrc.ended {
		// Responding before the request body was read: like Envoy's HTTP/1 codec, close the
		// connection after this response so the client does not reuse it.
		out = append(out, hdr{"connection", "close"})
	}
	s.down.writeHeader(status, out)
	if eos {
		s.finished = true
	}
}

func (p downPipe) onData(b []byte, eos bool) {
	s := p.s
	if s.finished {
		return
	}
	if len(b) > 0 {
		s.bytesSent += int64(len(b))
		s.down.write(b)
	}
	if eos {
		s.finished = true
	}
}

func (p downPipe) onTrailers(t *hmap) {
	s := p.s
	if s.finished {
		return
	}
	s.down.writeTrailers(*t)
	s.finished = true
}

// setRequestIDInResponse is the HCM's always_set_request_id_in_response
// (Config.AlwaysSetRequestIDInResponse). ActiveStream::encodeHeaders, which every
// response reaches after the last encoder filter (local replies and the CORS filter's
// answer included), calls ConnectionManagerUtility::mutateResponseHeaders, which calls
// UUIDRequestIDExtension::setInResponse when the option is on: setRequestId with the
// request's x-request-id (the ActiveStream's request headers, as the decoder filters
// left them), which replaces any value the response had; without a request id the
// response is left alone. x-request-id is an inline header, whose repeated values
// Envoy keeps as one joined with commas (HeaderMapImpl::insertByKey → appendToHeader).
func (s *stream) setRequestIDInResponse(h *hmap) {
	if !s.e.cfg.AlwaysSetRequestIDInResponse {
		return
	}
	if id, ok := s.reqHeaders.joined("x-request-id"); ok {
		h.set("x-request-id", id)
	}
}

// sendLocalReply is the filter manager's sendLocalReply: once response headers have gone
// downstream the stream is reset instead (items 14, 41, 90); otherwise the reply replaces any
// held response, is shaped by the local_reply_config, and bypasses ext_proc (items 88, 99).
func (s *stream) sendLocalReply(code int, body []byte, details string, mutate func(*hmap)) {
	if s.finished {
		return
	}
	s.e.log.Debug("local reply", zap.Int("code", code), zap.String("details", details), zap.Bool("reset", s.respHeadersSent))
	s.details = details
	if s.respHeadersSent {
		s.resetStream()
		return
	}
	s.router.abortAll()
	h := hmap{{":status", strconv.Itoa(code)}}
	if mutate != nil {
		mutate(&h)
		h.set(":status", strconv.Itoa(code))
	}
	ctx := &lrContext{
		reqHeaders: s.reqHeaders, code: code, details: details, flags: s.flags, body: string(body),
		meta: s.meta, duration: time.Since(s.start),
	}
	if s.route != nil {
		ctx.routeName, ctx.cluster = s.route.Name, s.route.Cluster
	}
	if s.router.ep != nil {
		ctx.upstreamHost = s.router.ep.hostport
	}
	out, ct, explicit := s.e.localReply.rewrite(ctx, &h)
	h.set(":status", strconv.Itoa(ctx.code))
	if out != "" {
		h.set("content-length", strconv.Itoa(len(out)))
		if !h.has("content-type") || explicit {
			h.set("content-type", ct)
		}
	} else {
		h.del("content-length")
		h.del("content-type")
	}
	dp := downPipe{s}
	dp.onHeaders(&h, out == "")
	if out != "" {
		dp.onData([]byte(out), true)
	}
}

func (s *stream) bufferOverflow(request bool) {
	if request {
		s.sendLocalReply(413, []byte("Payload Too Large"), "request_payload_too_large", nil)
		return
	}
	s.sendLocalReply(500, []byte("Internal Server Error"), "response_payload_too_large", nil)
}

func (s *stream) resetStream() {
	if s.finished {
		return
	}
	s.reset = true
	s.finished = true
	s.e.stats.inc("downstream_rq_reset")
}

// downstreamReset is a client disconnect: side streams closed, upstream cancelled, no local
// reply (item 32).
func (s *stream) downstreamReset() {
	if s.finished {
		return
	}
	s.addFlag("DC")
	s.downReset = true
	s.reset = true
	s.finished = true
	s.e.stats.inc("downstream_cx_destroy_remote_active_rq")
}

// pause reasons for a body source.
const (
	pauseRouterFilter = 1 << iota
	pauseUpstreamFilter
)

// bodySource reads a body frame by frame on a helper goroutine and delivers the frames on the
// dispatcher. It reads the next frame only once the previous one was accepted and no filter
// holds a watermark, which emulates Envoy's flow control.
type bodySource struct {
	s          *stream
	r          io.Reader
	trailersFn func() hmap
	waitable   bool
	ack        chan struct{}
	quit       chan struct{}
	stopped    bool
	paused     int
	pendingAck bool
	onFrame    func([]byte, bool)
	onTrailers func(hmap)
	onError    func(error)
	closer     io.Closer // closed by the reader goroutine when it exits
	unblock    func()    // interrupts a blocked Read (downstream read deadline)
	exited     chan struct{}
	unblocked  bool
	ended      bool // the whole body (and trailers) was delivered
}

func newBodySource(s *stream, r io.Reader, trailers func() hmap, waitable bool) *bodySource {
	return &bodySource{s: s, r: r, trailersFn: trailers, waitable: waitable, ack: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
}

func (b *bodySource) start() {
	if b.waitable {
		b.s.wg.Add(1)
	}
	go b.loop()
}

func (b *bodySource) loop() {
	if b.waitable {
		defer b.s.wg.Done()
	}
	defer close(b.exited)
	if b.closer != nil {
		defer func() { _ = b.closer.Close() }()
	}
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf := *bp
	for {
		n, err := b.r.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		if err == nil {
			if l, ok := b.r.(interface{ Len() int }); ok && l.Len() == 0 {
				err = io.EOF
			}
		}
		data := append([]byte(nil), buf[:n]...)
		switch err {
		case nil:
			if !b.s.post(func() { b.deliver(data) }) {
				return
			}
			select {
			case <-b.ack:
			case <-b.quit:
				return
			case <-b.s.done:
				return
			}
		case io.EOF:
			var tr hmap
			if b.trailersFn != nil {
				tr = b.trailersFn()
			}
			b.s.post(func() { b.deliverEnd(data, tr) })
			return
		default:
			b.s.post(func() {
				if len(data) > 0 {
					b.deliver(data)
				}
				if !b.stopped && !b.s.finished {
					b.stopped = true
					b.onError(err)
				}
			})
			return
		}
	}
}

func (b *bodySource) deliver(data []byte) {
	if b.stopped || b.s.finished {
		return
	}
	b.onFrame(data, false)
	b.maybeAck()
}

func (b *bodySource) deliverEnd(data []byte, tr hmap) {
	if b.stopped || b.s.finished {
		return
	}
	b.stopped = true
	b.ended = true
	if len(tr) == 0 {
		b.onFrame(data, true)
		return
	}
	if len(data) > 0 {
		b.onFrame(data, false)
	}
	if !b.s.finished {
		b.onTrailers(tr)
	}
}

func (b *bodySource) maybeAck() {
	if b.paused != 0 {
		b.pendingAck = true
		return
	}
	b.pendingAck = false
	select {
	case b.ack <- struct{}{}:
	default:
	}
}

func (b *bodySource) setPaused(reason int, on bool) {
	if b == nil {
		return
	}
	if on {
		b.paused |= reason
		return
	}
	b.paused &^= reason
	if b.paused == 0 && b.pendingAck {
		b.maybeAck()
	}
}

func (b *bodySource) stop() {
	if b == nil {
		return
	}
	b.stopped = true
	select {
	case <-b.quit:
	default:
		close(b.quit)
		select {
		case <-b.exited:
		default:
			if b.unblock != nil {
				b.unblocked = true
				b.unblock()
			}
		}
	}
}

// metadataOf builds a Metadata message from the dynamic metadata map.
func metadataOf(m map[string]*structpb.Struct) *corev3.Metadata {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for k, v := range m {
		md.FilterMetadata[k] = v
	}
	return md
}
