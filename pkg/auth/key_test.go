package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts hash lookups and can fail them or stay deaf to changes.
type countingStore struct {
	keystore.Store
	lookups atomic.Int64
	fail    atomic.Bool
	deaf    bool
}

func (s *countingStore) GetByHash(ctx context.Context, h [32]byte) (*keystore.Key, error) {
	s.lookups.Add(1)
	if s.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return s.Store.GetByHash(ctx, h)
}

func (s *countingStore) Watch(ctx context.Context, fn func(keystore.Change)) error {
	if s.deaf {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Watch(ctx, fn)
}

func newKeyStore(t *testing.T, db *sqldb.DB, c *testClock) *keystore.SQLStore {
	t.Helper()
	s, err := keystore.NewSQL(context.Background(), db, keystore.Options{Now: c.Now})
	require.NoError(t, err)
	return s
}

func newAuth(t *testing.T, s keystore.Store, c *testClock, opts KeyOptions) *KeyAuthenticator {
	t.Helper()
	opts.Now = c.Now
	a := NewKeyAuthenticator(s, opts)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	if s, ok := s.(*countingStore); !ok || !s.deaf {
		<-a.Ready()
	}
	return a
}

func TestKeyAuthenticator(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newTestClock()
		ks := newKeyStore(t, db, c)
		store := &countingStore{Store: ks}
		a := newAuth(t, store, c, KeyOptions{TouchInterval: -1})

		secret, k, err := keystore.Issue(ctx, ks, keystore.Key{Name: "svc", Owner: "alice", Team: "ml", Tags: map[string]string{"env": "prod"},
			Models: []string{"gpt-4o"}, Endpoints: []string{"chat"}, Priority: 2,
			Limits: keystore.Limits{RequestsPerMinute: 10, TokensPerMinute: 100, MaxParallel: 3}, Budget: keystore.Budget{USD: 5, Period: keystore.PeriodDay}})
		require.NoError(t, err)

		t.Run("valid key maps to identity and is cached", func(t *testing.T) {
			before := store.lookups.Load()
			id, err := a.Authenticate(ctx, secret)
			require.NoError(t, err)
			require.Equal(t, &Identity{KeyID: k.ID, Kind: "virtual", Name: "svc", Owner: "alice", Team: "ml", Tags: map[string]string{"env": "prod"},
				Models: []string{"gpt-4o"}, Endpoints: []string{"chat"}, Priority: 2, Limits: Limits{10, 100, 3}, Budget: Budget{5, "day"}}, id)
			for i := 0; i < 10; i++ {
				again, err := a.Authenticate(ctx, secret)
				require.NoError(t, err)
				require.Same(t, id, again)
			}
			require.Equal(t, before+1, store.lookups.Load(), "one store lookup, then the cache")
		})

		t.Run("missing and malformed never reach the store", func(t *testing.T) {
			before := store.lookups.Load()
			_, err := a.Authenticate(ctx, "")
			require.ErrorIs(t, err, ErrMissing)
			_, err = a.Authenticate(ctx, "sk-not-ours")
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, "malformed", FailureReason(err))
			_, err = a.Authenticate(ctx, secret[:len(secret)-1]+"x")
			require.ErrorIs(t, err, ErrInvalid, "checksum mismatch")
			require.Equal(t, before, store.lookups.Load())
		})

		t.Run("unknown keys are remembered briefly", func(t *testing.T) {
			unknown, err := keystore.NewSecret()
			require.NoError(t, err)
			before := store.lookups.Load()
			for i := 0; i < 5; i++ {
				_, err = a.Authenticate(ctx, unknown)
				require.ErrorIs(t, err, ErrInvalid)
				require.Equal(t, "unknown_key", FailureReason(err))
			}
			require.Equal(t, before+1, store.lookups.Load())
			c.Advance(6 * time.Second)
			_, err = a.Authenticate(ctx, unknown)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, before+2, store.lookups.Load(), "negative entry expired")
		})

		t.Run("edit is seen at once", func(t *testing.T) {
			models := []string{"claude"}
			_, err := ks.Update(ctx, k.ID, keystore.Update{Models: &models})
			require.NoError(t, err)
			id, err := a.Authenticate(ctx, secret)
			require.NoError(t, err)
			require.Equal(t, []string{"claude"}, id.Models)
		})

		t.Run("rotation grace", func(t *testing.T) {
			fresh, _, err := keystore.RotateSecret(ctx, ks, k.ID, time.Minute)
			require.NoError(t, err)
			id, err := a.Authenticate(ctx, fresh)
			require.NoError(t, err)
			require.Equal(t, k.ID, id.KeyID)
			id, err = a.Authenticate(ctx, secret)
			require.NoError(t, err, "old secret works during grace")
			require.Equal(t, k.ID, id.KeyID)
			c.Advance(time.Minute)
			_, err = a.Authenticate(ctx, secret)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, "rotated_out", FailureReason(err))
			before := store.lookups.Load()
			for i := 0; i < 5; i++ {
				_, err = a.Authenticate(ctx, secret)
				require.Equal(t, "rotated_out", FailureReason(err))
			}
			require.Equal(t, before, store.lookups.Load(), "a rotated-out secret is a cached verdict, not a lookup per request")
			_, err = a.Authenticate(ctx, fresh)
			require.NoError(t, err)
			secret = fresh
		})

		t.Run("revocation is seen at once", func(t *testing.T) {
			_, err := a.Authenticate(ctx, secret)
			require.NoError(t, err)
			_, err = ks.Revoke(ctx, k.ID)
			require.NoError(t, err)
			_, err = a.Authenticate(ctx, secret)
			require.ErrorIs(t, err, ErrRevoked)
			before := store.lookups.Load()
			_, err = a.Authenticate(ctx, secret)
			require.ErrorIs(t, err, ErrRevoked)
			require.Equal(t, before, store.lookups.Load(), "revoked keys are cached too")
		})

		t.Run("expiry", func(t *testing.T) {
			s2, k2, err := keystore.Issue(ctx, ks, keystore.Key{Name: "temp", ExpiresAt: c.Now().Add(30 * time.Second)})
			require.NoError(t, err)
			id, err := a.Authenticate(ctx, s2)
			require.NoError(t, err)
			require.Equal(t, k2.ExpiresAt, id.ExpiresAt)
			c.Advance(30 * time.Second)
			_, err = a.Authenticate(ctx, s2)
			require.ErrorIs(t, err, ErrExpired)
		})

		t.Run("delete", func(t *testing.T) {
			s3, k3, err := keystore.Issue(ctx, ks, keystore.Key{Name: "gone"})
			require.NoError(t, err)
			_, err = a.Authenticate(ctx, s3)
			require.NoError(t, err)
			require.NoError(t, ks.Delete(ctx, k3.ID))
			_, err = a.Authenticate(ctx, s3)
			require.ErrorIs(t, err, ErrInvalid)
		})
	})
}

