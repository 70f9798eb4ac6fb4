package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	lf := write("lf", "sk-file-secret\n")
	crlf := write("crlf", "sk-file-secret\r\n\r\n")
	empty := write("empty", "\n")
	big := write("big", strings.Repeat("x", maxSecretFileSize+1))
	env := mapEnv(map[string]string{"OPENAI_API_KEY": "sk-env-secret", "TOKEN": "tok"})

	tests := []struct {
		ref, want, err string
	}{
		{"${OPENAI_API_KEY}", "sk-env-secret", ""},
		{"Bearer ${TOKEN}", "Bearer tok", ""},
		{"${TOKEN}-${TOKEN}", "tok-tok", ""},
		{"$${TOKEN}", "${TOKEN}", ""},
		{"price: $5", "price: $5", ""},
		{"sk-literal", "sk-literal", ""},
		{"", "", ""},
		{"${MISSING}", "", "environment variable MISSING is not set or empty"},
		{"${OPENAI_API_KEY", "", `"${" without a closing "}"`},
		{"${}", "", "must be letters, digits and underscores"},
		{"${A-B}", "", "must be letters, digits and underscores"},
		{"${9A}", "", "not starting with a digit"},
		{"file:" + lf, "sk-file-secret", ""},
		{"file://" + crlf, "sk-file-secret", ""},
		{"file:" + empty, "", "is empty"},
		{"file:" + big, "", "larger than"},
		{"file:" + filepath.Join(dir, "nope"), "", "no such file"},
		{"file:", "", "has no path"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ResolveSecret(tt.ref, env)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "sk-", "errors never carry values")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestResolveSecretDefaultEnv(t *testing.T) {
	t.Setenv("LLM_ROUTER_TEST_SECRET", "v")
	got, err := ResolveSecret("${LLM_ROUTER_TEST_SECRET}", nil)
	require.NoError(t, err)
	require.Equal(t, "v", got)
}

// secretConfig holds literal secrets, references and non-secrets.
func secretConfig() *configv1.Config {
	return &configv1.Config{
		Providers: []*configv1.Provider{
			{
				Name: "openai", Kind: "openai", ApiKey: "sk-literal-openai",
				Headers: map[string]string{"X-Org": "org-literal", "X-Ref": "${ORG}", "X-Mixed": "Bearer ${TOKEN}"},
			},
			{
				Name: "bedrock", Kind: "bedrock",
				Aws: &configv1.AWS{Region: "us-east-1", AccessKeyId: "AKIALITERAL", SecretAccessKey: "aws-secret-literal", SessionToken: "${AWS_SESSION_TOKEN}"},
			},
			{
				Name: "vertex", Kind: "vertex-ai", ApiKey: "file:/run/secrets/k",
				Gcp: &configv1.GCP{Project: "p", Location: "l", CredentialsFile: "/etc/gcp/key.json"},
			},
		},
		Auth: &configv1.Auth{Keys: []*configv1.StaticKey{
			{Id: "a", Key: "caller-literal-key"},
			{Id: "b", Sha256: strings.Repeat("a", 64)},
		}},
	}
}

var literalSecrets = []string{"sk-literal-openai", "org-literal", "AKIALITERAL", "aws-secret-literal", "caller-literal-key", "Bearer"}

func TestRedact(t *testing.T) {
	cfg := secretConfig()
	orig := proto.Clone(cfg)
	r := Redact(cfg)
	require.True(t, proto.Equal(orig, cfg), "Redact must not modify its argument")

	require.Equal(t, Redacted, r.Providers[0].ApiKey)
	require.Equal(t, map[string]string{"X-Org": Redacted, "X-Ref": "${ORG}", "X-Mixed": Redacted}, r.Providers[0].Headers)
	require.Equal(t, Redacted, r.Providers[1].Aws.AccessKeyId)
	require.Equal(t, Redacted, r.Providers[1].Aws.SecretAccessKey)
	require.Equal(t, "${AWS_SESSION_TOKEN}", r.Providers[1].Aws.SessionToken, "pure references are kept")
	require.Equal(t, "us-east-1", r.Providers[1].Aws.Region)
	require.Equal(t, "file:/run/secrets/k", r.Providers[2].ApiKey)
	require.Equal(t, "/etc/gcp/key.json", r.Providers[2].Gcp.CredentialsFile, "paths are kept")
	require.Equal(t, Redacted, r.Auth.Keys[0].Key)
	require.Equal(t, strings.Repeat("a", 64), r.Auth.Keys[1].Sha256)
	require.Empty(t, r.Auth.Keys[1].Key, "empty stays empty")

	text := Hash(r) + LogObject(cfg).String()
	for _, s := range literalSecrets {
		require.NotContains(t, text, s)
	}
	require.Nil(t, Redact(nil))
}

// TestSecretFieldsAreAnnotated guards against a new credential field in the
// proto that lacks the (secret) option and so would be logged in clear.
func TestSecretFieldsAreAnnotated(t *testing.T) {
	// Fields whose names match the pattern below but hold no secret.
	notSecret := map[protoreflect.FullName]bool{
		"llmrouter.config.v1.GCP.credentials_file": true, // a path, kept in logs
		"llmrouter.config.v1.CORS.allowed_headers": true, // header names, not values
		"llmrouter.config.v1.CORS.exposed_headers": true,
	}
	var secrets []string
	seen := map[protoreflect.FullName]bool{}
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if isSecret(fd) {
				secrets = append(secrets, string(fd.FullName()))
			} else if n := strings.ToLower(string(fd.Name())); !notSecret[fd.FullName()] &&
				(fd.Kind() == protoreflect.StringKind || fd.IsMap()) &&
				(strings.Contains(n, "key") || strings.Contains(n, "secret") || strings.Contains(n, "token") ||
					strings.Contains(n, "password") || strings.Contains(n, "header") || strings.Contains(n, "credential")) {
				t.Errorf("%s looks like a credential but has no (secret) option", fd.FullName())
			}
			if fd.Message() != nil && !fd.IsMap() {
				visit(fd.Message())
			}
		}
	}
	visit((&configv1.Config{}).ProtoReflect().Descriptor())
	require.ElementsMatch(t, []string{
		"llmrouter.config.v1.Provider.api_key",
		"llmrouter.config.v1.Provider.headers",
		"llmrouter.config.v1.Storage.postgres_dsn",
		"llmrouter.config.v1.Redis.password",
		"llmrouter.config.v1.AWS.access_key_id",
		"llmrouter.config.v1.AWS.secret_access_key",
		"llmrouter.config.v1.AWS.session_token",
		"llmrouter.config.v1.StaticKey.key",
	}, secrets)
}

