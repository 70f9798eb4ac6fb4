package ledger

import "github.com/llm-router/llm-router/pkg/keystore/sqldb"

// Component names this package's rows in schema_migrations.
const Component = "ledger"

// migrations are append-only: never edit a released version, add a new one.
var migrations = []sqldb.Migration{
	{
		Version: 1,
		Name:    "usage_records and usage_daily",
		SQLite: `
CREATE TABLE usage_records (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL DEFAULT '',
  key_id TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  backend TEXT NOT NULL DEFAULT '',
  provider TEXT NOT NULL DEFAULT '',
  endpoint TEXT NOT NULL DEFAULT '',
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens INTEGER NOT NULL DEFAULT 0,
  cost_nano_usd INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  error_type TEXT NOT NULL DEFAULT '',
  latency_us INTEGER NOT NULL DEFAULT 0,
  ts INTEGER NOT NULL,
  estimated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_records_ts ON usage_records (ts);
CREATE INDEX usage_records_key ON usage_records (key_id, ts);
CREATE INDEX usage_records_owner ON usage_records (owner) WHERE owner <> '';
CREATE TABLE usage_daily (
  day INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  model TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  estimated_requests INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens INTEGER NOT NULL DEFAULT 0,
  cost_nano_usd INTEGER NOT NULL DEFAULT 0,
  latency_us INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, owner, model)
);
CREATE INDEX usage_daily_key ON usage_daily (key_id, day);
CREATE INDEX usage_daily_owner ON usage_daily (owner, day);`,
		Postgres: `
CREATE TABLE usage_records (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL DEFAULT '',
  key_id TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  backend TEXT NOT NULL DEFAULT '',
  provider TEXT NOT NULL DEFAULT '',
  endpoint TEXT NOT NULL DEFAULT '',
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
  reasoning_tokens BIGINT NOT NULL DEFAULT 0,
  cost_nano_usd BIGINT NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  error_type TEXT NOT NULL DEFAULT '',
  latency_us BIGINT NOT NULL DEFAULT 0,
  ts TIMESTAMPTZ NOT NULL,
  estimated BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX usage_records_ts ON usage_records (ts);
CREATE INDEX usage_records_key ON usage_records (key_id, ts);
CREATE INDEX usage_records_owner ON usage_records (owner) WHERE owner <> '';
CREATE TABLE usage_daily (
  day TIMESTAMPTZ NOT NULL,
  key_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  model TEXT NOT NULL,
  requests BIGINT NOT NULL DEFAULT 0,
  errors BIGINT NOT NULL DEFAULT 0,
  estimated_requests BIGINT NOT NULL DEFAULT 0,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
  reasoning_tokens BIGINT NOT NULL DEFAULT 0,
  cost_nano_usd BIGINT NOT NULL DEFAULT 0,
  latency_us BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, owner, model)
);
CREATE INDEX usage_daily_key ON usage_daily (key_id, day);
CREATE INDEX usage_daily_owner ON usage_daily (owner, day);`,
	},
}
