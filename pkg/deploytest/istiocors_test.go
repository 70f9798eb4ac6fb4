package deploytest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/envoyconfig"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// In Istio mode CORS is the VirtualService's corsPolicy. Istio renders it as the Envoy
// route's typed_per_filter_config for envoy.filters.http.cors (pilot's
// route.translateRoute, for every kind of route), and the gateway runs that filter before
// the ext_proc filter the EnvoyFilter inserts before the router. So the filter sees the
// route a request matches before llm-router routes it (the catch-all: no
// x-llm-router-backend yet), and it does nothing for a route without a route entry
// (cors_filter.cc decodeHeaders), which a directResponse or redirect route is.

// catchAll returns the routes of vs that a request can match before llm-router sets
// x-llm-router-backend: those with no match, or a match that does not test the header.
func catchAll(vs *virtualService) []httpRoute {
	var out []httpRoute
	for _, r := range vs.Spec.HTTP {
		if len(r.Match) == 0 || slices.ContainsFunc(r.Match, func(m httpMatch) bool {
			_, ok := m.Headers[envoyconfig.BackendHeader]
			return !ok
		}) {
			out = append(out, r)
		}
	}
	return out
}

// checkIstioCORS checks where a VirtualService's corsPolicy is and what its catch-all
// does: a policy must sit on a route requests match before llm-router routes them (a
// backend route's policy is never applied), that route must be a route (not a
// directResponse), and it must not send unrouted requests, which still carry the
// caller's key, to a provider. A policy must also be one browsers accept.
func checkIstioCORS(t tester, vs *virtualService, cfg *configv1.Config) {
	t.Helper()
	providerHosts := map[string]bool{}
	for _, p := range cfg.GetProviders() {
		if u, err := url.Parse(p.GetBaseUrl()); err == nil && u.Hostname() != "" {
			providerHosts[u.Hostname()] = true
		}
	}
	unrouted := catchAll(vs)
	for _, r := range vs.Spec.HTTP {
		if r.CorsPolicy == nil {
			continue
		}
		checkCORSPolicy(t, vs.Metadata.Name+" route "+r.Name, r.CorsPolicy)
		assertTrue(t, slices.ContainsFunc(unrouted, func(c httpRoute) bool { return c.Name == r.Name }),
			"VirtualService %s route %s: its corsPolicy is never applied: the gateway's CORS filter runs before ext_proc, "+
				"when requests match the catch-all (no %s yet); put the corsPolicy there", vs.Metadata.Name, r.Name, envoyconfig.BackendHeader)
	}
	for _, r := range unrouted {
		if r.CorsPolicy != nil {
			assertTrue(t, r.DirectResponse == nil && len(r.Route) > 0,
				"VirtualService %s route %s: Envoy's CORS filter ignores a route without a route entry (a directResponse): "+
					"make the catch-all a route to a ServiceEntry without endpoints", vs.Metadata.Name, r.Name)
		}
		for _, d := range r.Route {
			assertTrue(t, !providerHosts[d.Destination.Host],
				"VirtualService %s route %s: requests llm-router did not route (still with the caller's key) must not go to provider %s",
				vs.Metadata.Name, r.Name, d.Destination.Host)
		}
	}
}

// checkCORSPolicy applies the rules of llm-router's server.cors validation to an Istio
// corsPolicy: a max age in whole seconds, and no credentials for every origin.
func checkCORSPolicy(t tester, what string, p *corsPolicy) {
	t.Helper()
	if p.MaxAge != "" {
		d, err := time.ParseDuration(p.MaxAge)
		assertTrue(t, err == nil && d >= 0 && d%time.Second == 0, "%s: corsPolicy.maxAge %q is not a whole number of seconds", what, p.MaxAge)
	}
	anyOrigin := slices.ContainsFunc(p.AllowOrigins, func(m stringMatch) bool {
		return m.Regex == ".*" || m.Regex == ".+" || m.Exact == "*" || (m.Prefix == "" && m.Exact == "" && m.Regex == "")
	})
	assertTrue(t, !anyOrigin || p.AllowCredentials == nil || !*p.AllowCredentials,
		"%s: corsPolicy allows credentials for any origin: browsers refuse it, and any page could act with a user's cookies", what)
}

// istioCORSFor is the Istio corsPolicy equivalent to the Envoy policy llm-router
// generates for cfg (envoyconfig.CORSPolicy): what Istio mode should carry.
func istioCORSFor(t tester, cfg *configv1.Config) *corsPolicy {
	t.Helper()
	p := envoyconfig.CORSPolicy(cfg)
	list := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	secs, err := strconv.Atoi(p.GetMaxAge())
	require.NoError(t, err)
	c := &corsPolicy{
		AllowMethods:  list(p.GetAllowMethods()),
		AllowHeaders:  list(p.GetAllowHeaders()),
		ExposeHeaders: list(p.GetExposeHeaders()),
		MaxAge:        (time.Duration(secs) * time.Second).String(),
	}
	for _, m := range p.GetAllowOriginStringMatch() {
		switch {
		case m.GetSafeRegex() != nil:
			c.AllowOrigins = append(c.AllowOrigins, stringMatch{Regex: m.GetSafeRegex().GetRegex()})
		case m.GetPrefix() != "":
			c.AllowOrigins = append(c.AllowOrigins, stringMatch{Prefix: m.GetPrefix()})
		default:
			c.AllowOrigins = append(c.AllowOrigins, stringMatch{Exact: m.GetExact()})
		}
	}
	if p.GetAllowCredentials().GetValue() {
		v := true
		c.AllowCredentials = &v
	}
	return c
}

// requireSameCORS compares two Istio corsPolicies by meaning: durations parsed, an
// unset allowCredentials as false.
func requireSameCORS(t tester, want, got *corsPolicy) {
	t.Helper()
	require.NotNil(t, got, "no corsPolicy")
	norm := func(p *corsPolicy) corsPolicy {
		n := *p
		if d, err := time.ParseDuration(p.MaxAge); err == nil {
			n.MaxAge = d.String()
		}
		if n.AllowCredentials != nil && !*n.AllowCredentials {
			n.AllowCredentials = nil
		}
		return n
	}
	require.Equal(t, norm(want), norm(got))
}

// checkMeshCORS requires the set's VirtualService catch-all to carry llm-router's CORS
// policy for the set's config (by default: any origin, no credentials).
func checkMeshCORS(t tester, s *typedSet) {
	t.Helper()
	cfg := s.routerConfig(t)
	require.Len(t, s.virtualSvcs, 1)
	routes := catchAll(s.virtualSvcs[0])
	require.Len(t, routes, 1, "one catch-all")
	requireSameCORS(t, istioCORSFor(t, cfg), routes[0].CorsPolicy)
}
