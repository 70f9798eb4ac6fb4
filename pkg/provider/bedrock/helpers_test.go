package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// isolateAWSEnv keeps the SDK default chain away from the machine's real AWS
// configuration.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// mockAdapter builds an adapter of kind for srv with static credentials given as
// secret references.
func mockAdapter(t *testing.T, srv *bedrocktest.Server, kind string) *provider.Adapter {
	t.Helper()
	isolateAWSEnv(t)
	t.Setenv("TEST_AWS_SECRET", srv.Credentials().SecretAccessKey)
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{
		Name: "bedrock-test", Kind: kind, BaseURL: srv.URL,
		Headers: map[string]string{"X-Team": "search"},
		Config: &configv1.Provider{Aws: &configv1.AWS{
			Region:          srv.Region(),
			AccessKeyId:     srv.Credentials().AccessKeyID,
			SecretAccessKey: "${TEST_AWS_SECRET}",
			SessionToken:    srv.Credentials().SessionToken,
		}},
		Resolve: func(ref string) (string, error) {
			if len(ref) > 3 && ref[:2] == "${" {
				return os.Getenv(ref[2 : len(ref)-1]), nil
			}
			return ref, nil
		},
	})
	require.NoError(t, err)
	return a
}

// roundTrip signs up and sends it to base, returning status, header and body.
func roundTrip(t *testing.T, a *provider.Adapter, up *provider.UpstreamRequest) (int, http.Header, []byte) {
	t.Helper()
	require.NoError(t, a.Signer.Sign(context.Background(), up))
	req, err := http.NewRequest(up.Method, a.Settings.BaseURL+up.Path, bytes.NewReader(up.Body))
	require.NoError(t, err)
	req.Header = up.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// decodeAllSplit runs a stream decoder over body split at i and j.
func decodeSplit(t testing.TB, d provider.StreamDecoder, parts ...[]byte) ([]canonical.StreamEvent, error) {
	var evs []canonical.StreamEvent
	var err error
	for _, p := range parts {
		evs, err = d.Decode(evs, p)
		if err != nil {
			return evs, err
		}
	}
	return d.Finish(evs)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b)
}

func simpleRequest(text string) *canonical.Request {
	return &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: text}}}}}
}
