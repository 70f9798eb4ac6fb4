package gateway_test

import (
	"context"
	"encoding/hex"
	"net"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/bench"
	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/gateway"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// benchConfig is one OpenAI-compatible backend (never contacted) and one key.
func benchConfig() *configv1.Config {
	h := auth.HashSecret(key)
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "bench", Kind: "openai", BaseUrl: "http://127.0.0.1:9", ApiKey: "sk-bench"}},
		Models:    []*configv1.Model{{Name: "bench", Backends: []*configv1.Backend{{Provider: "bench", Model: "gpt-4o-mini"}}}},
		Auth:      &configv1.Auth{Keys: []*configv1.StaticKey{{Id: "bench", Sha256: hex.EncodeToString(h[:])}}},
	}
	config.ApplyDefaults(cfg)
	return cfg
}

// startComponents builds the gateway the way `serve` does.
func startComponents(b *testing.B) *gateway.Gateway {
	c, err := app.Build(benchConfig(), app.BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return c.Gateway
}

// startProcessor serves the gateway (or, with noop, the no-op floor) on loopback.
func startProcessor(b *testing.B, noop bool) extprocv3.ExternalProcessorClient {
	b.Helper()
	g := grpc.NewServer()
	if noop {
		extprocv3.RegisterExternalProcessorServer(g, bench.NoopProcessor{})
	} else {
		c, err := app.Build(benchConfig(), app.BuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		p := app.NewProcessor(c)
		g = p.GRPC
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	b.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return extprocv3.NewExternalProcessorClient(conn)
}

// BenchmarkExchange drives full ext_proc exchanges (2 KB chat request, 1 KB response;
// and a 200-chunk stream) through the real gateway and through the no-op floor.
//
// Besides wall time it reports cpu-ns/op, the process CPU time (driver, gRPC on both
// sides, processor, GC) per exchange. On a shared machine that is far steadier than
// ns/op, and the floor's cpu-ns/op over the gateway's approximates the throughput ratio
// `llm-router bench` measures when the CPU is saturated.
func BenchmarkExchange(b *testing.B) {
	for _, tc := range []struct {
		name string
		sc   bench.Scenario
	}{
		{"chat", bench.ChatScenario("bench", key)},
		{"stream200", bench.StreamScenario("bench", key, 200)},
	} {
		for _, noop := range []bool{false, true} {
			name := tc.name + "/gateway"
			if noop {
				name = tc.name + "/noop-floor"
			}
			b.Run(name, func(b *testing.B) {
				client := startProcessor(b, noop)
				b.ReportAllocs()
				n, cpu0 := 0, processCPU()
				for b.Loop() {
					if err := bench.Exchange(context.Background(), client, tc.sc); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if cpu := processCPU() - cpu0; cpu > 0 && n > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
				}
			})
		}
	}
}
