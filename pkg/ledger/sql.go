package ledger

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
)

// SQLStore is the Store for SQLite and PostgreSQL.
type SQLStore struct {
	db     *sqldb.DB
	ownsDB bool
}

var _ Store = (*SQLStore)(nil)

// NewSQL migrates db and returns a ledger over it. The caller keeps ownership of db (it
// may share it with the key store).
func NewSQL(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, Component, migrations); err != nil {
		return nil, err
	}
	return &SQLStore{db: db}, nil
}

// OpenSQLite opens (creating and migrating) a SQLite ledger file; Close closes it.
func OpenSQLite(ctx context.Context, path string) (*SQLStore, error) {
	db, err := sqldb.OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := NewSQL(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// OpenPostgres connects to (and migrates) a PostgreSQL ledger; Close closes it.
func OpenPostgres(ctx context.Context, dsn string, opts sqldb.PostgresOptions) (*SQLStore, error) {
	db, err := sqldb.OpenPostgres(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	s, err := NewSQL(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// Close closes the database if the store opened it.
func (s *SQLStore) Close() error {
	if s.ownsDB {
		return s.db.Close()
	}
	return nil
}

// DB returns the underlying database.
func (s *SQLStore) DB() *sqldb.DB { return s.db }

const recordColumns = "id, request_id, key_id, owner, team, model, backend, provider, endpoint, input_tokens, output_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens, cost_nano_usd, status, error_type, latency_us, ts, estimated"

var recordColumnList = strings.Split(strings.ReplaceAll(recordColumns, " ", ""), ",")

const sumColumns = "requests, errors, estimated_requests, input_tokens, output_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens, cost_nano_usd, latency_us"

// nanoUSD converts dollars to integer nano-dollars, the stored unit.
func nanoUSD(usd float64) int64 {
	if math.IsNaN(usd) || math.IsInf(usd, 0) {
		return 0
	}
	return int64(math.Round(usd * 1e9))
}

func (s *SQLStore) values(r *Record) []any {
	return []any{r.ID, r.RequestID, r.KeyID, r.Owner, r.Team, r.Model, r.Backend, r.Provider, r.Endpoint,
		r.InputTokens, r.OutputTokens, r.CachedTokens, r.CacheCreationTokens, r.ReasoningTokens, nanoUSD(r.CostUSD),
		r.Status, r.ErrorType, r.Latency.Microseconds(), s.db.Time(r.Time), r.Estimated}
}

func validate(records []Record) error {
	for i := range records {
		if records[i].ID == "" || records[i].Time.IsZero() {
			return fmt.Errorf("%w: record %d needs an id and a time (the Writer sets both)", ErrInvalidArgument, i)
		}
	}
	return nil
}

// Write implements Sink: one transaction inserts the records (skipping ids already
// stored) and adds exactly the inserted ones to the daily rollup.
func (s *SQLStore) Write(ctx context.Context, records []Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := validate(records); err != nil {
		return err
	}
	if s.db.Dialect == sqldb.Postgres {
		return s.writePostgres(ctx, records)
	}
	return s.writeSQLite(ctx, records)
}

// writePostgres COPYs the batch into a per-connection staging table, then moves it with
// INSERT … ON CONFLICT DO NOTHING and rolls up what was inserted, in one statement.
func (s *SQLStore) writePostgres(ctx context.Context, records []Record) error {
	return s.db.WithPgx(ctx, func(c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return fmt.Errorf("ledger: begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		// Versioned name: a connection that outlives a migration gets a fresh table.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS usage_staging_v1 (
  id TEXT, request_id TEXT, key_id TEXT, owner TEXT, team TEXT, model TEXT, backend TEXT, provider TEXT, endpoint TEXT,
  input_tokens BIGINT, output_tokens BIGINT, cached_tokens BIGINT, cache_creation_tokens BIGINT, reasoning_tokens BIGINT,
  cost_nano_usd BIGINT, status INTEGER, error_type TEXT, latency_us BIGINT, ts TIMESTAMPTZ, estimated BOOLEAN
) ON COMMIT DELETE ROWS`); err != nil {
			return fmt.Errorf("ledger: staging table: %w", err)
		}
		rows := make([][]any, len(records))
		for i := range records {
			rows[i] = s.values(&records[i])
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"usage_staging_v1"}, recordColumnList, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("ledger: copy: %w", err)
		}
		q := `WITH ins AS (
  INSERT INTO usage_records (` + recordColumns + `)
  SELECT ` + recordColumns + ` FROM usage_staging_v1
  ON CONFLICT (id) DO NOTHING
  RETURNING ts, key_id, owner, model, status, error_type, estimated, input_tokens, output_tokens, cached_tokens,
    cache_creation_tokens, reasoning_tokens, cost_nano_usd, latency_us
)
INSERT INTO usage_daily (day, key_id, owner, model, ` + sumColumns + `)
SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', key_id, owner, model, count(*),
  count(*) FILTER (WHERE status >= 400 OR error_type <> ''), count(*) FILTER (WHERE estimated),
  sum(input_tokens)::bigint, sum(output_tokens)::bigint, sum(cached_tokens)::bigint, sum(cache_creation_tokens)::bigint,
  sum(reasoning_tokens)::bigint, sum(cost_nano_usd)::bigint, sum(latency_us)::bigint
FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (day, key_id, owner, model) DO UPDATE SET ` + addExcluded()
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("ledger: insert: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("ledger: commit: %w", err)
		}
		return nil
	})
}

// addExcluded renders "requests = usage_daily.requests + EXCLUDED.requests, …".
func addExcluded() string {
	var parts []string
	for _, c := range strings.Split(sumColumns, ", ") {
		parts = append(parts, c+" = usage_daily."+c+" + EXCLUDED."+c)
	}
	return strings.Join(parts, ", ")
}

type dailyKey struct {
	day                 int64
	keyID, owner, model string
}

type dailySums struct {
	requests, errors, estimated, in, out, cached, cacheCreation, reasoning, cost, latency int64
}

func (d *dailySums) add(r *Record) {
	d.requests++
	if r.Failed() {
		d.errors++
	}
	if r.Estimated {
		d.estimated++
	}
	d.in += r.InputTokens
	d.out += r.OutputTokens
	d.cached += r.CachedTokens
	d.cacheCreation += r.CacheCreationTokens
	d.reasoning += r.ReasoningTokens
	d.cost += nanoUSD(r.CostUSD)
	d.latency += r.Latency.Microseconds()
}

func (s *SQLStore) writeSQLite(ctx context.Context, records []Record) error {
	tx, err := s.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO usage_records ("+recordColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("ledger: prepare: %w", err)
	}
	defer func() { _ = ins.Close() }()
	sums := map[dailyKey]*dailySums{}
	var order []dailyKey
	for i := range records {
		r := &records[i]
		res, err := ins.ExecContext(ctx, s.values(r)...)
		if err != nil {
			return fmt.Errorf("ledger: insert: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // already stored by an earlier attempt
		}
		k := dailyKey{day: r.Time.UTC().Truncate(24 * time.Hour).UnixMicro(), keyID: r.KeyID, owner: r.Owner, model: r.Model}
		d := sums[k]
		if d == nil {
			d = &dailySums{}
			sums[k] = d
			order = append(order, k)
		}
		d.add(r)
	}
	up, err := tx.PrepareContext(ctx, "INSERT INTO usage_daily (day, key_id, owner, model, "+sumColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, key_id, owner, model) DO UPDATE SET "+addExcluded())
	if err != nil {
		return fmt.Errorf("ledger: prepare: %w", err)
	}
	defer func() { _ = up.Close() }()
	for _, k := range order {
		d := sums[k]
		if _, err := up.ExecContext(ctx, k.day, k.keyID, k.owner, k.model, d.requests, d.errors, d.estimated, d.in, d.out, d.cached, d.cacheCreation, d.reasoning, d.cost, d.latency); err != nil {
			return fmt.Errorf("ledger: rollup: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

// Report implements Store.
func (s *SQLStore) Report(ctx context.Context, q ReportQuery) ([]ReportRow, error) {
	var dims []string
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		col, ok := map[string]string{GroupKey: "key_id", GroupModel: "model", GroupDay: "day", GroupOwner: "owner"}[g]
		if !ok {
			return nil, fmt.Errorf("%w: group by %q (want key, model, day or owner)", ErrInvalidArgument, g)
		}
		if !seen[col] {
			seen[col] = true
			dims = append(dims, col)
		}
	}
	var where []string
	var args []any
	if !q.From.IsZero() {
		where, args = append(where, "day >= ?"), append(args, s.db.Time(q.From.UTC().Truncate(24*time.Hour)))
	}
	if !q.To.IsZero() {
		where, args = append(where, "day < ?"), append(args, s.db.Time(q.To.UTC()))
	}
	for col, v := range map[string]string{"key_id": q.KeyID, "owner": q.Owner, "model": q.Model} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	var sums []string
	for _, c := range strings.Split(sumColumns, ", ") {
		sums = append(sums, "COALESCE(CAST(SUM("+c+") AS BIGINT), 0)")
	}
	sel := strings.Join(append(append([]string{}, dims...), sums...), ", ")
	stmt := "SELECT " + sel + " FROM usage_daily"
	if len(where) > 0 {
		stmt += " WHERE " + strings.Join(where, " AND ")
	}
	if len(dims) > 0 {
		stmt += " GROUP BY " + strings.Join(dims, ", ") + " ORDER BY " + strings.Join(dims, ", ")
	}
	rows, err := s.db.SQL.QueryContext(ctx, s.db.Rebind(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: report: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []ReportRow
	for rows.Next() {
		var r ReportRow
		var day sqldb.NullTime
		var latency int64
		dest := make([]any, 0, len(dims)+10)
		for _, d := range dims {
			switch d {
			case "key_id":
				dest = append(dest, &r.KeyID)
			case "model":
				dest = append(dest, &r.Model)
			case "owner":
				dest = append(dest, &r.Owner)
			case "day":
				dest = append(dest, &day)
			}
		}
		dest = append(dest, &r.Requests, &r.Errors, &r.EstimatedRequests, &r.InputTokens, &r.OutputTokens, &r.CachedTokens,
			&r.CacheCreationTokens, &r.ReasoningTokens, &r.CostNanoUSD, &latency)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("ledger: report: %w", err)
		}
		if len(dims) == 0 && r.Requests == 0 {
			continue // no usage at all: an empty report, not a row of zeros
		}
		r.Day = day.Time
		r.CostUSD = float64(r.CostNanoUSD) / 1e9
		if r.Requests > 0 {
			r.MeanLatency = time.Duration(latency/r.Requests) * time.Microsecond
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: report: %w", err)
	}
	return out, nil
}

// purgeChunk bounds one DELETE so retention never holds long locks (a variable so tests
// can make chunks small).
var purgeChunk = 5000

// Purge implements Store.
func (s *SQLStore) Purge(ctx context.Context, opts PurgeOptions) (int64, int64, error) {
	var records, daily int64
	if !opts.RecordsBefore.IsZero() {
		q := s.db.Rebind(fmt.Sprintf("DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE ts < ? LIMIT %d)", purgeChunk))
		n, err := s.deleteChunks(ctx, q, s.db.Time(opts.RecordsBefore))
		records = n
		if err != nil {
			return records, 0, fmt.Errorf("ledger: purge records: %w", err)
		}
	}
	if !opts.DailyBefore.IsZero() {
		res, err := s.db.SQL.ExecContext(ctx, s.db.Rebind("DELETE FROM usage_daily WHERE day < ?"), s.db.Time(opts.DailyBefore.UTC().Truncate(24*time.Hour)))
		if err != nil {
			return records, 0, fmt.Errorf("ledger: purge daily: %w", err)
		}
		daily, _ = res.RowsAffected()
	}
	return records, daily, nil
}

func (s *SQLStore) deleteChunks(ctx context.Context, q string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := s.db.SQL.ExecContext(ctx, q, args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(purgeChunk) {
			return total, nil
		}
	}
}

// Erase implements Store.
func (s *SQLStore) Erase(ctx context.Context, f EraseFilter) (int64, error) {
	col, v := "key_id", f.KeyID
	if (f.KeyID == "") == (f.Owner == "") {
		return 0, fmt.Errorf("%w: erase needs exactly one of key id and owner", ErrInvalidArgument)
	}
	if f.Owner != "" {
		col, v = "owner", f.Owner
	}
	tx, err := s.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("ledger: erase: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var total int64
	for _, table := range []string{"usage_records", "usage_daily"} {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM "+table+" WHERE "+col+" = ?"), v)
		if err != nil {
			return 0, fmt.Errorf("ledger: erase: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("ledger: erase: %w", err)
	}
	return total, nil
}
