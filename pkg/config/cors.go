package config

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// CORSAnyOrigin in server.cors.allowed_origins allows every origin.
const CORSAnyOrigin = "*"

// DefaultCORSMaxAge is the default of server.cors.max_age: how long a browser may
// cache a preflight answer.
const DefaultCORSMaxAge = 24 * time.Hour

// DefaultCORSAllowedHeaders returns the default of server.cors.allowed_headers:
// the key headers, content-type, and "*" for any other request header ("*" never
// covers authorization, hence its explicit entry).
func DefaultCORSAllowedHeaders() []string {
	return []string{"authorization", "x-api-key", "content-type", "*"}
}

// DefaultCORSExposedHeaders returns the default of server.cors.exposed_headers:
// x-request-id, retry-after and OpenAI's x-ratelimit-* headers, which the gateway
// sends on its responses.
func DefaultCORSExposedHeaders() []string {
	return []string{
		"x-request-id", "retry-after",
		"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
		"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
	}
}

// CORSAllowsAnyOrigin reports whether c lets every origin call: no origin listed, or
// "*" among them.
func CORSAllowsAnyOrigin(c *configv1.CORS) bool {
	os := c.GetAllowedOrigins()
	if len(os) == 0 {
		return true
	}
	for _, o := range os {
		if o == CORSAnyOrigin {
			return true
		}
	}
	return false
}

// applyCORSDefaults fills server.cors: the section is created when absent, since
// without it any origin may call (see config.proto).
func applyCORSDefaults(s *configv1.Server) {
	if s.Cors == nil {
		s.Cors = &configv1.CORS{}
	}
	c := s.Cors
	if len(c.AllowedHeaders) == 0 {
		c.AllowedHeaders = DefaultCORSAllowedHeaders()
	}
	if len(c.ExposedHeaders) == 0 {
		c.ExposedHeaders = DefaultCORSExposedHeaders()
	}
	setDuration(&c.MaxAge, DefaultCORSMaxAge)
}

// cors checks server.cors: origins are "*" or scheme://host[:port], header names are
// HTTP tokens or "*", max_age is whole seconds and not negative, and credentials are
// refused for any origin (browsers reject "*" with credentials, and reflecting every
// origin with credentials would let any page act with a user's cookies).
func (v *validator) cors(path string, c *configv1.CORS) {
	if c == nil {
		return
	}
	seen := map[string]int{}
	for i, o := range c.GetAllowedOrigins() {
		opath := joinIndex(path+".allowed_origins", i)
		if msg := checkOrigin(o); msg != "" {
			v.add(opath, "%s", msg)
			continue
		}
		key := strings.ToLower(o)
		if j, dup := seen[key]; dup {
			v.add(opath, "duplicate origin %q (also %s.allowed_origins[%d])", o, path, j)
			continue
		}
		seen[key] = i
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"allowed_headers", c.GetAllowedHeaders()}, {"exposed_headers", c.GetExposedHeaders()}} {
		for i, h := range l.names {
			if h != "*" && !validHeaderName(h) {
				v.add(joinIndex(path+"."+l.field, i), "%q is not a header name (an HTTP token) or \"*\"", h)
			}
		}
	}
	if d := c.GetMaxAge(); d != nil {
		before := len(v.problems)
		v.duration(path+".max_age", d, false)
		if len(v.problems) == before && d.GetNanos() != 0 {
			v.add(path+".max_age", "must be a whole number of seconds (Access-Control-Max-Age counts seconds)")
		}
	}
	if c.GetAllowCredentials() && CORSAllowsAnyOrigin(c) {
		v.add(path+".allow_credentials", "needs explicit allowed_origins: credentials cannot be allowed for any origin (\"*\" or none listed)")
	}
}

// checkOrigin accepts "*" and a serialized origin: scheme "://" host [":" port], with
// no user info, path (not even "/"), query or fragment. It returns a message, or ""
// when o is fine.
func checkOrigin(o string) string {
	if o == CORSAnyOrigin {
		return ""
	}
	const want = `(want "*" or scheme://host[:port], e.g. "https://app.example.com")`
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || !validScheme(scheme) {
		return "invalid origin " + strconv.Quote(o) + " " + want
	}
	if strings.ContainsAny(rest, "/?#") {
		return "origin " + strconv.Quote(o) + " must not have a path, query, fragment or trailing slash " + want
	}
	u, err := url.Parse(o)
	switch {
	case err != nil, u.Opaque != "":
		return "invalid origin " + strconv.Quote(o) + " " + want
	case u.User != nil:
		return "origin " + strconv.Quote(o) + " must not contain user info " + want
	case u.Hostname() == "":
		return "origin " + strconv.Quote(o) + " has no host " + want
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "origin " + strconv.Quote(o) + " has an invalid port (want 1-65535)"
		}
	}
	if strings.ContainsAny(u.Host, " \t") {
		return "invalid origin " + strconv.Quote(o) + " " + want
	}
	return ""
}

// validScheme checks RFC 3986 scheme syntax: a letter, then letters, digits, '+',
// '-' or '.'.
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
