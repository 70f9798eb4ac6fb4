package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaKey2 *rsa.PrivateKey
)

func testRSA(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	})
	return rsaKey, rsaKey2
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf renders a public key as a JWK map.
func jwkOf(kid, alg string, pub crypto.PublicKey) map[string]any {
	m := map[string]any{"kid": kid, "use": "sig"}
	if alg != "" {
		m["alg"] = alg
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", enc(p.N.Bytes()), enc(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		// The uncompressed point 0x04 || X || Y, each coordinate as long as the field.
		b, err := p.Bytes()
		if err != nil {
			panic(err) // the tests only render keys they generated on supported curves
		}
		size := (len(b) - 1) / 2
		m["kty"], m["crv"] = "EC", p.Curve.Params().Name
		m["x"], m["y"] = enc(b[1:1+size]), enc(b[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc(p)
	}
	return m
}

func jwksJSON(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// jwksServer serves a JWKS on loopback; set replaces the document.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	doc  []byte
	code int
	hits atomic.Int64
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, code: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Equal(t, http.MethodGet, r.Method)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.code)
		_, _ = w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func newJWKSServerB(b *testing.B, doc []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	b.Cleanup(srv.Close)
	return srv.URL
}

func (s *jwksServer) set(doc []byte, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc, s.code = doc, code
}

func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func baseClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://idp.example", "aud": "llm-router", "sub": "user-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func newJWT(t *testing.T, opts JWTOptions) *JWTAuthenticator {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = "https://idp.example"
	}
	if opts.Audiences == nil {
		opts.Audiences = []string{"llm-router", "other"}
	}
	a, err := NewJWTAuthenticator(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

func TestJWTAuthenticator(t *testing.T) {
	ctx := context.Background()
	rk, rk2 := testRSA(t)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	srv := newJWKSServer(t, jwksJSON(jwkOf("r1", "RS256", &rk.PublicKey), jwkOf("e1", "", &ek.PublicKey), jwkOf("d1", "", edPub)))
	c := newTestClock()
	a := newJWT(t, JWTOptions{JWKSURL: srv.URL, Now: c.Now, MinRefreshInterval: time.Minute})
	now := c.Now()

	t.Run("claims map to identity", func(t *testing.T) {
		cl := baseClaims(now)
		cl["name"], cl["team"], cl["models"], cl["endpoints"], cl["scope"] = "Ada", "ml", []any{"gpt-4o", "claude"}, "chat embeddings", "llm-router:admin read"
		cl["rpm"], cl["tpm"], cl["max_parallel"], cl["budget_usd"], cl["budget_period"], cl["priority"] = 60, 1000, 2, 12.5, "month", 7
		cl["tags"] = map[string]any{"env": "prod", "n": 1}
		id, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "r1", cl))
		require.NoError(t, err)
		require.Equal(t, &Identity{KeyID: "jwt:user-1", Kind: "jwt", Name: "Ada", Owner: "user-1", Team: "ml", Tags: map[string]string{"env": "prod"},
			Models: []string{"gpt-4o", "claude"}, Endpoints: []string{"chat", "embeddings"}, Scopes: []string{"llm-router:admin", "read"},
			Limits: Limits{60, 1000, 2}, Budget: Budget{12.5, "month"}, Priority: 7, ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0)}, id)
		require.True(t, id.HasScope("llm-router:admin"))
	})

	t.Run("ES256 and EdDSA", func(t *testing.T) {
		_, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodES256, ek, "e1", baseClaims(now)))
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodEdDSA, edPriv, "d1", baseClaims(now)))
		require.NoError(t, err)
		// No kid: every compatible key is tried.
		_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodEdDSA, edPriv, "", baseClaims(now)))
		require.NoError(t, err)
	})

	t.Run("scp array", func(t *testing.T) {
		cl := baseClaims(now)
		cl["scp"] = []any{"a", "b"}
		cl["sub"] = "scp-user"
		id, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "r1", cl))
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, id.Scopes)
	})

	t.Run("rejections", func(t *testing.T) {
		mut := func(f func(jwt.MapClaims)) jwt.MapClaims { cl := baseClaims(now); f(cl); return cl }
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, baseClaims(now))
		hs.Header["kid"] = "r1"
		// Key confusion: an HMAC token "signed" with the RSA public key's bytes.
		confused, err := hs.SignedString([]byte(jwksJSON(jwkOf("r1", "RS256", &rk.PublicKey))))
		require.NoError(t, err)
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, baseClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		good := sign(t, jwt.SigningMethodRS256, rk, "r1", baseClaims(now))
		parts := strings.Split(good, ".")
		for name, tc := range map[string]struct {
			token  string
			is     error
			reason string
		}{
			"expired":          {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), ErrExpired, "jwt_expired"},
			"no exp":           {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { delete(c, "exp") })), ErrInvalid, "jwt_claims"},
			"not yet valid":    {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), ErrInvalid, "jwt_not_yet_valid"},
			"issued in future": {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })), ErrInvalid, "jwt_not_yet_valid"},
			"issuer":           {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { c["iss"] = "https://evil" })), ErrInvalid, "jwt_issuer"},
			"audience":         {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), ErrInvalid, "jwt_audience"},
			"no subject":       {sign(t, jwt.SigningMethodRS256, rk, "r1", mut(func(c jwt.MapClaims) { delete(c, "sub") })), ErrInvalid, "jwt_claims"},
			"wrong key":        {sign(t, jwt.SigningMethodRS256, rk2, "r1", baseClaims(now)), ErrInvalid, "jwt_signature"},
			"unknown kid":      {sign(t, jwt.SigningMethodRS256, rk2, "nope", baseClaims(now)), ErrInvalid, "jwt_unknown_kid"},
			"alg not allowed":  {sign(t, jwt.SigningMethodRS512, rk, "r1", baseClaims(now)), ErrInvalid, "jwt_algorithm"},
			"hmac confusion":   {confused, ErrInvalid, "jwt_algorithm"},
			"alg none":         {none, ErrInvalid, "jwt_algorithm"},
			"tampered":         {parts[0] + "." + enc([]byte(`{"sub":"admin","iss":"https://idp.example","aud":"llm-router"}`)) + "." + parts[2], ErrInvalid, "jwt_signature"},
			"garbage":          {"eyJhbGciOi.x.y", ErrInvalid, "jwt_malformed"},
			"not a jwt":        {"llmr-abc", ErrInvalid, "jwt_malformed"},
			"empty":            {"", ErrMissing, "missing"},
		} {
			_, err := a.Authenticate(ctx, tc.token)
			require.ErrorIs(t, err, tc.is, name)
			require.Equal(t, tc.reason, FailureReason(err), name)
		}
	})

	t.Run("skew tolerated", func(t *testing.T) {
		cl := baseClaims(now)
		cl["exp"], cl["sub"] = now.Add(-10*time.Second).Unix(), "skewed"
		_, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "r1", cl))
		require.NoError(t, err)
	})

	t.Run("verified tokens are cached until exp", func(t *testing.T) {
		cl := baseClaims(now)
		cl["exp"], cl["sub"] = now.Add(20*time.Second).Unix(), "cached"
		tok := sign(t, jwt.SigningMethodRS256, rk, "r1", cl)
		id1, err := a.Authenticate(ctx, tok)
		require.NoError(t, err)
		id2, err := a.Authenticate(ctx, tok)
		require.NoError(t, err)
		require.Same(t, id1, id2)
		c.Advance(51 * time.Second) // past exp + skew
		_, err = a.Authenticate(ctx, tok)
		require.ErrorIs(t, err, ErrExpired)
	})
}

