package ledger

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

var day0 = time.Date(2025, 4, 10, 0, 0, 0, 0, time.UTC)

func rec(id, key, owner, model string, at time.Time, in, out int64, cost float64) Record {
	return Record{ID: id, RequestID: "req-" + id, KeyID: key, Owner: owner, Team: "t", Model: model, Backend: "openai." + model,
		Provider: "openai", Endpoint: "chat", InputTokens: in, OutputTokens: out, CostUSD: cost, Status: 200, Latency: 100 * time.Millisecond, Time: at}
}

func newLedger(t *testing.T, db *sqldb.DB) *SQLStore {
	t.Helper()
	s, err := NewSQL(context.Background(), db)
	require.NoError(t, err)
	return s
}

func TestStoreSuite(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newLedger(t, db)
		failed := rec("5", "k1", "alice", "gpt", day0.Add(3*time.Hour), 10, 0, 0)
		failed.Status, failed.ErrorType, failed.Latency = 429, "rate_limit", 300*time.Millisecond
		est := rec("6", "k2", "bob", "claude", day0.Add(25*time.Hour), 7, 3, 0.3)
		est.Estimated, est.CachedTokens, est.CacheCreationTokens, est.ReasoningTokens = true, 4, 2, 1
		batch := []Record{
			rec("1", "k1", "alice", "gpt", day0.Add(time.Hour), 100, 50, 0.1),
			rec("2", "k1", "alice", "gpt", day0.Add(2*time.Hour), 200, 20, 0.2),
			rec("3", "k1", "alice", "claude", day0.Add(23*time.Hour+59*time.Minute), 1, 1, 0.000000001),
			rec("4", "k2", "bob", "gpt", day0.Add(24*time.Hour), 5, 5, 1.5),
			failed, est,
		}
		require.NoError(t, s.Write(ctx, batch))
		// Retrying the same batch (an ambiguous failure) does not count twice.
		require.NoError(t, s.Write(ctx, batch[:3]))
		require.NoError(t, s.Write(ctx, nil))

		t.Run("totals are exact", func(t *testing.T) {
			rows, err := s.Report(ctx, ReportQuery{})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			r := rows[0]
			require.Equal(t, int64(6), r.Requests)
			require.Equal(t, int64(1), r.Errors)
			require.Equal(t, int64(1), r.EstimatedRequests)
			require.Equal(t, int64(323), r.InputTokens)
			require.Equal(t, int64(79), r.OutputTokens)
			require.Equal(t, int64(4), r.CachedTokens)
			require.Equal(t, int64(2), r.CacheCreationTokens)
			require.Equal(t, int64(1), r.ReasoningTokens)
			require.Equal(t, int64(2_100_000_001), r.CostNanoUSD, "0.1+0.2+1e-9+1.5+0.3 exactly")
			require.InDelta(t, 2.100000001, r.CostUSD, 1e-12)
			require.InDelta(t, float64(133333*time.Microsecond), float64(r.MeanLatency), float64(time.Millisecond))
		})

		t.Run("group by key model day", func(t *testing.T) {
			rows, err := s.Report(ctx, ReportQuery{GroupBy: []string{GroupDay, GroupKey, GroupModel}})
			require.NoError(t, err)
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%s %s %s %d %d %s", r.Day.Format(time.DateOnly), r.KeyID, r.Model, r.Requests, r.InputTokens, FormatNanoUSD(r.CostNanoUSD)))
			}
			require.Equal(t, []string{
				"2025-04-10 k1 claude 1 1 0.000000001",
				"2025-04-10 k1 gpt 3 310 0.300000000",
				"2025-04-11 k2 claude 1 7 0.300000000",
				"2025-04-11 k2 gpt 1 5 1.500000000",
			}, got)
		})

		t.Run("filters and ranges", func(t *testing.T) {
			rows, err := s.Report(ctx, ReportQuery{GroupBy: []string{GroupOwner, GroupOwner}, Model: "gpt"})
			require.NoError(t, err)
			require.Len(t, rows, 2)
			require.Equal(t, "alice", rows[0].Owner)
			require.Equal(t, int64(3), rows[0].Requests)
			require.Equal(t, "bob", rows[1].Owner)

			rows, err = s.Report(ctx, ReportQuery{From: day0.Add(24 * time.Hour), GroupBy: []string{GroupKey}})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			require.Equal(t, "k2", rows[0].KeyID)

			rows, err = s.Report(ctx, ReportQuery{To: day0.Add(24 * time.Hour), KeyID: "k1", Owner: "alice", GroupBy: []string{GroupModel}})
			require.NoError(t, err)
			require.Len(t, rows, 2)

			rows, err = s.Report(ctx, ReportQuery{KeyID: "nobody"})
			require.NoError(t, err)
			require.Empty(t, rows)

			_, err = s.Report(ctx, ReportQuery{GroupBy: []string{"planet"}})
			require.ErrorIs(t, err, ErrInvalidArgument)
		})

		t.Run("validation", func(t *testing.T) {
			require.ErrorIs(t, s.Write(ctx, []Record{{KeyID: "x"}}), ErrInvalidArgument)
			require.ErrorIs(t, s.Write(ctx, []Record{{ID: "x"}}), ErrInvalidArgument)
			_, err := s.Erase(ctx, EraseFilter{})
			require.ErrorIs(t, err, ErrInvalidArgument)
			_, err = s.Erase(ctx, EraseFilter{KeyID: "a", Owner: "b"})
			require.ErrorIs(t, err, ErrInvalidArgument)
		})

		t.Run("erase by key and owner", func(t *testing.T) {
			n, err := s.Erase(ctx, EraseFilter{KeyID: "k2"})
			require.NoError(t, err)
			require.Equal(t, int64(4), n, "2 records + 2 daily rows")
			n, err = s.Erase(ctx, EraseFilter{Owner: "alice"})
			require.NoError(t, err)
			require.Equal(t, int64(4+2), n)
			rows, err := s.Report(ctx, ReportQuery{})
			require.NoError(t, err)
			require.Empty(t, rows)
			var left int
			require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM usage_records").Scan(&left))
			require.Zero(t, left)
		})
	})
}

