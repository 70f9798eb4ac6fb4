// Package app assembles llm-router's processes from their parts: it loads the config,
// builds the provider registry, the gateway and its observers, and runs the ext_proc
// gRPC server (`serve`) or the same processor behind the built-in Envoy emulator
// (`run`). Commands in cmd/llm-router are thin wrappers around it.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/cache"
	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/gateway"
	"github.com/llm-router/llm-router/pkg/limits"
	"github.com/llm-router/llm-router/pkg/pricing"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/provider/all"
	"github.com/llm-router/llm-router/pkg/routing"
	"github.com/llm-router/llm-router/pkg/telemetry"
	"github.com/llm-router/llm-router/pkg/telemetry/tracing"
	"github.com/llm-router/llm-router/pkg/tokens"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Version is the build version, set with -ldflags "-X .../pkg/app.Version=v1.2.3".
var Version = "dev"

// LoadConfig loads path, or the embedded default when path is empty.
func LoadConfig(path string, resolveSecrets bool) (*configv1.Config, error) {
	reg := all.Registry()
	if path == "" {
		return config.Default(nil), nil
	}
	return config.Load(path, config.Options{Kinds: reg.Kinds(), ResolveSecrets: resolveSecrets})
}

// NewLogger builds the zap logger the config asks for. Its level is an AtomicLevel that
// the admin API can change at runtime (pass it as BuildOptions.LogLevel).
func NewLogger(cfg *configv1.Config) (*zap.Logger, zap.AtomicLevel, error) {
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	lvl := zapcore.InfoLevel
	if s := cfg.GetLogging().GetLevel(); s != "" {
		if err := lvl.Set(s); err != nil {
			return nil, level, fmt.Errorf("logging.level: %w", err)
		}
	}
	zc := zap.NewProductionConfig()
	if cfg.GetLogging().GetFormat() == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	level.SetLevel(lvl)
	zc.Level = level
	zc.Sampling = nil
	zc.DisableStacktrace = true
	log, err := zc.Build()
	return log, level, err
}

// Components is an assembled processor.
type Components struct {
	Config   *configv1.Config
	Registry *provider.Registry
	Gateway  *gateway.Gateway
	Tokens   *tokens.Counter
	Logger   *zap.Logger
	// Metrics is the Prometheus registry served on /metrics.
	Metrics *prometheus.Registry
	// Identity holds the key store, ledger and admin API (may be empty).
	Identity *Identity
	// Router holds routing statistics and circuit breakers across reloads.
	Router *routing.Router

	tracer         *tracing.Provider
	logLevel       *zap.AtomicLevel
	runtimeOptions gateway.RuntimeOptions
}

// Close releases what Build opened (flushes the usage ledger).
func (c *Components) Close(ctx context.Context) {
	if c.Identity != nil {
		c.Identity.Close(ctx)
	}
	if c.tracer != nil {
		_ = c.tracer.Shutdown(ctx)
	}
}

// BuildOptions tune Build.
type BuildOptions struct {
	Logger *zap.Logger
	// BaseURLOverride may replace a provider's base URL (run's built-in mock).
	BaseURLOverride func(p *configv1.Provider) string
	// Observers receive request summaries.
	Observers []gateway.Observer
	// LogLevel, when set, is exposed on the admin API for runtime changes.
	LogLevel *zap.AtomicLevel
}

