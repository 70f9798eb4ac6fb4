package envoyconfig

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// ClusterPlan is what Envoy (or the built-in data plane) does for one backend: the
// cluster the backend's route sends to, its endpoints by priority and the route's retry
// policy. Generate renders exactly this; `llm-router run` executes it.
type ClusterPlan struct {
	// Name is the Envoy cluster name, "llm_router.<backend>".
	Name string
	// Backend is the backend name the route matches in x-llm-router-backend.
	Backend string
	// Endpoints are ordered by priority: 0 is the backend itself; 1..n, present only
	// when server.upstream_filter is true, are the model's other candidates in fallback
	// order.
	Endpoints []EndpointPlan
	// Retry is the route's retry policy.
	Retry RetryPlan
	// ConnectTimeout bounds connection setup to any endpoint (the largest of the
	// endpoints' providers' connect timeouts).
	ConnectTimeout time.Duration
}

// EndpointPlan is one endpoint of a cluster.
type EndpointPlan struct {
	// URL is the provider's base URL: scheme://host[:port][/prefix].
	URL string
	// Priority is the Envoy priority level; retries move to the next one.
	Priority uint32
	// Backend is the backend served here, carried as endpoint metadata
	// llm_router.backend so the upstream-level processor knows whom it talks to.
	Backend string
}

// RetryPlan is a route's retry policy.
type RetryPlan struct {
	// NumRetries is the number of retries after the first attempt: one per fallback
	// endpoint. Zero means no retry policy.
	NumRetries uint32
	// RetryOn are Envoy's retry conditions.
	RetryOn []string
	// RetriableStatusCodes are the extra statuses retried ("retriable-status-codes").
	RetriableStatusCodes []uint32
	// PreviousPriorities makes each retry skip the priorities already tried, so the
	// attempts walk the fallback chain.
	PreviousPriorities bool
	// PerTryTimeout bounds each attempt, streaming included (the largest total timeout
	// of the endpoints' providers).
	PerTryTimeout time.Duration
	// PerTryIdleTimeout, when non-zero, bounds the silence within one attempt: the
	// largest first_byte or stream_idle timeout of the endpoints' providers, or zero
	// when one of them sets neither.
	PerTryIdleTimeout time.Duration
}

// RouteTimeout is the route's overall timeout: every attempt may use its full per-try
// timeout. Envoy's default of 15s would cut ordinary LLM generations short.
func (p ClusterPlan) RouteTimeout() time.Duration {
	return p.Retry.PerTryTimeout * time.Duration(p.Retry.NumRetries+1)
}

// BackendName returns b's name: its configured name, else "<provider>.<model>" with
// every character outside [A-Za-z0-9._-] replaced by "-", where model defaults to the
// public model name. It mirrors the config loader's default so that an undefaulted
// config gives the same names.
func BackendName(m *configv1.Model, b *configv1.Backend) string {
	if b.GetName() != "" {
		return b.GetName()
	}
	return SanitizeName(b.GetProvider() + "." + BackendModel(m, b))
}

// BackendModel returns the upstream model name of b: its model, else the public name.
func BackendModel(m *configv1.Model, b *configv1.Backend) string {
	if b.GetModel() != "" {
		return b.GetModel()
	}
	return m.GetName()
}

// SanitizeName replaces every character (rune) outside [A-Za-z0-9._-] by "-".
func SanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, s)
}

// ClusterName returns the Envoy cluster name of a backend.
func ClusterName(backend string) string { return ClusterPrefix + backend }

// Plan returns one ClusterPlan per distinct backend name, in config order. Backends
// whose provider is unknown or has no usable base URL are left out; Generate reports
// them as errors. When two models list a backend with the same name, the first model
// decides its fallback chain (routing is by backend name alone). Of opts only
// DefaultBaseURL matters here.
func Plan(cfg *configv1.Config, opts Options) []ClusterPlan {
	plans, _ := buildPlan(cfg, opts)
	return plans
}

// candidate is one resolved backend of a model.
type candidate struct {
	name     string
	priority uint32
	provider *configv1.Provider
	url      *url.URL
}

// buildPlan computes the plans and every reason a backend had to be left out.
func buildPlan(cfg *configv1.Config, opts Options) ([]ClusterPlan, error) {
	providers := map[string]*configv1.Provider{}
	for _, p := range cfg.GetProviders() {
		if _, dup := providers[p.GetName()]; !dup {
			providers[p.GetName()] = p
		}
	}
	var errs []error
	var plans []ClusterPlan
	seen := map[string]bool{}
	for mi, m := range cfg.GetModels() {
		var cands []candidate
		for bi, b := range m.GetBackends() {
			c, err := resolveCandidate(m, b, providers, opts)
			if err != nil {
				errs = append(errs, fmt.Errorf("models[%d].backends[%d]: %w", mi, bi, err))
				continue
			}
			cands = append(cands, c)
		}
		// Fallback order: lowest priority first, config order within a priority.
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].priority < cands[j].priority })
		for i, c := range cands {
			if seen[c.name] {
				continue
			}
			seen[c.name] = true
			chain := []candidate{c}
			if cfg.GetServer().GetUpstreamFilter() {
				inChain := map[string]bool{c.name: true}
				for j, o := range cands {
					if j != i && !inChain[o.name] {
						inChain[o.name] = true
						chain = append(chain, o)
					}
				}
			}
			plans = append(plans, planFor(c.name, chain))
		}
	}
	return plans, errors.Join(errs...)
}

