// Package sqldbtest opens throw-away databases for tests: a SQLite file in a temporary
// directory, and a PostgreSQL schema of its own per call (so parallel test packages
// sharing one server never collide), dropped when the test ends.
//
// PostgreSQL is found through LLM_ROUTER_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it is unreachable the
// test fails if CI=true, and is skipped with a message otherwise.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
)

// DefaultDSN is used when LLM_ROUTER_TEST_POSTGRES_DSN is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the PostgreSQL DSN for tests.
func DSN() string {
	if v := os.Getenv("LLM_ROUTER_TEST_POSTGRES_DSN"); v != "" {
		return v
	}
	return DefaultDSN
}

// Unavailable fails (CI=true) or skips the test because a service is unreachable.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI but unreachable: %v", service, err)
	}
	t.Skipf("%s unreachable (%v); skipping. Start it or set its address; CI=true makes this a failure", service, err)
}

// NewSchema returns a fresh schema name unique to this call.
func NewSchema() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t_" + hex.EncodeToString(b[:])
}

// Postgres opens a PostgreSQL database on a fresh schema that is dropped at cleanup.
func Postgres(t testing.TB) *sqldb.DB {
	t.Helper()
	return PostgresSchema(t, NewSchema())
}

// PostgresSchema opens PostgreSQL on the given schema (several handles may share one to
// act as replicas); the schema is dropped at cleanup of the first caller's test.
func PostgresSchema(t testing.TB, schema string) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqldb.OpenPostgres(ctx, DSN(), sqldb.PostgresOptions{Schema: schema, MaxConns: 8})
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.SQL.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = db.Close()
	})
	return db
}

// SQLite opens a SQLite file in a temporary directory.
func SQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	return SQLiteFile(t, filepath.Join(t.TempDir(), "state.db"))
}

// SQLiteFile opens the SQLite file at path, closed at cleanup.
func SQLiteFile(t testing.TB, path string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Each runs fn once per engine ("sqlite" and "postgres") as subtests, each with a fresh
// database, so one suite covers both stores.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}
