package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/llm-router/llm-router/pkg/keystore"
)

// KeyOptions tune a KeyAuthenticator. Zero values pick the defaults.
type KeyOptions struct {
	// CacheTTL is how long a looked-up key is trusted without asking the store again:
	// the backstop should a change notification be lost. Default 10s.
	CacheTTL time.Duration
	// StaleTTL is how long past CacheTTL a cached key may still be used when the store
	// is unreachable, so a database outage does not lock out every caller. Revocations
	// made during the outage reach this replica when the store is back. Default 5m;
	// negative disables.
	StaleTTL time.Duration
	// NegativeTTL is how long an unknown key is remembered as unknown, so repeating it
	// does not reach the store. Default 5s.
	NegativeTTL time.Duration
	// MaxEntries bounds cached keys (default 100000); NegativeEntries bounds remembered
	// unknown keys (default 10000).
	MaxEntries      int
	NegativeEntries int
	// LookupTimeout bounds one store lookup on a cache miss. Default 2s.
	LookupTimeout time.Duration
	// TouchInterval is how often last-used times are written to the store, in one
	// batch. Default 30s; negative disables.
	TouchInterval time.Duration
	// Logger receives store errors (never secrets). Default: no-op.
	Logger *zap.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

const shardCount = 32

// KeyAuthenticator authenticates llm-router virtual keys against a keystore.Store with
// an in-memory cache on the hot path. A cached key costs one SHA-256 and one map
// lookup; store changes (through this process or, with PostgreSQL, any replica) drop
// the affected entries at once, and CacheTTL bounds staleness should a notification be
// missed. Credentials that are not shaped like a virtual key are rejected as malformed
// without touching the cache or the store, so a Chain can pass them on.
type KeyAuthenticator struct {
	store keystore.Store
	opts  KeyOptions
	now   func() time.Time
	log   *zap.Logger

	shards [shardCount]shard
	// gen counts invalidations; a miss caches its result only if no invalidation
	// happened while it read the store, so a stale read never outlives a change.
	gen    atomic.Uint64
	flight singleflight.Group

	// pending holds last-used times of entries dropped before they were flushed.
	pendingMu sync.Mutex
	pending   map[string]int64

	// An unreachable store fails every request: log that once in a while, not each time.
	staleLog, errLog logLimiter

	ready     chan struct{}
	readyOnce sync.Once

	cancel context.CancelFunc
	done   sync.WaitGroup
	closed atomic.Bool
}

type shard struct {
	mu  sync.RWMutex
	pos map[[32]byte]*entry
	neg map[[32]byte]int64 // hash → unix nanos until which it is known unknown
}

// entry is one cached key, found under one of its secret hashes.
type entry struct {
	identity *Identity
	keyID    string
	hash     [32]byte
	revoked  bool
	expires  int64 // key expiry, unix nanos (0 = never)
	graceEnd int64 // set when found under a rotated-out hash: valid until then
	fresh    int64 // trusted until (unix nanos)
	lastUsed atomic.Int64
	flushed  atomic.Int64
}

// NewKeyAuthenticator returns an authenticator over store and starts its background
// work: listening for key changes (store.Watch) and flushing last-used times. Close
// stops it.
func NewKeyAuthenticator(store keystore.Store, opts KeyOptions) *KeyAuthenticator {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 10 * time.Second
	}
	if opts.StaleTTL == 0 {
		opts.StaleTTL = 5 * time.Minute
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = 5 * time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100000
	}
	if opts.NegativeEntries <= 0 {
		opts.NegativeEntries = 10000
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = 2 * time.Second
	}
	if opts.TouchInterval == 0 {
		opts.TouchInterval = 30 * time.Second
	}
	a := &KeyAuthenticator{store: store, opts: opts, now: opts.Now, log: opts.Logger, ready: make(chan struct{})}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	for i := range a.shards {
		a.shards[i].pos = make(map[[32]byte]*entry)
		a.shards[i].neg = make(map[[32]byte]int64)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		if err := store.Watch(ctx, a.apply); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("key change watch ended; cached keys now expire by TTL only", zap.Error(err))
		}
	}()
	if opts.TouchInterval > 0 {
		a.done.Add(1)
		go a.touchLoop(ctx)
	}
	return a
}

