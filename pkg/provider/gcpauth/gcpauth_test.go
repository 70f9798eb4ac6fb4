package gcpauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/provider"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// tokenServer is a loopback OAuth token endpoint that verifies the JWT bearer assertion
// a service account sends (signature, issuer, audience, scope) and hands out numbered
// tokens.
type tokenServer struct {
	t       testing.TB
	srv     *httptest.Server
	key     *rsa.PrivateKey
	email   string
	hits    atomic.Int32
	gate    chan struct{} // when non-nil, each request waits for a value
	fail    atomic.Bool
	expires int
}

func newTokenServer(t testing.TB) *tokenServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ts := &tokenServer{t: t, key: key, email: "router@proj.iam.gserviceaccount.com", expires: 3600}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.handle))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) handle(w http.ResponseWriter, r *http.Request) {
	n := ts.hits.Add(1)
	if ts.gate != nil {
		<-ts.gate
	}
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.Error(w, "bad path", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ts.fail.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`))
		return
	}
	switch r.Form.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if err := ts.verifyAssertion(r.Form.Get("assertion")); err != nil {
			ts.t.Errorf("token server: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case "refresh_token":
		if r.Form.Get("refresh_token") != "rt-1" || r.Form.Get("client_id") != "cid" {
			ts.t.Errorf("token server: bad refresh grant %v", r.Form)
			http.Error(w, "bad grant", http.StatusBadRequest)
			return
		}
	default:
		ts.t.Errorf("token server: unexpected grant %q", r.Form.Get("grant_type"))
		http.Error(w, "bad grant", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, ts.expires)
}

func (ts *tokenServer) verifyAssertion(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("assertion is not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&ts.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Iss   string `json:"iss"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return err
	}
	if claims.Iss != ts.email || claims.Aud != ts.srv.URL+"/token" || claims.Scope != CloudPlatformScope {
		return fmt.Errorf("bad claims %+v", claims)
	}
	return nil
}

func (ts *tokenServer) serviceAccountJSON() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(ts.key)
	require.NoError(ts.t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	doc := map[string]string{
		"type":           "service_account",
		"project_id":     "proj",
		"private_key_id": "kid1",
		"private_key":    string(pemKey),
		"client_email":   ts.email,
		"token_uri":      ts.srv.URL + "/token",
	}
	b, err := json.Marshal(doc)
	require.NoError(ts.t, err)
	return b
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestServiceAccountTokenCachedAndSigned(t *testing.T) {
	ts := newTokenServer(t)
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON()})
	require.NoError(t, err)
	require.Equal(t, "proj", s.ProjectID())

	req := &provider.UpstreamRequest{}
	require.NoError(t, s.Sign(context.Background(), req))
	require.Equal(t, "Bearer tok-1", req.Header.Get("Authorization"))
	req2 := &provider.UpstreamRequest{Header: http.Header{}}
	require.NoError(t, s.Sign(context.Background(), req2))
	require.Equal(t, "Bearer tok-1", req2.Header.Get("Authorization"))
	require.EqualValues(t, 1, ts.hits.Load())
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	ts := newTokenServer(t)
	ts.gate = make(chan struct{})
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON()})
	require.NoError(t, err)

	const n = 32
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Token(context.Background())
		}()
	}
	// Let every goroutine reach the wait, then release the single request.
	require.Eventually(t, func() bool { return ts.hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(ts.gate)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, "tok-1", got[i])
	}
	require.EqualValues(t, 1, ts.hits.Load())
}

func TestEarlyRefreshServesOldTokenAndRefreshesInBackground(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Now()}
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON(), Now: c.now})
	require.NoError(t, err)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)

	// 57 minutes later the token (valid 60) is inside the 5-minute refresh window.
	ts.gate = make(chan struct{})
	c.add(57 * time.Minute)
	tok, err = s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok, "old token served while refreshing")
	require.Eventually(t, func() bool { return ts.hits.Load() == 2 }, 5*time.Second, time.Millisecond)
	// A second caller during the refresh neither blocks nor starts another fetch.
	tok, err = s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	close(ts.gate)
	require.Eventually(t, func() bool {
		tok, _ := s.Token(context.Background())
		return tok == "tok-2"
	}, 5*time.Second, time.Millisecond)
	// The new token is fresh on the signer's clock (not the wall clock oauth2 stamps
	// expiries with), so further calls start no refresh.
	for range 3 {
		tok, err = s.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "tok-2", tok)
	}
	require.Never(t, func() bool { return ts.hits.Load() > 2 }, 100*time.Millisecond, 5*time.Millisecond)
}

func TestExpiredTokenBlocksForNewOne(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Now()}
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON(), Now: c.now})
	require.NoError(t, err)
	_, err = s.Token(context.Background())
	require.NoError(t, err)
	c.add(2 * time.Hour)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok)
}