func TestPurge(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newLedger(t, db)
		var batch []Record
		for i := 0; i < 12; i++ {
			batch = append(batch, rec(fmt.Sprint(i), "k", "o", "m", day0.Add(time.Duration(i)*12*time.Hour), 1, 1, 0.01))
		}
		require.NoError(t, s.Write(ctx, batch))
		records, daily, err := s.Purge(ctx, PurgeOptions{RecordsBefore: day0.Add(48 * time.Hour)})
		require.NoError(t, err)
		require.Equal(t, int64(4), records)
		require.Zero(t, daily)
		rows, err := s.Report(ctx, ReportQuery{})
		require.NoError(t, err)
		require.Equal(t, int64(12), rows[0].Requests, "rollups outlive raw records")

		records, daily, err = s.Purge(ctx, PurgeOptions{DailyBefore: day0.Add(50 * time.Hour)})
		require.NoError(t, err)
		require.Zero(t, records)
		require.Equal(t, int64(2), daily)
		rows, err = s.Report(ctx, ReportQuery{})
		require.NoError(t, err)
		require.Equal(t, int64(8), rows[0].Requests)

		records, daily, err = s.Purge(ctx, PurgeOptions{})
		require.NoError(t, err)
		require.Zero(t, records+daily)
	})
}

func TestPurgeChunks(t *testing.T) {
	ctx := context.Background()
	s := newLedger(t, sqldbtest.SQLite(t))
	defer func(n int) { purgeChunk = n }(purgeChunk)
	purgeChunk = 7
	batch := make([]Record, 3*purgeChunk+2)
	for i := range batch {
		batch[i] = rec(fmt.Sprint(i), "k", "o", "m", day0, 1, 1, 0)
	}
	require.NoError(t, s.Write(ctx, batch))
	records, _, err := s.Purge(ctx, PurgeOptions{RecordsBefore: day0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, int64(len(batch)), records)
}

func TestRetention(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := newLedger(t, sqldbtest.SQLite(t))
	now := day0.Add(100 * 24 * time.Hour)
	require.NoError(t, s.Write(ctx, []Record{rec("old", "k", "o", "m", day0, 1, 1, 0), rec("new", "k", "o", "m", now, 1, 1, 0)}))
	done := make(chan struct{})
	go func() {
		RunRetention(ctx, s, RetentionOptions{RecordsMaxAge: 30 * 24 * time.Hour, DailyMaxAge: 90 * 24 * time.Hour, Interval: 10 * time.Millisecond, Now: func() time.Time { return now }})
		close(done)
	}()
	// One purge pass deletes old records, then old daily totals: wait for both (a
	// report read between the two statements still counts the old day).
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, s.DB().SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM usage_records").Scan(&n))
		rows, err := s.Report(ctx, ReportQuery{})
		require.NoError(t, err)
		return n == 1 && len(rows) == 1 && rows[0].Requests == 1
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	RunRetention(context.Background(), s, RetentionOptions{}) // nothing to do: returns at once
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, []ReportRow{
		{Day: day0, KeyID: "k1", Owner: "=HYPERLINK(\"x\")", Model: "gpt", Requests: 2, Errors: 1, InputTokens: 3, CostNanoUSD: 1_500_000_001, MeanLatency: 1500 * time.Microsecond},
		{KeyID: "k2", Owner: "-1", CostNanoUSD: -5},
	}))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Equal(t, strings.Join(CSVHeader, ","), lines[0])
	require.Equal(t, `2025-04-10,k1,"'=HYPERLINK(""x"")",gpt,2,1,0,3,0,0,0,0,1.500000001,1.500`, lines[1])
	require.Equal(t, `,k2,'-1,,0,0,0,0,0,0,0,0,-0.000000005,0.000`, lines[2])
	require.Equal(t, "0.000000000", FormatNanoUSD(0))
	require.Equal(t, int64(0), nanoUSD(nanFloat()))
}

func nanFloat() float64 {
	zero := 0.0
	return zero / zero
}

func TestOpenHelpers(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, t.TempDir()+"/usage.db")
	require.NoError(t, err)
	require.NoError(t, s.Write(ctx, []Record{rec("1", "k", "o", "m", day0, 1, 1, 0)}))
	require.NoError(t, s.Close())
	_, err = OpenSQLite(ctx, "")
	require.Error(t, err)

	schema := sqldbtest.NewSchema()
	_ = sqldbtest.PostgresSchema(t, schema)
	p, err := OpenPostgres(ctx, sqldbtest.DSN(), sqldb.PostgresOptions{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	_, err = OpenPostgres(ctx, "postgres://127.0.0.1:1/x?connect_timeout=1", sqldb.PostgresOptions{})
	require.Error(t, err)
}
