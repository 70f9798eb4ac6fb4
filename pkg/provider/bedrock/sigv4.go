package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/llm-router/llm-router/pkg/provider"
)

// SigningService is the SigV4 service name of Bedrock Runtime.
const SigningService = "bedrock"

// Signer signs translated Bedrock requests with AWS Signature Version 4. It runs
// after translation so the signature covers the final body (x-amz-content-sha256
// carries the body hash). Credentials are cached and refreshed by the SDK.
type Signer struct {
	creds  aws.CredentialsProvider
	region string
	scheme string
	host   string
	signer *v4.Signer
	now    func() time.Time
}

// NewSigner returns a signer for requests to baseURL (whose host the signature
// covers: it must be the host the request finally reaches, which is why Envoy
// clusters use auto_host_rewrite from the same base URL).
func NewSigner(creds aws.CredentialsProvider, region, baseURL string) (*Signer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bedrock: base URL %q has no host", baseURL)
	}
	if region == "" {
		return nil, fmt.Errorf("bedrock: a region is required for SigV4 signing")
	}
	return &Signer{creds: creds, region: region, scheme: u.Scheme, host: u.Host, signer: v4.NewSigner(), now: time.Now}, nil
}

// Sign implements provider.Signer: it sets X-Amz-Content-Sha256, X-Amz-Date,
// Authorization and, for temporary credentials, X-Amz-Security-Token. It never logs
// or returns credentials.
func (s *Signer) Sign(ctx context.Context, req *provider.UpstreamRequest) error {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("bedrock: retrieve AWS credentials: %w", err)
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	// A retried attempt may carry the previous attempt's signature.
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		req.Header.Del(h)
	}
	sum := sha256.Sum256(req.Body)
	payloadHash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	rawPath, rawQuery, _ := strings.Cut(req.Path, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return fmt.Errorf("bedrock: bad request path: %w", err)
	}
	hr := &http.Request{
		Method: req.Method,
		URL:    &url.URL{Scheme: s.scheme, Host: s.host, Path: path, RawPath: rawPath, RawQuery: rawQuery},
		Host:   s.host,
		Header: req.Header.Clone(),
		// ContentLength stays 0 so content-length is not signed: the data plane sets
		// it, and a chunked re-encoding on the way must not break the signature.
	}
	if err := s.signer.SignHTTP(ctx, creds, hr, payloadHash, SigningService, s.region, s.now().UTC()); err != nil {
		return fmt.Errorf("bedrock: sign request: %w", err)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := hr.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	return nil
}

// credentialsFor builds the credential provider for a Bedrock provider config:
// static keys from aws.access_key_id / secret_access_key / session_token (secret
// references resolved through Settings.Resolve), otherwise the SDK default chain
// (environment, shared config and credentials files, web identity, container and
// instance roles); aws.role_arn, when set, is assumed through STS on top of either.
// The result is cached. It also returns the effective region (config first, then the
// SDK's region resolution).
func credentialsFor(ctx context.Context, s provider.Settings) (aws.CredentialsProvider, string, error) {
	ac := s.Config.GetAws()
	region := ac.GetRegion()
	resolve := func(ref string) (string, error) {
		if ref == "" || s.Resolve == nil {
			return ref, nil
		}
		return s.Resolve(ref)
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if ac.GetAccessKeyId() != "" {
		akid, err := resolve(ac.GetAccessKeyId())
		if err != nil {
			return nil, "", fmt.Errorf("resolve aws.access_key_id: %w", err)
		}
		secret, err := resolve(ac.GetSecretAccessKey())
		if err != nil {
			return nil, "", fmt.Errorf("resolve aws.secret_access_key: %w", err)
		}
		token, err := resolve(ac.GetSessionToken())
		if err != nil {
			return nil, "", fmt.Errorf("resolve aws.session_token: %w", err)
		}
		if akid == "" || secret == "" {
			return nil, "", fmt.Errorf("aws.access_key_id and aws.secret_access_key must both be set")
		}
		static := credentials.NewStaticCredentialsProvider(akid, secret, token)
		if region != "" && ac.GetRoleArn() == "" {
			// Nothing else is needed: do not let a broken shared config or an
			// unrelated AWS_PROFILE in the environment interfere.
			return aws.NewCredentialsCache(static), region, nil
		}
		opts = append(opts, config.WithCredentialsProvider(static))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("load AWS configuration: %w", err)
	}
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		return nil, "", fmt.Errorf("aws.region is required (or AWS_REGION in the environment)")
	}
	cp := cfg.Credentials
	if arn := ac.GetRoleArn(); arn != "" {
		cfg.Region = region
		cp = stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "llm-router"
		})
	}
	if cp == nil {
		return nil, "", fmt.Errorf("no AWS credentials configured")
	}
	if _, cached := cp.(*aws.CredentialsCache); !cached {
		cp = aws.NewCredentialsCache(cp)
	}
	return cp, region, nil
}
