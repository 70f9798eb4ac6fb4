package gateway

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/jsonscan"
	"github.com/llm-router/llm-router/pkg/limits"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/routing"
)

// Header names the gateway reads or sets.
const (
	HeaderBackend   = "x-llm-router-backend"
	HeaderRequestID = "x-request-id"
)

// endpoint is a client-facing API operation.
type endpoint uint8

const (
	epUnknown endpoint = iota
	epChat
	epEmbeddings
	epMessages
	epCountTokens
	epModels
)

func (e endpoint) String() string {
	switch e {
	case epChat:
		return "chat"
	case epEmbeddings:
		return "embeddings"
	case epMessages:
		return "messages"
	case epCountTokens:
		return "count_tokens"
	case epModels:
		return "models"
	}
	return "unknown"
}

// routerExchange is one request seen by the router-level filter.
type routerExchange struct {
	g     *Gateway
	rt    *Runtime
	start time.Time
	spent time.Duration // time inside the processor

	reqID    string
	reqHdr   extproc.Headers // request headers (cache-control)
	endpoint endpoint
	front    provider.Frontend
	identity *auth.Identity
	model    *Model
	stream   bool
	// maxTokens is the caller's output cap (0 when unset), for the limiter's estimate.
	maxTokens  int64
	body       []byte // caller's original body (kept for the upstream filter)
	canon      *canonical.Request
	embed      *canonical.EmbeddingRequest
	wantsUsage bool

	// attempt is the backend serving the current attempt (set by the upstream filter
	// in upstream mode, else by this exchange).
	attempt atomic.Pointer[attemptInfo]
	// attemptDone reports the current attempt's outcome to the router.
	attemptMu   sync.Mutex
	attemptDone func(routing.Outcome)

	// response side
	status      int
	respStream  bool
	errHeader   map[string]string
	scanner     provider.UsageScanner
	decoder     provider.StreamDecoder
	encoder     provider.StreamEncoder
	events      []canonical.StreamEvent
	out         []byte
	usage       canonical.Usage
	errType     string
	firstByte   time.Duration
	localStatus int

	ticket       *limits.Ticket
	limitHeaders []extproc.Header
	// upstreamReqID is the provider's own request id (for support tickets), from its
	// x-request-id, request-id or x-amzn-requestid response header.
	upstreamReqID string

	arm         string       // A/B arm ("" without splits)
	policy      *routePolicy // per-route policy from the Envoy route metadata
	cacheStatus string
	cacheKey    string
	cacheBuf    []byte

	// Scratch for replies: the extproc server copies a reply's set headers and metadata
	// before it calls the exchange again, so each reply of the stream reuses them.
	setHeaders [8]extproc.Header
	md         extproc.Metadata
}

// attemptInfo is how one attempt was built.
type attemptInfo struct {
	backend     *Backend
	passthrough bool
}

func newRouterExchange(g *Gateway) *routerExchange {
	return &routerExchange{g: g, rt: g.rt.Load(), start: g.now()}
}

func (x *routerExchange) track(t0 time.Time) { x.spent += time.Since(t0) }

// newReply returns an empty reply whose set-header list uses the exchange's scratch.
func (x *routerExchange) newReply() extproc.Reply {
	var r extproc.Reply
	r.Headers.Set = x.setHeaders[:0]
	return r
}

// callerCredentialHeaders are removed from every request sent upstream. Replies share
// this list (the response references it), so it is never modified.
var callerCredentialHeaders = []string{"authorization", "x-api-key"}

