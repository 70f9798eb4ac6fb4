package gateway

import (
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/routing"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Backend is one candidate (provider adapter + upstream model) of a public model.
type Backend struct {
	// Name is the backend's name (x-llm-router-backend value, metrics label).
	Name string
	// Model is the upstream model name.
	Model string
	// Provider is the provider's config name.
	Provider string
	// Adapter translates and signs for the provider.
	Adapter  *provider.Adapter
	Priority uint32
	Weight   uint32
}

// Model is a public model name and its candidates, sorted by priority.
type Model struct {
	Name          string
	Backends      []*Backend
	Strategy      string
	ContextWindow uint32
	rr            atomic.Uint64
	// Cache is the model's cache mode: "auto", "always" or "never".
	Cache string
	// splits are the model's A/B arms.
	splits []routing.Split
	// cands mirrors Backends for the router (same order).
	cands []routing.Candidate
}

// Runtime is an immutable snapshot of everything a request needs from the config. A
// request keeps the snapshot it started with, so a reload never changes it mid-flight.
type Runtime struct {
	// Config is the (defaulted) config the snapshot was built from.
	Config   *configv1.Config
	models   map[string]*Model // by name and alias
	ordered  []*Model          // config order, for /v1/models
	backends map[string]*Backend
	auth     auth.Authenticator
	maxBody  int
	upstream bool // the upstream-level filter does per-attempt translation
}

// RuntimeOptions are the dependencies of NewRuntime.
type RuntimeOptions struct {
	// Registry builds provider adapters.
	Registry *provider.Registry
	// Resolve turns secret references into values.
	Resolve func(ref string) (string, error)
	// Authenticator checks caller credentials; nil with auth.allow_unauthenticated
	// false means the static keys from the config are used.
	Authenticator auth.Authenticator
	// BaseURLOverride, when set, may replace a provider's base URL (used by `run` to
	// point the built-in mock provider at its loopback server).
	BaseURLOverride func(p *configv1.Provider) string
	// Prices returns a model's input and output price per million tokens, for the
	// lowest_cost strategy; nil leaves prices at 0.
	Prices func(kind, model string) (in, out float64, ok bool)
}

// NewRuntime builds a snapshot from a validated, defaulted config.
func NewRuntime(cfg *configv1.Config, opts RuntimeOptions) (*Runtime, error) {
	rt := &Runtime{
		Config:   cfg,
		models:   map[string]*Model{},
		backends: map[string]*Backend{},
		maxBody:  int(cfg.GetServer().GetMaxRequestBodyBytes()),
		upstream: cfg.GetServer().GetUpstreamFilter(),
	}
	if rt.maxBody <= 0 {
		rt.maxBody = 4 << 20
	}
	resolve := opts.Resolve
	if resolve == nil {
		resolve = func(ref string) (string, error) { return ref, nil }
	}
	adapters := map[string]*provider.Adapter{}
	for _, p := range cfg.GetProviders() {
		s := provider.Settings{Name: p.GetName(), Kind: p.GetKind(), BaseURL: p.GetBaseUrl(), Config: p, Resolve: resolve, Headers: map[string]string{}}
		if opts.BaseURLOverride != nil {
			if u := opts.BaseURLOverride(p); u != "" {
				s.BaseURL = u
			}
		}
		if p.GetApiKey() != "" {
			v, err := resolve(p.GetApiKey())
			if err != nil {
				return nil, fmt.Errorf("provider %q api_key: %w", p.GetName(), err)
			}
			s.APIKey = v
		}
		for k, v := range p.GetHeaders() {
			rv, err := resolve(v)
			if err != nil {
				return nil, fmt.Errorf("provider %q header %q: %w", p.GetName(), k, err)
			}
			s.Headers[k] = rv
		}
		a, err := opts.Registry.Build(s)
		if err != nil {
			return nil, err
		}
		adapters[p.GetName()] = a
	}
	for _, m := range cfg.GetModels() {
		model := &Model{Name: m.GetName(), Strategy: m.GetStrategy(), ContextWindow: m.GetContextWindow(), Cache: m.GetCache()}
		for _, sp := range m.GetSplits() {
			model.splits = append(model.splits, routing.Split{Percent: sp.GetPercent(), Target: sp.GetTarget()})
		}
		if err := routing.ValidateSplits(model.splits); err != nil {
			return nil, fmt.Errorf("model %q: %w", m.GetName(), err)
		}
		for _, b := range m.GetBackends() {
			a, ok := adapters[b.GetProvider()]
			if !ok {
				return nil, fmt.Errorf("model %q: unknown provider %q", m.GetName(), b.GetProvider())
			}
			be := &Backend{Name: b.GetName(), Model: b.GetModel(), Provider: b.GetProvider(), Adapter: a, Priority: b.GetPriority(), Weight: b.GetWeight()}
			if be.Model == "" {
				be.Model = m.GetName()
			}
			if be.Name == "" {
				be.Name = DefaultBackendName(b.GetProvider(), be.Model)
			}
			if be.Weight == 0 {
				be.Weight = 1
			}
			model.Backends = append(model.Backends, be)
			rt.backends[be.Name] = be
		}
		sort.SliceStable(model.Backends, func(i, j int) bool { return model.Backends[i].Priority < model.Backends[j].Priority })
		for _, be := range model.Backends {
			c := routing.Candidate{Name: be.Name, Priority: be.Priority, Weight: be.Weight, ContextWindow: int(model.ContextWindow)}
			if opts.Prices != nil {
				c.InputPricePerMTok, c.OutputPricePerMTok, _ = opts.Prices(be.Adapter.Settings.Kind, be.Model)
			}
			model.cands = append(model.cands, c)
		}
		rt.ordered = append(rt.ordered, model)
		rt.models[m.GetName()] = model
		for _, alias := range m.GetAliases() {
			rt.models[alias] = model
		}
	}
	switch {
	case opts.Authenticator != nil:
		rt.auth = opts.Authenticator
	case cfg.GetAuth().GetAllowUnauthenticated():
		rt.auth = nil
	default:
		st, err := StaticKeys(cfg, resolve)
		if err != nil {
			return nil, err
		}
		rt.auth = st
	}
	return rt, nil
}

// Backend returns a backend by name.
func (rt *Runtime) Backend(name string) (*Backend, bool) { b, ok := rt.backends[name]; return b, ok }

// Model returns a model by name or alias.
func (rt *Runtime) Model(name string) (*Model, bool) { m, ok := rt.models[name]; return m, ok }

// Models lists the models in config order.
func (rt *Runtime) Models() []*Model { return rt.ordered }

// DefaultBackendName is "<provider>.<model>" with characters outside [A-Za-z0-9._-]
// replaced by "-", so it is safe as a header value and an Envoy cluster name.
func DefaultBackendName(providerName, model string) string {
	b := []byte(providerName + "." + model)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			b[i] = '-'
		}
	}
	return string(b)
}

