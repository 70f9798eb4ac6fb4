// Package pricing turns token usage into US dollars. It ships a dated, sourced price
// table (prices.yaml, embedded) that the config can override and extend, looks models up
// by provider kind and a normalised model id, and prices every token kind separately:
// uncached input, cached input, cache writes, output and (where priced differently)
// reasoning. A model without a price costs 0 and is reported as unknown, never guessed.
package pricing

import (
	_ "embed" // the built-in price table
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/llm-router/llm-router/pkg/canonical"
)

//go:embed prices.yaml
var builtin []byte

// AnyProvider as an Override's Provider makes the price apply to a model id under every
// provider kind that has no price of its own for it (self-hosted vLLM, Ollama, ...).
const AnyProvider = "*"

// Price is what one model costs, in USD per million tokens. A zero CachedInput or
// CacheWrite means the provider does not price those tokens differently: they are
// charged at Input. A zero Reasoning means reasoning tokens are charged at Output.
type Price struct {
	// Input prices uncached input tokens.
	Input float64 `yaml:"input"`
	// CachedInput prices input tokens read from a prompt cache.
	CachedInput float64 `yaml:"cached_input"`
	// CacheWrite prices input tokens written to a prompt cache.
	CacheWrite float64 `yaml:"cache_write"`
	// Output prices output tokens, reasoning tokens included.
	Output float64 `yaml:"output"`
	// Reasoning prices reasoning tokens when they differ from Output.
	Reasoning float64 `yaml:"reasoning"`
	// LongContext, when set, replaces the prices above for a request whose input
	// tokens exceed its Threshold (Gemini 2.5 Pro, Claude's 1M-token context).
	LongContext *Tier `yaml:"long_context"`
}

// Tier is a price that applies above an input-token threshold.
type Tier struct {
	// Threshold is the largest input-token count still priced at the base tier.
	Threshold int `yaml:"threshold"`
	// Input, CachedInput, CacheWrite, Output and Reasoning replace the base tier's
	// prices; a zero field keeps the base tier's price.
	Input       float64 `yaml:"input"`
	CachedInput float64 `yaml:"cached_input"`
	CacheWrite  float64 `yaml:"cache_write"`
	Output      float64 `yaml:"output"`
	Reasoning   float64 `yaml:"reasoning"`
}

// Override sets the price of one model; the config maps its pricing section onto these.
type Override struct {
	// Provider is a provider kind ("openai", "bedrock", ...), a price family that kinds
	// alias to, or AnyProvider.
	Provider string
	// Model is the model id as the provider names it; it is normalised like a lookup.
	Model string
	Price Price
}

// Overrides extends or replaces parts of a Table.
type Overrides struct {
	// Models are added, or replace the built-in price of the same provider and model.
	Models []Override
	// Aliases map a provider kind to the kind whose prices it shares
	// (e.g. "vertex-ai": "gemini"). An empty target removes an alias.
	Aliases map[string]string
}

// Table is an immutable price table, safe for concurrent use. Merge returns a new
// Table, so a config reload can swap tables atomically.
type Table struct {
	aliases map[string]string
	// families maps a price family (provider kind) to its models.
	families map[string]*family
	// resolved remembers lookups, found or not, so that a model id is normalised once.
	resolved resolvedCache
}

// maxResolved bounds the lookup cache: model ids come from config, but a provider could
// report arbitrary ones.
const maxResolved = 4096

type resolvedKey struct{ kind, model string }

type resolvedCache struct {
	mu sync.RWMutex
	m  map[resolvedKey]*Price
}

func (c *resolvedCache) get(k resolvedKey) (*Price, bool) {
	c.mu.RLock()
	p, ok := c.m[k]
	c.mu.RUnlock()
	return p, ok
}

func (c *resolvedCache) put(k resolvedKey, p *Price) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[resolvedKey]*Price{}
	}
	if len(c.m) < maxResolved {
		// Clone: the caller's strings may be slices of a large response body.
		c.m[resolvedKey{strings.Clone(k.kind), strings.Clone(k.model)}] = p
	}
}

