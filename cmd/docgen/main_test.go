package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigurationDocIsCurrent regenerates docs/configuration.md in memory and fails
// when the checked-in page differs: the reference cannot drift from the schema.
func TestConfigurationDocIsCurrent(t *testing.T) {
	page, err := generate("../../"+defaultProto, defaultMessage)
	require.NoError(t, err)
	have, err := os.ReadFile("../../" + defaultOut)
	require.NoError(t, err)
	require.Equal(t, page, string(have), "docs/configuration.md is stale: run `make docs` (go run ./cmd/docgen)")
}

func runDocgen(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestRunWriteAndCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "configuration.md")
	proto := "-proto=../../" + defaultProto

	code, stdout, stderr := runDocgen(proto, "-out="+out, "-check")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no such file")
	require.Empty(t, stdout)

	code, stdout, stderr = runDocgen(proto, "-out="+out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "wrote "+out)
	written, err := os.ReadFile(out)
	require.NoError(t, err)
	want, err := generate("../../"+defaultProto, defaultMessage)
	require.NoError(t, err)
	require.Equal(t, want, string(written))

	code, stdout, _ = runDocgen(proto, "-out="+out, "-check")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "up to date")

	require.NoError(t, os.WriteFile(out, append(written, '\n'), 0o644))
	code, _, stderr = runDocgen(proto, "-out="+out, "-check")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "is stale")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	proto := "-proto=../../" + defaultProto
	otherPkg := filepath.Join(dir, "other.proto")
	require.NoError(t, os.WriteFile(otherPkg, []byte("package other.v1;\n"), 0o644))
	broken := filepath.Join(dir, "broken.proto")
	require.NoError(t, os.WriteFile(broken, []byte("message {"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"missing proto", []string{"-proto=" + filepath.Join(dir, "none.proto")}, 1, "no such file"},
		{"broken proto", []string{"-proto=" + broken}, 1, "broken.proto: line 1: expected a name"},
		{"unknown message", []string{proto, "-message=llmrouter.config.v1.Nope"}, 1, "message llmrouter.config.v1.Nope"},
		{"not a message", []string{proto, "-message=llmrouter.config.v1.Config.server"}, 1, "is not a message"},
		{"package mismatch", []string{"-proto=" + otherPkg}, 1, `declares package "other.v1"`},
		{"unwritable output", []string{proto, "-out=" + filepath.Join(dir, "missing", "x.md")}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocgen(tc.args...)
			require.Equal(t, tc.code, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestReadLimited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte("12345"), 0o644))
	_, err := readLimited(p, 4)
	require.ErrorContains(t, err, "file too large")
	b, err := readLimited(p, 5)
	require.NoError(t, err)
	require.Equal(t, "12345", string(b))
	_, err = readLimited(t.TempDir(), 5)
	require.Error(t, err)
}
