package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/app"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	cfgPath := fs.String("config", os.Getenv("LLM_ROUTER_CONFIG"), "config file (YAML); empty uses the embedded default (mock provider, plus providers whose API key env vars are set)")
	listen := fs.String("listen", "", "HTTP address of the local gateway (default from config, 127.0.0.1:8080)")
	devKey := fs.String("dev-key", os.Getenv("LLM_ROUTER_DEV_KEY"), "API key to accept (env LLM_ROUTER_DEV_KEY); generated and printed when empty")
	admin := fs.String("admin", "", "admin address (default from config); '-' disables it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := app.LoadConfig(*cfgPath, true)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router run: %v\n", err)
		return 1
	}
	log, level, err := app.NewLogger(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router run: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	if err := app.Run(ctx, cfg, app.RunOptions{Listen: *listen, DevKey: *devKey, Admin: *admin, Out: stdout, Logger: log, LogLevel: &level}); err != nil {
		log.Error("run failed", zap.Error(err))
		fmt.Fprintf(stderr, "llm-router run: %v\n", err)
		return 1
	}
	return 0
}