// family is the price list of one provider kind.
type family struct {
	// models maps a lower-case model id to its price.
	models map[string]*Price
	// prefixed records whether any id has a path ("a/b") or region ("global.x.y")
	// prefix; when none has, a lookup skips the spellings that keep such a prefix.
	pathKeys   bool
	regionKeys bool
}

func (f *family) clone() *family {
	c := *f
	c.models = maps.Clone(f.models)
	return &c
}

// file is the YAML layout of prices.yaml.
type file struct {
	Aliases   map[string]string `yaml:"aliases"`
	Providers map[string]struct {
		Models map[string]struct {
			Price `yaml:",inline"`
			Names []string `yaml:"names"`
		} `yaml:"models"`
	} `yaml:"providers"`
}

// Default returns the built-in table.
func Default() (*Table, error) { return Parse(builtin) }

// Parse reads a table in the prices.yaml format.
func Parse(data []byte) (*Table, error) {
	var f file
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("pricing: parse table: %w", err)
	}
	t := &Table{aliases: map[string]string{}, families: map[string]*family{}}
	var errs []error
	for kind, target := range f.Aliases {
		t.aliases[strings.ToLower(kind)] = strings.ToLower(target)
	}
	for provider, p := range f.Providers {
		for model, m := range p.Models {
			for _, name := range append([]string{model}, m.Names...) {
				if err := t.set(provider, name, m.Price); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return t, nil
}

// Merge returns a copy of t with o applied. It fails, leaving t untouched, when an
// override is malformed (empty provider or model, negative or non-finite price).
func (t *Table) Merge(o Overrides) (*Table, error) {
	n := &Table{aliases: maps.Clone(t.aliases), families: make(map[string]*family, len(t.families))}
	if n.aliases == nil {
		n.aliases = map[string]string{}
	}
	for name, f := range t.families {
		n.families[name] = f.clone()
	}
	for kind, target := range o.Aliases {
		kind = strings.ToLower(strings.TrimSpace(kind))
		if kind == "" {
			return nil, errors.New("pricing: alias with an empty provider kind")
		}
		if target == "" {
			delete(n.aliases, kind)
			continue
		}
		n.aliases[kind] = strings.ToLower(strings.TrimSpace(target))
	}
	var errs []error
	for _, ov := range o.Models {
		if err := n.set(ov.Provider, ov.Model, ov.Price); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pricing: merge: %w", err)
	}
	return n, nil
}

// set validates p and stores a copy under provider and the normalised model id.
func (t *Table) set(provider, model string, p Price) error {
	provider = strings.ToLower(strings.TrimSpace(provider))
	key := normalizeKey(model)
	if provider == "" || key == "" {
		return fmt.Errorf("price for %q/%q: provider and model are required", provider, model)
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("price for %s/%s: %w", provider, model, err)
	}
	if p.LongContext != nil {
		lc := *p.LongContext
		p.LongContext = &lc
	}
	f := t.families[provider]
	if f == nil {
		f = &family{models: map[string]*Price{}}
		t.families[provider] = f
	}
	f.models[key] = &p
	if stripped := stripPrefix(key); stripped != key {
		if strings.IndexByte(key, '/') >= 0 {
			f.pathKeys = true
		} else {
			f.regionKeys = true
		}
	}
	return nil
}

func (p Price) validate() error {
	vals := []float64{p.Input, p.CachedInput, p.CacheWrite, p.Output, p.Reasoning}
	if lc := p.LongContext; lc != nil {
		if lc.Threshold <= 0 {
			return errors.New("long_context.threshold must be positive")
		}
		vals = append(vals, lc.Input, lc.CachedInput, lc.CacheWrite, lc.Output, lc.Reasoning)
	}
	for _, v := range vals {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("price %v is not a finite non-negative number", v)
		}
	}
	return nil
}

// normalizeKey is how table keys are stored: the same canonical form a lookup reaches.
// Keys are not stripped further, so an entry such as "global.anthropic.claude-sonnet-4-5"
// keeps its prefix and wins over the prefix-less entry.
func normalizeKey(model string) string {
	return strings.ToLower(strings.TrimSpace(model))
}

// family resolves a provider kind through the alias table.
func (t *Table) family(kind string) string {
	if f, ok := t.aliases[kind]; ok {
		return f
	}
	return kind
}

// Lookup finds the price of model under a provider kind. Provider kind and model are
// matched case-insensitively; the model id is normalised step by step (see the package
// documentation of prices.yaml) until an entry matches. Results are cached per table
// (up to 4096 distinct ids), so a repeated lookup is one map read and does not allocate.
func (t *Table) Lookup(providerKind, model string) (*Price, bool) {
	if t == nil || model == "" {
		return nil, false
	}
	key := resolvedKey{providerKind, model}
	if p, ok := t.resolved.get(key); ok {
		return p, p != nil
	}
	p := t.resolve(providerKind, model)
	t.resolved.put(key, p)
	return p, p != nil
}

// resolve is the uncached lookup.
func (t *Table) resolve(providerKind, model string) *Price {
	kind := strings.ToLower(strings.TrimSpace(providerKind))
	m := strings.ToLower(strings.TrimSpace(model))
	if p := t.lookupIn(t.families[t.family(kind)], m); p != nil {
		return p
	}
	return t.lookupIn(t.families[AnyProvider], m)
}

// lookupIn tries the candidate spellings of m in order: as given, then with suffixes
// stripped, then the same again without a path or region prefix.
func (t *Table) lookupIn(f *family, m string) *Price {
	if f == nil {
		return nil
	}
	models := f.models
	stripped := stripPrefix(m)
	for pass := 0; pass < 2; pass++ {
		if pass == 0 && stripped != m {
			// Keep the prefix only when the family has ids of that shape.
			if path := strings.IndexByte(m, '/') >= 0; (path && !f.pathKeys) || (!path && !f.regionKeys) {
				continue
			}
		}
		if pass == 1 {
			if stripped == m {
				return nil
			}
			m = stripped
		}
		s := m
		if p := models[s]; p != nil {
			return p
		}
		for _, strip := range suffixStrippers {
			next := strip(s)
			if next == s {
				continue
			}
			s = next
			if p := models[s]; p != nil {
				return p
			}
		}
	}
	return nil
}

// Cost implements gateway.Pricer: the request's cost in USD, and whether the model has a
// price. Uncached input is Input − Cached − CacheCreation (clamped at 0), cached input
// is charged at the cached price, cache creation at the cache-write price, and output
// at the output price, except reasoning tokens when a reasoning price is set.
func (t *Table) Cost(providerKind, model string, u canonical.Usage) (float64, bool) {
	p, ok := t.Lookup(providerKind, model)
	if !ok {
		return 0, false
	}
	return p.Cost(u), true
}

// Cost prices u at p.
func (p *Price) Cost(u canonical.Usage) float64 {
	in, cached, write, out, reasoning := p.Input, p.CachedInput, p.CacheWrite, p.Output, p.Reasoning
	if lc := p.LongContext; lc != nil && u.InputTokens > lc.Threshold {
		// A field the tier leaves at zero keeps the base tier's price.
		in, cached, write, out, reasoning = orElse(lc.Input, in), orElse(lc.CachedInput, cached),
			orElse(lc.CacheWrite, write), orElse(lc.Output, out), orElse(lc.Reasoning, reasoning)
	}
	if cached == 0 {
		cached = in
	}
	if write == 0 {
		write = in
	}
	if reasoning == 0 {
		reasoning = out
	}
	cachedTok := max(u.CachedInputTokens, 0)
	writeTok := max(u.CacheCreationTokens, 0)
	// Clamp step by step so absurd counts cannot overflow into a positive figure.
	uncached := max(max(u.InputTokens, 0)-cachedTok, 0)
	uncached = max(uncached-writeTok, 0)
	outTok := max(u.OutputTokens, 0)
	reasonTok := min(max(u.ReasoningTokens, 0), outTok)
	micro := float64(uncached)*in +
		float64(cachedTok)*cached +
		float64(writeTok)*write +
		float64(outTok-reasonTok)*out +
		float64(reasonTok)*reasoning
	return micro / 1e6
}

func orElse(v, fallback float64) float64 {
	if v == 0 {
		return fallback
	}
	return v
}

// Len reports how many (provider, model) entries the table holds, aliases included.
func (t *Table) Len() int {
	n := 0
	for _, f := range t.families {
		n += len(f.models)
	}
	return n
}
