// Package auth authenticates callers and authorizes what they may use. A caller presents
// a credential (an llm-router virtual key, a static key from the config, or a JWT); an
// Authenticator turns it into an Identity that the rest of the gateway uses for scope
// checks, limits, budgets and accounting. The credential itself never leaves this
// package: it is not logged, not forwarded upstream, and not stored in plain text.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors callers branch on. They map to 401 (ErrMissing, ErrInvalid, ErrExpired,
// ErrRevoked) and 403 (ErrForbidden) in the caller's schema.
var (
	ErrMissing   = errors.New("missing API key")
	ErrInvalid   = errors.New("invalid API key")
	ErrExpired   = errors.New("API key expired")
	ErrRevoked   = errors.New("API key revoked")
	ErrForbidden = errors.New("not allowed")
)

// Identity is an authenticated caller.
type Identity struct {
	// KeyID identifies the key (never the secret) in logs, metrics and usage records.
	KeyID string
	// Kind is "static", "virtual" or "jwt".
	Kind string
	// Name, Owner and Team describe the key for reports.
	Name, Owner, Team string
	// Tags are free-form accounting labels.
	Tags map[string]string
	// Models lists the public model names the key may use; empty allows all.
	Models []string
	// Endpoints lists the API endpoints the key may call (e.g. "chat", "embeddings",
	// "messages", "models"); empty allows all.
	Endpoints []string
	// Limits are the key's own rate and concurrency limits (zero = unlimited).
	Limits Limits
	// Budget is the key's spending cap (zero = none).
	Budget Budget
	// Priority orders queued requests (higher first).
	Priority int
	// Scopes are OAuth-style permission strings carried by a JWT (for example the admin
	// API's scope); empty for keys.
	Scopes []string
	// ExpiresAt is when the key stops working (zero = never).
	ExpiresAt time.Time
}

// Limits are per-key rate and concurrency limits; zero means unlimited.
type Limits struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
	MaxParallel       int64
}

// Budget is a spending cap in USD over a period ("day", "month" or "total").
type Budget struct {
	USD    float64
	Period string
}

// AllowsModel reports whether the identity may use the public model name.
func (id *Identity) AllowsModel(model string) bool {
	if len(id.Models) == 0 {
		return true
	}
	for _, m := range id.Models {
		if m == model || m == "*" {
			return true
		}
	}
	return false
}

// AllowsEndpoint reports whether the identity may call the endpoint.
func (id *Identity) AllowsEndpoint(endpoint string) bool {
	if len(id.Endpoints) == 0 {
		return true
	}
	for _, e := range id.Endpoints {
		if e == endpoint || e == "*" {
			return true
		}
	}
	return false
}

// Authenticator turns a presented credential into an Identity. Implementations must
// compare secrets in constant time and never log them.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (*Identity, error)
}

// CredentialFromHeaders extracts the caller's credential from an Authorization bearer
// header or an x-api-key header. get returns a header value by lower-case name.
func CredentialFromHeaders(get func(name string) string) string {
	if v := get("authorization"); v != "" {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
		return ""
	}
	return strings.TrimSpace(get("x-api-key"))
}

// HasScope reports whether the identity carries the scope.
func (id *Identity) HasScope(scope string) bool {
	for _, s := range id.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Authorize checks that the identity may call endpoint with model and returns an error
// wrapping ErrForbidden that names what is not allowed (for the 403 message). Empty
// model or endpoint are not checked.
func (id *Identity) Authorize(model, endpoint string) error {
	if endpoint != "" && !id.AllowsEndpoint(endpoint) {
		return fmt.Errorf("%w: this key may not call the %q endpoint", ErrForbidden, endpoint)
	}
	if model != "" && !id.AllowsModel(model) {
		return fmt.Errorf("%w: this key may not use model %q", ErrForbidden, model)
	}
	return nil
}
