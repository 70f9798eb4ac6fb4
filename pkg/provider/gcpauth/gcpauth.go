// Package gcpauth signs upstream requests to Google Cloud (Vertex AI) with an OAuth 2.0
// access token, obtained from a service-account key (JWT bearer grant against the key's
// token_uri), a gcloud user credential (refresh-token grant) or, when no key is
// configured, Application Default Credentials.
//
// Tokens are cached and refreshed before they expire. Refreshes are single-flight: one
// fetch runs at a time however many requests need a token. While the cached token is
// still valid but inside the refresh window, callers keep getting it and the refresh
// runs in the background, so no request waits on the token endpoint except the very
// first one and those arriving after a token has actually expired.
package gcpauth

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/llm-router/llm-router/pkg/provider"
)

// CloudPlatformScope is the OAuth scope Vertex AI requires.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Defaults for Options.
const (
	DefaultRefreshBefore = 5 * time.Minute
	DefaultFetchTimeout  = 30 * time.Second
	// minRemaining is how long a token must still be valid to be served while a
	// refresh is in flight; below it callers wait for the new token.
	minRemaining = 10 * time.Second
	// retryBackoff spaces background refresh attempts after a failure, so a broken
	// token endpoint is not hammered once per request.
	retryBackoff = 5 * time.Second
)

// Options configures a Signer.
type Options struct {
	// CredentialsJSON is a Google credentials JSON document of type "service_account"
	// or "authorized_user". Empty means Application Default Credentials.
	CredentialsJSON []byte
	// Scopes requested; default CloudPlatformScope.
	Scopes []string
	// HTTPClient is used to reach the token endpoint; default http.DefaultClient.
	HTTPClient *http.Client
	// RefreshBefore is how long before expiry a token is refreshed; default 5 minutes.
	RefreshBefore time.Duration
	// FetchTimeout bounds one token fetch; default 30 seconds.
	FetchTimeout time.Duration
	// Now returns the current time; default time.Now (tests move the clock).
	Now func() time.Time
}

// Signer adds "Authorization: Bearer <token>" to upstream requests. It is safe for
// concurrent use.
type Signer struct {
	fetch         func(ctx context.Context) (*oauth2.Token, error)
	projectID     string
	refreshBefore time.Duration
	fetchTimeout  time.Duration
	now           func() time.Time

	mu          sync.Mutex
	tok         *oauth2.Token
	flight      *flight
	lastFailure time.Time
}

// flight is one token fetch that any number of callers may wait on.
type flight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// credentialsFile holds the fields of a Google credentials JSON this package reads.
type credentialsFile struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
	TokenURI     string `json:"token_uri"`
	QuotaProject string `json:"quota_project_id"`
}

// New builds a Signer. It parses the credentials but fetches no token: the first Sign
// does.
func New(opts Options) (*Signer, error) {
	s := &Signer{
		refreshBefore: opts.RefreshBefore,
		fetchTimeout:  opts.FetchTimeout,
		now:           opts.Now,
	}
	if s.refreshBefore <= 0 {
		s.refreshBefore = DefaultRefreshBefore
	}
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = DefaultFetchTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	scopes := opts.Scopes
	if len(scopes) == 0 {
		scopes = []string{CloudPlatformScope}
	}
	client := opts.HTTPClient
	withClient := func(ctx context.Context) context.Context {
		if client == nil {
			return ctx
		}
		return context.WithValue(ctx, oauth2.HTTPClient, client)
	}

	if len(bytes.TrimSpace(opts.CredentialsJSON)) == 0 {
		s.fetch = adcFetcher(scopes, withClient)
		return s, nil
	}
	var f credentialsFile
	if err := json.Unmarshal(opts.CredentialsJSON, &f); err != nil {
		// Never echo the document: it holds a private key.
		return nil, errors.New("gcpauth: credentials are not valid JSON")
	}
	s.projectID = f.ProjectID
	switch f.Type {
	case "service_account":
		cfg, err := google.JWTConfigFromJSON(opts.CredentialsJSON, scopes...)
		if err != nil {
			return nil, fmt.Errorf("gcpauth: service account key: %w", err)
		}
		if len(cfg.PrivateKey) == 0 || cfg.Email == "" {
			return nil, errors.New("gcpauth: service account key lacks client_email or private_key")
		}
		if err := checkPrivateKey(cfg.PrivateKey); err != nil {
			return nil, err
		}
		s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			// A fresh TokenSource per fetch: jwt.Config.TokenSource caches internally
			// and would hand back the old token inside our early-refresh window.
			return cfg.TokenSource(withClient(ctx)).Token()
		}
	case "authorized_user":
		if f.RefreshToken == "" || f.ClientID == "" {
			return nil, errors.New("gcpauth: authorized_user credentials lack client_id or refresh_token")
		}
		tokenURL := f.TokenURI
		if tokenURL == "" {
			tokenURL = google.Endpoint.TokenURL
		}
		cfg := &oauth2.Config{
			ClientID:     f.ClientID,
			ClientSecret: f.ClientSecret,
			Scopes:       scopes,
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		}
		s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			return cfg.TokenSource(withClient(ctx), &oauth2.Token{RefreshToken: f.RefreshToken}).Token()
		}
	default:
		return nil, fmt.Errorf("gcpauth: unsupported credentials type %q (want service_account or authorized_user)", f.Type)
	}
	return s, nil
}

