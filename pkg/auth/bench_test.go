package auth

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb/sqldbtest"
)

func benchKey(b *testing.B) (*KeyAuthenticator, string) {
	ctx := context.Background()
	ks, err := keystore.NewSQL(ctx, sqldbtest.SQLite(b), keystore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a := NewKeyAuthenticator(ks, KeyOptions{CacheTTL: time.Hour})
	b.Cleanup(func() { _ = a.Close(ctx) })
	<-a.Ready()
	secret, _, err := keystore.Issue(ctx, ks, keystore.Key{Name: "bench", Models: []string{"gpt-4o"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	return a, secret
}

// BenchmarkKeyAuthenticateCached is the per-request cost with a cached key: the
// credential as it arrives from the header, to an Identity.
func BenchmarkKeyAuthenticateCached(b *testing.B) {
	a, secret := benchKey(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyAuthenticateCachedParallel(b *testing.B) {
	a, secret := benchKey(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHeaderToIdentity includes header extraction and a Chain with a metered
// wrapper, as the gateway runs it.
func BenchmarkHeaderToIdentity(b *testing.B) {
	a, secret := benchKey(b)
	chain := WithFailureCounter(Chain{a, NewStatic(nil)}, NewFailureCounter())
	header := "Bearer " + secret
	get := func(name string) string {
		if name == "authorization" {
			return header
		}
		return ""
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := chain.Authenticate(ctx, CredentialFromHeaders(get)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyAuthenticateUnknownCached(b *testing.B) {
	a, _ := benchKey(b)
	unknown, _ := keystore.NewSecret()
	ctx := context.Background()
	_, _ = a.Authenticate(ctx, unknown)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Authenticate(ctx, unknown); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkJWTAuthenticateCached(b *testing.B) {
	rk, _ := testRSA(b)
	srv := newJWKSServerB(b, jwksJSON(jwkOf("k", "", &rk.PublicKey)))
	a, err := NewJWTAuthenticator(context.Background(), JWTOptions{Issuer: "https://idp.example", Audiences: []string{"llm-router"}, JWKSURL: srv})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	tok := sign(b, jwt.SigningMethodRS256, rk, "k", baseClaims(time.Now()))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
