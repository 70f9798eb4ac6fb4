package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// ClaimNames maps JWT claims to Identity fields. Empty names pick the defaults shown.
// Names are top-level claim names used verbatim (namespaced URLs such as
// "https://example.com/models" work).
type ClaimNames struct {
	KeyID        string // "sub": accounting id, prefixed with JWTOptions.KeyIDPrefix
	Name         string // "name"
	Owner        string // "sub"
	Team         string // "team"
	Tags         string // "tags" (an object of strings)
	Models       string // "models" (array, or space- or comma-separated string)
	Endpoints    string // "endpoints"
	Scopes       string // "scope" (space-separated string, as in OAuth 2); "scp" is also read
	RPM          string // "rpm"
	TPM          string // "tpm"
	MaxParallel  string // "max_parallel"
	BudgetUSD    string // "budget_usd"
	BudgetPeriod string // "budget_period"
	Priority     string // "priority"
}

func (c *ClaimNames) defaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.KeyID, "sub")
	def(&c.Name, "name")
	def(&c.Owner, "sub")
	def(&c.Team, "team")
	def(&c.Tags, "tags")
	def(&c.Models, "models")
	def(&c.Endpoints, "endpoints")
	def(&c.Scopes, "scope")
	def(&c.RPM, "rpm")
	def(&c.TPM, "tpm")
	def(&c.MaxParallel, "max_parallel")
	def(&c.BudgetUSD, "budget_usd")
	def(&c.BudgetPeriod, "budget_period")
	def(&c.Priority, "priority")
}

// JWTOptions configure a JWTAuthenticator.
type JWTOptions struct {
	// Issuer is the required "iss".
	Issuer string
	// Audiences: the token's "aud" must contain at least one of them.
	Audiences []string
	// Algorithms allowed (default RS256, ES256, EdDSA). Only asymmetric algorithms are
	// accepted: "none" and HS* are refused at construction.
	Algorithms []string
	// JWKSURL (http or https) or JWKSFile: exactly one is required.
	JWKSURL  string
	JWKSFile string
	// RefreshInterval is how often the key set is reloaded in the background
	// (default 5m). A token naming an unknown kid triggers an early reload, at most once
	// per MinRefreshInterval (default 30s).
	RefreshInterval    time.Duration
	MinRefreshInterval time.Duration
	// ClockSkew tolerated on exp, nbf and iat (default 30s).
	ClockSkew time.Duration
	// AllowNoExpiration accepts tokens without "exp" (default: refused).
	AllowNoExpiration bool
	// KeyIDPrefix is put before the key-id claim to form Identity.KeyID (default
	// "jwt:"), so token subjects never collide with virtual key ids in accounting.
	KeyIDPrefix string
	// Claims maps claims to Identity fields.
	Claims ClaimNames
	// CacheTTL bounds how long a verified token is remembered (default 60s, never past
	// its exp); CacheEntries bounds how many (default 10000).
	CacheTTL     time.Duration
	CacheEntries int
	// HTTPClient fetches JWKSURL (default: a client with a 10s timeout).
	HTTPClient *http.Client
	Logger     *zap.Logger
	Now        func() time.Time
}

// JWTAuthenticator verifies bearer JWTs against a JWKS and maps their claims to an
// Identity (Kind "jwt"). Verified tokens are cached by their SHA-256 until they expire
// or CacheTTL passes, so a caller reusing a token pays for one signature check.
type JWTAuthenticator struct {
	opts   JWTOptions
	now    func() time.Time
	log    *zap.Logger
	parser *jwt.Parser
	algs   map[string]bool

	keys        atomic.Pointer[keySet]
	lastRefresh atomic.Int64
	flight      singleflight.Group

	mu    sync.RWMutex
	cache map[[32]byte]jwtEntry

	cancel context.CancelFunc
	done   sync.WaitGroup
}

type jwtEntry struct {
	id    *Identity
	until int64
}

// Pre-allocated JWT failures (see FailureReason).
var (
	errJWTMalformed   = &failure{"jwt_malformed", ErrInvalid}
	errJWTSignature   = &failure{"jwt_signature", ErrInvalid}
	errJWTUnknownKey  = &failure{"jwt_unknown_kid", ErrInvalid}
	errJWTAlgorithm   = &failure{"jwt_algorithm", ErrInvalid}
	errJWTExpired     = &failure{"jwt_expired", ErrExpired}
	errJWTNotYetValid = &failure{"jwt_not_yet_valid", ErrInvalid}
	errJWTIssuer      = &failure{"jwt_issuer", ErrInvalid}
	errJWTAudience    = &failure{"jwt_audience", ErrInvalid}
	errJWTClaims      = &failure{"jwt_claims", ErrInvalid}
	errJWKSDown       = &failure{"jwks_unavailable", ErrUnavailable}
)

