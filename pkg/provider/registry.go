package provider

import (
	"fmt"
	"sort"
)

// Registry maps provider kinds to factories.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a kind. It panics on a duplicate, which is a programming error.
func (r *Registry) Register(kind string, f Factory) {
	if _, dup := r.factories[kind]; dup {
		panic("provider: duplicate kind " + kind)
	}
	r.factories[kind] = f
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.factories))
	for k := range r.factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Has reports whether kind is registered.
func (r *Registry) Has(kind string) bool { _, ok := r.factories[kind]; return ok }

// Build constructs the adapter for s.Kind.
func (r *Registry) Build(s Settings) (*Adapter, error) {
	f, ok := r.factories[s.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown provider kind %q (known: %v)", s.Kind, r.Kinds())
	}
	a, err := f(s)
	if err != nil {
		return nil, fmt.Errorf("provider %q (%s): %w", s.Name, s.Kind, err)
	}
	return a, nil
}

// DefaultBaseURL returns the base URL a kind uses when the config gives none, by
// building the kind with empty settings ("" when the kind has no default).
func (r *Registry) DefaultBaseURL(kind string) string {
	f, ok := r.factories[kind]
	if !ok {
		return ""
	}
	a, err := f(Settings{Name: "default", Kind: kind, Headers: map[string]string{}, Resolve: func(ref string) (string, error) { return "", nil }})
	if err != nil || a == nil {
		return ""
	}
	return a.Settings.BaseURL
}
