package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// Migration is one versioned schema change. Versions are per component, start at 1 and
// never change once released: a new change is a new version.
type Migration struct {
	Version int
	Name    string
	// SQLite and Postgres hold the statements for each dialect (several statements may
	// be separated by semicolons).
	SQLite, Postgres string
}

// Migrate applies the component's migrations that the database has not seen yet, in one
// transaction, and records them in schema_migrations. Concurrent replicas starting at
// the same time serialize on an advisory lock (PostgreSQL) or the write lock (SQLite), so
// each migration runs exactly once. A database migrated by a newer binary (a version this
// list does not know) is refused rather than silently used.
func (db *DB) Migrate(ctx context.Context, component string, migrations []Migration) error {
	ms := append([]Migration(nil), migrations...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("migrate %s: versions must be 1..n without gaps, got %d at position %d", component, m.Version, i+1)
		}
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	defer func() { _ = tx.Rollback() }()
	if db.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('llm_router.schema_migrations'))"); err != nil {
			return fmt.Errorf("migrate %s: lock: %w", component, err)
		}
	}
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (component, version))`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, db.Rebind("SELECT MAX(version) FROM schema_migrations WHERE component = ?"), component).Scan(&current); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	if int(current.Int64) > len(ms) {
		return fmt.Errorf("migrate %s: database is at version %d but this binary knows only %d: refusing to run an older binary on a newer schema", component, current.Int64, len(ms))
	}
	for _, m := range ms[current.Int64:] {
		stmt := m.SQLite
		if db.Dialect == Postgres {
			stmt = m.Postgres
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate %s to version %d (%s): %w", component, m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)"),
			component, m.Version, m.Name, nowMicro()); err != nil {
			return fmt.Errorf("migrate %s: record version %d: %w", component, m.Version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", component, err)
	}
	return nil
}

// Version returns the highest applied migration of a component (0 if none).
func (db *DB) Version(ctx context.Context, component string) (int, error) {
	var v sql.NullInt64
	err := db.SQL.QueryRowContext(ctx, db.Rebind("SELECT MAX(version) FROM schema_migrations WHERE component = ?"), component).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version of %s: %w", component, err)
	}
	return int(v.Int64), nil
}