// Build assembles the gateway for cfg.
func Build(cfg *configv1.Config, opts BuildOptions) (*Components, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	reg := all.Registry()
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx := context.Background()
	ident, err := BuildIdentity(ctx, cfg, metrics, log.Named("keys"))
	if err != nil {
		return nil, err
	}
	prices, err := pricing.Default()
	if err != nil {
		ident.Close(ctx)
		return nil, fmt.Errorf("price table: %w", err)
	}
	ropts := gateway.RuntimeOptions{Registry: reg, Resolve: secretResolver, BaseURLOverride: opts.BaseURLOverride, Authenticator: ident.Authenticator, Prices: priceLookup(prices)}
	rt, err := gateway.NewRuntime(cfg, ropts)
	if err != nil {
		ident.Close(ctx)
		return nil, err
	}
	router := routing.New(routing.Options{Registerer: metrics})
	tm, err := telemetry.NewMetrics(metrics, metricsOptions(cfg))
	if err != nil {
		ident.Close(ctx)
		return nil, fmt.Errorf("metrics: %w", err)
	}
	observers := append([]gateway.Observer{tm, ident}, opts.Observers...)
	// Tracing is configured by the standard OTEL_* variables and off by default.
	tp, err := tracing.NewTracerProvider(ctx, tracing.Options{ServiceVersion: Version})
	if err != nil {
		ident.Close(ctx)
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if tp.Enabled() {
		kinds := map[string]string{}
		for _, p := range cfg.GetProviders() {
			kinds[p.GetName()] = p.GetKind()
		}
		observers = append(observers, &telemetry.TraceObserver{Provider: tp, ProviderKinds: kinds})
	}
	counter := tokens.NewCounter()
	respCache, cacheMetrics, err := buildCache(cfg, metrics)
	if err != nil {
		ident.Close(ctx)
		return nil, err
	}
	limiter, err := buildLimiter(cfg, metrics, log)
	if err != nil {
		ident.Close(ctx)
		return nil, err
	}
	gw := gateway.New(rt, gateway.Options{
		Limiter:      limiter,
		Cache:        respCache,
		CacheMetrics: cacheMetrics,
		CacheTTL:     cfg.GetCache().GetTtl().AsDuration(),
		CachePerKey:  cfg.GetCache().GetPerKey(),
		Frontends:    all.Frontends(),
		Logger:       log.Named("access"),
		Observers:    observers,
		Tokens:       counter,
		Pricer:       prices,
		Router:       router,
	})
	return &Components{Config: cfg, Registry: reg, Gateway: gw, Tokens: counter, Logger: log, Metrics: metrics, Identity: ident, Router: router, tracer: tp, logLevel: opts.LogLevel, runtimeOptions: ropts}, nil
}

// buildCache returns the configured response cache (nil when disabled).
func buildCache(cfg *configv1.Config, reg prometheus.Registerer) (cache.Cache, *cache.Metrics, error) {
	cc := cfg.GetCache()
	if !cc.GetEnabled() {
		return nil, nil, nil
	}
	m, err := cache.NewMetrics(reg)
	if err != nil {
		return nil, nil, fmt.Errorf("cache metrics: %w", err)
	}
	if cc.GetBackend() == "redis" {
		client, err := redisClient(cfg.GetRedis())
		if err != nil {
			return nil, nil, err
		}
		c, err := cache.NewRedis(cache.RedisOptions{Client: client, DefaultTTL: cc.GetTtl().AsDuration(), Metrics: m})
		return c, m, err
	}
	return cache.NewMemory(cache.MemoryOptions{MaxBytes: int64(cc.GetMaxBytes()), DefaultTTL: cc.GetTtl().AsDuration(), Metrics: m}), m, nil
}

// buildLimiter returns the configured limiter. Per-key limits come with each key, so
// the in-memory limiter is always on; its admit path costs well under a microsecond.
func buildLimiter(cfg *configv1.Config, reg prometheus.Registerer, log *zap.Logger) (limits.Limiter, error) {
	lc := cfg.GetLimits()
	opts := limits.Options{
		Models:     map[string]limits.Rate{},
		Teams:      map[string]limits.TeamLimits{},
		Backends:   map[string]limits.BackendLimits{},
		Registerer: reg,
		Logger:     log.Named("limits"),
	}
	for m, r := range lc.GetModels() {
		opts.Models[m] = limits.Rate{RequestsPerMinute: r.GetRequestsPerMinute(), TokensPerMinute: r.GetTokensPerMinute()}
	}
	for t, l := range lc.GetTeams() {
		opts.Teams[t] = limits.TeamLimits{
			Rate:   limits.Rate{RequestsPerMinute: l.GetRequestsPerMinute(), TokensPerMinute: l.GetTokensPerMinute()},
			Budget: auth.Budget{USD: l.GetBudgetUsd(), Period: l.GetBudgetPeriod()},
		}
	}
	for b, n := range lc.GetBackendMaxParallel() {
		opts.Backends[b] = limits.BackendLimits{MaxParallel: int64(n)}
	}
	if d := lc.GetQueueMaxWait(); d != nil {
		opts.Queue.MaxWait = d.AsDuration()
	}
	opts.Queue.MaxDepth = int(lc.GetQueueMaxDepth())
	if lc.GetBackend() == "redis" {
		client, err := redisClient(cfg.GetRedis())
		if err != nil {
			return nil, err
		}
		return limits.NewRedis(client, limits.RedisOptions{Options: opts, FailMode: limits.FailMode(lc.GetRedisFailMode())})
	}
	return limits.NewMemory(opts)
}

// redisClient connects to the configured Redis.
func redisClient(r *configv1.Redis) (*redis.Client, error) {
	pw := ""
	if r.GetPassword() != "" {
		v, err := secretResolver(r.GetPassword())
		if err != nil {
			return nil, fmt.Errorf("redis.password: %w", err)
		}
		pw = v
	}
	return redis.NewClient(&redis.Options{Addr: r.GetAddress(), Password: pw, DB: int(r.GetDb())}), nil
}

// secretResolver resolves "${ENV}" and "file:" references from the process environment.
func secretResolver(ref string) (string, error) { return config.ResolveSecret(ref, nil) }

// priceLookup adapts the price table for the lowest_cost strategy.
func priceLookup(t *pricing.Table) func(kind, model string) (float64, float64, bool) {
	return func(kind, model string) (float64, float64, bool) {
		p, ok := t.Lookup(kind, model)
		if !ok {
			return 0, 0, false
		}
		return p.Input, p.Output, true
	}
}

// metricsOptions bounds metric labels to the names the config declares.
func metricsOptions(cfg *configv1.Config) telemetry.MetricsOptions {
	o := telemetry.MetricsOptions{ProviderKinds: map[string]string{}, KeyIDLabel: cfg.GetTelemetry().GetKeyIdLabel()}
	for _, p := range cfg.GetProviders() {
		o.ProviderKinds[p.GetName()] = p.GetKind()
	}
	for _, m := range cfg.GetModels() {
		o.Models = append(o.Models, m.GetName())
		o.Models = append(o.Models, m.GetAliases()...)
		for _, b := range m.GetBackends() {
			o.Backends = append(o.Backends, b.GetName())
			o.UpstreamModels = append(o.UpstreamModels, b.GetModel())
		}
	}
	return o
}

// Listen opens a TCP address or a "unix://" socket path.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// drainTimeout returns the configured drain timeout.
func drainTimeout(cfg *configv1.Config) time.Duration {
	if d := cfg.GetServer().GetDrainTimeout(); d != nil && d.AsDuration() > 0 {
		return d.AsDuration()
	}
	return 30 * time.Second
}

// waitCtx is a helper so callers can pass a nil context.
func waitCtx(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