// TestKeyAuthenticatorTTLBackstop: when notifications are lost, a change is seen once
// the cache TTL passes.
func TestKeyAuthenticatorTTLBackstop(t *testing.T) {
	ctx := context.Background()
	c := newTestClock()
	ks := newKeyStore(t, sqldbtest.SQLite(t), c)
	a := newAuth(t, &countingStore{Store: ks, deaf: true}, c, KeyOptions{CacheTTL: 5 * time.Second, TouchInterval: -1})
	secret, k, err := keystore.Issue(ctx, ks, keystore.Key{Name: "x"})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err)
	_, err = ks.Revoke(ctx, k.ID)
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err, "deaf replica still trusts its cache")
	c.Advance(5 * time.Second)
	_, err = a.Authenticate(ctx, secret)
	require.ErrorIs(t, err, ErrRevoked)

	// Explicit invalidation works without notifications.
	s2, k2, err := keystore.Issue(ctx, ks, keystore.Key{Name: "y"})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, s2)
	require.NoError(t, err)
	_, err = ks.Revoke(ctx, k2.ID)
	require.NoError(t, err)
	a.Invalidate(k2.ID)
	_, err = a.Authenticate(ctx, s2)
	require.ErrorIs(t, err, ErrRevoked)
}

// TestKeyAuthenticatorStoreDown: a store outage serves recently cached keys and refuses
// unknown ones with ErrUnavailable (503), not ErrInvalid.
func TestKeyAuthenticatorStoreDown(t *testing.T) {
	ctx := context.Background()
	c := newTestClock()
	ks := newKeyStore(t, sqldbtest.SQLite(t), c)
	store := &countingStore{Store: ks}
	core, logs := observer.New(zap.DebugLevel)
	a := newAuth(t, store, c, KeyOptions{CacheTTL: time.Second, StaleTTL: time.Minute, Logger: zap.New(core), TouchInterval: -1})
	secret, _, err := keystore.Issue(ctx, ks, keystore.Key{Name: "x"})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err)

	store.fail.Store(true)
	c.Advance(2 * time.Second)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err, "stale entry used while the store is down")
	c.Advance(2 * time.Minute)
	_, err = a.Authenticate(ctx, secret)
	require.ErrorIs(t, err, ErrUnavailable, "too stale")
	other, err := keystore.NewSecret()
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, other)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, "store_unavailable", FailureReason(err))
	for i := 0; i < 5; i++ {
		_, err = a.Authenticate(ctx, other)
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.Equal(t, 1, logs.FilterMessageSnippet("lookup failed").Len(), "an outage is logged once per interval, not per request")
	c.Advance(11 * time.Second)
	_, err = a.Authenticate(ctx, other)
	require.ErrorIs(t, err, ErrUnavailable)
	entries := logs.FilterMessageSnippet("lookup failed").All()
	require.Len(t, entries, 2)
	require.Equal(t, int64(6), entries[1].ContextMap()["similar_since_last_log"])

	store.fail.Store(false)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err)
}