// Authenticate implements Authenticator. The returned Identity is shared by every
// request with the same key and must not be modified.
func (a *KeyAuthenticator) Authenticate(ctx context.Context, credential string) (*Identity, error) {
	if credential == "" {
		return nil, ErrMissing
	}
	if !keystore.LooksLikeSecret(credential) {
		return nil, errMalformed
	}
	// LooksLikeSecret fixed the length, so the bytes fit a stack buffer: hashing
	// does not allocate.
	var buf [keystore.SecretLen]byte
	copy(buf[:], credential)
	h := sha256.Sum256(buf[:])
	now := a.now().UnixNano()
	sh := &a.shards[h[0]%shardCount]
	sh.mu.RLock()
	e := sh.pos[h]
	negUntil, negative := sh.neg[h]
	sh.mu.RUnlock()
	if e != nil && now < e.fresh {
		return a.judge(e, &h, now)
	}
	if e == nil && negative && now < negUntil {
		return nil, errUnknownKey
	}
	return a.miss(ctx, &h, e, now)
}

// judge decides a cached entry. The constant-time compare repeats what the map lookup
// did so no code path compares secret material with early exit.
func (a *KeyAuthenticator) judge(e *entry, h *[32]byte, now int64) (*Identity, error) {
	if subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return nil, errUnknownKey
	}
	switch {
	case e.revoked:
		return nil, errKeyRevoked
	case e.expires != 0 && now >= e.expires:
		return nil, errKeyExpired
	case e.graceEnd != 0 && now >= e.graceEnd:
		return nil, errRotatedOut
	}
	// Record use for the batched last-used flush; skip the write when it would not
	// change the second, so hot keys do not bounce a cache line between cores.
	if now-e.lastUsed.Load() > int64(time.Second) {
		e.lastUsed.Store(now)
	}
	return e.identity, nil
}

type lookupResult struct {
	key *keystore.Key
	gen uint64
}

// miss asks the store (once for concurrent callers with the same hash) and caches the
// answer. stale is the expired cache entry, used if the store is unreachable.
func (a *KeyAuthenticator) miss(ctx context.Context, h *[32]byte, stale *entry, now int64) (*Identity, error) {
	v, err, _ := a.flight.Do(string(h[:]), func() (any, error) {
		gen := a.gen.Load()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.LookupTimeout)
		defer cancel()
		k, err := a.store.GetByHash(lctx, *h)
		return lookupResult{key: k, gen: gen}, err
	})
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		a.rememberUnknown(h, v.(lookupResult).gen, now)
		return nil, errUnknownKey
	case err != nil:
		if stale != nil && a.opts.StaleTTL > 0 && now < stale.fresh+int64(a.opts.StaleTTL) {
			if n, ok := a.staleLog.allow(now); ok {
				a.log.Warn("key store unreachable; using cached keys past their TTL", zap.String("key_id", stale.keyID),
					zap.Int64("similar_since_last_log", n), zap.Error(err))
			}
			return a.judge(stale, h, now)
		}
		if n, ok := a.errLog.allow(now); ok {
			a.log.Error("key store lookup failed", zap.Int64("similar_since_last_log", n), zap.Error(err))
		}
		return nil, errStore
	}
	res := v.(lookupResult)
	e := a.newEntry(res.key, h, now)
	cached := a.insert(e, res.gen, stale)
	id, err := a.judge(e, h, now)
	if !cached {
		a.dropped(e) // keep the use on record although the entry is not cached
	}
	return id, err
}

