// Command llm-router is an LLM gateway that runs as an Envoy external processor.
//
// Usage:
//
//	llm-router serve    --config FILE            ext_proc gRPC server + admin HTTP server
//	llm-router run      [--config FILE]          the processor behind a built-in local data plane
//	llm-router validate --config FILE [--envoy FILE]
//	llm-router envoy    --config FILE [--istio]  print an Envoy bootstrap (or Istio EnvoyFilter)
//	llm-router keys     create|list|rotate|revoke
//	llm-router bench    ext_proc load generator
//	llm-router healthcheck                       probe the admin /healthz (for containers)
//	llm-router version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the ext_proc gRPC server and the admin server", cmdServe},
		{"run", "run the processor behind a built-in local data plane (no Envoy needed)", cmdRun},
		{"validate", "check a config file and optionally an Envoy bootstrap", cmdValidate},
		{"envoy", "print an Envoy bootstrap or Istio EnvoyFilter generated from a config", cmdEnvoy},
		{"keys", "manage virtual API keys through the admin API", cmdKeys},
		{"bench", "drive an ext_proc server as Envoy would and report latency", cmdBench},
		{"healthcheck", "probe the admin server's /healthz (container HEALTHCHECK)", cmdHealthcheck},
		{"version", "print the version", cmdVersion},
	}
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "llm-router: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "llm-router: an LLM gateway that runs as an Envoy external processor")
	fmt.Fprintln(w, "\nUsage: llm-router <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'llm-router <command> -h' for a command's flags.")
}
