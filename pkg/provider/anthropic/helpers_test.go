package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// Interface conformance.
var (
	_ provider.Backend     = (*Backend)(nil)
	_ provider.Passthrough = (*Backend)(nil)
	_ provider.Frontend    = (*Frontend)(nil)
)

// goldenJSON compares got with the JSON in path (or rewrites it with -update).
func goldenJSON(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, got, "", "  "))
		buf.WriteByte('\n')
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "golden %s", path)
}

// goldenCases returns the names of files in dir ending in suffix, without it.
func goldenCases(t *testing.T, dir, suffix string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), suffix))
	}
	return names
}

func readCanonical(t *testing.T, path string) *canonical.Request {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var req canonical.Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&req), path)
	return &req
}

func testSettings(mut ...func(*provider.Settings)) provider.Settings {
	s := provider.Settings{
		Name:    "anthropic",
		Kind:    KindAnthropic,
		APIKey:  "sk-ant-test",
		Config:  &configv1.Provider{},
		Headers: map[string]string{"x-extra": "1"},
	}
	for _, m := range mut {
		m(&s)
	}
	return s
}

func newTestBackend(t testing.TB, mut ...func(*provider.Settings)) *Backend {
	t.Helper()
	b, err := NewBackend(testSettings(mut...))
	require.NoError(t, err)
	return b
}

func textReq(text string) *canonical.Request {
	return &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: text}}}}}
}