func (a *KeyAuthenticator) newEntry(k *keystore.Key, h *[32]byte, now int64) *entry {
	e := &entry{
		identity: identityFromKey(k),
		keyID:    k.ID,
		hash:     *h,
		revoked:  k.Status == keystore.StatusRevoked,
		fresh:    now + int64(a.opts.CacheTTL),
	}
	if !k.ExpiresAt.IsZero() {
		e.expires = k.ExpiresAt.UnixNano()
	}
	if k.Hash != *h {
		// Found under the previous hash: valid only during the rotation grace period.
		e.graceEnd = k.PrevHashExpiresAt.UnixNano()
		if k.PrevHashExpiresAt.IsZero() {
			e.graceEnd = 1 // no deadline recorded: already over
		}
	}
	// A deadline still ahead ends the entry's freshness, so the verdict flips on time;
	// one already behind is a settled verdict (rotated out, expired) that stays cached
	// for the TTL, so a leaked old secret cannot make every request query the store.
	if e.graceEnd > now && e.graceEnd < e.fresh {
		e.fresh = e.graceEnd
	}
	if e.expires > now && e.expires < e.fresh {
		e.fresh = e.expires
	}
	return e
}

// insert caches e unless the cache was invalidated since the lookup began (gen), and
// reports whether it did.
func (a *KeyAuthenticator) insert(e *entry, gen uint64, stale *entry) bool {
	sh := &a.shards[e.hash[0]%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if a.gen.Load() != gen {
		return false // a change arrived during the lookup: do not cache what may be stale
	}
	if stale != nil {
		e.lastUsed.Store(stale.lastUsed.Load())
		e.flushed.Store(stale.flushed.Load())
	}
	if _, ok := sh.pos[e.hash]; !ok && len(sh.pos) >= a.opts.MaxEntries/shardCount+1 {
		for h, old := range sh.pos { // evict an arbitrary entry (map order is random)
			a.dropped(old)
			delete(sh.pos, h)
			break
		}
	}
	if old := sh.pos[e.hash]; old != nil && old != stale {
		a.dropped(old)
	}
	sh.pos[e.hash] = e
	delete(sh.neg, e.hash)
	return true
}

func (a *KeyAuthenticator) rememberUnknown(h *[32]byte, gen uint64, now int64) {
	sh := &a.shards[h[0]%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if a.gen.Load() != gen {
		return
	}
	if _, ok := sh.neg[*h]; !ok && len(sh.neg) >= a.opts.NegativeEntries/shardCount+1 {
		// Full: drop expired entries, else an arbitrary one. Bounded memory matters
		// more than remembering every junk key in a flood.
		for k, until := range sh.neg {
			if until <= now {
				delete(sh.neg, k)
			}
		}
		for k := range sh.neg {
			if len(sh.neg) < a.opts.NegativeEntries/shardCount+1 {
				break
			}
			delete(sh.neg, k)
		}
	}
	sh.neg[*h] = now + int64(a.opts.NegativeTTL)
	if old := sh.pos[*h]; old != nil {
		a.dropped(old)
		delete(sh.pos, *h)
	}
}

// dropped keeps the unflushed last-used time of an entry leaving the cache.
func (a *KeyAuthenticator) dropped(e *entry) {
	last := e.lastUsed.Load()
	if last <= e.flushed.Load() {
		return
	}
	a.pendingMu.Lock()
	if a.pending == nil {
		a.pending = map[string]int64{}
	}
	if last > a.pending[e.keyID] {
		a.pending[e.keyID] = last
	}
	a.pendingMu.Unlock()
}

// Ready is closed once the authenticator hears store changes (its first Watch call).
// Authenticate works before that; only cross-replica invalidation is not yet in place.
func (a *KeyAuthenticator) Ready() <-chan struct{} { return a.ready }

// apply drops cache entries named by a store change.
func (a *KeyAuthenticator) apply(c keystore.Change) {
	a.gen.Add(1)
	if c.All {
		a.InvalidateAll()
		a.readyOnce.Do(func() { close(a.ready) })
		return
	}
	for _, h := range c.Hashes {
		sh := &a.shards[h[0]%shardCount]
		sh.mu.Lock()
		if old := sh.pos[h]; old != nil {
			a.dropped(old)
			delete(sh.pos, h)
		}
		delete(sh.neg, h)
		sh.mu.Unlock()
	}
	if c.KeyID != "" {
		a.Invalidate(c.KeyID)
	}
}

// Invalidate drops every cached entry of a key.
func (a *KeyAuthenticator) Invalidate(keyID string) {
	a.gen.Add(1)
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for h, e := range sh.pos {
			if e.keyID == keyID {
				a.dropped(e)
				delete(sh.pos, h)
			}
		}
		sh.mu.Unlock()
	}
}

// InvalidateAll empties the cache.
func (a *KeyAuthenticator) InvalidateAll() {
	a.gen.Add(1)
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for _, e := range sh.pos {
			a.dropped(e)
		}
		clear(sh.pos)
		clear(sh.neg)
		sh.mu.Unlock()
	}
}

