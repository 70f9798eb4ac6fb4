package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/bedrock/bedrocktest"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func signedRequest(t *testing.T, a *provider.Adapter, model string) *provider.UpstreamRequest {
	t.Helper()
	up, err := a.Backend.BuildChatRequest(context.Background(), simpleRequest("sign me"), provider.Target{Model: model})
	require.NoError(t, err)
	require.NoError(t, a.Signer.Sign(context.Background(), up))
	return up
}

func send(t *testing.T, base string, up *provider.UpstreamRequest, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(up.Method, base+up.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = up.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype") + " " + string(b)
}

func TestSigV4SignatureVerifiedByMock(t *testing.T) {
	var violations []error
	srv := bedrocktest.NewServer(t,
		bedrocktest.WithCredentials(bedrocktest.DefaultAccessKeyID, bedrocktest.DefaultSecretAccessKey, "temporary-session-token"),
		bedrocktest.WithViolationHandler(func(err error) { violations = append(violations, err) }))
	a := mockAdapter(t, srv, Kind)
	const arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0"

	t.Run("valid signature with session token and escaped ARN path", func(t *testing.T) {
		up := signedRequest(t, a, arn)
		require.Contains(t, up.Path, "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic")
		require.Equal(t, "temporary-session-token", up.Header.Get("X-Amz-Security-Token"))
		require.NotEmpty(t, up.Header.Get("X-Amz-Content-Sha256"))
		require.True(t, strings.HasPrefix(up.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"))
		// A header added after signing (by Envoy, say) is not covered and harmless.
		up.Header.Set("X-Request-Id", "added-later")
		status, msg := send(t, srv.URL, up, up.Body)
		require.Equal(t, 200, status, msg)
		require.Empty(t, violations)
	})
	t.Run("tampered body fails", func(t *testing.T) {
		violations = nil
		up := signedRequest(t, a, arn)
		tampered := bytes.Replace(up.Body, []byte("sign me"), []byte("sign ME"), 1)
		status, msg := send(t, srv.URL, up, tampered)
		require.Equal(t, 403, status)
		require.Contains(t, msg, "InvalidSignatureException")
		require.Len(t, violations, 1)
		require.ErrorContains(t, violations[0], "x-amz-content-sha256")
	})
	t.Run("tampered body with recomputed hash header fails on the signature", func(t *testing.T) {
		violations = nil
		up := signedRequest(t, a, arn)
		tampered := bytes.Replace(up.Body, []byte("sign me"), []byte("sign ME"), 1)
		sum := sha256.Sum256(tampered)
		up.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		status, _ := send(t, srv.URL, up, tampered)
		require.Equal(t, 403, status)
		require.Len(t, violations, 1)
		require.ErrorContains(t, violations[0], "signature mismatch")
	})
	t.Run("tampered model path fails", func(t *testing.T) {
		violations = nil
		up := signedRequest(t, a, "anthropic.claude-3-haiku-20240307-v1:0")
		up.Path = strings.Replace(up.Path, "haiku", "opus", 1)
		status, _ := send(t, srv.URL, up, up.Body)
		require.Equal(t, 403, status)
		require.ErrorContains(t, violations[0], "signature mismatch")
	})
	t.Run("tampered signed header fails", func(t *testing.T) {
		violations = nil
		up := signedRequest(t, a, "m")
		up.Header.Set("Accept", "text/plain")
		status, _ := send(t, srv.URL, up, up.Body)
		require.Equal(t, 403, status)
		require.ErrorContains(t, violations[0], "signature mismatch")
	})
	t.Run("re-signing a retried request replaces the old signature", func(t *testing.T) {
		violations = nil
		up := signedRequest(t, a, "m")
		require.NoError(t, a.Signer.Sign(context.Background(), up))
		require.Len(t, up.Header.Values("Authorization"), 1)
		status, msg := send(t, srv.URL, up, up.Body)
		require.Equal(t, 200, status, msg)
	})
}

func TestVerifySigV4Rejections(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	sign := func(c aws.Credentials, region string, at time.Time) *http.Request {
		s, err := NewSigner(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken), region, "https://bedrock-runtime.us-east-1.amazonaws.com")
		require.NoError(t, err)
		s.now = func() time.Time { return at }
		up := &provider.UpstreamRequest{Method: "POST", Path: "/model/m/converse", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}
		require.NoError(t, s.Sign(context.Background(), up))
		r := httptest.NewRequest("POST", "https://bedrock-runtime.us-east-1.amazonaws.com"+up.Path, bytes.NewReader(up.Body))
		r.Header = up.Header
		return r
	}
	require.NoError(t, bedrocktest.VerifySigV4(sign(creds, "us-east-1", now), []byte(`{}`), creds, "us-east-1", "bedrock", now))
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"wrong key id", sign(aws.Credentials{AccessKeyID: "OTHER", SecretAccessKey: "secret"}, "us-east-1", now), "unknown access key"},
		{"wrong secret", sign(aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "nope"}, "us-east-1", now), "signature mismatch"},
		{"wrong region", sign(creds, "eu-west-1", now), "credential scope"},
		{"stale", sign(creds, "us-east-1", now.Add(-time.Hour)), "more than"},
		{"unsigned", httptest.NewRequest("POST", "/model/m/converse", nil), "Authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bedrocktest.VerifySigV4(tt.req, []byte(`{}`), creds, "us-east-1", "bedrock", now)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStaticKeysIgnoreSharedConfig(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_PROFILE", "does-not-exist")
	r := provider.NewRegistry()
	Register(r)
	static := &configv1.AWS{Region: "us-east-1", AccessKeyId: "A", SecretAccessKey: "S"}
	_, err := r.Build(provider.Settings{Kind: Kind, Config: &configv1.Provider{Aws: static}})
	require.NoError(t, err, "a missing profile does not matter with static keys")
	// The SDK chain (needed for role assumption) does read the profile: the control.
	static.RoleArn = "arn:aws:iam::123456789012:role/x"
	_, err = r.Build(provider.Settings{Kind: Kind, Config: &configv1.Provider{Aws: static}})
	require.ErrorContains(t, err, "does-not-exist")
}

