package keystore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
)

// Options tune a SQL store.
type Options struct {
	// Logger receives notification-listener problems (never secrets). Default: no-op.
	Logger *zap.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel. Default "llm_router_keys",
	// suffixed with the schema when one is set so deployments sharing a database do not
	// hear each other.
	NotifyChannel string
	// ListenPing is how often an idle listener checks its connection (default 30s).
	ListenPing time.Duration
	// ListenRetry is the first delay before re-listening after a lost connection; it
	// doubles up to 10s (default 100ms).
	ListenRetry time.Duration
}

// SQLStore is the Store for SQLite and PostgreSQL.
type SQLStore struct {
	db      *sqldb.DB
	ownsDB  bool
	now     func() time.Time
	log     *zap.Logger
	channel string
	ping    time.Duration
	retry   time.Duration
	origin  string // identifies this instance in its own notifications
	hub     hub
}

var _ Store = (*SQLStore)(nil)

// NewSQL migrates db and returns a store over it. The caller keeps ownership of db (it
// may share it with the usage ledger) and closes it after the store.
func NewSQL(ctx context.Context, db *sqldb.DB, opts Options) (*SQLStore, error) {
	if err := db.Migrate(ctx, Component, migrations); err != nil {
		return nil, err
	}
	s := &SQLStore{db: db, now: opts.Now, log: opts.Logger, channel: opts.NotifyChannel, ping: opts.ListenPing, retry: opts.ListenRetry}
	if s.now == nil {
		s.now = time.Now
	}
	origin, err := NewKeyID()
	if err != nil {
		return nil, err
	}
	s.origin = origin[len(keyIDPrefix):]
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.channel == "" {
		s.channel = "llm_router_keys"
		if db.Schema != "" {
			s.channel += "_" + db.Schema
		}
	}
	if s.ping <= 0 {
		s.ping = 30 * time.Second
	}
	if s.retry <= 0 {
		s.retry = 100 * time.Millisecond
	}
	return s, nil
}

