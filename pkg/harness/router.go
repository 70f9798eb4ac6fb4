package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// matchRoute returns the first route matching h (nil if none).
func (e *Envoy) matchRoute(h hmap) *compiledRoute {
	for _, r := range e.routes {
		if r.Header != "" {
			v, ok := h.joined(r.Header)
			if !ok || v != r.Value {
				continue
			}
		}
		if r.PathPrefix != "" && !strings.HasPrefix(firstValue(h, ":path"), r.PathPrefix) {
			continue
		}
		return r
	}
	return nil
}

// router is the emulation of envoy.filters.http.router: it collects the whole request (the
// upstream request starts only once the downstream request is complete, golang/go#40747),
// then runs attempts with retries, each through the cluster's upstream filter chain.
type router struct {
	s            *stream
	hdrs         *hmap
	body         []byte
	trailers     *hmap
	complete     bool
	route        *compiledRoute
	attempts     int
	retriesDone  uint32
	triedPrio    map[int]bool
	cur          *attempt
	ep           *endpoint
	globalTimer  *time.Timer
	backoffTimer *time.Timer
	forwarded    bool  // response headers handed to the downstream filter chain
	respHeaders  *hmap // the forwarded response headers
	respPaused   int
}

// router implements pipe as the last decoder filter.

func (r *router) onHeaders(h *hmap, eos bool) {
	s := r.s
	if s.finished {
		return
	}
	r.hdrs = h
	r.route = s.currentRoute()
	if r.route == nil {
		s.addFlag("NR")
		s.e.stats.inc("no_route")
		s.sendLocalReply(404, nil, "route_not_found", nil)
		return
	}
	if r.route.ClusterHeader != "" {
		// Router::Filter::decodeHeaders: a cluster_header route names its cluster per
		// request; an unknown one is answered with cluster_not_found_response_code, flag
		// NoClusterFound (NC), details cluster_not_found.
		name, _ := h.get(r.route.ClusterHeader)
		cc, ok := s.e.clusters[name]
		if !ok {
			status := r.route.ClusterNotFoundStatus
			r.route = nil
			s.addFlag("NC")
			s.e.stats.inc("no_cluster")
			s.sendLocalReply(status, nil, "cluster_not_found", nil)
			return
		}
		dyn := *r.route
		dyn.cluster, dyn.Cluster = cc, name
		r.route = &dyn
	}
	if eos {
		r.onRequestComplete()
	}
}

func (r *router) onData(b []byte, eos bool) {
	if r.s.finished || r.route == nil {
		return
	}
	r.body = append(r.body, b...)
	if eos {
		r.onRequestComplete()
	}
}

func (r *router) onTrailers(t *hmap) {
	if r.s.finished || r.route == nil {
		return
	}
	r.trailers = t
	r.onRequestComplete()
}

func (r *router) onRequestComplete() {
	if r.complete {
		return
	}
	r.complete = true
	s := r.s
	if t := r.route.timeout; t > 0 {
		r.globalTimer = time.AfterFunc(t, func() { s.post(r.onGlobalTimeout) })
	}
	r.startAttempt()
}

func (r *router) retry() *RetryPolicy { return r.route.Retry }

func (r *router) retriesLeft() bool {
	return r.retry() != nil && r.retriesDone < r.retry().NumRetries
}

func (r *router) pickEndpoint() *endpoint {
	prios := r.route.cluster.priorities
	if len(prios) == 0 {
		return nil
	}
	if r.triedPrio == nil {
		r.triedPrio = map[int]bool{}
	}
	idx := 0
	if rp := r.retry(); rp != nil && rp.PreviousPriorities && r.attempts > 0 {
		idx = -1
		for i := range prios {
			if !r.triedPrio[i] {
				idx = i
				break
			}
		}
		if idx < 0 {
			r.triedPrio = map[int]bool{}
			idx = 0
		}
	}
	r.triedPrio[idx] = true
	n := r.route.cluster.rr[idx].Add(1) - 1
	return prios[idx][n%uint64(len(prios[idx]))]
}