func TestCredentialsFromDefaultChain(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Credentials().AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Credentials().SecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region())
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{Name: "b", Kind: Kind, BaseURL: srv.URL, Config: &configv1.Provider{}})
	require.NoError(t, err)
	status, msg := send(t, srv.URL, signedRequest(t, a, "m"), signedRequest(t, a, "m").Body)
	require.Equal(t, 200, status, msg)
}

func TestDefaultBaseURLFromRegion(t *testing.T) {
	isolateAWSEnv(t)
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{Name: "b", Kind: KindAnthropic, Config: &configv1.Provider{Aws: &configv1.AWS{Region: "eu-central-1", AccessKeyId: "AKID", SecretAccessKey: "s"}}})
	require.NoError(t, err)
	require.Equal(t, "https://bedrock-runtime.eu-central-1.amazonaws.com", a.Settings.BaseURL)
	require.Equal(t, SchemaBedrockAnthropic, a.Backend.Schema())
	up := signedRequest(t, a, "anthropic.claude-3-haiku-20240307-v1:0")
	require.Contains(t, up.Header.Get("Authorization"), "/eu-central-1/bedrock/aws4_request")
}

func TestFactoryErrors(t *testing.T) {
	isolateAWSEnv(t)
	r := provider.NewRegistry()
	Register(r)
	tests := []struct {
		name string
		s    provider.Settings
		want string
	}{
		{"no region", provider.Settings{Kind: Kind, Config: &configv1.Provider{}}, "aws.region"},
		{"half a key", provider.Settings{Kind: Kind, Config: &configv1.Provider{Aws: &configv1.AWS{Region: "us-east-1", AccessKeyId: "AKID"}}}, "both be set"},
		{"secret resolution fails", provider.Settings{Kind: Kind, Config: &configv1.Provider{Aws: &configv1.AWS{Region: "us-east-1", AccessKeyId: "AKID", SecretAccessKey: "${NOPE}"}},
			Resolve: func(ref string) (string, error) {
				if strings.HasPrefix(ref, "${") {
					return "", fmt.Errorf("unset %s", ref)
				}
				return ref, nil
			}}, "aws.secret_access_key"},
		{"bad base url", provider.Settings{Kind: Kind, BaseURL: "ftp://x", Config: &configv1.Provider{Aws: &configv1.AWS{Region: "us-east-1", AccessKeyId: "A", SecretAccessKey: "S"}}}, "base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Build(tt.s)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "AKID/", "no key material in errors")
		})
	}
}

// stsMock answers AssumeRole after checking the call is SigV4-signed (service
// "sts") with the base credentials.
func stsMock(t *testing.T, base aws.Credentials, assumed aws.Credentials, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := bedrocktest.VerifySigV4(r, body, base, "us-east-1", "sts", time.Now()); err != nil {
			t.Errorf("STS call: %v", err)
			w.WriteHeader(403)
			return
		}
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != "arn:aws:iam::123456789012:role/bedrock" || form.Get("RoleSessionName") != "llm-router" {
			t.Errorf("unexpected STS call %q", body)
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		if _, err := fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>`+
			`<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>`+
			`<Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/bedrock/llm-router</Arn>`+
			`<AssumedRoleId>AROA:llm-router</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>`+
			`<ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			assumed.AccessKeyID, assumed.SecretAccessKey, assumed.SessionToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); err != nil {
			t.Errorf("STS response: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRoleARNAssumedThroughSTS(t *testing.T) {
	assumed := aws.Credentials{AccessKeyID: "ASIAASSUMED", SecretAccessKey: "assumed-secret", SessionToken: "assumed-token"}
	base := aws.Credentials{AccessKeyID: "AKIABASE", SecretAccessKey: "base-secret"}
	srv := bedrocktest.NewServer(t, bedrocktest.WithCredentials(assumed.AccessKeyID, assumed.SecretAccessKey, assumed.SessionToken))
	var calls atomic.Int32
	sts := stsMock(t, base, assumed, &calls)
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	r := provider.NewRegistry()
	Register(r)
	a, err := r.Build(provider.Settings{Name: "b", Kind: Kind, BaseURL: srv.URL, Config: &configv1.Provider{Aws: &configv1.AWS{
		Region: "us-east-1", AccessKeyId: base.AccessKeyID, SecretAccessKey: base.SecretAccessKey, RoleArn: "arn:aws:iam::123456789012:role/bedrock",
	}}})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		up := signedRequest(t, a, "m")
		status, msg := send(t, srv.URL, up, up.Body)
		require.Equal(t, 200, status, msg)
	}
	require.EqualValues(t, 1, calls.Load(), "assumed credentials are cached")
}