// OpenSQLite opens (creating and migrating) a SQLite key store file; Close closes it.
func OpenSQLite(ctx context.Context, path string, opts Options) (*SQLStore, error) {
	db, err := sqldb.OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := NewSQL(ctx, db, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// OpenPostgres connects to (and migrates) a PostgreSQL key store; Close closes it.
func OpenPostgres(ctx context.Context, dsn string, pg sqldb.PostgresOptions, opts Options) (*SQLStore, error) {
	db, err := sqldb.OpenPostgres(ctx, dsn, pg)
	if err != nil {
		return nil, err
	}
	s, err := NewSQL(ctx, db, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// DB returns the underlying database.
func (s *SQLStore) DB() *sqldb.DB { return s.db }

// Close closes the database if the store opened it.
func (s *SQLStore) Close() error {
	if s.ownsDB {
		return s.db.Close()
	}
	return nil
}

const keyColumns = "id, secret_hash, prev_hash, prev_hash_expires_at, display_prefix, name, owner, team, tags, models, endpoints, rpm, tpm, max_parallel, budget_usd, budget_period, priority, status, created_at, updated_at, expires_at, last_used_at, revoked_at"

type scanner interface{ Scan(dest ...any) error }

func scanKey(sc scanner) (*Key, error) {
	var (
		k                                          Key
		hash, prev                                 []byte
		tags, models, endpoints                    []byte
		status                                     string
		prevExp, created, updated, exp, used, revo sqldb.NullTime
	)
	err := sc.Scan(&k.ID, &hash, &prev, &prevExp, &k.DisplayPrefix, &k.Name, &k.Owner, &k.Team, &tags, &models, &endpoints,
		&k.Limits.RequestsPerMinute, &k.Limits.TokensPerMinute, &k.Limits.MaxParallel, &k.Budget.USD, &k.Budget.Period,
		&k.Priority, &status, &created, &updated, &exp, &used, &revo)
	if err != nil {
		return nil, err
	}
	if len(hash) != 32 || (len(prev) != 0 && len(prev) != 32) {
		return nil, fmt.Errorf("keystore: key %s has a malformed hash", k.ID)
	}
	copy(k.Hash[:], hash)
	copy(k.PrevHash[:], prev)
	k.PrevHashExpiresAt = prevExp.Time
	k.Status = Status(status)
	k.CreatedAt, k.UpdatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = created.Time, updated.Time, exp.Time, used.Time, revo.Time
	if err := json.Unmarshal(tags, &k.Tags); err != nil {
		return nil, fmt.Errorf("keystore: key %s tags: %w", k.ID, err)
	}
	if err := json.Unmarshal(models, &k.Models); err != nil {
		return nil, fmt.Errorf("keystore: key %s models: %w", k.ID, err)
	}
	if err := json.Unmarshal(endpoints, &k.Endpoints); err != nil {
		return nil, fmt.Errorf("keystore: key %s endpoints: %w", k.ID, err)
	}
	return &k, nil
}

// effective turns a stored active key past its expiry into an expired one.
func (s *SQLStore) effective(k *Key) *Key {
	k.Status = k.EffectiveStatus(s.now())
	return k
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // maps of strings and string slices always marshal
	return string(b)
}

func tagsJSON(t map[string]string) string {
	if t == nil {
		return "{}"
	}
	return jsonText(t)
}

func listJSON(l []string) string {
	if l == nil {
		return "[]"
	}
	return jsonText(l)
}

func (s *SQLStore) prevArg(k *Key) any {
	if !k.HasPrevHash() {
		return nil
	}
	return k.PrevHash[:]
}

// Create implements Store.
func (s *SQLStore) Create(ctx context.Context, k *Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = k.CreatedAt
	}
	if k.Status == "" {
		k.Status = StatusActive
	}
	if k.Status != StatusActive && k.Status != StatusRevoked {
		return fmt.Errorf("%w: status %q", ErrInvalidArgument, k.Status)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		q := "INSERT INTO api_keys (" + keyColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		_, err := tx.ExecContext(ctx, s.db.Rebind(q), k.ID, k.Hash[:], s.prevArg(k), s.db.Time(k.PrevHashExpiresAt), k.DisplayPrefix,
			k.Name, k.Owner, k.Team, tagsJSON(k.Tags), listJSON(k.Models), listJSON(k.Endpoints),
			k.Limits.RequestsPerMinute, k.Limits.TokensPerMinute, k.Limits.MaxParallel, k.Budget.USD, k.Budget.Period,
			k.Priority, string(k.Status), s.db.Time(k.CreatedAt), s.db.Time(k.UpdatedAt), s.db.Time(k.ExpiresAt),
			s.db.Time(k.LastUsedAt), s.db.Time(k.RevokedAt))
		if sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("%w: a key with this id or secret exists", ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("keystore: create: %w", err)
		}
		return s.notifyTx(ctx, tx, Change{KeyID: k.ID, Hashes: [][32]byte{k.Hash}})
	}, Change{KeyID: k.ID, Hashes: [][32]byte{k.Hash}})
}

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, id string) (*Key, error) {
	k, err := scanKey(s.db.SQL.QueryRowContext(ctx, s.db.Rebind("SELECT "+keyColumns+" FROM api_keys WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: get: %w", err)
	}
	return s.effective(k), nil
}

// GetByHash implements Store.
func (s *SQLStore) GetByHash(ctx context.Context, hash [32]byte) (*Key, error) {
	q := "SELECT " + keyColumns + " FROM api_keys WHERE secret_hash = ? OR prev_hash = ?"
	k, err := scanKey(s.db.SQL.QueryRowContext(ctx, s.db.Rebind(q), hash[:], hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: lookup: %w", err)
	}
	return s.effective(k), nil
}

// List implements Store.
func (s *SQLStore) List(ctx context.Context, opts ListOptions) (*Page, error) {
	size := opts.PageSize
	if size <= 0 {
		size = 50
	}
	if size > 1000 {
		size = 1000
	}
	var where []string
	var args []any
	if opts.Owner != "" {
		where, args = append(where, "owner = ?"), append(args, opts.Owner)
	}
	if opts.Team != "" {
		where, args = append(where, "team = ?"), append(args, opts.Team)
	}
	now := s.db.Time(s.now())
	switch opts.Status {
	case "":
	case StatusActive:
		where, args = append(where, "status = 'active' AND (expires_at IS NULL OR expires_at > ?)"), append(args, now)
	case StatusExpired:
		where, args = append(where, "status = 'active' AND expires_at <= ?"), append(args, now)
	case StatusRevoked:
		where = append(where, "status = 'revoked'")
	default:
		return nil, fmt.Errorf("%w: status %q", ErrInvalidArgument, opts.Status)
	}
	for k, v := range opts.Tags {
		if s.db.Dialect == sqldb.Postgres {
			where = append(where, "tags ->> ? = ?")
		} else {
			where = append(where, "EXISTS (SELECT 1 FROM json_each(api_keys.tags) WHERE json_each.key = ? AND json_each.value = ?)")
		}
		args = append(args, k, v)
	}
	if opts.PageToken != "" {
		created, id, err := decodePageToken(opts.PageToken)
		if err != nil {
			return nil, err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, s.db.Time(created), s.db.Time(created), id)
	}
	q := "SELECT " + keyColumns + " FROM api_keys"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + strconv.Itoa(size+1)
	rows, err := s.db.SQL.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	defer func() { _ = rows.Close() }()
	page := &Page{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("keystore: list: %w", err)
		}
		page.Keys = append(page.Keys, s.effective(k))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	if len(page.Keys) > size {
		page.Keys = page.Keys[:size]
		last := page.Keys[size-1]
		page.NextPageToken = encodePageToken(last.CreatedAt, last.ID)
	}
	return page, nil
}

func encodePageToken(created time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMicro(), 10) + "|" + id))
}

