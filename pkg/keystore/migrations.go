package keystore

import "github.com/llm-router/llm-router/pkg/keystore/sqldb"

// Component names this package's rows in schema_migrations.
const Component = "keystore"

// migrations are append-only: never edit a released version, add a new one.
var migrations = []sqldb.Migration{
	{
		Version: 1,
		Name:    "api_keys",
		SQLite: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL UNIQUE,
  prev_hash BLOB,
  prev_hash_expires_at INTEGER,
  display_prefix TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '{}',
  models TEXT NOT NULL DEFAULT '[]',
  endpoints TEXT NOT NULL DEFAULT '[]',
  rpm INTEGER NOT NULL DEFAULT 0,
  tpm INTEGER NOT NULL DEFAULT 0,
  max_parallel INTEGER NOT NULL DEFAULT 0,
  budget_usd REAL NOT NULL DEFAULT 0,
  budget_period TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_keys_prev_hash ON api_keys (prev_hash) WHERE prev_hash IS NOT NULL;
CREATE INDEX api_keys_created ON api_keys (created_at, id);
CREATE INDEX api_keys_owner ON api_keys (owner, created_at);
CREATE INDEX api_keys_team ON api_keys (team, created_at);`,
		Postgres: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  secret_hash BYTEA NOT NULL UNIQUE,
  prev_hash BYTEA,
  prev_hash_expires_at TIMESTAMPTZ,
  display_prefix TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  tags JSONB NOT NULL DEFAULT '{}',
  models JSONB NOT NULL DEFAULT '[]',
  endpoints JSONB NOT NULL DEFAULT '[]',
  rpm BIGINT NOT NULL DEFAULT 0,
  tpm BIGINT NOT NULL DEFAULT 0,
  max_parallel BIGINT NOT NULL DEFAULT 0,
  budget_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
  budget_period TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ,
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_prev_hash ON api_keys (prev_hash) WHERE prev_hash IS NOT NULL;
CREATE INDEX api_keys_created ON api_keys (created_at, id);
CREATE INDEX api_keys_owner ON api_keys (owner, created_at);
CREATE INDEX api_keys_team ON api_keys (team, created_at);`,
	},
}
