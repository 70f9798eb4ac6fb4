package sqldbtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
)

func TestHelpers(t *testing.T) {
	t.Setenv("LLM_ROUTER_TEST_POSTGRES_DSN", "")
	require.Equal(t, DefaultDSN, DSN())
	t.Setenv("LLM_ROUTER_TEST_POSTGRES_DSN", "postgres://elsewhere/x")
	require.Equal(t, "postgres://elsewhere/x", DSN())
	t.Setenv("LLM_ROUTER_TEST_POSTGRES_DSN", "")

	a, b := NewSchema(), NewSchema()
	require.NotEqual(t, a, b)
	require.Len(t, a, 14)

	var dialects []sqldb.Dialect
	Each(t, func(t *testing.T, db *sqldb.DB) {
		require.NoError(t, db.SQL.PingContext(context.Background()))
		dialects = append(dialects, db.Dialect)
	})
	require.Contains(t, dialects, sqldb.SQLite)
}

func TestUnavailableSkipsLocally(t *testing.T) {
	t.Setenv("CI", "")
	ran := false
	t.Run("skip", func(t *testing.T) {
		defer func() { ran = true }()
		Unavailable(t, "Service", context.DeadlineExceeded)
		t.Error("not reached")
	})
	require.True(t, ran)
}
