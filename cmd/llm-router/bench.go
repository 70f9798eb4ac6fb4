package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/bench"
	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

const benchKey = "llmr-bench-key"

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", stderr)
	target := fs.String("target", "", "ext_proc address to drive (host:port); empty starts an in-process llm-router")
	model := fs.String("model", "bench", "model name to request")
	key := fs.String("key", benchKey, "API key to send")
	conc := fs.String("concurrency", "1,16", "comma-separated concurrency levels")
	dur := fs.Duration("duration", 5*time.Second, "duration of each run")
	chunks := fs.Int("chunks", 200, "chunks in the streamed scenario")
	floor := fs.Bool("floor", true, "also drive a no-op processor (the floor) in the same run")
	rewrite := fs.Bool("rewrite", true, "in-process target: map the public model to a different upstream name, so every request body is rewritten (false: same name, bodies pass untouched)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var levels []int
	for _, s := range splitComma(*conc) {
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n <= 0 {
			fmt.Fprintf(stderr, "llm-router bench: bad concurrency %q\n", s)
			return 2
		}
		levels = append(levels, n)
	}
	addr := *target
	if addr == "" {
		a, stop, err := startBenchProcessor(*rewrite)
		if err != nil {
			fmt.Fprintf(stderr, "llm-router bench: %v\n", err)
			return 1
		}
		defer stop()
		addr = a
	}
	conn, err := dialBench(addr)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router bench: %v\n", err)
		return 1
	}
	defer func() { _ = conn.Close() }()
	var floorConn *grpc.ClientConn
	if *floor {
		fa, stop, err := startNoop()
		if err != nil {
			fmt.Fprintf(stderr, "llm-router bench: %v\n", err)
			return 1
		}
		defer stop()
		if floorConn, err = dialBench(fa); err != nil {
			fmt.Fprintf(stderr, "llm-router bench: %v\n", err)
			return 1
		}
		defer func() { _ = floorConn.Close() }()
	}
	scenarios := []struct {
		name string
		sc   bench.Scenario
	}{
		{"chat 2KB req / 1KB resp", bench.ChatScenario(*model, *key)},
		{fmt.Sprintf("stream %d chunks", *chunks), bench.StreamScenario(*model, *key, *chunks)},
	}
	fmt.Fprintf(stdout, "llm-router bench: target %s, %s per run\n", addr, *dur)
	for _, s := range scenarios {
		for _, c := range levels {
			// Warm up connections and caches.
			bench.Run(ctx, conn, s.sc, bench.Options{Concurrency: c, Requests: 50})
			res := bench.Run(ctx, conn, s.sc, bench.Options{Concurrency: c, Duration: *dur})
			fmt.Fprintf(stdout, "%-26s c=%-3d llm-router %s\n", s.name, c, res)
			if res.FirstError != "" {
				fmt.Fprintf(stdout, "    first error: %s\n", res.FirstError)
			}
			if floorConn != nil {
				bench.Run(ctx, floorConn, s.sc, bench.Options{Concurrency: c, Requests: 50})
				fl := bench.Run(ctx, floorConn, s.sc, bench.Options{Concurrency: c, Duration: *dur})
				ratio := 0.0
				if fl.RPS() > 0 {
					ratio = res.RPS() / fl.RPS()
				}
				fmt.Fprintf(stdout, "%-26s c=%-3d no-op floor %s\n", s.name, c, fl)
				fmt.Fprintf(stdout, "%-26s c=%-3d ratio %.2f× of floor\n", s.name, c, ratio)
			}
		}
	}
	return 0
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func dialBench(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// BenchConfig is the config of the in-process processor: one OpenAI-compatible
// provider (never contacted: the driver plays the upstream) and one key.
func benchConfig(rewrite bool) *configv1.Config {
	upstream := "gpt-4o-mini"
	if !rewrite {
		upstream = "bench"
	}
	h := auth.HashSecret(benchKey)
	cfg := &configv1.Config{
		Providers: []*configv1.Provider{{Name: "bench", Kind: "openai", BaseUrl: "http://127.0.0.1:9", ApiKey: "sk-bench"}},
		Models:    []*configv1.Model{{Name: "bench", Backends: []*configv1.Backend{{Provider: "bench", Model: upstream}}}},
		Auth:      &configv1.Auth{Keys: []*configv1.StaticKey{{Id: "bench", Sha256: hex.EncodeToString(h[:])}}},
		Logging:   &configv1.Logging{Level: "error"},
	}
	config.ApplyDefaults(cfg)
	return cfg
}

func startBenchProcessor(rewrite bool) (string, func(), error) {
	c, err := app.Build(benchConfig(rewrite), app.BuildOptions{})
	if err != nil {
		return "", nil, err
	}
	p := app.NewProcessor(c)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = p.GRPC.Serve(lis) }()
	return lis.Addr().String(), p.GRPC.Stop, nil
}

func startNoop() (string, func(), error) {
	g := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(g, bench.NoopProcessor{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = g.Serve(lis) }()
	return lis.Addr().String(), g.Stop, nil
}