func (x *routerExchange) RequestHeaders(_ context.Context, req *extproc.RequestHeaders) extproc.Reply {
	t0 := time.Now()
	defer x.track(t0)
	h := req.Headers
	x.reqHdr = h
	x.policy = routePolicyFrom(req.Attributes)
	x.reqHdr = h
	x.reqID = h.Get(HeaderRequestID)
	path := h.Get(":path")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	method := h.Bytes(":method")
	x.endpoint, x.front = x.route(path)
	if x.endpoint == epUnknown {
		return x.fail(canonical.NewError(canonical.ErrNotFound, "unknown path %q: llm-router serves /v1/chat/completions, /v1/embeddings, /v1/messages and /v1/models", path))
	}
	if x.front == nil {
		return x.fail(canonical.NewError(canonical.ErrNotFound, "%s is not enabled on this gateway", path))
	}
	wantMethod := "POST"
	if x.endpoint == epModels {
		wantMethod = "GET"
	}
	if string(method) != wantMethod {
		e := canonical.NewError(canonical.ErrMethodNotAllowed, "method %s is not allowed on %s; use %s", string(method), path, wantMethod)
		return x.failWith(e, extproc.Header{Name: "allow", Value: wantMethod})
	}
	if x.rt.auth != nil {
		id, err := x.rt.auth.Authenticate(context.Background(), auth.CredentialFromHeaders(h.Get))
		if err != nil {
			return x.fail(authError(err))
		}
		x.identity = id
	}
	if x.identity != nil && !x.identity.AllowsEndpoint(x.endpoint.String()) {
		return x.fail(canonical.NewError(canonical.ErrPermission, "this key may not call %s", path))
	}
	if x.endpoint == epModels {
		return x.listModels(strings.TrimPrefix(path, "/v1/models"))
	}
	if cl := h.Bytes("content-length"); len(cl) > 0 {
		if n, ok := atoi(cl); ok && n > x.rt.maxBody {
			return x.fail(tooLarge(n, x.rt.maxBody))
		}
	}
	if req.EndOfStream {
		return x.fail(canonical.NewError(canonical.ErrInvalidRequest, "request body is required"))
	}
	return extproc.Reply{}
}

func (x *routerExchange) route(path string) (endpoint, provider.Frontend) {
	openai := x.g.frontends[provider.SchemaOpenAI]
	switch {
	case path == "/v1/chat/completions" || path == "/chat/completions":
		return epChat, openai
	case path == "/v1/embeddings" || path == "/embeddings":
		return epEmbeddings, openai
	case path == "/v1/messages":
		return epMessages, x.g.frontends[provider.SchemaAnthropic]
	case path == "/v1/messages/count_tokens":
		return epCountTokens, x.g.frontends[provider.SchemaAnthropic]
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		return epModels, openai
	}
	if strings.HasPrefix(path, "/v1/messages") {
		return epUnknown, x.g.frontends[provider.SchemaAnthropic]
	}
	return epUnknown, openai
}

func (x *routerExchange) RequestBody(ctx context.Context, body []byte, eos bool) extproc.Reply {
	t0 := time.Now()
	defer x.track(t0)
	if !eos {
		// BUFFERED mode sends the whole body at once; trailers would end it with eos
		// false, which we do not use.
		return x.fail(canonical.NewError(canonical.ErrInvalidRequest, "request trailers are not supported"))
	}
	if len(body) > x.rt.maxBody {
		return x.fail(tooLarge(len(body), x.rt.maxBody))
	}
	var modelName string
	var sawModel bool
	err := jsonscan.Fields(body, func(key string, v []byte) {
		switch key {
		case "model":
			modelName, sawModel = jsonscan.String(v)
		case "stream":
			x.stream, _ = jsonscan.Bool(v)
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			x.maxTokens = parseUint(v)
		}
	})
	if err != nil {
		// jsonscan validates the structure; the passthrough rewriter or the schema parser
		// validates the rest before anything goes upstream.
		if errors.Is(err, jsonscan.ErrNotObject) {
			return x.fail(canonical.NewError(canonical.ErrInvalidRequest, "request body must be a JSON object"))
		}
		return x.fail(canonical.NewError(canonical.ErrInvalidRequest, "request body is not valid JSON"))
	}
	if !sawModel || modelName == "" {
		e := canonical.NewError(canonical.ErrInvalidRequest, "you must provide a model parameter")
		e.Param = "model"
		return x.fail(e)
	}
	if x.identity != nil && !x.identity.AllowsModel(modelName) {
		e := canonical.NewError(canonical.ErrPermission, "this key may not use model %q", modelName)
		e.Param = "model"
		return x.fail(e)
	}
	if !x.policy.allows(modelName) {
		e := canonical.NewError(canonical.ErrPermission, "model %q is not served on this route", modelName)
		e.Param = "model"
		return x.fail(e)
	}
	m, ok := x.rt.Model(modelName)
	if !ok || len(m.Backends) == 0 {
		e := canonical.NewError(canonical.ErrNotFound, "the model %q does not exist or you do not have access to it", modelName)
		e.Param, e.Code = "model", "model_not_found"
		return x.fail(e)
	}
	if x.endpoint == epCountTokens {
		// Answered locally, after the same model checks as a real request.
		return x.countTokens(body, m)
	}
	x.model = m
	x.body = body
	if x.reqID == "" {
		x.reqID = newRequestID()
	}
	if hit, ok := x.cacheLookup(body); ok {
		return hit
	}
	b := x.pick()
	if b == nil {
		e := canonical.NewError(canonical.ErrInvalidRequest, "the request (about %d tokens) does not fit the context window of any backend of model %q", len(body)/4, m.Name)
		e.Code = "context_length_exceeded"
		return x.fail(e)
	}
	if refused, ok := x.admit(ctx, b); !ok {
		return refused
	}

	reply := x.newReply()
	reply.Headers.Remove = callerCredentialHeaders
	reply.Headers.AddSet(HeaderBackend, b.Name)
	reply.Headers.AddSet(HeaderRequestID, x.reqID)
	reply.ClearRouteCache = true
	if x.rt.upstream {
		// The upstream-level filter translates per attempt; it finds us by request id.
		x.g.inflight.Store(x.reqID, x)
	} else {
		up, info, cerr := x.buildAttempt(context.Background(), b)
		if cerr != nil {
			return x.fail(cerr)
		}
		x.attempt.Store(info)
		applyUpstream(&reply, up)
		// An unchanged body (same model name, nothing injected) is not sent back.
		if !bytes.Equal(up.Body, body) {
			reply.ReplaceBody = true
			reply.Body = up.Body
			reply.Headers.AddSet("content-length", strconv.Itoa(len(up.Body)))
		}
	}
	reply.Metadata = x.requestMetadata(b)
	return reply
}

