package sqldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

func TestRebind(t *testing.T) {
	pg := &sqldb.DB{Dialect: sqldb.Postgres}
	lite := &sqldb.DB{Dialect: sqldb.SQLite}
	for _, tc := range []struct{ in, pg string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"x = 'it''s?' AND y = ?", "x = 'it''s?' AND y = $1"},
	} {
		require.Equal(t, tc.pg, pg.Rebind(tc.in))
		require.Equal(t, tc.in, lite.Rebind(tc.in))
	}
	require.Equal(t, "sqlite", sqldb.SQLite.String())
	require.Equal(t, "postgres", sqldb.Postgres.String())
	require.Equal(t, "unknown", sqldb.Dialect(0).String())
}

func TestNullTime(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tc := range []struct {
		in   any
		want time.Time
	}{
		{nil, time.Time{}},
		{ts.UnixMicro(), ts},
		{float64(ts.UnixMicro()), ts},
		{ts.In(time.FixedZone("x", 3600)), ts},
	} {
		var nt sqldb.NullTime
		require.NoError(t, nt.Scan(tc.in))
		require.True(t, tc.want.Equal(nt.Time), "%v", tc.in)
	}
	var nt sqldb.NullTime
	require.Error(t, nt.Scan("yesterday"))
}

// TestEngines exercises the dialect helpers against both real engines.
func TestEngines(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ts := time.Date(2025, 6, 7, 23, 59, 1, 123456000, time.UTC)
		require.Nil(t, db.Time(time.Time{}))
		require.NoError(t, db.Migrate(ctx, "sqldbtest", []sqldb.Migration{{
			Version: 1, Name: "t",
			SQLite:   "CREATE TABLE t (id INTEGER PRIMARY KEY, ts INTEGER); CREATE TABLE u (v TEXT UNIQUE)",
			Postgres: "CREATE TABLE t (id INTEGER PRIMARY KEY, ts TIMESTAMPTZ); CREATE TABLE u (v TEXT UNIQUE)",
		}}))
		_, err := db.SQL.ExecContext(ctx, db.Rebind("INSERT INTO t (id, ts) VALUES (?, ?)"), 1, db.Time(ts))
		require.NoError(t, err)
		var got, day sqldb.NullTime
		require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT ts, "+db.DayExpr("ts")+" FROM t").Scan(&got, &day))
		require.True(t, ts.Equal(got.Time), "%v", got.Time)
		require.True(t, time.Date(2025, 6, 7, 0, 0, 0, 0, time.UTC).Equal(day.Time), "%v", day.Time)

		_, err = db.SQL.ExecContext(ctx, db.Rebind("INSERT INTO u (v) VALUES (?)"), "a")
		require.NoError(t, err)
		_, err = db.SQL.ExecContext(ctx, db.Rebind("INSERT INTO u (v) VALUES (?)"), "a")
		require.True(t, sqldb.IsUniqueViolation(err), "%v", err)
		require.False(t, sqldb.IsUniqueViolation(errors.New("other")))
		require.False(t, sqldb.IsUniqueViolation(nil))

		v, err := db.Version(ctx, "sqldbtest")
		require.NoError(t, err)
		require.Equal(t, 1, v)

		err = db.WithPgx(ctx, func(c *pgx.Conn) error {
			var n int
			return c.QueryRow(ctx, "SELECT 41 + 1").Scan(&n)
		})
		c, cerr := db.ConnectPgx(ctx, "test")
		if db.Dialect == sqldb.Postgres {
			require.NoError(t, err)
			require.NoError(t, cerr)
			require.NoError(t, c.Close(ctx))
		} else {
			require.Error(t, err)
			require.Error(t, cerr)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := sqldb.OpenPostgres(ctx, sqldbtest.DSN(), sqldb.PostgresOptions{Schema: "Bad-Schema"})
	require.ErrorContains(t, err, "schema")
	_, err = sqldb.OpenPostgres(ctx, "postgres://u:hunter2@[bad", sqldb.PostgresOptions{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	_, err = sqldb.OpenPostgres(ctx, "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=1", sqldb.PostgresOptions{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	_, err = sqldb.OpenSQLite(ctx, "")
	require.Error(t, err)
	_, err = sqldb.OpenSQLite(ctx, t.TempDir()+"/missing-dir/x.db")
	require.Error(t, err)

	mem, err := sqldb.OpenSQLite(ctx, ":memory:")
	require.NoError(t, err)
	require.NoError(t, mem.Close())
}

func TestOpenConfig(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{SQLitePath: t.TempDir() + "/x.db"})
	require.NoError(t, err)
	require.Equal(t, sqldb.SQLite, db.Dialect)
	require.NoError(t, db.Close())
	schema := sqldbtest.NewSchema()
	_ = sqldbtest.PostgresSchema(t, schema)
	db, err = sqldb.Open(ctx, sqldb.Config{PostgresDSN: sqldbtest.DSN(), Postgres: sqldb.PostgresOptions{Schema: schema}})
	require.NoError(t, err)
	require.Equal(t, sqldb.Postgres, db.Dialect)
	require.NoError(t, db.Close())
}
