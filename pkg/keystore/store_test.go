package keystore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t *testing.T, db *sqldb.DB, c *clock) *SQLStore {
	t.Helper()
	s, err := NewSQL(context.Background(), db, Options{Now: c.Now, ListenRetry: 10 * time.Millisecond})
	require.NoError(t, err)
	return s
}

// TestStoreSuite runs the same behaviour checks against SQLite and PostgreSQL.
func TestStoreSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newStore(t, db, c)

		t.Run("issue get and lookup", func(t *testing.T) {
			secret, k, err := Issue(ctx, s, Key{Name: "ci", Owner: "alice", Team: "ml", Tags: map[string]string{"env": "prod"},
				Models: []string{"gpt-4o"}, Endpoints: []string{"chat"}, Limits: Limits{RequestsPerMinute: 60, TokensPerMinute: 1000, MaxParallel: 4},
				Budget: Budget{USD: 12.5, Period: PeriodMonth}, Priority: 3})
			require.NoError(t, err)
			require.True(t, LooksLikeSecret(secret))
			require.Equal(t, HashSecret(secret), k.Hash)
			require.Equal(t, secret[:len(k.DisplayPrefix)], k.DisplayPrefix)

			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, k.ID, got.ID)
			require.Equal(t, "ci", got.Name)
			require.Equal(t, "alice", got.Owner)
			require.Equal(t, "ml", got.Team)
			require.Equal(t, map[string]string{"env": "prod"}, got.Tags)
			require.Equal(t, []string{"gpt-4o"}, got.Models)
			require.Equal(t, []string{"chat"}, got.Endpoints)
			require.Equal(t, Limits{60, 1000, 4}, got.Limits)
			require.Equal(t, Budget{12.5, PeriodMonth}, got.Budget)
			require.Equal(t, 3, got.Priority)
			require.Equal(t, StatusActive, got.Status)
			require.Equal(t, c.Now(), got.CreatedAt)
			require.True(t, got.ExpiresAt.IsZero())
			require.True(t, got.LastUsedAt.IsZero())

			byHash, err := s.GetByHash(ctx, HashSecret(secret))
			require.NoError(t, err)
			require.Equal(t, got, byHash)

			_, err = s.GetByHash(ctx, HashSecret(secret+"x"))
			require.ErrorIs(t, err, ErrNotFound)
			_, err = s.Get(ctx, "key_missing")
			require.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("secret is never stored", func(t *testing.T) {
			secret, k, err := Issue(ctx, s, Key{Name: "plain"})
			require.NoError(t, err)
			rows, err := db.SQL.QueryContext(ctx, db.Rebind("SELECT * FROM api_keys WHERE id = ?"), k.ID)
			require.NoError(t, err)
			defer func() { _ = rows.Close() }()
			cols, err := rows.Columns()
			require.NoError(t, err)
			require.True(t, rows.Next())
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				require.NotContains(t, fmt.Sprint(v), secret[len(k.DisplayPrefix):], "column %s", cols[i])
				if b, ok := v.([]byte); ok {
					require.NotContains(t, string(b), secret[len(k.DisplayPrefix):], "column %s", cols[i])
				}
			}
		})

		t.Run("create validation and conflicts", func(t *testing.T) {
			_, k, err := Issue(ctx, s, Key{Name: "dup"})
			require.NoError(t, err)
			_, _, err = Issue(ctx, s, Key{ID: k.ID})
			require.ErrorIs(t, err, ErrConflict)
			err = s.Create(ctx, &Key{ID: "key_samehash", Hash: k.Hash, DisplayPrefix: "x"})
			require.ErrorIs(t, err, ErrConflict)

			for name, spec := range map[string]Key{
				"no id":           {Hash: [32]byte{1}},
				"no hash":         {ID: "key_x"},
				"negative limit":  {ID: "key_x", Hash: [32]byte{1}, Limits: Limits{RequestsPerMinute: -1}},
				"bad period":      {ID: "key_x", Hash: [32]byte{1}, Budget: Budget{USD: 1, Period: "week"}},
				"no period":       {ID: "key_x", Hash: [32]byte{1}, Budget: Budget{USD: 1}},
				"negative usd":    {ID: "key_x", Hash: [32]byte{1}, Budget: Budget{USD: -1, Period: PeriodDay}},
				"bad status":      {ID: "key_x", Hash: [32]byte{1}, Status: StatusExpired},
				"long name":       {ID: "key_x", Hash: [32]byte{1}, Name: string(make([]byte, 300))},
				"empty tag key":   {ID: "key_x", Hash: [32]byte{1}, Tags: map[string]string{"": "v"}},
				"too many tags":   {ID: "key_x", Hash: [32]byte{1}, Tags: manyTags(65)},
				"too many models": {ID: "key_x", Hash: [32]byte{1}, Models: make([]string, 1001)},
			} {
				spec := spec
				require.ErrorIs(t, s.Create(ctx, &spec), ErrInvalidArgument, name)
			}
		})

		t.Run("update", func(t *testing.T) {
			_, k, err := Issue(ctx, s, Key{Name: "before", Owner: "bob", Models: []string{"a"}})
			require.NoError(t, err)
			c.Advance(time.Second)
			name, team, prio := "after", "infra", 9
			exp := c.Now().Add(time.Hour)
			tags := map[string]string{"cost-center": "42"}
			models := []string{"b", "c"}
			u, err := s.Update(ctx, k.ID, Update{Name: &name, Team: &team, Priority: &prio, ExpiresAt: &exp, Tags: &tags, Models: &models,
				Endpoints: &[]string{"embeddings"}, Limits: &Limits{TokensPerMinute: 5}, Budget: &Budget{USD: 1, Period: PeriodDay}, Owner: new("carol")})
			require.NoError(t, err)
			require.Equal(t, "after", u.Name)
			require.Equal(t, "carol", u.Owner)
			require.Equal(t, "infra", u.Team)
			require.Equal(t, 9, u.Priority)
			require.Equal(t, exp, u.ExpiresAt)
			require.Equal(t, c.Now(), u.UpdatedAt)
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
			require.Equal(t, []string{"embeddings"}, got.Endpoints)
			require.Equal(t, Limits{TokensPerMinute: 5}, got.Limits)

			zero := time.Time{}
			got, err = s.Update(ctx, k.ID, Update{ExpiresAt: &zero})
			require.NoError(t, err)
			require.True(t, got.ExpiresAt.IsZero())
			require.Equal(t, "after", got.Name, "untouched fields stay")

			_, err = s.Update(ctx, k.ID, Update{Budget: &Budget{USD: 3, Period: "fortnight"}})
			require.ErrorIs(t, err, ErrInvalidArgument)
			_, err = s.Update(ctx, "key_missing", Update{Name: &name})
			require.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("expiry is derived", func(t *testing.T) {
			_, k, err := Issue(ctx, s, Key{Name: "short", ExpiresAt: c.Now().Add(time.Minute)})
			require.NoError(t, err)
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, StatusActive, got.Status)
			c.Advance(time.Minute)
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, StatusExpired, got.Status)
		})

		t.Run("rotate", func(t *testing.T) {
			old, k, err := Issue(ctx, s, Key{Name: "rot"})
			require.NoError(t, err)
			fresh, r, err := RotateSecret(ctx, s, k.ID, time.Hour)
			require.NoError(t, err)
			require.NotEqual(t, old, fresh)
			require.Equal(t, k.ID, r.ID)
			require.Equal(t, HashSecret(fresh), r.Hash)
			require.Equal(t, HashSecret(old), r.PrevHash)
			require.Equal(t, c.Now().Add(time.Hour), r.PrevHashExpiresAt)
			require.Equal(t, DisplayPrefix(fresh), r.DisplayPrefix)

			byOld, err := s.GetByHash(ctx, HashSecret(old))
			require.NoError(t, err)
			require.Equal(t, k.ID, byOld.ID)
			byNew, err := s.GetByHash(ctx, HashSecret(fresh))
			require.NoError(t, err)
			require.Equal(t, k.ID, byNew.ID)

			// A second rotation drops the first secret entirely.
			third, r2, err := RotateSecret(ctx, s, k.ID, time.Hour)
			require.NoError(t, err)
			require.Equal(t, HashSecret(fresh), r2.PrevHash)
			_, err = s.GetByHash(ctx, HashSecret(old))
			require.ErrorIs(t, err, ErrNotFound)

			// Zero grace ends the old secret at once.
			_, r3, err := RotateSecret(ctx, s, k.ID, 0)
			require.NoError(t, err)
			require.False(t, r3.HasPrevHash())
			_, err = s.GetByHash(ctx, HashSecret(third))
			require.ErrorIs(t, err, ErrNotFound)

			_, err = s.Rotate(ctx, k.ID, [32]byte{}, "x", 0)
			require.ErrorIs(t, err, ErrInvalidArgument)
			_, err = s.Rotate(ctx, k.ID, [32]byte{7}, "x", -time.Second)
			require.ErrorIs(t, err, ErrInvalidArgument)
			_, _, err = RotateSecret(ctx, s, "key_missing", 0)
			require.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("revoke", func(t *testing.T) {
			_, k, err := Issue(ctx, s, Key{Name: "rev"})
			require.NoError(t, err)
			_, _, err = RotateSecret(ctx, s, k.ID, time.Hour)
			require.NoError(t, err)
			c.Advance(time.Second)
			r, err := s.Revoke(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, StatusRevoked, r.Status)
			require.Equal(t, c.Now(), r.RevokedAt)
			require.False(t, r.HasPrevHash(), "revocation ends the grace period too")
			c.Advance(time.Second)
			again, err := s.Revoke(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, r.RevokedAt, again.RevokedAt, "revoking twice keeps the first time")
			_, _, err = RotateSecret(ctx, s, k.ID, 0)
			require.ErrorIs(t, err, ErrConflict)
			_, err = s.Revoke(ctx, "key_missing")
			require.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("delete", func(t *testing.T) {
			secret, k, err := Issue(ctx, s, Key{Name: "del"})
			require.NoError(t, err)
			require.NoError(t, s.Delete(ctx, k.ID))
			_, err = s.Get(ctx, k.ID)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = s.GetByHash(ctx, HashSecret(secret))
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, s.Delete(ctx, k.ID), ErrNotFound)
		})

		t.Run("touch", func(t *testing.T) {
			_, k, err := Issue(ctx, s, Key{Name: "touch"})
			require.NoError(t, err)
			t1 := c.Now().Add(time.Minute)
			require.NoError(t, s.Touch(ctx, map[string]time.Time{k.ID: t1, "key_missing": t1}))
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, t1, got.LastUsedAt)
			require.NoError(t, s.Touch(ctx, map[string]time.Time{k.ID: t1.Add(-time.Hour)}))
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			require.Equal(t, t1, got.LastUsedAt, "never moves backwards")
			require.NoError(t, s.Touch(ctx, nil))
		})
	})
}

func TestListSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newStore(t, db, c)
		var ids []string
		for i := 0; i < 7; i++ {
			owner := "alice"
			if i%2 == 1 {
				owner = "bob"
			}
			spec := Key{Name: fmt.Sprintf("k%d", i), Owner: owner, Team: fmt.Sprintf("team%d", i%3), Tags: map[string]string{"n": fmt.Sprint(i), "env": "prod"}}
			if i == 5 {
				spec.ExpiresAt = c.Now().Add(time.Second)
			}
			_, k, err := Issue(ctx, s, spec)
			require.NoError(t, err)
			ids = append(ids, k.ID)
			if i < 5 {
				c.Advance(time.Second) // keys 5 and 6 share a creation time: ties order by id
			}
		}
		_, err := s.Revoke(ctx, ids[6])
		require.NoError(t, err)
		c.Advance(2 * time.Second) // key 5 expires

		// Page through everything, newest first, without repeats.
		var seen []*Key
		tok := ""
		pages := 0
		for {
			p, err := s.List(ctx, ListOptions{PageSize: 3, PageToken: tok})
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Keys), 3)
			seen = append(seen, p.Keys...)
			pages++
			if p.NextPageToken == "" {
				break
			}
			tok = p.NextPageToken
		}
		require.Equal(t, 3, pages)
		require.Len(t, seen, 7)
		for i := 1; i < len(seen); i++ {
			a, b := seen[i-1], seen[i]
			require.True(t, a.CreatedAt.After(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID), "order at %d", i)
		}

		names := func(opts ListOptions) []string {
			p, err := s.List(ctx, opts)
			require.NoError(t, err)
			var out []string
			for _, k := range p.Keys {
				out = append(out, k.Name)
			}
			return out
		}
		require.ElementsMatch(t, []string{"k0", "k2", "k4", "k6"}, names(ListOptions{Owner: "alice"}))
		require.ElementsMatch(t, []string{"k1", "k4"}, names(ListOptions{Team: "team1"}))
		require.ElementsMatch(t, []string{"k6"}, names(ListOptions{Status: StatusRevoked}))
		require.ElementsMatch(t, []string{"k5"}, names(ListOptions{Status: StatusExpired}))
		require.ElementsMatch(t, []string{"k0", "k1", "k2", "k3", "k4"}, names(ListOptions{Status: StatusActive}))
		require.ElementsMatch(t, []string{"k3"}, names(ListOptions{Tags: map[string]string{"n": "3", "env": "prod"}}))
		require.Empty(t, names(ListOptions{Tags: map[string]string{"n": "3", "env": "dev"}}))
		require.ElementsMatch(t, []string{"k2"}, names(ListOptions{Owner: "alice", Team: "team2", Status: StatusActive}))

		_, err = s.List(ctx, ListOptions{Status: "weird"})
		require.ErrorIs(t, err, ErrInvalidArgument)
		_, err = s.List(ctx, ListOptions{PageToken: "%%%"})
		require.ErrorIs(t, err, ErrInvalidArgument)
		_, err = s.List(ctx, ListOptions{PageToken: "bm9waXBl"})
		require.ErrorIs(t, err, ErrInvalidArgument)
		p, err := s.List(ctx, ListOptions{PageSize: 5000})
		require.NoError(t, err)
		require.Len(t, p.Keys, 7)
	})
}

func TestWatchSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := newClock()
		s := newStore(t, db, c)
		changes := make(chan Change, 64)
		done := make(chan error, 1)
		go func() { done <- s.Watch(ctx, func(ch Change) { changes <- ch }) }()
		require.True(t, (<-changes).All, "watch reports All once in place")

		expect := func(id string, hashes ...[32]byte) {
			t.Helper()
			// Read until the expected change arrives (earlier ones may be pending).
			deadline := time.After(2 * time.Second)
			for {
				select {
				case ch := <-changes:
					if ch.KeyID == id && containsAll(ch.Hashes, hashes) {
						return
					}
				case <-deadline:
					t.Fatalf("no change for %s", id)
				}
			}
		}
		secret, k, err := Issue(context.Background(), s, Key{Name: "w"})
		require.NoError(t, err)
		expect(k.ID, HashSecret(secret))
		fresh, _, err := RotateSecret(context.Background(), s, k.ID, time.Minute)
		require.NoError(t, err)
		expect(k.ID, HashSecret(secret), HashSecret(fresh))
		_, err = s.Revoke(context.Background(), k.ID)
		require.NoError(t, err)
		expect(k.ID, HashSecret(fresh))
		require.NoError(t, s.Delete(context.Background(), k.ID))
		expect(k.ID, HashSecret(fresh))
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