func decodePageToken(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: page token", ErrInvalidArgument)
	}
	ts, id, ok := strings.Cut(string(b), "|")
	micro, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", fmt.Errorf("%w: page token", ErrInvalidArgument)
	}
	return time.UnixMicro(micro).UTC(), id, nil
}

// Update implements Store.
func (s *SQLStore) Update(ctx context.Context, id string, u Update) (*Key, error) {
	return s.mutate(ctx, id, func(k *Key) error {
		apply(k, u)
		return validateKey(k)
	})
}

func apply(k *Key, u Update) {
	if u.Name != nil {
		k.Name = *u.Name
	}
	if u.Owner != nil {
		k.Owner = *u.Owner
	}
	if u.Team != nil {
		k.Team = *u.Team
	}
	if u.Tags != nil {
		k.Tags = *u.Tags
	}
	if u.Models != nil {
		k.Models = *u.Models
	}
	if u.Endpoints != nil {
		k.Endpoints = *u.Endpoints
	}
	if u.Limits != nil {
		k.Limits = *u.Limits
	}
	if u.Budget != nil {
		k.Budget = *u.Budget
	}
	if u.Priority != nil {
		k.Priority = *u.Priority
	}
	if u.ExpiresAt != nil {
		k.ExpiresAt = *u.ExpiresAt
	}
}

// Rotate implements Store.
func (s *SQLStore) Rotate(ctx context.Context, id string, newHash [32]byte, displayPrefix string, grace time.Duration) (*Key, error) {
	if newHash == [32]byte{} {
		return nil, fmt.Errorf("%w: hash is required", ErrInvalidArgument)
	}
	if grace < 0 {
		return nil, fmt.Errorf("%w: negative grace period", ErrInvalidArgument)
	}
	return s.mutate(ctx, id, func(k *Key) error {
		if k.Status == StatusRevoked {
			return fmt.Errorf("%w: key %s is revoked", ErrConflict, id)
		}
		if grace > 0 {
			k.PrevHash, k.PrevHashExpiresAt = k.Hash, s.now().Add(grace).UTC().Truncate(time.Microsecond)
		} else {
			k.PrevHash, k.PrevHashExpiresAt = [32]byte{}, time.Time{}
		}
		k.Hash, k.DisplayPrefix = newHash, displayPrefix
		return nil
	})
}

// Revoke implements Store.
func (s *SQLStore) Revoke(ctx context.Context, id string) (*Key, error) {
	return s.mutate(ctx, id, func(k *Key) error {
		if k.Status != StatusRevoked {
			k.Status, k.RevokedAt = StatusRevoked, s.now().UTC().Truncate(time.Microsecond)
		}
		// A revoked key has no secret that works, including one in its grace period.
		k.PrevHash, k.PrevHashExpiresAt = [32]byte{}, time.Time{}
		return nil
	})
}

