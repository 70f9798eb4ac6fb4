// Package sqldb opens the SQL databases that hold llm-router's durable state (API keys and
// the usage ledger) and applies their versioned migrations. Two engines are supported with
// one code path: SQLite (pure Go, a single file in WAL mode, the embedded default) and
// PostgreSQL through pgx (for replicated deployments). Queries are written once with "?"
// placeholders and rebound per dialect; the small differences (time columns, upserts,
// day truncation) are expressed through the helpers here.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is the SQL engine behind a DB.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// DB is an open database. SQL serves queries for both dialects; with PostgreSQL its
// connections are pgx connections, reachable through WithPgx for LISTEN/NOTIFY and COPY.
type DB struct {
	SQL     *sql.DB
	Dialect Dialect
	// Schema is the PostgreSQL schema every connection uses ("" = the server default).
	Schema string

	pgcfg *pgx.ConnConfig
}

// PostgresOptions tune OpenPostgres.
type PostgresOptions struct {
	// Schema, when set, is created if missing and put first on every connection's
	// search_path, so several deployments (or test runs) can share one database.
	Schema string
	// MaxConns caps the pool (default 10). The key listener uses one more connection
	// of its own, outside the pool.
	MaxConns int32
}

var schemaRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// OpenPostgres connects to PostgreSQL and verifies the connection.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*DB, error) {
	if opts.Schema != "" && !schemaRe.MatchString(opts.Schema) {
		return nil, fmt.Errorf("postgres schema %q: want lower-case letters, digits and _ (at most 40)", opts.Schema)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: do not echo it.
		return nil, errors.New("postgres: cannot parse connection string")
	}
	if opts.Schema != "" {
		cfg.RuntimeParams["search_path"] = opts.Schema
	}
	db := stdlib.OpenDB(*cfg)
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	db.SetMaxOpenConns(int(opts.MaxConns))
	db.SetMaxIdleConns(int(opts.MaxConns))
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.Schema != "" {
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+opts.Schema); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("postgres: create schema: %w", err)
		}
	}
	return &DB{SQL: db, Dialect: Postgres, Schema: opts.Schema, pgcfg: cfg}, nil
}

// ConnectPgx opens a dedicated native connection outside the pool (PostgreSQL only), for
// long-lived uses such as LISTEN that must not hold or poison a pooled connection. The
// caller closes it. applicationName (optional) names it in pg_stat_activity.
func (db *DB) ConnectPgx(ctx context.Context, applicationName string) (*pgx.Conn, error) {
	if db.pgcfg == nil {
		return nil, errors.New("sqldb: ConnectPgx needs PostgreSQL")
	}
	cfg := db.pgcfg.Copy()
	if applicationName != "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return c, nil
}

// WithPgx runs fn on one dedicated native pgx connection taken from the pool
// (PostgreSQL only). The connection returns to the pool when fn returns.
func (db *DB) WithPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	if db.Dialect != Postgres {
		return errors.New("sqldb: WithPgx needs PostgreSQL")
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqldb: unexpected driver connection %T", dc)
		}
		return fn(c.Conn())
	})
}

// OpenSQLite opens (creating if needed) a SQLite database file in WAL mode. ":memory:"
// opens a private in-memory database on a single connection (tests only).
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid path %q", path)
	}
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	var dsn string
	if path == ":memory:" {
		dsn = "file::memory:?" + pragmas
	} else {
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&" + pragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1)
	} else {
		// WAL lets readers run beside the single writer; writers queue on busy_timeout.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return &DB{SQL: db, Dialect: SQLite}, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return db.SQL.Close()
}

// Rebind turns "?" placeholders into "$1", "$2", … for PostgreSQL. Question marks inside
// single-quoted literals are left alone.
func (db *DB) Rebind(q string) string {
	if db.Dialect != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Time converts a time to a query argument: NULL for the zero time, Unix microseconds for
// SQLite, a UTC time.Time for PostgreSQL (TIMESTAMPTZ keeps microseconds).
func (db *DB) Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if db.Dialect == Postgres {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UnixMicro()
}

// DayExpr returns an SQL expression that truncates the time column col to its UTC day,
// as Unix microseconds (SQLite) or a TIMESTAMPTZ (PostgreSQL); NullTime scans both.
func (db *DB) DayExpr(col string) string {
	if db.Dialect == Postgres {
		return "date_trunc('day', " + col + " AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
	}
	return "((" + col + " / 86400000000) * 86400000000)"
}

// NullTime scans a time column of either dialect; NULL leaves the zero time.
type NullTime struct{ Time time.Time }

// Scan implements sql.Scanner.
func (nt *NullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		nt.Time = time.Time{}
	case int64:
		nt.Time = time.UnixMicro(x).UTC()
	case float64:
		nt.Time = time.UnixMicro(int64(x)).UTC()
	case time.Time:
		nt.Time = x.UTC()
	default:
		return fmt.Errorf("sqldb: cannot scan %T into a time", v)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure in either dialect.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func nowMicro() int64 { return time.Now().UnixMicro() }

// Config selects the database: PostgreSQL when PostgresDSN is set, else the SQLite file
// at SQLitePath.
type Config struct {
	SQLitePath  string
	PostgresDSN string
	Postgres    PostgresOptions
}

// Open opens the database cfg selects.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.PostgresDSN != "" {
		return OpenPostgres(ctx, cfg.PostgresDSN, cfg.Postgres)
	}
	return OpenSQLite(ctx, cfg.SQLitePath)
}