// TestPostgresReplicaNotify checks that a change made through one store is heard by a
// second, independent store on the same database (another replica).
func TestPostgresReplicaNotify(t *testing.T) {
	schema := sqldbtest.NewSchema()
	db1 := sqldbtest.PostgresSchema(t, schema)
	db2 := sqldbtest.PostgresSchema(t, schema)
	c := newClock()
	s1 := newStore(t, db1, c)
	s2 := newStore(t, db2, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan Change, 16)
	go func() { _ = s2.Watch(ctx, func(ch Change) { changes <- ch }) }()
	require.True(t, (<-changes).All)
	_, k, err := Issue(ctx, s1, Key{Name: "remote"})
	require.NoError(t, err)
	select {
	case ch := <-changes:
		require.Equal(t, k.ID, ch.KeyID)
		require.Equal(t, [][32]byte{k.Hash}, ch.Hashes)
	case <-time.After(2 * time.Second):
		t.Fatal("replica did not hear the change")
	}
}

func TestMigrations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		_, err := NewSQL(ctx, db, Options{})
		require.NoError(t, err)
		_, err = NewSQL(ctx, db, Options{}) // idempotent
		require.NoError(t, err)
		v, err := db.Version(ctx, Component)
		require.NoError(t, err)
		require.Equal(t, len(migrations), v)

		// A schema from a newer binary is refused.
		_, err = db.SQL.ExecContext(ctx, db.Rebind("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)"), Component, 99, "future", 0)
		require.NoError(t, err)
		_, err = NewSQL(ctx, db, Options{})
		require.ErrorContains(t, err, "newer schema")

		err = db.Migrate(ctx, "gappy", []sqldb.Migration{{Version: 2}})
		require.ErrorContains(t, err, "without gaps")
		err = db.Migrate(ctx, "broken", []sqldb.Migration{{Version: 1, Name: "bad", SQLite: "NOT SQL", Postgres: "NOT SQL"}})
		require.ErrorContains(t, err, "bad")
	})
}

func TestOpenHelpers(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, t.TempDir()+"/keys.db", Options{})
	require.NoError(t, err)
	require.Equal(t, sqldb.SQLite, s.DB().Dialect)
	_, _, err = Issue(ctx, s, Key{Name: "x"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = OpenSQLite(ctx, "bad?path", Options{})
	require.Error(t, err)

	schema := sqldbtest.NewSchema()
	_ = sqldbtest.PostgresSchema(t, schema) // skips or fails when PostgreSQL is down; drops the schema at cleanup
	p, err := OpenPostgres(ctx, sqldbtest.DSN(), sqldb.PostgresOptions{Schema: schema}, Options{})
	require.NoError(t, err)
	require.Equal(t, sqldb.Postgres, p.DB().Dialect)
	require.NoError(t, p.Close())
	_, err = OpenPostgres(ctx, "postgres://x:secretpw@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", sqldb.PostgresOptions{}, Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secretpw")
}

func containsAll(have, want [][32]byte) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[fmt.Sprint(i)] = "v"
	}
	return m
}