func (r *router) startAttempt() {
	s := r.s
	if s.finished {
		return
	}
	ep := r.pickEndpoint()
	if ep == nil {
		s.addFlag("UH")
		s.sendLocalReply(503, []byte("no healthy upstream"), "no_healthy_upstream", nil)
		return
	}
	r.attempts++
	r.ep = ep
	s.e.stats.inc("upstream_rq_total")
	a := &attempt{r: r, ep: ep}
	a.ctx, a.cancel = context.WithCancel(s.ctx)
	r.cur = a
	if rp := r.retry(); rp != nil && rp.PerTryTimeout > 0 {
		a.perTry = time.AfterFunc(rp.PerTryTimeout, func() { s.post(func() { r.onPerTryTimeout(a) }) })
	}
	h := r.hdrs.clone()
	h.set(":authority", ep.authority) // auto_host_rewrite
	var in pipe = a
	if cf := r.route.cluster.filter; cf != nil {
		a.uf = newFilter(s, cf, filterHost{
			localReply:      func(lr localReplyReq) { r.onUpstreamLocalReply(a, lr) },
			clearRouteCache: func() {},
			attrEnv:         func() *attrEnv { return r.attemptEnv(a) },
			watermark: func(request, on bool) {
				if !request {
					a.src.setPaused(pauseUpstreamFilter, on)
				}
			},
			overflow: func(request bool) {
				a.localReply = true
				a.abort()
				s.bufferOverflow(request)
			},
			dead: func() bool { return s.finished || a.aborted },
		}, a, attemptResp{a})
		in = &a.uf.dec
	}
	hasBody := len(r.body) > 0 || r.trailers != nil
	in.onHeaders(&h, !hasBody)
	if !hasBody || a.aborted || s.finished {
		return
	}
	if len(r.body) > 0 || r.trailers == nil {
		in.onData(append([]byte(nil), r.body...), r.trailers == nil)
	}
	if r.trailers != nil && !a.aborted && !s.finished {
		t := r.trailers.clone()
		in.onTrailers(&t)
	}
}

// attemptEnv is what the upstream filter's attributes see (items 94, 97).
func (r *router) attemptEnv(a *attempt) *attrEnv {
	s := r.s
	env := s.attrEnv()
	env.reqHeaders = *a.uf.dec.hdrs
	env.routeName = r.route.Name
	env.clusterName, env.clusterMeta, env.haveCluster = r.route.Cluster, r.route.cluster.Metadata, true
	env.haveUpstream, env.hostMeta, env.hostAddr = true, a.ep.Metadata, a.ep.hostport
	env.respHeaders = nil
	if a.uf.enc.hdrs != nil {
		env.respHeaders = *a.uf.enc.hdrs
		env.respCode, _ = strconv.Atoi(firstValue(env.respHeaders, ":status"))
	}
	return env
}

func (r *router) respWatermark(reason int, on bool) {
	if on {
		r.respPaused |= reason
	} else {
		r.respPaused &^= reason
	}
	if r.cur != nil && r.cur.src != nil {
		r.cur.src.setPaused(reason, on)
	}
}

func (r *router) abortAll() {
	if r.globalTimer != nil {
		r.globalTimer.Stop()
	}
	if r.backoffTimer != nil {
		r.backoffTimer.Stop()
	}
	if r.cur != nil {
		r.cur.abort()
	}
}

func (r *router) onGlobalTimeout() {
	s := r.s
	if s.finished || r.globalTimer == nil {
		return
	}
	s.e.stats.inc("upstream_rq_timeout")
	s.addFlag("UT")
	r.abortAll()
	s.sendLocalReply(504, []byte("upstream request timeout"), "upstream_response_timeout", nil)
}