// TestJWTKeyAlgPinning: a JWK that names its algorithm verifies that one only, even when
// the authenticator allows others for the same key type.
func TestJWTKeyAlgPinning(t *testing.T) {
	ctx := context.Background()
	rk, _ := testRSA(t)
	srv := newJWKSServer(t, jwksJSON(jwkOf("p1", "RS256", &rk.PublicKey), jwkOf("any", "", &rk.PublicKey)))
	a := newJWT(t, JWTOptions{JWKSURL: srv.URL, Algorithms: []string{"RS256", "PS256"}})
	now := time.Now()
	_, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "p1", baseClaims(now)))
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodPS256, rk, "p1", baseClaims(now)))
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, "jwt_unknown_kid", FailureReason(err))
	_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodPS256, rk, "any", baseClaims(now)))
	require.NoError(t, err)
}

func TestJWTKeyRotation(t *testing.T) {
	ctx := context.Background()
	rk, rk2 := testRSA(t)
	srv := newJWKSServer(t, jwksJSON(jwkOf("k1", "", &rk.PublicKey)))
	c := newTestClock()
	a := newJWT(t, JWTOptions{JWKSURL: srv.URL, Now: c.Now, MinRefreshInterval: 10 * time.Second, Algorithms: []string{"RS256"}})
	now := c.Now()
	_, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "k1", baseClaims(now)))
	require.NoError(t, err)

	// The provider rotates to k2; a token with the new kid reloads the set, but not more
	// often than MinRefreshInterval.
	srv.set(jwksJSON(jwkOf("k2", "", &rk2.PublicKey)), 200)
	tok2 := sign(t, jwt.SigningMethodRS256, rk2, "k2", baseClaims(now))
	_, err = a.Authenticate(ctx, tok2)
	require.ErrorIs(t, err, ErrInvalid, "reload is rate-limited")
	c.Advance(11 * time.Second)
	_, err = a.Authenticate(ctx, tok2)
	require.NoError(t, err)

	// A failing JWKS keeps the keys we have.
	srv.set([]byte("oops"), 500)
	c.Advance(11 * time.Second)
	cl := baseClaims(c.Now())
	cl["sub"] = "other"
	_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk2, "k3", cl))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk2, "k2", cl))
	require.NoError(t, err)
}

