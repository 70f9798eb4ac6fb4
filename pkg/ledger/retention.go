package ledger

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// RetentionOptions configure RunRetention.
type RetentionOptions struct {
	// RecordsMaxAge removes raw records older than this (0 keeps them).
	RecordsMaxAge time.Duration
	// DailyMaxAge removes daily rollups older than this (0 keeps them).
	DailyMaxAge time.Duration
	// Interval between purges (default 1h). The first purge runs at once.
	Interval time.Duration
	Logger   *zap.Logger
	Now      func() time.Time
}

// RunRetention purges old usage until ctx ends. It returns at once when both ages are 0.
func RunRetention(ctx context.Context, s Store, opts RetentionOptions) {
	if opts.RecordsMaxAge <= 0 && opts.DailyMaxAge <= 0 {
		return
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for {
		now := opts.Now()
		var p PurgeOptions
		if opts.RecordsMaxAge > 0 {
			p.RecordsBefore = now.Add(-opts.RecordsMaxAge)
		}
		if opts.DailyMaxAge > 0 {
			p.DailyBefore = now.Add(-opts.DailyMaxAge)
		}
		records, daily, err := s.Purge(ctx, p)
		switch {
		case err != nil && ctx.Err() == nil:
			opts.Logger.Error("usage retention purge failed", zap.Error(err))
		case records > 0 || daily > 0:
			opts.Logger.Info("usage retention purge", zap.Int64("records", records), zap.Int64("daily_rows", daily))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(opts.Interval):
		}
	}
}

// CSVHeader is the header row WriteCSV writes.
var CSVHeader = []string{"day", "key_id", "owner", "model", "requests", "errors", "estimated_requests", "input_tokens",
	"output_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd", "mean_latency_ms"}

// WriteCSV writes report rows as CSV with a header. Costs are written exactly, from
// nano-dollars, with nine decimals.
func WriteCSV(w io.Writer, rows []ReportRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	i := strconv.FormatInt
	for _, r := range rows {
		day := ""
		if !r.Day.IsZero() {
			day = r.Day.UTC().Format(time.DateOnly)
		}
		rec := []string{day, csvSafe(r.KeyID), csvSafe(r.Owner), csvSafe(r.Model), i(r.Requests, 10), i(r.Errors, 10), i(r.EstimatedRequests, 10),
			i(r.InputTokens, 10), i(r.OutputTokens, 10), i(r.CachedTokens, 10), i(r.CacheCreationTokens, 10), i(r.ReasoningTokens, 10),
			FormatNanoUSD(r.CostNanoUSD), strconv.FormatFloat(float64(r.MeanLatency)/float64(time.Millisecond), 'f', 3, 64)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection: a cell starting with =, +, - or @ is
// prefixed with a quote, so an owner named "=HYPERLINK(…)" stays text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// FormatNanoUSD renders nano-dollars as an exact decimal dollar amount.
func FormatNanoUSD(n int64) string {
	sign := ""
	u := uint64(n)
	if n < 0 {
		sign, u = "-", uint64(-n)
	}
	frac := strconv.FormatUint(u%1e9, 10)
	for len(frac) < 9 {
		frac = "0" + frac
	}
	return sign + strconv.FormatUint(u/1e9, 10) + "." + frac
}