func (a *KeyAuthenticator) touchLoop(ctx context.Context) {
	defer a.done.Done()
	t := time.NewTicker(a.opts.TouchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.flushTouches(ctx)
		}
	}
}

// flushTouches writes the last-used times recorded since the previous flush.
func (a *KeyAuthenticator) flushTouches(ctx context.Context) {
	used := map[string]time.Time{}
	a.pendingMu.Lock()
	pending := a.pending
	a.pending = nil
	a.pendingMu.Unlock()
	for id, last := range pending {
		used[id] = time.Unix(0, last)
	}
	var marks []func()
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.RLock()
		for _, e := range sh.pos {
			last := e.lastUsed.Load()
			if last > e.flushed.Load() {
				t := time.Unix(0, last)
				if t.After(used[e.keyID]) {
					used[e.keyID] = t
				}
				e := e
				marks = append(marks, func() { e.flushed.Store(last) })
			}
		}
		sh.mu.RUnlock()
	}
	if len(used) == 0 {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, a.opts.LookupTimeout)
	defer cancel()
	if err := a.store.Touch(tctx, used); err != nil {
		a.log.Warn("could not record key last-used times; will retry", zap.Int("keys", len(used)), zap.Error(err))
		a.pendingMu.Lock()
		if a.pending == nil {
			a.pending = map[string]int64{}
		}
		for id, last := range pending {
			if last > a.pending[id] {
				a.pending[id] = last
			}
		}
		a.pendingMu.Unlock()
		return
	}
	for _, m := range marks {
		m()
	}
}

// Close stops background work and writes pending last-used times.
func (a *KeyAuthenticator) Close(ctx context.Context) error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	a.cancel()
	a.done.Wait()
	if a.opts.TouchInterval > 0 {
		a.flushTouches(ctx)
	}
	return nil
}

func identityFromKey(k *keystore.Key) *Identity {
	return &Identity{
		KeyID:     k.ID,
		Kind:      "virtual",
		Name:      k.Name,
		Owner:     k.Owner,
		Team:      k.Team,
		Tags:      k.Tags,
		Models:    k.Models,
		Endpoints: k.Endpoints,
		Limits: Limits{
			RequestsPerMinute: k.Limits.RequestsPerMinute,
			TokensPerMinute:   k.Limits.TokensPerMinute,
			MaxParallel:       k.Limits.MaxParallel,
		},
		Budget:    Budget{USD: k.Budget.USD, Period: k.Budget.Period},
		Priority:  k.Priority,
		ExpiresAt: k.ExpiresAt,
	}
}

// logLimiter lets one log line through per interval (10s) and counts the ones it held
// back, so an outage produces a steady trickle of errors rather than one per request.
type logLimiter struct {
	next       atomic.Int64
	suppressed atomic.Int64
}

func (l *logLimiter) allow(now int64) (int64, bool) {
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(10*time.Second)) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
