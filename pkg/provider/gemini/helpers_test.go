package gemini

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
	_ provider.Backend          = (*Backend)(nil)
	_ provider.EmbeddingBackend = (*Backend)(nil)
)

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

// readInto decodes a sparse golden JSON file, rejecting unknown fields.
func readInto(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), path)
}

func testSettings(mut ...func(*provider.Settings)) provider.Settings {
	s := provider.Settings{
		Name:    "gemini",
		Kind:    KindGemini,
		APIKey:  "AIza-test",
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

func newVertexBackend(t testing.TB) *Backend {
	t.Helper()
	b, err := NewVertexBackend(testSettings(func(s *provider.Settings) {
		s.Kind = KindVertex
		s.Config.Gcp = &configv1.GCP{Project: "proj-1", Location: "europe-west4"}
	}), "")
	require.NoError(t, err)
	return b
}

func textReq(text string) *canonical.Request {
	return &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: text}}}}}
}

func decodeAll(dec provider.StreamDecoder, chunks ...[]byte) ([]canonical.StreamEvent, error) {
	var evs []canonical.StreamEvent
	for _, c := range chunks {
		var err error
		if evs, err = dec.Decode(evs, c); err != nil {
			return evs, err
		}
	}
	return dec.Finish(evs)
}