func resolveCandidate(m *configv1.Model, b *configv1.Backend, providers map[string]*configv1.Provider, opts Options) (candidate, error) {
	name := BackendName(m, b)
	p, ok := providers[b.GetProvider()]
	if !ok {
		return candidate{}, fmt.Errorf("backend %q: unknown provider %q", name, b.GetProvider())
	}
	u, err := providerURL(p, opts)
	if err != nil {
		return candidate{}, fmt.Errorf("backend %q: %w", name, err)
	}
	return candidate{name: name, priority: b.GetPriority(), provider: p, url: u}, nil
}

func planFor(name string, chain []candidate) ClusterPlan {
	p := ClusterPlan{Name: ClusterName(name), Backend: name}
	idleBounded := true
	for i, c := range chain {
		p.Endpoints = append(p.Endpoints, EndpointPlan{URL: c.url.String(), Priority: uint32(i), Backend: c.name})
		t := c.provider.GetTimeouts()
		p.ConnectTimeout = max(p.ConnectTimeout, durationOr(t.GetConnect().AsDuration(), DefaultConnectTimeout))
		p.Retry.PerTryTimeout = max(p.Retry.PerTryTimeout, durationOr(t.GetTotal().AsDuration(), DefaultTotalTimeout))
		idle := max(t.GetFirstByte().AsDuration(), t.GetStreamIdle().AsDuration())
		// One attempt-idle bound serves the whole chain: it must not cut a provider
		// that has none.
		idleBounded = idleBounded && idle > 0
		p.Retry.PerTryIdleTimeout = max(p.Retry.PerTryIdleTimeout, idle)
	}
	if !idleBounded {
		p.Retry.PerTryIdleTimeout = 0
	}
	if n := len(chain) - 1; n > 0 {
		p.Retry.NumRetries = uint32(n)
		// Retry conditions used for fallback, per the project's Envoy conventions.
		p.Retry.RetryOn = []string{"connect-failure", "reset", "5xx", "retriable-status-codes"}
		p.Retry.RetriableStatusCodes = []uint32{429}
		p.Retry.PreviousPriorities = true
	}
	return p
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// providerURL returns the provider's base URL: configured, derived from its region
// (Bedrock, Vertex AI), or the kind's preset.
func providerURL(p *configv1.Provider, opts Options) (*url.URL, error) {
	raw := p.GetBaseUrl()
	if raw == "" {
		raw = regionalURL(p)
	}
	if raw == "" && opts.DefaultBaseURL != nil {
		raw = opts.DefaultBaseURL(p.GetKind())
	}
	if raw == "" {
		return nil, fmt.Errorf("provider %q (kind %q) has no base_url and its kind has no default", p.GetName(), p.GetKind())
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("provider %q: base_url: %w", p.GetName(), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("provider %q: base_url %q: scheme must be http or https", p.GetName(), raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("provider %q: base_url %q has no host", p.GetName(), raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("provider %q: base_url %q: invalid port", p.GetName(), raw)
		}
	}
	return u, nil
}

// regionalURL derives the endpoint of region-scoped kinds, whose host a kind-only
// preset cannot know.
func regionalURL(p *configv1.Provider) string {
	switch p.GetKind() {
	case "bedrock":
		if r := p.GetAws().GetRegion(); r != "" {
			return "https://bedrock-runtime." + r + ".amazonaws.com"
		}
	case "vertex-ai", "vertex-anthropic":
		switch l := p.GetGcp().GetLocation(); l {
		case "":
		case "global":
			return "https://aiplatform.googleapis.com"
		default:
			return "https://" + l + "-aiplatform.googleapis.com"
		}
	}
	return ""
}

// hostPort splits a parsed base URL into host, port and whether TLS is used.
func hostPort(u *url.URL) (host string, port uint32, tls bool) {
	tls = u.Scheme == "https"
	port = 80
	if tls {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, _ := strconv.ParseUint(p, 10, 16) // checked by providerURL
		port = uint32(n)
	}
	return u.Hostname(), port, tls
}

// isIP reports whether host is an IP literal (no DNS needed).
func isIP(host string) bool { return net.ParseIP(host) != nil }
