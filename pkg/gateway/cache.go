package gateway

import (
	"context"
	"time"

	"github.com/llm-router/llm-router/pkg/cache"
	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
)

// maxCachedBody bounds what one response may store (larger ones are not cached).
const maxCachedBody = 4 << 20

// cacheTimeout bounds a cache round trip on the request path (Redis).
const cacheTimeout = 50 * time.Millisecond

// cacheLookup decides whether the request may use the cache, answers a hit locally,
// and otherwise remembers the key to store the response under.
func (x *routerExchange) cacheLookup(body []byte) (extproc.Reply, bool) {
	c := x.g.cache
	m := x.model
	mode := m.Cache
	if x.policy != nil && x.policy.cache != "" {
		mode = x.policy.cache // the route's policy wins over the model's
	}
	if c == nil || mode == "never" || (x.endpoint != epChat && x.endpoint != epMessages && x.endpoint != epEmbeddings) {
		return extproc.Reply{}, false
	}
	d := cache.Decide(body, x.reqHdr.Get, mode == "always")
	if !d.Lookup && !d.Store {
		x.cacheStatus = "bypass"
		if x.g.cacheMet != nil {
			x.g.cacheMet.Bypass(d.Reason)
		}
		return extproc.Reply{}, false
	}
	canon, err := cache.Canonicalize(body)
	if err != nil {
		x.cacheStatus = "bypass"
		return extproc.Reply{}, false
	}
	scope := x.endpoint.String()
	if x.stream {
		scope += ":stream"
	}
	keyID := ""
	if x.g.cacheKey && x.identity != nil {
		keyID = x.identity.KeyID
	}
	key := cache.ScopedKey(scope, m.Name, canon, keyID)
	if d.Lookup {
		ctx, cancel := context.WithTimeout(context.Background(), cacheTimeout)
		e, ok, err := c.Get(ctx, key)
		cancel()
		if err == nil && ok && d.Fresh(e, x.g.now()) {
			return x.cacheHit(e), true
		}
	}
	x.cacheStatus = "miss"
	if d.Store {
		x.cacheKey = key
	}
	return extproc.Reply{}, false
}

// cacheHit answers from a stored response. Usage is reported as cached: the tokens of
// the original answer, at no cost.
func (x *routerExchange) cacheHit(e *cache.Entry) extproc.Reply {
	x.cacheStatus = "hit"
	x.localStatus = e.Status
	x.usage = e.Usage
	headers := []extproc.Header{
		{Name: "content-type", Value: e.ContentType},
		{Name: "x-llm-router-cache", Value: "hit"},
		{Name: HeaderRequestID, Value: x.reqID},
	}
	md := x.usageMetadata()
	md.SetString("cache", "hit")
	md.SetString("model", x.model.Name)
	md.SetString("request_id", x.reqID)
	if x.identity != nil {
		md.SetString("key_id", x.identity.KeyID)
	}
	return extproc.Reply{
		Immediate: &extproc.ImmediateResponse{Status: e.Status, Headers: headers, Body: e.Body, Details: "llm_router_cache_hit"},
		Metadata:  md,
	}
}

// cacheAppend collects response bytes sent to the caller for storing.
func (x *routerExchange) cacheAppend(b []byte) {
	if x.cacheKey == "" {
		return
	}
	if len(x.cacheBuf)+len(b) > maxCachedBody {
		x.cacheKey, x.cacheBuf = "", nil
		return
	}
	x.cacheBuf = append(x.cacheBuf, b...)
}

// cacheStore stores the complete successful response.
func (x *routerExchange) cacheStore(contentType string, usage canonical.Usage) {
	if x.cacheKey == "" || x.g.cache == nil || x.status != 200 || x.errType != "" {
		return
	}
	e := &cache.Entry{Status: 200, ContentType: contentType, Body: x.cacheBuf, Stream: x.respStream, Usage: usage, Model: x.model.Name, CreatedAt: x.g.now()}
	ctx, cancel := context.WithTimeout(context.Background(), cacheTimeout)
	defer cancel()
	_ = x.g.cache.Set(ctx, x.cacheKey, e, x.g.cacheTTL)
	x.cacheKey, x.cacheBuf = "", nil
}
