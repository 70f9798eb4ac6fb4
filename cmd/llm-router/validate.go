package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/llm-router/llm-router/pkg/app"
	"github.com/llm-router/llm-router/pkg/envoyconfig"
)

func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	cfgPath := fs.String("config", "", "llm-router config file (YAML)")
	envoyPath := fs.String("envoy", "", "Envoy bootstrap to check against the config")
	secrets := fs.Bool("secrets", false, "also check that every secret reference resolves here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "llm-router validate: --config is required")
		return 2
	}
	cfg, err := app.LoadConfig(*cfgPath, *secrets)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *envoyPath != "" {
		data, err := os.ReadFile(*envoyPath)
		if err != nil {
			fmt.Fprintf(stderr, "llm-router validate: %v\n", err)
			return 1
		}
		problems := envoyconfig.Validate(data, cfg)
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", *envoyPath, p)
		}
		if len(problems) > 0 {
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: ok\n", *cfgPath)
	if *envoyPath != "" {
		fmt.Fprintf(stdout, "%s: ok\n", *envoyPath)
	}
	return 0
}

func cmdEnvoy(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("envoy", stderr)
	cfgPath := fs.String("config", "", "llm-router config file (YAML)")
	istio := fs.Bool("istio", false, "print an Istio EnvoyFilter instead of a bootstrap")
	listen := fs.String("listen", "", "Envoy listener address (default 0.0.0.0:8080)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "llm-router envoy: --config is required")
		return 2
	}
	cfg, err := app.LoadConfig(*cfgPath, false)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	out, err := app.EnvoyYAML(cfg, *listen, *istio)
	if err != nil {
		fmt.Fprintf(stderr, "llm-router envoy: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}
