package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// want is one expected problem: the exact path, a fragment of the message and,
// when non-zero, the line.
type want struct {
	path     string
	contains string
	line     int
}

// requireProblems checks that err is a *ValidationError holding exactly the
// wanted problems, in order.
func requireProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	require.Error(t, err)
	verr, ok := errors.AsType[*ValidationError](err)
	require.True(t, ok, "error %T is not a *ValidationError: %v", err, err)
	got := make([]string, len(verr.Problems))
	for i, p := range verr.Problems {
		got[i] = p.Path
	}
	exp := make([]string, len(wants))
	for i, w := range wants {
		exp[i] = w.path
	}
	require.Equal(t, exp, got, "paths; full error:\n%v", err)
	for i, w := range wants {
		p := verr.Problems[i]
		require.Contains(t, p.Message, w.contains, "problem %d (%s)", i, p.Path)
		if w.line != 0 {
			require.Equal(t, w.line, p.Line, "line of problem %d (%s)", i, p.Path)
		}
	}
	require.Len(t, strings.Split(err.Error(), "\n"), len(wants), "one line per problem")
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func TestParseSchemaProblems(t *testing.T) {
	tests := []struct {
		fixture string
		want    []want
	}{
		{"schema/unknown_fields.yaml", []want{
			{"servr", `unknown field (did you mean "server"?)`, 1},
			{"server.admin_adress", `did you mean "admin_address"?`, 4},
			{"providers[2].base_ur", `did you mean "base_url"?`, 12},
			{"models[0].backends[0].wieght", `did you mean "weight"?`, 17},
			{"models[0].backends[0].colour", "unknown field (known fields: model, name, priority, provider, weight)", 18},
		}},
		{"schema/wrong_types.yaml", []want{
			{"server.extproc_address", "expected a string, got a list", 2},
			{"server.max_request_body_bytes", "must not be negative", 3},
			{"server.upstream_filter", "expected true or false, got a string", 4},
			{"server.drain_timeout", `duration 30 needs a unit, e.g. "30s"`, 5},
			{"providers[0].kind", "expected a string, got a boolean", 8},
			{`providers[0].headers["X-One"]`, "expected a string, got a list", 10},
			{`providers[0].headers["X-Two"]`, "value is missing", 11},
			{"providers[0].timeouts.connect", `invalid duration "soon"`, 13},
			{"providers[0].timeouts.total", "expected a duration", 14},
			{"providers[1]", "expected a mapping, got a string", 15},
			{"models", "expected a list, got a mapping", 17},
			{"auth.keys[0].models", "expected a list, got a string", 21},
			{"logging.level", "expected a string, got a mapping", 23},
			{"translation.default_max_tokens", "99999999999 is too large (maximum 4294967295)", 25},
		}},
		{"schema/duplicates.yaml", []want{
			{"providers[0].base_url", "duplicate field (first set on line 4)", 5},
			{`providers[0].headers["X-A"]`, "duplicate key (first set on line 7)", 8},
			{"providers[0].name", "duplicate field (first set on line 2)", 9},
		}},
		{"schema/syntax.yaml", []want{{"", "invalid YAML", 4}}},
		{"schema/multidoc.yaml", []want{{"", "more than one YAML document", 2}}},
		{"schema/not_mapping.yaml", []want{{"", "expected a mapping, got a list", 1}}},
		{"schema/merge_bad.yaml", []want{
			{"base", "unknown field", 1},
			{"providers[0]", `merge key "<<" needs a mapping or a list of mappings, got an integer`, 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			cfg, err := Parse(readFixture(t, tt.fixture), Options{})
			require.Nil(t, cfg)
			requireProblems(t, err, tt.want)
		})
	}
}

func TestParseValidFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		check   func(t *testing.T, cfg *configv1.Config)
	}{
		{"valid/anchors.yaml", func(t *testing.T, cfg *configv1.Config) {
			require.Len(t, cfg.Providers, 2)
			backup := cfg.Providers[1]
			require.Equal(t, "openai-backup", backup.Name)
			require.Equal(t, "openai", backup.Kind, "merged from the anchor")
			require.Equal(t, "https://api.openai.com", backup.BaseUrl)
			require.Equal(t, "${OPENAI_BACKUP_KEY}", backup.ApiKey, "explicit key wins over merged")
			require.Equal(t, 2*time.Second, backup.Timeouts.Connect.AsDuration())
			require.Equal(t, time.Minute, cfg.Providers[0].Timeouts.Total.AsDuration())
			require.Equal(t, "openai-backup.gpt-4o", cfg.Models[0].Backends[1].Name)
		}},
		{"valid/camel_case.yaml", func(t *testing.T, cfg *configv1.Config) {
			s := cfg.Server
			require.Equal(t, "127.0.0.1:6000", s.ExtprocAddress)
			require.EqualValues(t, 1<<20, s.MaxRequestBodyBytes)
			require.Equal(t, 90*time.Second, s.DrainTimeout.AsDuration())
			require.True(t, s.UpstreamFilter)
			require.Equal(t, "file:/run/secrets/anthropic", cfg.Providers[0].ApiKey)
			require.EqualValues(t, 1000, cfg.Providers[0].Anthropic.DefaultMaxTokens)
			require.Equal(t, DefaultAnthropicVersion, cfg.Providers[0].Anthropic.Version)
			require.EqualValues(t, 200000, cfg.Models[0].ContextWindow)
			require.True(t, cfg.Auth.AllowUnauthenticated)
		}},
		{"valid/json.yaml", func(t *testing.T, cfg *configv1.Config) {
			require.EqualValues(t, 2, cfg.Models[0].Backends[0].Weight)
		}},
		{"valid/empty.yaml", func(t *testing.T, cfg *configv1.Config) {
			require.Empty(t, cfg.Providers)
			require.Equal(t, DefaultExtprocAddress, cfg.Server.ExtprocAddress)
		}},
		{"valid/comment_only.yaml", func(t *testing.T, cfg *configv1.Config) {
			require.Equal(t, DefaultLogLevel, cfg.Logging.Level)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			cfg, err := Parse(readFixture(t, tt.fixture), Options{})
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestParseScalarCoercion(t *testing.T) {
	// Unquoted numbers and dates in string fields keep the text the user typed.
	cfg, err := Parse([]byte(`
providers:
  - name: 42
    kind: azure-openai
    base_url: https://x.openai.azure.com
    azure: {api_version: 2024-10-21}
    anthropic: {version: 1.10}
models:
  - name: 3.0
    backends: [{provider: "42", model: 007, priority: "2"}]
`), Options{})
	require.NoError(t, err)
	require.Equal(t, "42", cfg.Providers[0].Name)
	require.Equal(t, "2024-10-21", cfg.Providers[0].Azure.ApiVersion)
	require.Equal(t, "1.10", cfg.Providers[0].Anthropic.Version)
	require.Equal(t, "3.0", cfg.Models[0].Name)
	require.Equal(t, "007", cfg.Models[0].Backends[0].Model)
	require.EqualValues(t, 2, cfg.Models[0].Backends[0].Priority, "quoted integers are accepted")
}

func TestParseDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30s", 30 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{`"1.000000001s"`, time.Second + 1, ""},
		{"-5s", 0, "must not be negative"},
		{"5", 0, "needs a unit"},
		{"1.5", 0, "needs a unit"},
		{"true", 0, "expected a duration"},
		{"5 parsecs", 0, "invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cfg, err := Parse([]byte("server: {drain_timeout: "+tt.in+"}"), Options{})
			if tt.err != "" {
				requireProblems(t, err, []want{{"server.drain_timeout", tt.err, 1}})
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Server.DrainTimeout.AsDuration())
		})
	}
}