// Delete implements Store.
func (s *SQLStore) Delete(ctx context.Context, id string) error {
	var change Change
	return s.inTxDeferred(ctx, func(tx *sql.Tx) error {
		k, err := s.lockKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM api_keys WHERE id = ?"), id); err != nil {
			return fmt.Errorf("keystore: delete: %w", err)
		}
		change = Change{KeyID: id, Hashes: hashesOf(k)}
		return s.notifyTx(ctx, tx, change)
	}, &change)
}

// Touch implements Store.
func (s *SQLStore) Touch(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	tx, err := s.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keystore: touch: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, s.db.Rebind("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)"))
	if err != nil {
		return fmt.Errorf("keystore: touch: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	for id, t := range used {
		ts := s.db.Time(t)
		if _, err := stmt.ExecContext(ctx, ts, id, ts); err != nil {
			return fmt.Errorf("keystore: touch: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keystore: touch: %w", err)
	}
	return nil
}

func hashesOf(k *Key) [][32]byte {
	if k.HasPrevHash() {
		return [][32]byte{k.Hash, k.PrevHash}
	}
	return [][32]byte{k.Hash}
}

func (s *SQLStore) lockKey(ctx context.Context, tx *sql.Tx, id string) (*Key, error) {
	q := "SELECT " + keyColumns + " FROM api_keys WHERE id = ?"
	if s.db.Dialect == sqldb.Postgres {
		q += " FOR UPDATE"
	}
	k, err := scanKey(tx.QueryRowContext(ctx, s.db.Rebind(q), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: read %s: %w", id, err)
	}
	return k, nil
}

// mutate reads the key under a write lock, lets fn change it, writes every mutable
// column back and announces the change with the hashes from before and after.
func (s *SQLStore) mutate(ctx context.Context, id string, fn func(*Key) error) (*Key, error) {
	var out *Key
	var change Change
	err := s.inTxDeferred(ctx, func(tx *sql.Tx) error {
		k, err := s.lockKey(ctx, tx, id)
		if err != nil {
			return err
		}
		before := hashesOf(k)
		if err := fn(k); err != nil {
			return err
		}
		k.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		q := `UPDATE api_keys SET secret_hash = ?, prev_hash = ?, prev_hash_expires_at = ?, display_prefix = ?, name = ?, owner = ?,
  team = ?, tags = ?, models = ?, endpoints = ?, rpm = ?, tpm = ?, max_parallel = ?, budget_usd = ?, budget_period = ?,
  priority = ?, status = ?, updated_at = ?, expires_at = ?, revoked_at = ? WHERE id = ?`
		_, err = tx.ExecContext(ctx, s.db.Rebind(q), k.Hash[:], s.prevArg(k), s.db.Time(k.PrevHashExpiresAt), k.DisplayPrefix,
			k.Name, k.Owner, k.Team, tagsJSON(k.Tags), listJSON(k.Models), listJSON(k.Endpoints),
			k.Limits.RequestsPerMinute, k.Limits.TokensPerMinute, k.Limits.MaxParallel, k.Budget.USD, k.Budget.Period,
			k.Priority, string(k.Status), s.db.Time(k.UpdatedAt), s.db.Time(k.ExpiresAt), s.db.Time(k.RevokedAt), id)
		if sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("%w: secret hash already in use", ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("keystore: update %s: %w", id, err)
		}
		change = Change{KeyID: id, Hashes: append(before, hashesOf(k)...)}
		out = k
		return s.notifyTx(ctx, tx, change)
	}, &change)
	if err != nil {
		return nil, err
	}
	return s.effective(out), nil
}

func (s *SQLStore) inTx(ctx context.Context, fn func(*sql.Tx) error, change Change) error {
	return s.inTxDeferred(ctx, fn, &change)
}

// inTxDeferred runs fn in a transaction and, once committed, announces *change in
// process (fn fills it in; other replicas hear it through the NOTIFY sent inside fn).
func (s *SQLStore) inTxDeferred(ctx context.Context, fn func(*sql.Tx) error, change *Change) error {
	tx, err := s.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keystore: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keystore: commit: %w", err)
	}
	s.hub.publish(*change)
	return nil
}
