package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/gateway"
	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
	"github.com/llm-router/llm-router/pkg/ledger"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Identity is the key store, authenticators, usage ledger and admin API built from the
// config's storage, auth, admin and usage sections.
type Identity struct {
	// Authenticator is the chain the gateway uses (nil: the gateway's static keys).
	Authenticator auth.Authenticator
	// Admin serves /v1/admin/ (nil without storage).
	Admin *admin.Server
	// Ledger receives one record per request (nil without storage).
	Ledger  *ledger.Writer
	closers []func(context.Context)
}

// Close flushes the ledger and releases the database.
func (id *Identity) Close(ctx context.Context) {
	for i := len(id.closers) - 1; i >= 0; i-- {
		id.closers[i](ctx)
	}
}

// Observe implements gateway.Observer by queueing a usage record.
func (id *Identity) Observe(ctx context.Context, s *gateway.Summary) {
	if id.Ledger == nil || s.Model == "" {
		return
	}
	// Record never blocks for long: it queues, and on overflow writes the dead letter.
	_ = id.Ledger.Record(ctx, ledger.Record{
		RequestID: s.RequestID, KeyID: s.KeyID, Owner: s.Owner, Team: s.Team,
		Model: s.Model, Backend: s.Backend, Provider: s.Provider, Endpoint: s.Endpoint,
		InputTokens: int64(s.Usage.InputTokens), OutputTokens: int64(s.Usage.OutputTokens),
		CachedTokens: int64(s.Usage.CachedInputTokens), CacheCreationTokens: int64(s.Usage.CacheCreationTokens),
		ReasoningTokens: int64(s.Usage.ReasoningTokens), CostUSD: s.CostUSD,
		Status: s.Status, ErrorType: s.ErrorType, Latency: s.Duration, Time: s.Start, Estimated: s.Usage.Estimated,
	})
}

// BuildIdentity opens the storage and builds authenticators, ledger and admin API.
// With no storage and no JWT it returns an Identity with a nil Authenticator, and the
// gateway uses the config's static keys.
func BuildIdentity(ctx context.Context, cfg *configv1.Config, reg prometheus.Registerer, log *zap.Logger) (*Identity, error) {
	id := &Identity{}
	resolve := func(ref string) (string, error) { return config.ResolveSecret(ref, nil) }
	st := cfg.GetStorage()
	var chain auth.Chain
	var failures *prometheus.CounterVec
	if reg != nil {
		failures = auth.NewFailureCounter()
		if err := reg.Register(failures); err != nil {
			failures = nil
		}
	}
	if st.GetSqlitePath() != "" || st.GetPostgresDsn() != "" {
		dsn := ""
		if st.GetPostgresDsn() != "" {
			v, err := resolve(st.GetPostgresDsn())
			if err != nil {
				return nil, fmt.Errorf("storage.postgres_dsn: %w", err)
			}
			dsn = v
		}
		db, err := sqldb.Open(ctx, sqldb.Config{SQLitePath: st.GetSqlitePath(), PostgresDSN: dsn, Postgres: sqldb.PostgresOptions{Schema: st.GetPostgresSchema()}})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		id.closers = append(id.closers, func(context.Context) { _ = db.Close() })
		ks, err := keystore.NewSQL(ctx, db, keystore.Options{Logger: log})
		if err != nil {
			id.Close(ctx)
			return nil, fmt.Errorf("key store: %w", err)
		}
		if cfg.GetAuth().GetVirtualKeys() {
			ka := auth.NewKeyAuthenticator(ks, auth.KeyOptions{Logger: log})
			id.closers = append(id.closers, func(c context.Context) { _ = ka.Close(c) })
			chain = append(chain, ka)
		}
		usage, err := ledger.NewSQL(ctx, db)
		if err != nil {
			id.Close(ctx)
			return nil, fmt.Errorf("usage ledger: %w", err)
		}
		lm := ledger.NewMetrics()
		if reg != nil {
			for _, c := range lm.Collectors() {
				_ = reg.Register(c)
			}
		}
		id.Ledger = ledger.NewWriter(usage, ledger.WriterOptions{Metrics: lm, Logger: log, DeadLetterPath: cfg.GetUsage().GetDeadLetterPath()})
		id.closers = append(id.closers, func(c context.Context) { _ = id.Ledger.Close(c) })
		if days := cfg.GetUsage().GetRetentionDays(); days > 0 {
			rctx, cancel := context.WithCancel(context.Background())
			go ledger.RunRetention(rctx, usage, ledger.RetentionOptions{RecordsMaxAge: time.Duration(days) * 24 * time.Hour, Logger: log})
			id.closers = append(id.closers, func(context.Context) { cancel() })
		}
		var tokens []admin.Token
		for _, t := range cfg.GetAdmin().GetTokens() {
			h, err := auth.ParseSHA256(t.GetSha256())
			if err != nil {
				id.Close(ctx)
				return nil, fmt.Errorf("admin.tokens[%s]: %w", t.GetId(), err)
			}
			tokens = append(tokens, admin.Token{ID: t.GetId(), SHA256: h})
		}
		aopts := admin.Options{Keys: ks, Usage: usage, Tokens: tokens, AuditLogger: log}
		if d := cfg.GetAdmin().GetRotationGrace(); d != nil {
			aopts.RotationGrace = d.AsDuration()
		}
		if id.Admin, err = admin.New(aopts); err != nil {
			id.Close(ctx)
			return nil, fmt.Errorf("admin API: %w", err)
		}
	} else if cfg.GetAuth().GetVirtualKeys() {
		return nil, errors.New("auth.virtual_keys needs storage.sqlite_path or storage.postgres_dsn")
	}
	if j := cfg.GetAuth().GetJwt(); j != nil {
		opts := auth.JWTOptions{Issuer: j.GetIssuer(), Audiences: j.GetAudiences(), Algorithms: j.GetAlgorithms(), JWKSURL: j.GetJwksUrl(), JWKSFile: j.GetJwksFile(), Logger: log}
		if d := j.GetClockSkew(); d != nil {
			opts.ClockSkew = d.AsDuration()
		}
		ja, err := auth.NewJWTAuthenticator(ctx, opts)
		if err != nil {
			id.Close(ctx)
			return nil, fmt.Errorf("auth.jwt: %w", err)
		}
		id.closers = append(id.closers, func(context.Context) { ja.Close() })
		chain = append(chain, ja)
	}
	if len(chain) == 0 {
		return id, nil
	}
	static, err := gateway.StaticKeys(cfg, resolve)
	if err != nil {
		id.Close(ctx)
		return nil, err
	}
	chain = append(chain, static)
	if failures != nil {
		id.Authenticator = auth.WithFailureCounter(chain, failures)
	} else {
		id.Authenticator = chain
	}
	return id, nil
}