func (r *router) onPerTryTimeout(a *attempt) {
	s := r.s
	if s.finished || a != r.cur || a.aborted || r.forwarded {
		return // ignored once the response has started downstream, as in Envoy
	}
	s.e.stats.inc("upstream_rq_per_try_timeout")
	s.addFlag("UT")
	a.abort()
	if r.retryOnReset(resetInfo{}) {
		if r.retriesLeft() {
			r.scheduleRetry(false)
			return
		}
		r.limitExceeded()
	}
	s.sendLocalReply(504, []byte("upstream request timeout"), "upstream_per_try_timeout", nil)
}

func (r *router) retryOnStatus(code int) bool {
	rp := r.retry()
	if rp == nil {
		return false
	}
	on := r.route.retryOn
	switch {
	case on["5xx"] && code >= 500:
		return true
	case on["gateway-error"] && (code == 502 || code == 503 || code == 504):
		return true
	case on["retriable-4xx"] && code == 409:
		return true
	case on["retriable-status-codes"]:
		for _, c := range rp.RetriableStatusCodes {
			if int(c) == code {
				return true
			}
		}
	}
	return false
}

func (r *router) retryOnReset(ri resetInfo) bool {
	if r.retry() == nil {
		return false
	}
	on := r.route.retryOn
	if ri.connectFailure && on["connect-failure"] {
		return true
	}
	if ri.refused && on["refused-stream"] {
		return true
	}
	return on["5xx"] || on["gateway-error"] || on["reset"]
}

func (r *router) limitExceeded() {
	r.s.e.stats.inc("upstream_rq_retry_limit_exceeded")
	r.s.addFlag("URX")
}

// scheduleRetry starts the next attempt after Envoy's jittered exponential backoff
// (immediately after a connect failure).
func (r *router) scheduleRetry(immediate bool) {
	s := r.s
	r.retriesDone++
	r.cur = nil
	s.e.stats.inc("upstream_rq_retry")
	s.e.log.Debug("retrying upstream request", zap.Uint32("retry", r.retriesDone), zap.String("route", r.route.Name))
	var delay time.Duration
	if !immediate {
		base := r.retry().BaseInterval
		if base <= 0 {
			base = 25 * time.Millisecond
		}
		maxI := r.retry().MaxInterval
		if maxI <= 0 {
			maxI = 10 * base
		}
		upper := base << min(r.retriesDone, 30)
		if upper > maxI || upper <= 0 {
			upper = maxI
		}
		delay = time.Duration(rand.Int64N(int64(upper)))
	}
	r.backoffTimer = time.AfterFunc(delay, func() {
		s.post(func() {
			if r.cur == nil {
				r.startAttempt()
			}
		})
	})
}

// onUpstreamLocalReply: an immediate_response or error local reply from the upstream filter
// goes downstream and is never retried (item 98).
func (r *router) onUpstreamLocalReply(a *attempt, lr localReplyReq) {
	if a.aborted || r.s.finished {
		return
	}
	a.localReply = true
	a.abort()
	r.s.sendLocalReply(lr.code, lr.body, lr.details, lr.mutate)
}

func (r *router) onUpstreamHeaders(a *attempt, h *hmap, eos bool) {
	s := r.s
	if a.aborted || s.finished {
		return
	}
	code, _ := strconv.Atoi(firstValue(*h, ":status"))
	if r.retryOnStatus(code) {
		if r.retriesLeft() {
			a.abort()
			r.scheduleRetry(false)
			return
		}
		r.limitExceeded()
	}
	r.forwarded = true
	r.respHeaders = h
	if a.perTry != nil {
		a.perTry.Stop()
	}
	s.details = "via_upstream"
	s.e.stats.inc("upstream_rq_" + strconv.Itoa(code/100) + "xx")
	s.e.stats.inc("upstream_rq_" + strconv.Itoa(code))
	if r.retriesDone > 0 && code < 500 {
		s.e.stats.inc("upstream_rq_retry_success")
	}
	if eos {
		r.onUpstreamComplete()
	}
	s.encodeIn().onHeaders(h, eos)
}