func TestKeyAuthenticatorBounds(t *testing.T) {
	ctx := context.Background()
	c := newTestClock()
	ks := newKeyStore(t, sqldbtest.SQLite(t), c)
	a := newAuth(t, ks, c, KeyOptions{MaxEntries: 1, NegativeEntries: 1, TouchInterval: -1})
	for i := 0; i < 200; i++ {
		s, err := keystore.NewSecret()
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, s)
		require.ErrorIs(t, err, ErrInvalid)
	}
	var secrets []string
	for i := 0; i < 100; i++ {
		s, _, err := keystore.Issue(ctx, ks, keystore.Key{Name: "b"})
		require.NoError(t, err)
		secrets = append(secrets, s)
		_, err = a.Authenticate(ctx, s)
		require.NoError(t, err)
	}
	pos, neg := 0, 0
	for i := range a.shards {
		pos += len(a.shards[i].pos)
		neg += len(a.shards[i].neg)
	}
	require.LessOrEqual(t, pos, shardCount*2)
	require.LessOrEqual(t, neg, shardCount*2)
	for _, s := range secrets {
		_, err := a.Authenticate(ctx, s)
		require.NoError(t, err, "evicted keys are looked up again")
	}
	a.InvalidateAll()
	for i := range a.shards {
		require.Empty(t, a.shards[i].pos)
	}
}

func TestKeyAuthenticatorTouch(t *testing.T) {
	ctx := context.Background()
	c := newTestClock()
	ks := newKeyStore(t, sqldbtest.SQLite(t), c)
	a := NewKeyAuthenticator(ks, KeyOptions{Now: c.Now, TouchInterval: 20 * time.Millisecond})
	secret, k, err := keystore.Issue(ctx, ks, keystore.Key{Name: "t"})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := ks.Get(ctx, k.ID)
		return err == nil && got.LastUsedAt.Equal(c.Now())
	}, 2*time.Second, 10*time.Millisecond)

	// Close flushes what the ticker has not written yet.
	c.Advance(time.Hour)
	_, err = a.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.NoError(t, a.Close(ctx))
	require.NoError(t, a.Close(ctx), "idempotent")
	got, err := ks.Get(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, c.Now(), got.LastUsedAt)
}

func TestKeyAuthenticatorConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newTestClock()
	ks := newKeyStore(t, sqldbtest.SQLite(t), c)
	store := &countingStore{Store: ks}
	a := newAuth(t, store, c, KeyOptions{TouchInterval: -1})
	secret, k, err := keystore.Issue(ctx, ks, keystore.Key{Name: "c"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id, err := a.Authenticate(ctx, secret)
				if err != nil {
					require.ErrorIs(t, err, ErrRevoked)
					continue
				}
				require.Equal(t, k.ID, id.KeyID)
			}
		}()
	}
	_, err = ks.Revoke(ctx, k.ID)
	require.NoError(t, err)
	wg.Wait()
	_, err = a.Authenticate(ctx, secret)
	require.ErrorIs(t, err, ErrRevoked)
	require.Less(t, store.lookups.Load(), int64(50), "concurrent misses share lookups")
}

// TestReplicasRevocation runs two authenticators on independent connections to one
// PostgreSQL schema, as two replicas would: a key revoked through one replica's store
// is refused by the other, whose cache was warm, within one second.
func TestReplicasRevocation(t *testing.T) {
	ctx := context.Background()
	schema := sqldbtest.NewSchema()
	db1 := sqldbtest.PostgresSchema(t, schema)
	db2 := sqldbtest.PostgresSchema(t, schema)
	s1, err := keystore.NewSQL(ctx, db1, keystore.Options{})
	require.NoError(t, err)
	s2, err := keystore.NewSQL(ctx, db2, keystore.Options{})
	require.NoError(t, err)
	// A long TTL proves the change arrives by notification, not by expiry.
	a1 := NewKeyAuthenticator(s1, KeyOptions{CacheTTL: time.Hour, TouchInterval: -1})
	a2 := NewKeyAuthenticator(s2, KeyOptions{CacheTTL: time.Hour, TouchInterval: -1})
	defer func() { _ = a1.Close(ctx); _ = a2.Close(ctx) }()
	<-a1.Ready()
	<-a2.Ready()

	secret, k, err := keystore.Issue(ctx, s1, keystore.Key{Name: "shared"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := a2.Authenticate(ctx, secret); return err == nil }, 5*time.Second, 10*time.Millisecond)
	_, err = a1.Authenticate(ctx, secret)
	require.NoError(t, err)

	// Rotation with no grace: the old secret stops on the other replica too.
	fresh, _, err := keystore.RotateSecret(ctx, s1, k.ID, 0)
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool { _, err := a2.Authenticate(ctx, secret); return err != nil }, time.Second, 5*time.Millisecond)
	t.Logf("rotation seen by the other replica after %v", time.Since(start))
	_, err = a2.Authenticate(ctx, fresh)
	require.NoError(t, err)

	start = time.Now()
	_, err = s1.Revoke(ctx, k.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := a2.Authenticate(ctx, fresh)
		return errors.Is(err, ErrRevoked)
	}, time.Second, 5*time.Millisecond)
	t.Logf("revocation seen by the other replica after %v", time.Since(start))
}
