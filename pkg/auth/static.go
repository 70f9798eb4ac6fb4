package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// StaticKey is a key defined in the config file, held only as the SHA-256 of its secret.
type StaticKey struct {
	ID       string
	SHA256   [32]byte
	Models   []string
	Team     string
	Limits   Limits
	Budget   Budget
	Priority int
}

// Static authenticates against a fixed set of keys. Lookup hashes the presented secret
// and finds it in a map; the map lookup leaks nothing about the secret because the hash
// is a preimage-resistant function of it, and a final constant-time compare guards
// against any collision in the map's own comparisons.
type Static struct {
	byHash map[[32]byte]*Identity
	hashes map[[32]byte][32]byte
}

// NewStatic builds a Static authenticator.
func NewStatic(keys []StaticKey) *Static {
	s := &Static{byHash: make(map[[32]byte]*Identity, len(keys)), hashes: make(map[[32]byte][32]byte, len(keys))}
	for _, k := range keys {
		s.byHash[k.SHA256] = &Identity{KeyID: k.ID, Kind: "static", Models: k.Models, Team: k.Team, Limits: k.Limits, Budget: k.Budget, Priority: k.Priority}
		s.hashes[k.SHA256] = k.SHA256
	}
	return s
}

// HashSecret returns the SHA-256 of a key secret.
func HashSecret(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// ParseSHA256 decodes a lowercase hex SHA-256.
func ParseSHA256(h string) ([32]byte, error) {
	var out [32]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return out, fmt.Errorf("not a hex SHA-256: %d characters", len(h))
	}
	copy(out[:], b)
	return out, nil
}

// Authenticate implements Authenticator.
func (s *Static) Authenticate(_ context.Context, credential string) (*Identity, error) {
	if credential == "" {
		return nil, ErrMissing
	}
	h := sha256.Sum256([]byte(credential))
	id, ok := s.byHash[h]
	if !ok {
		return nil, ErrInvalid
	}
	want := s.hashes[h]
	if subtle.ConstantTimeCompare(want[:], h[:]) != 1 {
		return nil, ErrInvalid
	}
	return id, nil
}

// Chain tries authenticators in order and returns the first success. An ErrInvalid
// from one lets the next try; any other error (expired, revoked, unavailable) is final.
// When all reject the credential as invalid, the most specific rejection is returned.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, credential string) (*Identity, error) {
	if credential == "" {
		return nil, ErrMissing
	}
	last := ErrInvalid
	for _, a := range c {
		id, err := a.Authenticate(ctx, credential)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ErrInvalid) {
			return nil, err
		}
		// Keep the most telling rejection (an unknown virtual key rather than "not a
		// JWT"); all of them are ErrInvalid with the same message.
		if specificity(err) >= specificity(last) {
			last = err
		}
	}
	return nil, last
}