func TestFetchFailureIsReportedWithoutSecrets(t *testing.T) {
	ts := newTokenServer(t)
	ts.fail.Store(true)
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON()})
	require.NoError(t, err)
	err = s.Sign(context.Background(), &provider.UpstreamRequest{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "gcpauth: fetching access token")
	require.NotContains(t, err.Error(), "PRIVATE KEY")

	// The endpoint recovers: the next call fetches again.
	ts.fail.Store(false)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok)
}

func TestBackgroundFailureKeepsServingAndBacksOff(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Now()}
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON(), Now: c.now})
	require.NoError(t, err)
	_, err = s.Token(context.Background())
	require.NoError(t, err)
	ts.fail.Store(true)
	c.add(57 * time.Minute)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.flight == nil && !s.lastFailure.IsZero()
	}, 5*time.Second, time.Millisecond)
	// Within the back-off no new fetch starts.
	_, err = s.Token(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, ts.hits.Load())
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	ts := newTokenServer(t)
	ts.gate = make(chan struct{})
	defer close(ts.gate)
	s, err := New(Options{CredentialsJSON: ts.serviceAccountJSON()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Token(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestAuthorizedUser(t *testing.T) {
	ts := newTokenServer(t)
	doc := fmt.Sprintf(`{"type":"authorized_user","client_id":"cid","client_secret":"cs","refresh_token":"rt-1","token_uri":%q}`, ts.srv.URL+"/token")
	s, err := New(Options{CredentialsJSON: []byte(doc), HTTPClient: ts.srv.Client()})
	require.NoError(t, err)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
}

func TestNewRejectsBadCredentials(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":        `{"type":`,
		"unknown type":    `{"type":"external_account"}`,
		"sa without key":  `{"type":"service_account","client_email":"a@b"}`,
		"user without rt": `{"type":"authorized_user","client_id":"x"}`,
		"key not pem":     `{"type":"service_account","client_email":"a@b","private_key":"nope"}`,
		"key not rsa":     `{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options{CredentialsJSON: []byte(doc)})
			require.Error(t, err)
		})
	}
}

func settingsWith(ref string, resolve func(string) (string, error)) provider.Settings {
	return provider.Settings{
		Config:  &configv1.Provider{Gcp: &configv1.GCP{CredentialsFile: ref}},
		Resolve: resolve,
	}
}

func TestFromSettings(t *testing.T) {
	ts := newTokenServer(t)
	doc := ts.serviceAccountJSON()
	path := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(path, doc, 0o600))

	t.Run("resolver returns the JSON", func(t *testing.T) {
		s, err := FromSettings(settingsWith("file:"+path, func(ref string) (string, error) {
			require.Equal(t, "file:"+path, ref)
			return string(doc), nil
		}))
		require.NoError(t, err)
		tok, err := s.Token(context.Background())
		require.NoError(t, err)
		require.NotEmpty(t, tok)
	})
	t.Run("resolver returns a path", func(t *testing.T) {
		s, err := FromSettings(settingsWith("${GOOGLE_APPLICATION_CREDENTIALS}", func(string) (string, error) { return path, nil }))
		require.NoError(t, err)
		require.Equal(t, "proj", s.ProjectID())
	})
	t.Run("literal path without resolver", func(t *testing.T) {
		s, err := FromSettings(settingsWith(path, nil))
		require.NoError(t, err)
		require.Equal(t, "proj", s.ProjectID())
	})
	t.Run("resolver error", func(t *testing.T) {
		_, err := FromSettings(settingsWith("${MISSING}", func(string) (string, error) { return "", errors.New("unset") }))
		require.ErrorContains(t, err, "unset")
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := FromSettings(settingsWith(filepath.Join(t.TempDir(), "nope.json"), nil))
		require.ErrorContains(t, err, "reading credentials file")
	})
	t.Run("empty resolved value", func(t *testing.T) {
		_, err := FromSettings(settingsWith("${EMPTY}", func(string) (string, error) { return " ", nil }))
		require.ErrorContains(t, err, "empty")
	})
	t.Run("no reference uses ADC", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
		s, err := FromSettings(provider.Settings{Config: &configv1.Provider{}})
		require.NoError(t, err)
		tok, err := s.Token(context.Background())
		require.NoError(t, err)
		require.NotEmpty(t, tok)
		// The lazily resolved source is reused.
		_, err = s.Token(context.Background())
		require.NoError(t, err)
	})
}

func TestADCFailure(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "absent.json"))
	s, err := New(Options{})
	require.NoError(t, err)
	_, err = s.Token(context.Background())
	require.ErrorContains(t, err, "application default credentials")
}

func TestVertexBaseURL(t *testing.T) {
	require.Equal(t, "https://us-central1-aiplatform.googleapis.com", VertexBaseURL("us-central1"))
	require.Equal(t, "https://aiplatform.googleapis.com", VertexBaseURL("global"))
	require.Equal(t, "https://aiplatform.googleapis.com", VertexBaseURL(""))
}

func TestNewAcceptsPKCS1Key(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	doc, err := json.Marshal(map[string]string{"type": "service_account", "client_email": "a@b", "private_key": string(pemKey)})
	require.NoError(t, err)
	_, err = New(Options{CredentialsJSON: doc})
	require.NoError(t, err)
}