// NewJWTAuthenticator validates opts, loads the key set and starts the background
// refresh (Close stops it). A JWKS URL that cannot be fetched at start is not fatal —
// the identity provider may be briefly down — tokens get ErrUnavailable until the set
// loads; a JWKS file that cannot be read is.
func NewJWTAuthenticator(ctx context.Context, opts JWTOptions) (*JWTAuthenticator, error) {
	if opts.Issuer == "" {
		return nil, errors.New("jwt: issuer is required")
	}
	if len(opts.Audiences) == 0 {
		return nil, errors.New("jwt: at least one audience is required")
	}
	if (opts.JWKSURL == "") == (opts.JWKSFile == "") {
		return nil, errors.New("jwt: exactly one of jwks_url and jwks_file is required")
	}
	if opts.JWKSURL != "" {
		u, err := url.Parse(opts.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("jwt: jwks_url %q is not an http(s) URL", opts.JWKSURL)
		}
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	}
	algs := map[string]bool{}
	for _, a := range opts.Algorithms {
		if !asymmetricAlgs[a] {
			return nil, fmt.Errorf("jwt: algorithm %q is not allowed (use RS*, PS*, ES* or EdDSA)", a)
		}
		algs[a] = true
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 5 * time.Minute
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = 30 * time.Second
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 30 * time.Second
	}
	if opts.KeyIDPrefix == "" {
		opts.KeyIDPrefix = "jwt:"
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 10000
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	opts.Claims.defaults()
	a := &JWTAuthenticator{opts: opts, now: opts.Now, log: opts.Logger, algs: algs, cache: map[[32]byte]jwtEntry{}}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(opts.Algorithms),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audiences...),
		jwt.WithLeeway(opts.ClockSkew),
		jwt.WithTimeFunc(a.now),
		jwt.WithIssuedAt(),
		jwt.WithJSONNumber(),
	}
	if !opts.AllowNoExpiration {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	a.parser = jwt.NewParser(popts...)
	if err := a.refresh(ctx); err != nil {
		if opts.JWKSFile != "" {
			return nil, err
		}
		a.log.Error("could not load the JWKS; JWTs are refused until it loads", zap.String("jwks_url", opts.JWKSURL), zap.Error(err))
	}
	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done.Add(1)
	go a.refreshLoop(bg)
	return a, nil
}

// Close stops the background refresh.
func (a *JWTAuthenticator) Close() {
	a.cancel()
	a.done.Wait()
}

func (a *JWTAuthenticator) refreshLoop(ctx context.Context) {
	defer a.done.Done()
	delay := a.opts.RefreshInterval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if err := a.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			// Keep the keys we have; try again sooner than the normal interval.
			a.log.Warn("JWKS refresh failed; keeping the previous key set", zap.Error(err))
			delay = min(a.opts.MinRefreshInterval, a.opts.RefreshInterval)
			continue
		}
		delay = a.opts.RefreshInterval
	}
}

// refresh loads the key set once, shared by concurrent callers.
func (a *JWTAuthenticator) refresh(ctx context.Context) error {
	_, err, _ := a.flight.Do("refresh", func() (any, error) {
		a.lastRefresh.Store(a.now().UnixNano())
		data, err := a.load(ctx)
		if err != nil {
			return nil, err
		}
		ks, skipped, err := parseJWKS(data)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			a.log.Warn("JWKS keys skipped (unsupported type, not for signing, or malformed)", zap.Int("skipped", skipped))
		}
		a.keys.Store(ks)
		return nil, nil
	})
	return err
}

const maxJWKSBytes = 1 << 20