// StaticKeys builds the authenticator for the config's static keys.
func StaticKeys(cfg *configv1.Config, resolve func(string) (string, error)) (*auth.Static, error) {
	keys := make([]auth.StaticKey, 0, len(cfg.GetAuth().GetKeys()))
	for _, k := range cfg.GetAuth().GetKeys() {
		sk := auth.StaticKey{
			ID: k.GetId(), Models: k.GetModels(), Team: k.GetTeam(), Priority: int(k.GetPriority()),
			Limits: auth.Limits{RequestsPerMinute: k.GetRequestsPerMinute(), TokensPerMinute: k.GetTokensPerMinute(), MaxParallel: k.GetMaxParallel()},
			Budget: auth.Budget{USD: k.GetBudgetUsd(), Period: k.GetBudgetPeriod()},
		}
		if k.GetSha256() != "" {
			h, err := auth.ParseSHA256(k.GetSha256())
			if err != nil {
				return nil, fmt.Errorf("auth key %q: %w", k.GetId(), err)
			}
			sk.SHA256 = h
		} else {
			secret, err := resolve(k.GetKey())
			if err != nil {
				return nil, fmt.Errorf("auth key %q: %w", k.GetId(), err)
			}
			sk.SHA256 = auth.HashSecret(secret)
		}
		keys = append(keys, sk)
	}
	return auth.NewStatic(keys), nil
}