func TestJWTBackgroundRefreshAndOutage(t *testing.T) {
	ctx := context.Background()
	rk, _ := testRSA(t)
	srv := newJWKSServer(t, []byte("down"))
	srv.set([]byte("down"), 503)
	a := newJWT(t, JWTOptions{JWKSURL: srv.URL, RefreshInterval: 20 * time.Millisecond, MinRefreshInterval: 10 * time.Millisecond})
	tok := sign(t, jwt.SigningMethodRS256, rk, "k1", baseClaims(time.Now()))
	_, err := a.Authenticate(ctx, tok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, "jwks_unavailable", FailureReason(err))
	srv.set(jwksJSON(jwkOf("k1", "", &rk.PublicKey)), 200)
	require.Eventually(t, func() bool { _, err := a.Authenticate(ctx, tok); return err == nil }, 2*time.Second, 10*time.Millisecond)
	before := srv.hits.Load()
	require.Eventually(t, func() bool { return srv.hits.Load() > before+1 }, 2*time.Second, 10*time.Millisecond, "background refresh runs")
}

func TestJWTFile(t *testing.T) {
	ctx := context.Background()
	rk, _ := testRSA(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwksJSON(jwkOf("f1", "RS256", &rk.PublicKey), map[string]any{"kty": "oct", "k": "c2VjcmV0"}), 0o600))
	a := newJWT(t, JWTOptions{JWKSFile: path, KeyIDPrefix: "idp:", Claims: ClaimNames{KeyID: "client_id"}})
	cl := baseClaims(time.Now())
	cl["client_id"] = "svc-7"
	id, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, rk, "f1", cl))
	require.NoError(t, err)
	require.Equal(t, "idp:svc-7", id.KeyID)

	_, err = NewJWTAuthenticator(ctx, JWTOptions{Issuer: "i", Audiences: []string{"a"}, JWKSFile: filepath.Join(t.TempDir(), "missing")})
	require.Error(t, err)
}