// checkPrivateKey parses the service account's key now, so a broken key fails at
// configuration time rather than on the first request. The key itself never appears
// in the error.
func checkPrivateKey(pemKey []byte) error {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return errors.New("gcpauth: service account private_key is not PEM")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("gcpauth: service account private_key is not a PKCS#8 or PKCS#1 RSA key")
}

// adcFetcher resolves Application Default Credentials lazily, on the first fetch, so
// that building a Signer never probes the metadata server. Fetches are serialised by
// the single-flight logic, so the lazy state needs no lock of its own.
func adcFetcher(scopes []string, withClient func(context.Context) context.Context) func(ctx context.Context) (*oauth2.Token, error) {
	var ts oauth2.TokenSource
	return func(ctx context.Context) (*oauth2.Token, error) {
		if ts == nil {
			creds, err := google.FindDefaultCredentials(withClient(ctx), scopes...)
			if err != nil {
				return nil, fmt.Errorf("application default credentials: %w", err)
			}
			ts = creds.TokenSource
		}
		return ts.Token()
	}
}

// FromSettings builds a Signer from a provider's gcp.credentials_file, which is a secret
// reference resolved through s.Resolve. The resolved value may be the JSON document
// itself (e.g. "file:/secrets/sa.json" read by the resolver, or an env var holding the
// JSON) or a path to it (e.g. a literal path, or "${GOOGLE_APPLICATION_CREDENTIALS}").
// An empty reference selects Application Default Credentials.
func FromSettings(s provider.Settings) (*Signer, error) {
	ref := s.Config.GetGcp().GetCredentialsFile()
	if ref == "" {
		return New(Options{})
	}
	val := ref
	if s.Resolve != nil {
		v, err := s.Resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("gcpauth: resolving gcp.credentials_file: %w", err)
		}
		val = v
	}
	data, err := loadCredentials(val)
	if err != nil {
		return nil, err
	}
	return New(Options{CredentialsJSON: data})
}

// loadCredentials returns val when it is a JSON document, else the content of the file
// it names.
func loadCredentials(val string) ([]byte, error) {
	trimmed := strings.TrimSpace(val)
	if strings.HasPrefix(trimmed, "{") {
		return []byte(trimmed), nil
	}
	if trimmed == "" {
		return nil, errors.New("gcpauth: gcp.credentials_file resolved to an empty value")
	}
	data, err := os.ReadFile(trimmed)
	if err != nil {
		return nil, fmt.Errorf("gcpauth: reading credentials file: %w", err)
	}
	return data, nil
}

// ProjectID is the project named in the credentials ("" when unknown); Vertex adapters
// use it when gcp.project is not configured.
func (s *Signer) ProjectID() string { return s.projectID }

// Sign implements provider.Signer.
func (s *Signer) Sign(ctx context.Context, req *provider.UpstreamRequest) error {
	tok, err := s.Token(ctx)
	if err != nil {
		return err
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Token returns a valid access token, fetching one when needed.
func (s *Signer) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	now := s.now()
	if tok := s.tok; tok != nil {
		if tok.Expiry.IsZero() || now.Before(tok.Expiry.Add(-s.refreshBefore)) {
			s.mu.Unlock()
			return tok.AccessToken, nil
		}
		if now.Before(tok.Expiry.Add(-minRemaining)) {
			// Inside the refresh window: refresh in the background, serve this one.
			if s.flight == nil && now.Sub(s.lastFailure) >= retryBackoff {
				s.startLocked()
			}
			s.mu.Unlock()
			return tok.AccessToken, nil
		}
	}
	f := s.flight
	if f == nil {
		f = s.startLocked()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return "", fmt.Errorf("gcpauth: fetching access token: %w", f.err)
		}
		return f.tok.AccessToken, nil
	case <-ctx.Done():
		return "", fmt.Errorf("gcpauth: waiting for access token: %w", ctx.Err())
	}
}

// startLocked launches a fetch; s.mu must be held. The fetch runs on its own context so
// that one caller giving up does not fail the others waiting on it.
func (s *Signer) startLocked() *flight {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.fetchTimeout)
		defer cancel()
		tok, err := s.fetch(ctx)
		if err == nil && (tok == nil || tok.AccessToken == "") {
			err = errors.New("token endpoint returned no access token")
		}
		s.mu.Lock()
		if err == nil {
			// oauth2 stamps Expiry with the wall clock; re-base it on s.now so the
			// refresh decisions above use one clock (tests inject theirs).
			if !tok.Expiry.IsZero() {
				rebased := *tok
				rebased.Expiry = s.now().Add(time.Until(tok.Expiry))
				tok = &rebased
			}
			s.tok = tok
		} else {
			s.lastFailure = s.now()
		}
		s.flight = nil
		s.mu.Unlock()
		f.tok, f.err = tok, err
		close(f.done)
	}()
	return f
}

// VertexBaseURL returns the default Vertex AI endpoint for a location:
// https://{location}-aiplatform.googleapis.com, or https://aiplatform.googleapis.com for
// the "global" location.
func VertexBaseURL(location string) string {
	if location == "" || location == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + location + "-aiplatform.googleapis.com"
}