// applyUpstream turns an adapter's upstream request into header mutations.
func applyUpstream(reply *extproc.Reply, up *provider.UpstreamRequest) {
	reply.Headers.AddSet(":path", up.Path)
	if up.Method != "" && up.Method != "POST" {
		reply.Headers.AddSet(":method", up.Method)
	}
	for name, values := range up.Header {
		if len(values) > 0 {
			reply.Headers.AddSet(lowerHeaderName(name), values[0])
		}
	}
}

// atoi is strconv.Atoi for a header value, without copying the common all-digit case
// to a string first; ok is false where Atoi fails.
func atoi(b []byte) (n int, ok bool) {
	if len(b) == 0 || len(b) > 9+9*(strconv.IntSize/64) { // could overflow an int
		n, err := strconv.Atoi(string(b))
		return n, err == nil
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			n, err := strconv.Atoi(string(b))
			return n, err == nil
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// hasPrefix is strings.HasPrefix for a header value.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// lowerHeaderName returns name in lower case (the HTTP/2 form Envoy expects),
// without allocating for the canonical names adapters set.
func lowerHeaderName(name string) string {
	switch name {
	case "Content-Type":
		return "content-type"
	case "Accept":
		return "accept"
	case "Authorization":
		return "authorization"
	case "Api-Key":
		return "api-key"
	case "X-Api-Key":
		return "x-api-key"
	case "Anthropic-Version":
		return "anthropic-version"
	}
	return strings.ToLower(name)
}

// pick chooses the first backend to try. With a router it follows the model's
// strategy and skips open circuit breakers and backends whose context window is too
// small (nil then means none fits); without one, the simple built-in strategies apply.
func (x *routerExchange) pick() *Backend {
	m := x.model
	if r := x.g.router; r != nil && len(m.cands) == len(m.Backends) {
		var buf [16]int
		info := routing.Info{EstimatedTokens: len(x.body) / 4}
		if x.identity != nil {
			info.KeyID = x.identity.KeyID
		}
		order, arm := r.OrderWithArm(m.Strategy, m.Name, m.cands, m.splits, info, buf[:0])
		if len(m.splits) > 0 {
			x.arm = arm.Name
		}
		if arm.Model != "" {
			// The arm names another model: serve the request from its candidates.
			if other, ok := x.rt.Model(arm.Model); ok && len(other.cands) == len(other.Backends) {
				if o := r.Order(other.Strategy, other.Name, other.cands, info, buf[:0]); len(o) > 0 {
					return other.Backends[o[0]]
				}
			}
		}
		if len(order) == 0 {
			return nil
		}
		return m.Backends[order[0]]
	}
	n := 1
	for n < len(m.Backends) && m.Backends[n].Priority == m.Backends[0].Priority {
		n++
	}
	if n == 1 {
		return m.Backends[0]
	}
	switch m.Strategy {
	case "round_robin":
		return m.Backends[int(m.rr.Add(1)-1)%n]
	case "weighted":
		var total uint64
		for _, b := range m.Backends[:n] {
			total += uint64(b.Weight)
		}
		r := randUint64() % total
		for _, b := range m.Backends[:n] {
			if r < uint64(b.Weight) {
				return b
			}
			r -= uint64(b.Weight)
		}
	}
	return m.Backends[0]
}

// buildAttempt translates (or passes through) the caller's request for backend b.
func (x *routerExchange) buildAttempt(ctx context.Context, b *Backend) (*provider.UpstreamRequest, *attemptInfo, *canonical.Error) {
	a := b.Adapter
	info := &attemptInfo{backend: b}
	target := provider.Target{Model: b.Model, Stream: x.stream}
	var up *provider.UpstreamRequest
	if pt, ok := a.Backend.(provider.Passthrough); ok && a.Backend.Schema() == x.front.Schema() {
		var body []byte
		var err error
		var wants bool
		if x.endpoint == epEmbeddings {
			body, _, err = pt.RewriteChatRequest(x.body, b.Model, false)
		} else {
			body, wants, err = pt.RewriteChatRequest(x.body, b.Model, x.stream)
			x.wantsUsage = wants
		}
		if err != nil {
			return nil, nil, asAPIError(err, canonical.ErrInvalidRequest)
		}
		// Building from an empty canonical request yields the path and credentials.
		up, err = passthroughRequest(ctx, a, x.endpoint, target, body)
		if err != nil {
			return nil, nil, asAPIError(err, canonical.ErrInternal)
		}
		info.passthrough = true
	} else {
		var err error
		up, err = x.translate(ctx, a, target)
		if err != nil {
			return nil, nil, asAPIError(err, canonical.ErrInvalidRequest)
		}
	}
	if r := x.g.router; r != nil {
		x.beginAttempt(r, b.Name)
	}
	if a.Signer != nil {
		if err := a.Signer.Sign(ctx, up); err != nil {
			e := canonical.NewError(canonical.ErrUpstream, "could not sign the request for provider %s", b.Provider)
			return nil, nil, e
		}
	}
	return up, info, nil
}

// translate converts the caller's body through the canonical form.
func (x *routerExchange) translate(ctx context.Context, a *provider.Adapter, target provider.Target) (*provider.UpstreamRequest, error) {
	if x.endpoint == epEmbeddings {
		ef, ok := x.front.(provider.EmbeddingFrontend)
		eb, ok2 := a.Backend.(provider.EmbeddingBackend)
		if !ok || !ok2 {
			return nil, canonical.NewError(canonical.ErrInvalidRequest, "model %q does not support embeddings", x.model.Name)
		}
		if x.embed == nil {
			req, err := ef.ParseEmbeddingRequest(x.body)
			if err != nil {
				return nil, err
			}
			x.embed = req
		}
		req := *x.embed
		req.Model = target.Model
		return eb.BuildEmbeddingRequest(ctx, &req, target)
	}
	if x.canon == nil {
		req, err := x.front.ParseChatRequest(x.body)
		if err != nil {
			return nil, err
		}
		x.canon = req
		x.wantsUsage = req.IncludeUsage
	}
	req := *x.canon
	req.Model = target.Model
	return a.Backend.BuildChatRequest(ctx, &req, target)
}

// passthroughRequest asks the adapter for path and credentials; adapters without
// PassthroughRequester build a minimal request whose body is then swapped.
func passthroughRequest(ctx context.Context, a *provider.Adapter, ep endpoint, t provider.Target, body []byte) (*provider.UpstreamRequest, error) {
	if pr, ok := a.Backend.(provider.PassthroughRequester); ok {
		op := provider.OpChat
		if ep == epEmbeddings {
			op = provider.OpEmbeddings
		}
		return pr.NewPassthroughRequest(op, t, body), nil
	}
	var up *provider.UpstreamRequest
	var err error
	if ep == epEmbeddings {
		eb, ok := a.Backend.(provider.EmbeddingBackend)
		if !ok {
			return nil, canonical.NewError(canonical.ErrInvalidRequest, "this model does not support embeddings")
		}
		up, err = eb.BuildEmbeddingRequest(ctx, &canonical.EmbeddingRequest{Model: t.Model, Input: []string{""}}, t)
	} else {
		up, err = a.Backend.BuildChatRequest(ctx, &canonical.Request{Model: t.Model, Stream: t.Stream, Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "x"}}}}}, t)
	}
	if err != nil {
		return nil, err
	}
	up.Body = body
	return up, nil
}

func (x *routerExchange) requestMetadata(b *Backend) extproc.Metadata {
	md := &x.md
	md.Reset()
	md.SetString("backend", b.Name)
	md.SetString("model", x.model.Name)
	md.SetString("provider_model", b.Model)
	md.SetString("request_id", x.reqID)
	if x.identity != nil {
		md.SetString("key_id", x.identity.KeyID)
	}
	if x.arm != "" {
		md.SetString("ab_arm", x.arm)
	}
	return *md
}
