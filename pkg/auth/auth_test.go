package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

func TestCredentialFromHeaders(t *testing.T) {
	for name, tc := range map[string]struct {
		h    map[string]string
		want string
	}{
		"bearer":        {map[string]string{"authorization": "Bearer abc "}, "abc"},
		"bearer case":   {map[string]string{"authorization": "bearer abc"}, "abc"},
		"basic ignored": {map[string]string{"authorization": "Basic abc", "x-api-key": "k"}, ""},
		"x-api-key":     {map[string]string{"x-api-key": " k "}, "k"},
		"none":          {map[string]string{}, ""},
		"short auth":    {map[string]string{"authorization": "Bearer"}, ""},
		"bearer wins":   {map[string]string{"authorization": "Bearer a", "x-api-key": "b"}, "a"},
	} {
		require.Equal(t, tc.want, CredentialFromHeaders(func(n string) string { return tc.h[n] }), name)
	}
}

func TestIdentityChecks(t *testing.T) {
	id := &Identity{Models: []string{"gpt-4o"}, Endpoints: []string{"chat"}, Scopes: []string{"x"}}
	require.NoError(t, id.Authorize("gpt-4o", "chat"))
	require.NoError(t, id.Authorize("", ""))
	err := id.Authorize("claude", "chat")
	require.ErrorIs(t, err, ErrForbidden)
	require.Contains(t, err.Error(), `"claude"`)
	err = id.Authorize("gpt-4o", "embeddings")
	require.ErrorIs(t, err, ErrForbidden)
	require.Contains(t, err.Error(), `"embeddings"`)
	require.True(t, (&Identity{}).AllowsModel("any"))
	require.True(t, (&Identity{Models: []string{"*"}}).AllowsModel("any"))
	require.True(t, (&Identity{Endpoints: []string{"*"}}).AllowsEndpoint("any"))
	require.True(t, (&Identity{}).AllowsEndpoint("any"))
	require.True(t, id.HasScope("x"))
	require.False(t, id.HasScope("y"))
}

type fixed struct {
	id  *Identity
	err error
}

func (f fixed) Authenticate(context.Context, string) (*Identity, error) { return f.id, f.err }

func TestChainAndMetered(t *testing.T) {
	ctx := context.Background()
	want := &Identity{KeyID: "s1"}
	static := NewStatic([]StaticKey{{ID: "s1", SHA256: HashSecret("static-secret")}})
	for name, tc := range map[string]struct {
		chain  Chain
		cred   string
		id     *Identity
		is     error
		reason string
	}{
		"first wins":           {Chain{static, fixed{err: errUnknownKey}}, "static-secret", want, nil, ""},
		"falls through":        {Chain{fixed{err: errMalformed}, static}, "static-secret", want, nil, ""},
		"final error stops":    {Chain{fixed{err: errKeyRevoked}, static}, "static-secret", nil, ErrRevoked, "revoked"},
		"most specific wins":   {Chain{fixed{err: errUnknownKey}, fixed{err: errJWTMalformed}, static}, "x", nil, ErrInvalid, "unknown_key"},
		"all malformed":        {Chain{fixed{err: errMalformed}, fixed{err: errJWTMalformed}}, "x", nil, ErrInvalid, "jwt_malformed"},
		"plain invalid":        {Chain{static}, "nope", nil, ErrInvalid, "invalid"},
		"missing":              {Chain{static}, "", nil, ErrMissing, "missing"},
		"empty chain":          {Chain{}, "x", nil, ErrInvalid, "invalid"},
		"unavailable is final": {Chain{fixed{err: errStore}, static}, "static-secret", nil, ErrUnavailable, "store_unavailable"},
	} {
		failures := NewFailureCounter()
		m := WithFailureCounter(tc.chain, failures)
		id, err := m.Authenticate(ctx, tc.cred)
		if tc.is == nil {
			require.NoError(t, err, name)
			require.Equal(t, tc.id.KeyID, id.KeyID, name)
			require.Equal(t, 0, collectCount(failures), name)
			continue
		}
		require.ErrorIs(t, err, tc.is, name)
		require.Equal(t, tc.reason, FailureReason(err), name)
		require.Equal(t, 1.0, counterValue(failures.WithLabelValues(tc.reason)), name)
	}
	// A nil counter counts nothing and does not panic.
	_, err := WithFailureCounter(static, nil).Authenticate(ctx, "nope")
	require.ErrorIs(t, err, ErrInvalid)
	var _ prometheus.Collector = NewFailureCounter()
}

func TestFailureReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrMissing:         "missing",
		ErrInvalid:         "invalid",
		ErrExpired:         "expired",
		ErrRevoked:         "revoked",
		ErrForbidden:       "forbidden",
		ErrUnavailable:     "unavailable",
		errors.New("boom"): "error",
		errKeyExpired:      "expired",
		errRotatedOut:      "rotated_out",
		errJWTAudience:     "jwt_audience",
	} {
		require.Equal(t, want, FailureReason(err))
	}
	require.Equal(t, "invalid API key", errUnknownKey.Error(), "failures never say more than the sentinel")
}

func TestStatic(t *testing.T) {
	h, err := ParseSHA256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	require.NoError(t, err)
	require.Equal(t, HashSecret("test"), h)
	_, err = ParseSHA256("zz")
	require.Error(t, err)
	s := NewStatic([]StaticKey{{ID: "k", SHA256: h, Models: []string{"m"}}})
	id, err := s.Authenticate(context.Background(), "test")
	require.NoError(t, err)
	require.Equal(t, &Identity{KeyID: "k", Kind: "static", Models: []string{"m"}}, id)
	_, err = s.Authenticate(context.Background(), "")
	require.ErrorIs(t, err, ErrMissing)
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func collectCount(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