func (r *router) onUpstreamData(a *attempt, b []byte, eos bool) {
	if a.aborted || r.s.finished {
		return
	}
	if eos {
		r.onUpstreamComplete()
	}
	r.s.encodeIn().onData(b, eos)
}

func (r *router) onUpstreamTrailers(a *attempt, t *hmap) {
	if a.aborted || r.s.finished {
		return
	}
	r.onUpstreamComplete()
	r.s.encodeIn().onTrailers(t)
}

func (r *router) onUpstreamComplete() {
	if r.globalTimer != nil {
		r.globalTimer.Stop()
		r.globalTimer = nil
	}
}

// resetInfo classifies an upstream failure like Envoy's stream reset reasons.
type resetInfo struct {
	reason         string // Envoy's resetReasonToString
	transport      string // transport failure reason
	connectFailure bool
	refused        bool
}

func classifyReset(err error) resetInfo {
	var op *net.OpError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		ri := resetInfo{reason: "remote connection failure", connectFailure: true}
		var errno syscall.Errno
		switch {
		case op.Timeout():
			ri.reason = "connection timeout"
		case errors.As(err, &errno):
			ri.transport = "delayed connect error: " + strconv.Itoa(int(errno))
		default:
			ri.transport = op.Err.Error()
		}
		return ri
	case errors.As(err, &certErr), errors.As(err, &recErr), strings.Contains(err.Error(), "tls: "):
		return resetInfo{reason: "remote connection failure", transport: "TLS error: " + err.Error(), connectFailure: true}
	case strings.Contains(err.Error(), "REFUSED_STREAM"):
		return resetInfo{reason: "remote refused stream reset", refused: true}
	}
	return resetInfo{reason: "connection termination"}
}

// onUpstreamReset handles a failed attempt: retry, a 503 local reply before the response
// started, or a downstream reset after it started.
func (r *router) onUpstreamReset(a *attempt, err error) {
	s := r.s
	if a.aborted || s.finished {
		return
	}
	ri := classifyReset(err)
	if r.forwarded {
		a.abort()
		s.details = replaceAllEmptySpace("upstream_reset_after_response_started{" + ri.reason + "}")
		s.addFlag("UR")
		s.resetStream()
		return
	}
	a.abort()
	if ri.connectFailure {
		s.e.stats.inc("upstream_cx_connect_fail")
		s.addFlag("UF")
	} else {
		s.addFlag("UC")
	}
	if r.retryOnReset(ri) {
		if r.retriesLeft() {
			r.scheduleRetry(ri.connectFailure && r.route.retryOn["connect-failure"])
			return
		}
		r.limitExceeded()
	}
	var body strings.Builder
	body.WriteString("upstream connect error or disconnect/reset before headers. ")
	if r.retriesDone > 0 {
		body.WriteString("retried and the latest ")
	}
	body.WriteString("reset reason: " + ri.reason)
	details := "upstream_reset_before_response_started{" + ri.reason
	if ri.transport != "" {
		body.WriteString(", transport failure reason: " + ri.transport)
		details += "," + ri.transport
	}
	s.sendLocalReply(503, []byte(body.String()), replaceAllEmptySpace(details+"}"), nil)
}

// attempt is one upstream try: its own upstream-filter instance (item 97), its own HTTP
// request, its own per-try timer.
type attempt struct {
	r          *router
	ep         *endpoint
	ctx        context.Context
	cancel     context.CancelFunc
	uf         *extProcFilter
	reqHdrs    hmap
	body       []byte
	trailers   *hmap
	sent       bool
	src        *bodySource
	perTry     *time.Timer
	aborted    bool
	localReply bool
}

func (a *attempt) abort() {
	if a.aborted {
		return
	}
	a.aborted = true
	if a.perTry != nil {
		a.perTry.Stop()
	}
	if a.uf != nil {
		a.uf.onDestroy()
	}
	a.cancel()
	a.src.stop()
	if a.r.cur == a {
		a.r.cur = nil
	}
}

// attempt implements pipe as the upstream codec: it collects the (filtered) request.