func TestResolveAll(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k")
	require.NoError(t, os.WriteFile(keyFile, []byte("file-secret\n"), 0o600))
	credFile := filepath.Join(dir, "gcp.json")
	require.NoError(t, os.WriteFile(credFile, []byte("{}"), 0o600))

	cfg := secretConfig()
	cfg.Providers[2].ApiKey = "file://" + keyFile
	cfg.Providers[2].Gcp.CredentialsFile = "${GCP_DIR}/gcp.json"
	env := mapEnv(map[string]string{"ORG": "org-1", "TOKEN": "t", "AWS_SESSION_TOKEN": "st", "GCP_DIR": dir})

	out, err := ResolveAll(cfg, env)
	require.NoError(t, err)
	require.Equal(t, "${ORG}", cfg.Providers[0].Headers["X-Ref"], "input untouched")
	require.Equal(t, "org-1", out.Providers[0].Headers["X-Ref"])
	require.Equal(t, "Bearer t", out.Providers[0].Headers["X-Mixed"])
	require.Equal(t, "sk-literal-openai", out.Providers[0].ApiKey)
	require.Equal(t, "st", out.Providers[1].Aws.SessionToken)
	require.Equal(t, "file-secret", out.Providers[2].ApiKey)
	require.Equal(t, credFile, out.Providers[2].Gcp.CredentialsFile)
	require.Empty(t, CheckSecrets(cfg, env))

	// Everything that fails is reported, with paths, never values.
	cfg.Providers[2].Gcp.CredentialsFile = filepath.Join(dir, "missing.json")
	cfg.Providers[0].Headers["X-Newline"] = "${NL}"
	_, err = ResolveAll(cfg, mapEnv(map[string]string{"NL": "a\nb"}))
	verr, ok := errors.AsType[*ValidationError](err)
	require.True(t, ok)
	var paths []string
	for _, p := range verr.Problems {
		paths = append(paths, p.Path+": "+p.Message)
	}
	require.Equal(t, []string{
		`providers[0].headers["X-Mixed"]: environment variable TOKEN is not set or empty`,
		`providers[0].headers["X-Newline"]: resolved value contains a line break or NUL`,
		`providers[0].headers["X-Ref"]: environment variable ORG is not set or empty`,
		"providers[1].aws.session_token: environment variable AWS_SESSION_TOKEN is not set or empty",
		"providers[2].gcp.credentials_file: stat " + filepath.Join(dir, "missing.json") + ": no such file or directory",
	}, paths)
}

func TestParseResolveSecrets(t *testing.T) {
	yaml := []byte(`
providers:
  - name: openai
    kind: openai
    api_key: ${OPENAI_API_KEY}
`)
	_, err := Parse(yaml, Options{ResolveSecrets: true, Env: mapEnv(nil)})
	requireProblems(t, err, []want{{"providers[0].api_key", "environment variable OPENAI_API_KEY is not set or empty", 5}})

	cfg, err := Parse(yaml, Options{ResolveSecrets: true, Env: mapEnv(map[string]string{"OPENAI_API_KEY": "sk-x"})})
	require.NoError(t, err)
	require.Equal(t, "${OPENAI_API_KEY}", cfg.Providers[0].ApiKey, "Parse checks secrets but keeps references")

	_, err = Parse(yaml, Options{})
	require.NoError(t, err, "unresolvable references are fine without ResolveSecrets")
}

func TestIsReference(t *testing.T) {
	for s, want := range map[string]bool{
		"${A}": true, "file:/x": true, "${A}x": false, "x${A}": false, "${1}": false, "literal": false, "${A": false,
	} {
		require.Equal(t, want, isReference(s), s)
	}
}