func TestJWTOptionsValidation(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]JWTOptions{
		"no issuer":   {Audiences: []string{"a"}, JWKSFile: "x"},
		"no audience": {Issuer: "i", JWKSFile: "x"},
		"no source":   {Issuer: "i", Audiences: []string{"a"}},
		"two sources": {Issuer: "i", Audiences: []string{"a"}, JWKSFile: "x", JWKSURL: "https://x"},
		"bad url":     {Issuer: "i", Audiences: []string{"a"}, JWKSURL: "file:///etc/passwd"},
		"hmac":        {Issuer: "i", Audiences: []string{"a"}, JWKSURL: "https://x", Algorithms: []string{"RS256", "HS256"}},
		"none":        {Issuer: "i", Audiences: []string{"a"}, JWKSURL: "https://x", Algorithms: []string{"none"}},
	} {
		_, err := NewJWTAuthenticator(ctx, o)
		require.Error(t, err, name)
	}
}

func TestParseJWKS(t *testing.T) {
	rk, _ := testRSA(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	good := jwkOf("ok", "", &rk.PublicKey)
	offCurve := jwkOf("off", "", &ek.PublicKey)
	offCurve["y"] = offCurve["x"]
	enc1 := jwkOf("enc", "", &rk.PublicKey)
	enc1["use"] = "enc"
	for name, tc := range map[string]struct {
		doc     []byte
		keys    int
		skipped int
		err     bool
	}{
		"good":       {jwksJSON(good), 1, 0, false},
		"short rsa":  {jwksJSON(good, jwkOf("small", "", &small.PublicKey)), 1, 1, false},
		"off curve":  {jwksJSON(good, offCurve), 1, 1, false},
		"encryption": {jwksJSON(good, enc1), 1, 1, false},
		"odd types": {jwksJSON(good, map[string]any{"kty": "oct"}, map[string]any{"kty": "EC", "crv": "P-192"}, map[string]any{"kty": "OKP", "crv": "X25519"},
			map[string]any{"kty": "RSA", "n": "!!", "e": "AQAB"}, map[string]any{"kty": "RSA", "n": good["n"], "e": "AAAAAAAA"},
			map[string]any{"kty": "RSA", "n": good["n"], "e": "Ag"}, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AA"},
			map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), 1, 8, false},
		"not json":  {[]byte("{"), 0, 0, true},
		"no keys":   {[]byte(`{"keys":[]}`), 0, 0, true},
		"bad entry": {[]byte(`{"keys":[1]}`), 0, 1, true},
	} {
		ks, skipped, err := parseJWKS(tc.doc)
		if tc.err {
			require.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)
		require.Len(t, ks.keys, tc.keys, name)
		require.Equal(t, tc.skipped, skipped, name)
	}
	// ES384 and ES512 match their curves only.
	k384 := verifyKey{key: &ek.PublicKey}
	require.True(t, k384.compatible("ES384"))
	require.False(t, k384.compatible("ES256"))
	require.False(t, k384.compatible("ES512"))
	require.False(t, k384.compatible("RS256"))
	require.False(t, (&verifyKey{key: "not a key"}).compatible("RS256"))
}

func FuzzParseJWKS(f *testing.F) {
	rk, _ := testRSA(f)
	f.Add(jwksJSON(jwkOf("ok", "", &rk.PublicKey)))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, _, err := parseJWKS(data)
		if err == nil {
			require.NotEmpty(t, ks.keys)
		}
	})
}

// FuzzJWTAuthenticate feeds arbitrary credentials to a JWT authenticator whose key set
// comes from testdata: nothing may panic, and nothing unsigned is ever accepted.
func FuzzJWTAuthenticate(f *testing.F) {
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ1enoifQ.eyJzdWIiOiJ4IiwiaXNzIjoiaHR0cHM6Ly9pZHAuZXhhbXBsZSIsImF1ZCI6ImxsbS1yb3V0ZXIifQ.c2ln")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
	a, err := NewJWTAuthenticator(context.Background(), JWTOptions{Issuer: "https://idp.example", Audiences: []string{"llm-router"}, JWKSFile: "testdata/jwks.json"})
	require.NoError(f, err)
	f.Cleanup(a.Close)
	f.Fuzz(func(t *testing.T, cred string) {
		id, err := a.Authenticate(context.Background(), cred)
		require.Error(t, err, "no private key exists for testdata/jwks.json, so nothing can verify")
		require.Nil(t, id)
		require.NotEqual(t, "error", FailureReason(err))
	})
}
