// Package ledger records what every request used: one Record per request (key, model,
// backend, tokens by kind, cost, status, latency), written asynchronously in batches so
// the request path never waits on a database, and never lost silently — a record that
// cannot be queued or written is retried, counted in a metric, logged at error level and,
// when configured, appended to a dead-letter file that Replay can load later.
//
// Records are stored raw (usage_records, purged after a retention period) and rolled up
// per day, key, owner and model (usage_daily, kept for reports) in the same transaction.
// SQLite and PostgreSQL share one implementation (NewSQL).
package ledger

import (
	"context"
	"errors"
	"time"
)

// Record is the usage of one request.
type Record struct {
	// ID makes writes idempotent: a batch retried after an ambiguous failure is not
	// counted twice. The Writer fills it; callers leave it empty.
	ID string `json:"id"`
	// RequestID correlates with logs (x-request-id); it is not trusted for uniqueness.
	RequestID string `json:"request_id,omitempty"`
	KeyID     string `json:"key_id"`
	Owner     string `json:"owner,omitempty"`
	Team      string `json:"team,omitempty"`
	// Model is the public model name the caller asked for; Backend and Provider are
	// where it was served.
	Model    string `json:"model"`
	Backend  string `json:"backend,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Endpoint is the API called ("chat", "embeddings", "messages", …).
	Endpoint            string `json:"endpoint,omitempty"`
	InputTokens         int64  `json:"input_tokens"`
	OutputTokens        int64  `json:"output_tokens"`
	CachedTokens        int64  `json:"cached_tokens,omitempty"`
	CacheCreationTokens int64  `json:"cache_creation_tokens,omitempty"`
	ReasoningTokens     int64  `json:"reasoning_tokens,omitempty"`
	// CostUSD is stored as integer nano-dollars, so sums are exact.
	CostUSD float64 `json:"cost_usd"`
	// Status is the HTTP status returned to the caller; ErrorType the error class
	// ("rate_limit", "upstream_timeout", …) when it failed.
	Status    int           `json:"status"`
	ErrorType string        `json:"error_type,omitempty"`
	Latency   time.Duration `json:"latency"`
	// Time is when the request started; the zero time means "now" to the Writer.
	Time time.Time `json:"time"`
	// Estimated marks token counts the gateway estimated because the provider reported
	// none.
	Estimated bool `json:"estimated,omitempty"`
}

// Failed reports whether the request failed.
func (r *Record) Failed() bool { return r.Status >= 400 || r.ErrorType != "" }

// Sink persists batches of records. Write must be all-or-nothing and idempotent by
// Record.ID, so the Writer can retry a batch safely.
type Sink interface {
	Write(ctx context.Context, records []Record) error
}

// Grouping dimensions of a report.
const (
	GroupKey   = "key"
	GroupModel = "model"
	GroupDay   = "day"
	GroupOwner = "owner"
)

// ReportQuery selects and groups daily usage. Days are UTC.
type ReportQuery struct {
	// From and To bound the days, [From, To); zero means unbounded.
	From, To time.Time
	// GroupBy lists dimensions (GroupKey, GroupModel, GroupDay, GroupOwner); empty sums
	// everything into one row.
	GroupBy []string
	// Filters; empty means all.
	KeyID, Owner, Model string
}

// ReportRow is one group of a report. Fields of dimensions not grouped by are empty.
type ReportRow struct {
	Day                 time.Time `json:"day,omitzero"`
	KeyID               string    `json:"key_id,omitempty"`
	Owner               string    `json:"owner,omitempty"`
	Model               string    `json:"model,omitempty"`
	Requests            int64     `json:"requests"`
	Errors              int64     `json:"errors"`
	EstimatedRequests   int64     `json:"estimated_requests"`
	InputTokens         int64     `json:"input_tokens"`
	OutputTokens        int64     `json:"output_tokens"`
	CachedTokens        int64     `json:"cached_tokens"`
	CacheCreationTokens int64     `json:"cache_creation_tokens"`
	ReasoningTokens     int64     `json:"reasoning_tokens"`
	CostNanoUSD         int64     `json:"cost_nano_usd"`
	CostUSD             float64   `json:"cost_usd"`
	// MeanLatency is the average request latency of the group.
	MeanLatency time.Duration `json:"mean_latency"`
}

// PurgeOptions say what retention removes. Zero times keep everything of that kind.
type PurgeOptions struct {
	// RecordsBefore removes raw records older than this.
	RecordsBefore time.Time
	// DailyBefore removes daily rollups of days before this.
	DailyBefore time.Time
}

// EraseFilter selects the records to erase (GDPR); exactly one field must be set.
type EraseFilter struct {
	KeyID string
	Owner string
}

// ErrInvalidArgument reports a malformed query or filter.
var ErrInvalidArgument = errors.New("ledger: invalid argument")

// Store is a Sink that can also report, purge and erase.
type Store interface {
	Sink
	Report(ctx context.Context, q ReportQuery) ([]ReportRow, error)
	// Purge applies retention and returns how many raw records and daily rows it removed.
	Purge(ctx context.Context, opts PurgeOptions) (records, daily int64, err error)
	// Erase removes every raw record and daily row of a key or an owner and returns how
	// many rows it removed.
	Erase(ctx context.Context, f EraseFilter) (int64, error)
}
