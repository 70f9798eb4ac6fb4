// Command docgen generates docs/configuration.md, the configuration reference, from
// the comments of proto/llmrouter/config/v1/config.proto, so that the page cannot
// drift from the schema.
//
// The structure (fields, types, lists, maps, the secret option) comes from the
// compiled descriptor embedded in config.pb.go; the comments, which a compiled
// descriptor does not keep, come from parsing the .proto source. docgen fails when
// the two disagree (config.pb.go is stale: `make proto`) or when a field has no
// comment.
//
// Usage (from the repository root):
//
//	go run ./cmd/docgen            rewrite docs/configuration.md
//	go run ./cmd/docgen -check     exit 1 when docs/configuration.md is stale
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/llm-router/llm-router/proto/llmrouter/config/v1" // registers the schema
)

// Defaults, relative to the repository root.
const (
	defaultProto   = "proto/llmrouter/config/v1/config.proto"
	defaultOut     = "docs/configuration.md"
	defaultMessage = "llmrouter.config.v1.Config"
	// maxProtoSize bounds the .proto file read; the schema is a few kilobytes.
	maxProtoSize = 4 << 20
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("docgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	protoPath := fs.String("proto", defaultProto, "the .proto source of the config schema")
	out := fs.String("out", defaultOut, "the Markdown file to write")
	message := fs.String("message", defaultMessage, "full name of the root message")
	check := fs.Bool("check", false, "do not write; exit 1 when the output file is stale")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	page, err := generate(*protoPath, *message)
	if err != nil {
		printf(stderr, "docgen: %v\n", err)
		return 1
	}
	if *check {
		have, err := os.ReadFile(*out)
		if err != nil {
			printf(stderr, "docgen: %v\n", err)
			return 1
		}
		if !bytes.Equal(have, []byte(page)) {
			printf(stderr, "docgen: %s is stale: run `make docs` (go run ./cmd/docgen)\n", *out)
			return 1
		}
		printf(stdout, "%s is up to date\n", *out)
		return 0
	}
	if err := os.WriteFile(*out, []byte(page), 0o644); err != nil {
		printf(stderr, "docgen: %v\n", err)
		return 1
	}
	printf(stdout, "wrote %s\n", *out)
	return 0
}

// printf writes a message for the user; a failed write to stdout or stderr leaves
// nothing better to do.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// generate renders the reference page for the root message from the .proto at path.
func generate(path, message string) (string, error) {
	src, err := readLimited(path, maxProtoSize)
	if err != nil {
		return "", err
	}
	pf, err := parseProto(string(src))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	root, err := findMessage(message)
	if err != nil {
		return "", err
	}
	if pf.pkg != string(root.ParentFile().Package()) {
		return "", fmt.Errorf("%s declares package %q, but %s is in %q", path, pf.pkg, message, root.ParentFile().Package())
	}
	return render(doc{root: root, src: pf})
}

// findMessage looks a message up in the global registry (the generated code of the
// imported schema packages registers it).
func findMessage(name string) (protoreflect.MessageDescriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", name, err)
	}
	m, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", name)
	}
	return m, nil
}

// readLimited reads a file, refusing files over limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: a close error changes nothing
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, errors.New(path + ": file too large")
	}
	return data, nil
}
