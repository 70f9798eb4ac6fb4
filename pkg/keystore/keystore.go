// Package keystore holds llm-router's virtual API keys. A key is stored only as the
// SHA-256 of its secret together with its description, scopes, limits and budget; the
// secret itself is returned once, when it is issued or rotated, and never stored.
//
// Two implementations share one SQL code path (see NewSQL): SQLite, a single file and the
// embedded default, and PostgreSQL, for replicated deployments. Every mutation is
// announced as a Change to Watch subscribers — in process, and through PostgreSQL
// LISTEN/NOTIFY to the other replicas — so authentication caches can drop stale entries.
package keystore

import (
	"context"
	"errors"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound means no key has the id or hash.
	ErrNotFound = errors.New("keystore: key not found")
	// ErrConflict means the operation does not apply to the key's state (for example,
	// rotating a revoked key) or a unique value is taken.
	ErrConflict = errors.New("keystore: conflict")
	// ErrInvalidArgument means a field is malformed.
	ErrInvalidArgument = errors.New("keystore: invalid argument")
)

// Status is a key's lifecycle state.
type Status string

// Key states. StatusExpired is derived: an active key whose ExpiresAt has passed.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Budget periods.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
	PeriodTotal = "total"
)

// Limits are per-key rate and concurrency limits; zero means unlimited.
type Limits struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
	MaxParallel       int64
}

// Budget is a spending cap in USD over a period (PeriodDay, PeriodMonth or PeriodTotal);
// a zero USD means no cap.
type Budget struct {
	USD    float64
	Period string
}

// Key is a virtual API key as stored: everything but the secret.
type Key struct {
	// ID is the stable public identifier ("key_…") used in logs, metrics and the ledger.
	ID string
	// Hash is the SHA-256 of the current secret.
	Hash [32]byte
	// PrevHash is the SHA-256 of the secret replaced by the last rotation; it keeps
	// working until PrevHashExpiresAt. Zero when there is none.
	PrevHash          [32]byte
	PrevHashExpiresAt time.Time
	// DisplayPrefix is the first characters of the secret, to recognise a key in a list
	// without revealing it.
	DisplayPrefix string
	Name          string
	Owner         string
	Team          string
	Tags          map[string]string
	// Models lists the public model names the key may use; empty allows all.
	Models []string
	// Endpoints lists the API endpoints the key may call; empty allows all.
	Endpoints []string
	Limits    Limits
	Budget    Budget
	// Priority orders queued requests (higher first).
	Priority int
	// Status is active, revoked, or expired (derived from ExpiresAt on read).
	Status     Status
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time // zero = never
	LastUsedAt time.Time // zero = never used (updated in batches, not per request)
	RevokedAt  time.Time
}

// EffectiveStatus returns the key's status at now: an active key past its expiry is
// expired.
func (k *Key) EffectiveStatus(now time.Time) Status {
	if k.Status == StatusActive && !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return StatusExpired
	}
	return k.Status
}

// HasPrevHash reports whether the key carries a previous (rotated-out) secret hash.
func (k *Key) HasPrevHash() bool { return k.PrevHash != [32]byte{} }

// Update is a partial change: nil fields are left as they are.
type Update struct {
	Name      *string
	Owner     *string
	Team      *string
	Tags      *map[string]string
	Models    *[]string
	Endpoints *[]string
	Limits    *Limits
	Budget    *Budget
	Priority  *int
	// ExpiresAt sets the expiry; a pointer to the zero time removes it.
	ExpiresAt *time.Time
}

// ListOptions filter and page a listing. Keys come newest first.
type ListOptions struct {
	Owner  string
	Team   string
	Status Status
	// Tags must all match exactly (key and value).
	Tags map[string]string
	// PageSize is the maximum number of keys returned (default 50, at most 1000).
	PageSize int
	// PageToken continues a previous listing (Page.NextPageToken).
	PageToken string
}

// Page is one page of a listing.
type Page struct {
	Keys []*Key
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// Change announces that a key was created, edited, rotated, revoked or deleted.
type Change struct {
	// KeyID is the key that changed.
	KeyID string
	// Hashes are every secret hash the key had before or has after the change; caches
	// drop entries under any of them.
	Hashes [][32]byte
	// All means changes may have been missed (a lost notification connection): drop
	// everything.
	All bool
}

// Store persists keys. All methods are safe for concurrent use.
type Store interface {
	// Create inserts a new key; ID, Hash and DisplayPrefix must be set (see Issue).
	// CreatedAt and UpdatedAt default to now; Status defaults to active.
	Create(ctx context.Context, k *Key) error
	// Get returns the key with the id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Key, error)
	// GetByHash returns the key whose current or previous secret hash is hash, or
	// ErrNotFound. It does not judge the previous hash's grace deadline: callers do.
	GetByHash(ctx context.Context, hash [32]byte) (*Key, error)
	// List returns a page of keys, newest first.
	List(ctx context.Context, opts ListOptions) (*Page, error)
	// Update applies a partial change and returns the new key.
	Update(ctx context.Context, id string, u Update) (*Key, error)
	// Rotate replaces the key's secret hash. The old hash stays valid until now+grace
	// (a zero grace ends it at once); a hash kept from an earlier rotation is dropped.
	// Revoked keys cannot be rotated (ErrConflict).
	Rotate(ctx context.Context, id string, newHash [32]byte, displayPrefix string, grace time.Duration) (*Key, error)
	// Revoke marks the key revoked; revoking twice is not an error.
	Revoke(ctx context.Context, id string) (*Key, error)
	// Delete removes the key.
	Delete(ctx context.Context, id string) error
	// Touch records last-used times for many keys at once; it never moves a time
	// backwards and does not announce a Change.
	Touch(ctx context.Context, used map[string]time.Time) error
	// Watch calls fn for every Change until ctx ends, then returns ctx.Err(). The first
	// call is a Change with All set, made once the watch is in place (a cache filled
	// before then may hold anything). Changes made through this Store arrive at once;
	// with PostgreSQL, changes made by other replicas arrive through LISTEN/NOTIFY, and a
	// lost connection is reported as another All once it is restored.
	Watch(ctx context.Context, fn func(Change)) error
}
