package cache

import (
	"strconv"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/jsonscan"
)

// Reasons a request does not use the cache fully (Decision.Reason, the label of
// llm_router_cache_bypasses_total).
const (
	// ReasonNoStore: Cache-Control: no-store; neither looked up nor stored.
	ReasonNoStore = "no-store"
	// ReasonNoCache: Cache-Control: no-cache (or max-age=0, or Pragma: no-cache); not
	// looked up, but the fresh response is stored.
	ReasonNoCache = "no-cache"
	// ReasonNondeterministic: no temperature 0 and no seed, and the model does not force
	// caching; neither looked up nor stored.
	ReasonNondeterministic = "nondeterministic"
	// ReasonInvalid: the body is not a JSON object; neither looked up nor stored.
	ReasonInvalid = "invalid_request"
)

// Decision says how one request uses the cache.
type Decision struct {
	// Lookup: serve from the cache on a hit.
	Lookup bool
	// Store: store the response on a miss.
	Store bool
	// Reason is why Lookup or Store is false ("" when both are true).
	Reason string
	// MaxAge, when positive, is the oldest entry the caller accepts
	// (Cache-Control: max-age=N); see Fresh.
	MaxAge time.Duration
}

// Fresh reports whether e is young enough for the caller's max-age.
func (d Decision) Fresh(e *Entry, now time.Time) bool {
	return d.MaxAge <= 0 || now.Sub(e.CreatedAt) <= d.MaxAge
}

// Decide applies the cache policy to a request body and its headers (headers is called
// with lowercase names, as Envoy delivers them):
//
//   - Cache-Control: no-store → neither lookup nor store;
//   - Cache-Control: no-cache or max-age=0 (or Pragma: no-cache without Cache-Control)
//     → no lookup, store the fresh response;
//   - Cache-Control: max-age=N → lookup accepts entries at most N seconds old;
//   - otherwise only deterministic requests are cached: a top-level "temperature" of 0
//     or a non-null "seed" — unless perModelForce, set when the model's config turns
//     caching on for every request.
func Decide(body []byte, headers func(string) string, perModelForce bool) Decision {
	d := Decision{Lookup: true, Store: true}
	var cc string
	if headers != nil {
		cc = headers("cache-control")
		if cc == "" && hasToken(headers("pragma"), "no-cache") {
			cc = "no-cache"
		}
	}
	noStore, noCache, maxAge := parseCacheControl(cc)
	if noStore {
		return Decision{Reason: ReasonNoStore}
	}
	deterministic := false
	err := jsonscan.Fields(body, func(key string, v []byte) {
		switch key {
		case "temperature":
			if f, err := strconv.ParseFloat(string(v), 64); err == nil && f == 0 {
				deterministic = true
			}
		case "seed":
			if string(v) != "null" {
				deterministic = true
			}
		}
	})
	switch {
	case err != nil:
		return Decision{Reason: ReasonInvalid}
	case !deterministic && !perModelForce:
		return Decision{Reason: ReasonNondeterministic}
	}
	if noCache || maxAge == 0 {
		d.Lookup, d.Reason = false, ReasonNoCache
	}
	if maxAge > 0 && maxAge <= maxMaxAge {
		d.MaxAge = time.Duration(maxAge) * time.Second
	}
	return d
}

// Cacheable is the short form of Decide: ok reports whether the response may be stored,
// reason is Decision.Reason. A request with ok true and reason ReasonNoCache must not
// be served from the cache; use Decide to get both answers separately.
func Cacheable(body []byte, headers func(string) string, perModelForce bool) (ok bool, reason string) {
	d := Decide(body, headers, perModelForce)
	return d.Store, d.Reason
}

// maxMaxAge bounds max-age (about 100 years) so the Duration cannot overflow; a larger
// value accepts any entry.
const maxMaxAge = 100 * 365 * 24 * 3600

// parseCacheControl reads the request directives we honour. maxAge is -1 when absent.
func parseCacheControl(v string) (noStore, noCache bool, maxAge int64) {
	maxAge = -1
	for _, part := range strings.Split(v, ",") {
		name, arg, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-store":
			noStore = true
		case "no-cache":
			noCache = true
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
			if err == nil && n >= 0 && (maxAge < 0 || n < maxAge) {
				maxAge = n
			}
		}
	}
	return noStore, noCache, maxAge
}

func hasToken(v, token string) bool {
	for _, part := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}
