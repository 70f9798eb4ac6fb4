package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxTTL caps TTLs so rounding cannot overflow (Redis takes at most ~292 years anyway).
const maxTTL = 100 * 365 * 24 * time.Hour

// DefaultRedisPrefix namespaces the cache's Redis keys.
const DefaultRedisPrefix = "llm-router:cache:"

// RedisOptions configure a Redis cache.
type RedisOptions struct {
	// Client is the connection (a *redis.Client, *redis.ClusterClient or a failover
	// client). Required; the caller owns it and closes it.
	Client redis.UniversalClient
	// Prefix is prepended to every key. Default DefaultRedisPrefix.
	Prefix string
	// DefaultTTL applies when Set gets ttl <= 0. Default 1h.
	DefaultTTL time.Duration
	// MaxEntryBytes rejects larger encoded entries (ErrTooLarge). Default 4 MiB.
	MaxEntryBytes int
	// Clock fills in Entry.CreatedAt when it is zero. Default time.Now.
	Clock func() time.Time
	// Metrics receives this store's series (label cache="redis"); nil records nothing.
	Metrics *Metrics
}

// Redis stores entries in Redis, shared by every replica. Values use the compact binary
// layout of encodeEntry; expiry is Redis's own (SET … EX), so nothing needs sweeping.
type Redis struct {
	c          redis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	maxEntry   int
	now        func() time.Time
	m          storeMetrics
}

// NewRedis returns a Redis cache on opts.Client.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Client == nil {
		return nil, errors.New("cache: redis client is required")
	}
	r := &Redis{c: opts.Client, prefix: opts.Prefix, defaultTTL: opts.DefaultTTL, maxEntry: opts.MaxEntryBytes, now: opts.Clock, m: opts.Metrics.forStore("redis")}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.defaultTTL <= 0 {
		r.defaultTTL = time.Hour
	}
	if r.maxEntry <= 0 {
		r.maxEntry = 4 << 20
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Get reads key. A value that does not decode (corrupt, or written by a newer version)
// is reported as an error wrapping ErrCorrupt; callers treat errors as misses.
func (r *Redis) Get(ctx context.Context, key string) (*Entry, bool, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		inc(r.m.misses)
		return nil, false, nil
	}
	if err != nil {
		inc(r.m.errGet)
		inc(r.m.misses)
		return nil, false, fmt.Errorf("cache: redis get: %w", err)
	}
	e, err := decodeEntry(b)
	if err != nil {
		inc(r.m.errDecode)
		inc(r.m.misses)
		return nil, false, fmt.Errorf("cache: redis value under %q: %w", key, err)
	}
	inc(r.m.hits)
	return e, true, nil
}

// Set writes e under key with SET … EX; the TTL is rounded up to whole seconds (Redis
// EX granularity), ttl <= 0 meaning the default TTL.
func (r *Redis) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	if e == nil {
		return errors.New("cache: nil entry")
	}
	if ttl <= 0 {
		ttl = r.defaultTTL
	}
	if ttl > maxTTL {
		ttl = maxTTL
	}
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	if e.CreatedAt.IsZero() {
		cp := *e
		cp.CreatedAt = r.now()
		e = &cp
	}
	v := encodeEntry(e)
	if len(v) > r.maxEntry {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(v), r.maxEntry)
	}
	if err := r.c.Set(ctx, r.prefix+key, v, ttl).Err(); err != nil {
		inc(r.m.errSet)
		return fmt.Errorf("cache: redis set: %w", err)
	}
	inc(r.m.stores)
	return nil
}

// Delete removes key.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.c.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("cache: redis del: %w", err)
	}
	return nil
}