func TestFormatDuration(t *testing.T) {
	require.Equal(t, "-1.500000000s", formatDuration(-1500*time.Millisecond))
	require.Equal(t, "2s", formatDuration(2*time.Second))
}

func TestParseAliasBomb(t *testing.T) {
	// Each level merges the previous one twice: 2^30 merged mappings if
	// expanded naively. The walk must give up instead of running out of memory.
	var b strings.Builder
	b.WriteString("x-0: &a0 {name: a}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("providers: [{<<: *a30, kind: openai}]\n")
	_, err := Parse([]byte(b.String()), Options{})
	requireProblems(t, err, []want{{"providers[0]", "document too large", 0}})
}

func TestParseSelfReferentialAlias(t *testing.T) {
	_, err := Parse([]byte("providers: &p [{name: a, kind: openai, headers: *p}]"), Options{})
	require.Error(t, err)
}

func TestLoad(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("problems name the file", func(t *testing.T) {
		path := filepath.Join("testdata", "schema", "unknown_fields.yaml")
		_, err := Load(path, Options{})
		verr, ok := errors.AsType[*ValidationError](err)
		require.True(t, ok)
		require.Equal(t, path, verr.File)
		require.True(t, strings.HasPrefix(err.Error(), path+":1:1: servr: unknown field"), err.Error())
	})
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.yaml")
		require.NoError(t, os.WriteFile(path, make([]byte, MaxFileSize+1), 0o600))
		_, err := Load(path, Options{})
		require.ErrorContains(t, err, "larger than")
	})
	t.Run("ok", func(t *testing.T) {
		cfg, err := Load(filepath.Join("testdata", "valid", "json.yaml"), Options{})
		require.NoError(t, err)
		require.Equal(t, "mock", cfg.Providers[0].Name)
	})
}

func TestValidationErrorFormat(t *testing.T) {
	e := &ValidationError{Problems: []Problem{
		{Path: "a.b", Message: "bad", Line: 3, Column: 5},
		{Message: "whole document"},
	}}
	require.Equal(t, "line 3: a.b: bad\nwhole document", e.Error())
	e.File = "c.yaml"
	require.Equal(t, "c.yaml:3:5: a.b: bad\nc.yaml: whole document", e.Error())
	require.Equal(t, "invalid configuration", (&ValidationError{}).Error())
}

func TestParentPath(t *testing.T) {
	tests := map[string]string{
		"":                            "",
		"server":                      "",
		"server.admin_address":        "server",
		"providers[2]":                "providers",
		"providers[2].kind":           "providers[2]",
		`providers[0].headers["a.b"]`: "providers[0].headers",
		`p.headers["x[\"]"]`:          "p.headers",
		`p.headers["a\\"]`:            "p.headers",
	}
	for in, want := range tests {
		require.Equal(t, want, parentPath(in), in)
	}
}
