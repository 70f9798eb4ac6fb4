package keystore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"strings"
	"time"
	"unsafe"
)

// Secret format: "llmr-" + 32 base62 characters of crypto/rand randomness (190 bits) +
// 6 base62 characters of CRC-32 over everything before them. The prefix makes leaked
// keys recognisable to secret scanners; the checksum lets the authenticator reject
// mistyped or made-up strings without a database lookup.
const (
	SecretPrefix       = "llmr-"
	secretRandomLen    = 32
	secretChecksumLen  = 6
	SecretLen          = len(SecretPrefix) + secretRandomLen + secretChecksumLen
	displayPrefixLen   = len(SecretPrefix) + 6
	base62             = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	keyIDPrefix        = "key_"
	keyIDRandomBytes   = 12
	maxRandomRejection = 256 - 256%62 // bytes at or above this are rejected to keep base62 uniform
)

// NewSecret returns a fresh random key secret.
func NewSecret() (string, error) {
	var b [SecretLen]byte
	copy(b[:], SecretPrefix)
	n := len(SecretPrefix)
	var buf [64]byte
	for n < len(SecretPrefix)+secretRandomLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("keystore: read randomness: %w", err)
		}
		for _, c := range buf {
			if c >= maxRandomRejection {
				continue
			}
			b[n] = base62[c%62]
			n++
			if n == len(SecretPrefix)+secretRandomLen {
				break
			}
		}
	}
	sum := checksum(string(b[:n]))
	for i := SecretLen - 1; i >= n; i-- {
		b[i] = base62[sum%62]
		sum /= 62
	}
	return string(b[:]), nil
}

// checksum is CRC-32 (IEEE) over s. It reads the string's bytes in place (crc32 only
// reads its input), so the hot path neither allocates a copy nor gives up the
// hardware-accelerated CRC; a copy to a stack array would escape through crc32.
func checksum(s string) uint32 {
	if s == "" {
		return 0
	}
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// LooksLikeSecret reports whether s has the shape of a key secret: prefix, length,
// alphabet and a matching checksum. It is cheap and does not allocate.
func LooksLikeSecret(s string) bool {
	if len(s) != SecretLen || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	body := len(SecretPrefix) + secretRandomLen
	var want uint32
	for i := len(SecretPrefix); i < len(s); i++ {
		v := base62Value(s[i])
		if v < 0 {
			return false
		}
		if i >= body {
			want = want*62 + uint32(v)
		}
	}
	return checksum(s[:body]) == want
}

func base62Value(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}

// HashSecret returns the SHA-256 of a secret, the only form in which it is stored.
func HashSecret(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// DisplayPrefix returns the part of a secret that may be shown and stored in clear.
func DisplayPrefix(secret string) string {
	if len(secret) < displayPrefixLen {
		return ""
	}
	return secret[:displayPrefixLen]
}

// NewKeyID returns a fresh key id ("key_" + 20 lower-case base32 characters).
func NewKeyID() (string, error) {
	var b [keyIDRandomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("keystore: read randomness: %w", err)
	}
	return keyIDPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// Issue creates a key from spec with a fresh id and secret, and returns the secret. This
// is the only moment the secret exists outside the caller's hands: it must be shown
// once and never logged.
func Issue(ctx context.Context, s Store, spec Key) (string, *Key, error) {
	secret, err := NewSecret()
	if err != nil {
		return "", nil, err
	}
	if spec.ID == "" {
		if spec.ID, err = NewKeyID(); err != nil {
			return "", nil, err
		}
	}
	spec.Hash = HashSecret(secret)
	spec.PrevHash = [32]byte{}
	spec.PrevHashExpiresAt = time.Time{}
	spec.DisplayPrefix = DisplayPrefix(secret)
	if err := s.Create(ctx, &spec); err != nil {
		return "", nil, err
	}
	return secret, &spec, nil
}

// RotateSecret gives key id a fresh secret; the old one keeps working for grace.
func RotateSecret(ctx context.Context, s Store, id string, grace time.Duration) (string, *Key, error) {
	secret, err := NewSecret()
	if err != nil {
		return "", nil, err
	}
	k, err := s.Rotate(ctx, id, HashSecret(secret), DisplayPrefix(secret), grace)
	if err != nil {
		return "", nil, err
	}
	return secret, k, nil
}

// Validate checks the fields a caller may set.
func (k *Key) Validate() error {
	if k.ID == "" || len(k.ID) > 64 {
		return fmt.Errorf("%w: id must be 1..64 characters", ErrInvalidArgument)
	}
	if k.Hash == [32]byte{} {
		return fmt.Errorf("%w: hash is required", ErrInvalidArgument)
	}
	return validateKey(k)
}

// Bounds on free-form fields, so a key record stays small.
const (
	maxTags       = 64
	maxScopeNames = 1000
	maxFieldBytes = 256
)

func validateKey(k *Key) error {
	if len(k.Tags) > maxTags {
		return fmt.Errorf("%w: at most %d tags", ErrInvalidArgument, maxTags)
	}
	for tk, tv := range k.Tags {
		if tk == "" || len(tk) > maxFieldBytes || len(tv) > maxFieldBytes {
			return fmt.Errorf("%w: tag keys must be 1..%d bytes and values at most %d", ErrInvalidArgument, maxFieldBytes, maxFieldBytes)
		}
	}
	if len(k.Models) > maxScopeNames || len(k.Endpoints) > maxScopeNames {
		return fmt.Errorf("%w: at most %d models and %d endpoints", ErrInvalidArgument, maxScopeNames, maxScopeNames)
	}
	return validateFields(k.Name, k.Owner, k.Team, k.Limits, k.Budget)
}

func validateFields(name, owner, team string, l Limits, b Budget) error {
	for field, v := range map[string]string{"name": name, "owner": owner, "team": team} {
		if len(v) > maxFieldBytes {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidArgument, field, maxFieldBytes)
		}
	}
	if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.MaxParallel < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalidArgument)
	}
	if b.USD < 0 {
		return fmt.Errorf("%w: budget must not be negative", ErrInvalidArgument)
	}
	switch b.Period {
	case "", PeriodDay, PeriodMonth, PeriodTotal:
	default:
		return fmt.Errorf("%w: budget period %q (want day, month or total)", ErrInvalidArgument, b.Period)
	}
	if b.USD > 0 && b.Period == "" {
		return fmt.Errorf("%w: a budget needs a period (day, month or total)", ErrInvalidArgument)
	}
	return nil
}
