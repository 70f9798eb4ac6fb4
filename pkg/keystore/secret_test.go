package keystore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		s, err := NewSecret()
		require.NoError(t, err)
		require.Len(t, s, SecretLen)
		require.True(t, strings.HasPrefix(s, SecretPrefix))
		require.True(t, LooksLikeSecret(s), s)
		require.False(t, seen[s])
		seen[s] = true
	}
}

func TestLooksLikeSecret(t *testing.T) {
	good, err := NewSecret()
	require.NoError(t, err)
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, tc := range map[string]struct {
		in   string
		want bool
	}{
		"good":            {good, true},
		"empty":           {"", false},
		"short":           {good[:SecretLen-1], false},
		"long":            {good + "a", false},
		"wrong prefix":    {"sk-xx" + good[5:], false},
		"bad alphabet":    {good[:10] + "-" + good[11:], false},
		"random changed":  {flip(12), false},
		"checksum change": {flip(SecretLen - 1), false},
		"jwt":             {"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false},
	} {
		require.Equal(t, tc.want, LooksLikeSecret(tc.in), name)
	}
	require.Equal(t, "", DisplayPrefix("short"))
}

func FuzzLooksLikeSecret(f *testing.F) {
	good, err := NewSecret()
	require.NoError(f, err)
	f.Add(good)
	f.Add("llmr-")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if LooksLikeSecret(s) {
			// Anything accepted has the exact shape: prefix, length, alphabet.
			require.Len(t, s, SecretLen)
			require.True(t, strings.HasPrefix(s, SecretPrefix))
		}
	})
}

func TestNewKeyID(t *testing.T) {
	id, err := NewKeyID()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "key_"))
	require.Len(t, id, 24)
	require.Equal(t, strings.ToLower(id), id)
}

func TestEffectiveStatus(t *testing.T) {
	now := time.Now()
	k := &Key{Status: StatusActive}
	require.Equal(t, StatusActive, k.EffectiveStatus(now))
	k.ExpiresAt = now
	require.Equal(t, StatusExpired, k.EffectiveStatus(now))
	k.Status = StatusRevoked
	require.Equal(t, StatusRevoked, k.EffectiveStatus(now), "revoked wins over expired")
}

func TestChangeCodec(t *testing.T) {
	c := Change{KeyID: "key_a", Hashes: [][32]byte{{1}, {2}}}
	got, origin, err := decodeChange(encodeChange(c, "me"))
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.Equal(t, "me", origin)
	_, _, err = decodeChange("{")
	require.Error(t, err)
	_, _, err = decodeChange(`{"id":"x","h":["zz"]}`)
	require.Error(t, err)
}

// TestListenerReconnects kills the listener's server connection and checks that the
// store re-listens, reports All (changes may have been missed) and logs a warning.
func TestListenerReconnects(t *testing.T) {
	db := sqldbtest.Postgres(t)
	core, logs := observer.New(zap.WarnLevel)
	s, err := NewSQL(context.Background(), db, Options{Logger: zap.New(core), ListenRetry: 10 * time.Millisecond, ListenPing: 50 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan Change, 16)
	go func() { _ = s.Watch(ctx, func(c Change) { changes <- c }) }()
	require.True(t, (<-changes).All)
	time.Sleep(120 * time.Millisecond) // at least one idle ping

	_, err = db.SQL.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", s.listenerName())
	require.NoError(t, err)
	select {
	case c := <-changes:
		require.True(t, c.All)
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not come back")
	}
	require.NotZero(t, logs.FilterMessageSnippet("listener lost").Len())

	// A malformed payload is treated as "drop everything".
	_, err = db.SQL.ExecContext(ctx, "SELECT pg_notify($1, 'garbage')", s.channel)
	require.NoError(t, err)
	select {
	case c := <-changes:
		require.True(t, c.All)
	case <-time.After(2 * time.Second):
		t.Fatal("no change for a malformed payload")
	}
}

func FuzzDecodeChange(f *testing.F) {
	f.Add(encodeChange(Change{KeyID: "key_a", Hashes: [][32]byte{{1}}}, "o"))
	f.Add(`{"id":"x","h":[]}`)
	f.Add(`{"id":"x","h":["00"]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		c, origin, err := decodeChange(payload)
		if err != nil {
			return
		}
		// What decodes re-encodes to an equivalent change.
		again, origin2, err := decodeChange(encodeChange(c, origin))
		require.NoError(t, err)
		require.Equal(t, c.KeyID, again.KeyID)
		require.Equal(t, len(c.Hashes), len(again.Hashes))
		require.Equal(t, origin, origin2)
	})
}

func FuzzDecodePageToken(f *testing.F) {
	f.Add(encodePageToken(time.Unix(1700000000, 123000), "key_abc"))
	f.Add("")
	f.Add("MTIzfA")
	f.Fuzz(func(t *testing.T, tok string) {
		created, id, err := decodePageToken(tok)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidArgument)
			return
		}
		require.NotEmpty(t, id)
		c2, id2, err := decodePageToken(encodePageToken(created, id))
		require.NoError(t, err)
		require.Equal(t, id, id2)
		require.True(t, created.Equal(c2))
	})
}
