package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/llm-router/llm-router/pkg/app"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("llm-router "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	cfgPath := fs.String("config", os.Getenv("LLM_ROUTER_CONFIG"), "config file (YAML); env LLM_ROUTER_CONFIG")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "llm-router serve: --config is required")
		return 2
	}
	cfg, err := app.LoadConfig(*cfgPath, true)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router serve: %v\n", err)
		return 1
	}
	log, level, err := app.NewLogger(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router serve: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	if err := app.Serve(ctx, *cfgPath, cfg, log, &level); err != nil {
		fmt.Fprintf(stderr, "llm-router serve: %v\n", err)
		return 1
	}
	return 0
}

func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck", stderr)
	addr := fs.String("addr", envOr("LLM_ROUTER_ADMIN_ADDR", "127.0.0.1:9090"), "admin server address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+"/healthz", nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "unhealthy: HTTP %d\n", resp.StatusCode)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

func cmdVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "llm-router", app.Version)
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
