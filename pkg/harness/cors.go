package harness

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// corsPolicy is a compiled envoy.extensions.filters.http.cors.v3.CorsPolicy, the policy of
// the single virtual host (Envoy's CorsPolicyImplBase).
type corsPolicy struct {
	origins            []stringMatcher
	allowMethods       string
	allowHeaders       string
	exposeHeaders      string
	maxAge             string
	allowCredentials   bool
	allowPrivateNet    bool
	forwardNotMatching bool
	enabled, shadow    bool
}

// corsState is the per-stream state of the CORS filter (CorsFilter's is_cors_request_
// and latched_origin_).
type corsState struct {
	isCORSRequest bool
	latchedOrigin string
	// answered: decodeHeaders answered a preflight and stopped the decoder chain.
	answered bool
}

func compileCORS(p *corsv3.CorsPolicy) (*corsPolicy, error) {
	if err := p.ValidateAll(); err != nil {
		return nil, err
	}
	cp := &corsPolicy{
		allowMethods:  p.GetAllowMethods(),
		allowHeaders:  p.GetAllowHeaders(),
		exposeHeaders: p.GetExposeHeaders(),
		maxAge:        p.GetMaxAge(),
		// Unset optionals are false, except forward_not_matching_preflights
		// (CorsFilter::forwardNotMatchingPreflights returns true when no policy sets it).
		allowCredentials:   p.GetAllowCredentials().GetValue(),
		allowPrivateNet:    p.GetAllowPrivateNetworkAccess().GetValue(),
		forwardNotMatching: p.GetForwardNotMatchingPreflights() == nil || p.GetForwardNotMatchingPreflights().GetValue(),
	}
	for i, m := range p.GetAllowOriginStringMatch() {
		sm, err := compileStringMatcher(m)
		if err != nil {
			return nil, fmt.Errorf("allow_origin_string_match[%d]: %w", i, err)
		}
		cp.origins = append(cp.origins, sm)
	}
	var err error
	// CorsPolicyImplBase::enabled: true unless filter_enabled says otherwise;
	// shadowEnabled: false unless shadow_enabled says otherwise.
	if cp.enabled, err = runtimeFraction(p.GetFilterEnabled(), true); err != nil {
		return nil, fmt.Errorf("filter_enabled: %w", err)
	}
	if cp.shadow, err = runtimeFraction(p.GetShadowEnabled(), false); err != nil {
		return nil, fmt.Errorf("shadow_enabled: %w", err)
	}
	return cp, nil
}

// runtimeFraction evaluates a RuntimeFractionalPercent without a runtime: its default
// value, which must be 0% or 100% (a fraction would be a random choice per request).
func runtimeFraction(f *corev3.RuntimeFractionalPercent, unset bool) (bool, error) {
	if f == nil {
		return unset, nil
	}
	d := f.GetDefaultValue()
	den := uint32(100)
	switch d.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10000
	case typev3.FractionalPercent_MILLION:
		den = 1000000
	}
	switch n := d.GetNumerator(); {
	case n == 0:
		return false, nil
	case n >= den:
		return true, nil
	}
	return false, fmt.Errorf("a fraction of requests: %w", ErrNotEmulated)
}

// originAllowed is CorsFilter::isOriginAllowed: a matcher that matches the literal "*"
// allows every origin.
func (p *corsPolicy) originAllowed(origin string) bool {
	for _, m := range p.origins {
		if m("*") || m(origin) {
			return true
		}
	}
	return false
}

// corsDecodeHeaders is CorsFilter::decodeHeaders, run before the router-level ext_proc
// filter. It reports whether it answered a preflight (the decoder chain then stops: the
// request never reaches the processor or the router). The answer is encoded through the
// whole encoder chain, as decoder_callbacks_->encodeHeaders does, so the router-level
// ext_proc filter sees its response headers and this filter's encodeHeaders adds to it.
func (s *stream) corsDecodeHeaders() bool {
	p := s.e.cors
	// No route, or a route without a route entry: the filter does nothing. The harness
	// has no direct-response routes, so every matched route is a route entry.
	if p == nil || s.currentRoute() == nil {
		return false
	}
	if !p.enabled && !p.shadow {
		return false
	}
	origin, _ := s.reqHeaders.get("origin")
	if origin == "" {
		return false
	}
	allowed := p.originAllowed(origin)
	if allowed {
		s.e.stats.inc("cors.origin_valid")
		s.cors.latchedOrigin = origin
	} else {
		s.e.stats.inc("cors.origin_invalid")
	}
	if p.shadow && !p.enabled {
		return false
	}
	s.cors.isCORSRequest = true
	if m, _ := s.reqHeaders.get(":method"); m != "OPTIONS" {
		return false
	}
	reqMethod, _ := s.reqHeaders.get("access-control-request-method")
	if reqMethod == "" {
		return false
	}
	// A preflight. One from a not-allowed origin goes on down the chain by default.
	if !allowed && p.forwardNotMatching {
		return false
	}
	h := hmap{{":status", "200"}}
	if allowed {
		h.set("access-control-allow-origin", origin)
	}
	if p.allowCredentials {
		h.set("access-control-allow-credentials", "true")
	}
	switch p.allowMethods {
	case "":
	case "*":
		h.set("access-control-allow-methods", reqMethod)
	default:
		h.set("access-control-allow-methods", p.allowMethods)
	}
	switch p.allowHeaders {
	case "":
	case "*":
		v, _ := s.reqHeaders.get("access-control-request-headers")
		h.set("access-control-allow-headers", v)
	default:
		h.set("access-control-allow-headers", p.allowHeaders)
	}
	if p.maxAge != "" {
		h.set("access-control-max-age", p.maxAge)
	}
	if v, _ := s.reqHeaders.get("access-control-request-private-network"); p.allowPrivateNet && v == "true" {
		h.set("access-control-allow-private-network", "true")
	}
	s.cors.answered = true
	s.details = "cors_response"
	s.encodeIn().onHeaders(&h, true)
	return true
}

// corsEncodeHeaders is CorsFilter::encodeHeaders, the last encoder filter before the
// downstream: every response to a CORS request from an allowed origin (upstream
// responses, local replies and the filter's own preflight answer) gets the origin, the
// credentials flag and the exposed headers.
func (s *stream) corsEncodeHeaders(h *hmap) {
	p := s.e.cors
	if p == nil || !s.cors.isCORSRequest || s.cors.latchedOrigin == "" {
		return
	}
	h.set("access-control-allow-origin", s.cors.latchedOrigin)
	if p.allowCredentials {
		h.set("access-control-allow-credentials", "true")
	}
	if p.exposeHeaders != "" {
		h.set("access-control-expose-headers", p.exposeHeaders)
	}
}
