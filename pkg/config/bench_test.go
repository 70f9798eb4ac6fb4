package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Config loading is not a hot path, but reload and `validate` run it, and the
// walk should stay cheap next to protojson itself.
func BenchmarkParseProduction(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "production.yaml"))
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, Options{Kinds: testKinds}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "production.yaml"), Options{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_ = Hash(cfg)
	}
}

func BenchmarkRedact(b *testing.B) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "production.yaml"), Options{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_ = Redact(cfg)
	}
}