func (a *attempt) onHeaders(h *hmap, eos bool) {
	if a.aborted {
		return
	}
	a.reqHdrs = h.clone()
	if eos {
		a.send()
	}
}

func (a *attempt) onData(b []byte, eos bool) {
	if a.aborted {
		return
	}
	a.body = append(a.body, b...)
	if eos {
		a.send()
	}
}

func (a *attempt) onTrailers(t *hmap) {
	if a.aborted {
		return
	}
	a.trailers = t
	a.send()
}

func (a *attempt) buildRequest() (*http.Request, error) {
	h := a.reqHdrs
	path := firstValue(h, ":path")
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(a.ctx, firstValue(h, ":method"), a.ep.scheme+"://"+a.ep.hostport+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = firstValue(h, ":authority")
	req.Header = http.Header{"User-Agent": nil} // Envoy adds no User-Agent of its own
	cl := int64(-1)
	for _, e := range h {
		if e.k[0] == ':' || isHopByHop(e.k) || e.k == "host" {
			continue
		}
		if e.k == "content-length" {
			if n, err := strconv.ParseInt(e.v, 10, 64); err == nil {
				cl = n
			}
			continue
		}
		req.Header.Add(e.k, e.v)
	}
	switch {
	case cl >= 0:
		req.ContentLength = cl
	case len(a.body) == 0 && a.trailers == nil:
		req.ContentLength = 0
	}
	if len(a.body) > 0 || a.trailers != nil {
		req.Body = readCloser{bytes.NewReader(a.body)}
	} else {
		req.Body = http.NoBody
	}
	if a.trailers != nil {
		req.ContentLength = -1
		req.Trailer = a.trailers.toHTTP(false)
	}
	return req, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (a *attempt) send() {
	if a.sent || a.aborted {
		return
	}
	a.sent = true
	r, s := a.r, a.r.s
	req, err := a.buildRequest()
	if err != nil {
		r.onUpstreamReset(a, err)
		return
	}
	tr := r.route.cluster.transport
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		resp, err := tr.RoundTrip(req)
		if !s.post(func() { a.onResponse(resp, err) }) && resp != nil {
			_ = resp.Body.Close()
		}
	}()
}

func (a *attempt) onResponse(resp *http.Response, err error) {
	r, s := a.r, a.r.s
	if a.aborted || s.finished {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return
	}
	if err != nil {
		r.onUpstreamReset(a, err)
		return
	}
	h := hmap{{":status", strconv.Itoa(resp.StatusCode)}}
	h.fromHTTP(resp.Header)
	eos := resp.Body == http.NoBody
	var in pipe = attemptResp{a}
	if a.uf != nil {
		in = &a.uf.enc
	}
	if eos {
		_ = resp.Body.Close()
	} else {
		a.src = newBodySource(s, resp.Body, func() hmap {
			var t hmap
			for k, vs := range resp.Trailer {
				for _, v := range vs {
					t = append(t, hdr{strings.ToLower(k), v})
				}
			}
			return t
		}, true)
		a.src.closer = resp.Body
		a.src.paused = r.respPaused
		a.src.onFrame = func(b []byte, eos bool) { in.onData(b, eos) }
		a.src.onTrailers = func(t hmap) { in.onTrailers(&t) }
		a.src.onError = func(err error) { r.onUpstreamReset(a, err) }
	}
	in.onHeaders(&h, eos)
	if !eos {
		if a.aborted || s.finished {
			_ = resp.Body.Close()
			return
		}
		a.src.start()
	}
}

// attemptResp is the router's view of an attempt's response, after the upstream filter.
type attemptResp struct{ a *attempt }

func (p attemptResp) onHeaders(h *hmap, eos bool) { p.a.r.onUpstreamHeaders(p.a, h, eos) }
func (p attemptResp) onData(b []byte, eos bool)   { p.a.r.onUpstreamData(p.a, b, eos) }
func (p attemptResp) onTrailers(t *hmap)          { p.a.r.onUpstreamTrailers(p.a, t) }