func (a *JWTAuthenticator) load(ctx context.Context) ([]byte, error) {
	if a.opts.JWKSFile != "" {
		data, err := os.ReadFile(a.opts.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		return data, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, a.opts.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := a.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s answered %d", a.opts.JWKSURL, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return nil, errors.New("jwks: document larger than 1 MiB")
	}
	return data, nil
}

// looksLikeJWT is a cheap shape check: three dot-separated parts and a header that
// starts as base64 of `{"`.
func looksLikeJWT(s string) bool {
	return len(s) > 16 && strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// Authenticate implements Authenticator.
func (a *JWTAuthenticator) Authenticate(ctx context.Context, credential string) (*Identity, error) {
	if credential == "" {
		return nil, ErrMissing
	}
	if !looksLikeJWT(credential) {
		return nil, errJWTMalformed
	}
	// Hash the token's bytes in place (sha256 only reads them): no copy of a token that
	// may be kilobytes long.
	h := sha256.Sum256(unsafe.Slice(unsafe.StringData(credential), len(credential)))
	now := a.now().UnixNano()
	a.mu.RLock()
	e, ok := a.cache[h]
	a.mu.RUnlock()
	if ok && now < e.until {
		return e.id, nil
	}
	if a.keys.Load() == nil {
		// Not loaded yet (identity provider down at start): try now, rate-limited.
		a.maybeRefresh(ctx)
		if a.keys.Load() == nil {
			return nil, errJWKSDown
		}
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(credential, claims, func(t *jwt.Token) (any, error) { return a.keyFor(ctx, t) })
	if err != nil {
		return nil, classifyJWTError(err)
	}
	id, err := a.identity(claims)
	if err != nil {
		return nil, err
	}
	until := now + int64(a.opts.CacheTTL)
	if !id.ExpiresAt.IsZero() && id.ExpiresAt.UnixNano() < until {
		until = id.ExpiresAt.UnixNano()
	}
	a.mu.Lock()
	if len(a.cache) >= a.opts.CacheEntries {
		for k, v := range a.cache {
			if v.until <= now || len(a.cache) >= a.opts.CacheEntries {
				delete(a.cache, k)
			}
		}
	}
	a.cache[h] = jwtEntry{id: id, until: until}
	a.mu.Unlock()
	return id, nil
}

// errNoKey marks a token whose kid the key set does not hold (after a reload).
var errNoKey = errors.New("no key for this token")

func (a *JWTAuthenticator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !a.algs[alg] { // the parser checks too; this keeps keyFor safe on its own
		return nil, jwt.ErrTokenSignatureInvalid
	}
	kid, _ := t.Header["kid"].(string)
	keys := a.keys.Load().find(kid, alg)
	if len(keys) == 0 && kid != "" {
		// The provider may have rotated keys: reload (rate-limited) and look again.
		a.maybeRefresh(ctx)
		keys = a.keys.Load().find(kid, alg)
	}
	switch len(keys) {
	case 0:
		return nil, errNoKey
	case 1:
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

func (a *JWTAuthenticator) maybeRefresh(ctx context.Context) {
	if a.now().UnixNano()-a.lastRefresh.Load() < int64(a.opts.MinRefreshInterval) {
		return
	}
	if err := a.refresh(ctx); err != nil {
		a.log.Warn("JWKS reload failed", zap.Error(err))
	}
}

func classifyJWTError(err error) error {
	switch {
	case errors.Is(err, errNoKey):
		return errJWTUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return errJWTExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errJWTNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errJWTIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errJWTAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidClaims):
		return errJWTClaims
	case strings.Contains(err.Error(), "signing method"):
		// golang-jwt reports a disallowed, unknown or missing alg only in the text.
		return errJWTAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errJWTMalformed
	}
	// Bad signature, or a key that cannot verify it.
	return errJWTSignature
}

// identity maps verified claims to an Identity.
func (a *JWTAuthenticator) identity(c jwt.MapClaims) (*Identity, error) {
	n := &a.opts.Claims
	sub := claimString(c, n.KeyID)
	if sub == "" {
		return nil, errJWTClaims
	}
	id := &Identity{
		KeyID:     a.opts.KeyIDPrefix + sub,
		Kind:      "jwt",
		Name:      claimString(c, n.Name),
		Owner:     claimString(c, n.Owner),
		Team:      claimString(c, n.Team),
		Tags:      claimTags(c, n.Tags),
		Models:    claimList(c, n.Models),
		Endpoints: claimList(c, n.Endpoints),
		Scopes:    claimList(c, n.Scopes),
		Limits: Limits{
			RequestsPerMinute: claimInt(c, n.RPM),
			TokensPerMinute:   claimInt(c, n.TPM),
			MaxParallel:       claimInt(c, n.MaxParallel),
		},
		Budget:   Budget{USD: claimFloat(c, n.BudgetUSD), Period: claimString(c, n.BudgetPeriod)},
		Priority: int(claimInt(c, n.Priority)),
	}
	if len(id.Scopes) == 0 {
		id.Scopes = claimList(c, "scp")
	}
	if exp, err := c.GetExpirationTime(); err == nil && exp != nil {
		id.ExpiresAt = exp.Time
	}
	return id, nil
}

func claimString(c jwt.MapClaims, name string) string {
	switch v := c[name].(type) {
	case string:
		return v
	case interface{ String() string }: // json.Number
		return v.String()
	}
	return ""
}

func claimList(c jwt.MapClaims, name string) []string {
	switch v := c[name].(type) {
	case string:
		return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func claimTags(c jwt.MapClaims, name string) map[string]string {
	m, ok := c[name].(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func claimFloat(c jwt.MapClaims, name string) float64 {
	var s string
	switch v := c[name].(type) {
	case string:
		s = v
	case interface{ String() string }:
		s = v.String()
	default:
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0
	}
	return f
}

func claimInt(c jwt.MapClaims, name string) int64 {
	f := claimFloat(c, name)
	if f > 1<<62 {
		return 0
	}
	return int64(f)
}
