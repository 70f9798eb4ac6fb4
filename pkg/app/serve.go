package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/apidocs"
	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/extproc"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Processor is a running ext_proc server with its admin endpoints.
type Processor struct {
	Components *Components
	Server     *extproc.Server
	GRPC       *grpc.Server
	Metrics    *prometheus.Registry
	configHash string
	// Reloader, when set, reloads the config file (hot reload).
	Reloader *Reloader
	// PublicURL, when set, overrides admin.public_url as the server of the public API
	// document on the API reference page (`llm-router run` sets its own address).
	PublicURL string
	ready     atomic.Bool
	streams   prometheus.Gauge
}

// NewProcessor builds the ext_proc gRPC server for c.
func NewProcessor(c *Components) *Processor {
	reg := c.Metrics
	p := &Processor{Components: c, Metrics: reg, configHash: config.Hash(c.Config)}
	p.streams = prometheus.NewGauge(prometheus.GaugeOpts{Name: "llm_router_extproc_streams_active", Help: "ext_proc streams in progress."})
	reg.MustRegister(p.streams)
	p.Server = extproc.NewServer(c.Gateway, extproc.Options{
		Logger:   c.Logger.Named("extproc"),
		OnStream: func(d int) { p.streams.Add(float64(d)) },
	})
	p.GRPC = grpc.NewServer(extproc.ServerOptions(int(c.Config.GetServer().GetMaxRequestBodyBytes()))...)
	p.Server.Register(p.GRPC)
	p.ready.Store(true)
	return p
}

// DefaultPublicURL is where callers reach the public API when admin.public_url is unset.
const DefaultPublicURL = "http://localhost:8080"

// AdminHandler serves the admin listener: /healthz, /readyz, /statusz, /metrics, the
// admin API under /v1/admin/, its OpenAPI document at /openapi.json and the API
// reference page at /docs/.
func (p *Processor) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	p.mountDocs(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.ready.Load() || p.Server.Draining() {
			http.Error(w, "not ready: draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /statusz", func(w http.ResponseWriter, _ *http.Request) {
		rt := p.Components.Gateway.Runtime()
		type backend struct {
			Name     string `json:"name"`
			Provider string `json:"provider"`
			Model    string `json:"model"`
			Priority uint32 `json:"priority"`
			Breaker  string `json:"breaker,omitempty"`
		}
		type model struct {
			Name     string    `json:"name"`
			Backends []backend `json:"backends"`
		}
		out := struct {
			Version         string  `json:"version"`
			ConfigHash      string  `json:"config_hash"`
			LastReloadError string  `json:"last_reload_error,omitempty"`
			Draining        bool    `json:"draining"`
			Models          []model `json:"models"`
		}{Version: Version, ConfigHash: p.configHash, Draining: p.Server.Draining()}
		if p.Reloader != nil {
			out.ConfigHash, out.LastReloadError = p.Reloader.Status()
		}
		for _, m := range rt.Models() {
			mm := model{Name: m.Name}
			for _, b := range m.Backends {
				be := backend{Name: b.Name, Provider: b.Provider, Model: b.Model, Priority: b.Priority}
				if r := p.Components.Router; r != nil {
					be.Breaker = r.State(b.Name).String()
				}
				mm.Backends = append(mm.Backends, be)
			}
			out.Models = append(out.Models, mm)
		}
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.Metrics, promhttp.HandlerOpts{}))
	var api *admin.Server
	if a := p.Components.Identity; a != nil {
		api = a.Admin
	}
	guard := newAdminGuard(p.Components.Config.GetAdmin().GetTokens(), api, p.Components.Logger.Named("admin.audit"))
	// The log level: GET reads it, PUT {"level":"debug"} changes it.
	mux.Handle("/v1/admin/log-level", guard.wrap("log_level", []string{http.MethodGet, http.MethodPut},
		func(w http.ResponseWriter, r *http.Request) {
			if p.Components.logLevel == nil {
				writeAdminError(w, http.StatusNotFound, "not_found", "the log level is fixed in this process")
				return
			}
			jsonContentType(p.Components.logLevel)(w, r)
		}))
	mux.Handle("/v1/admin/reload", guard.wrap("reload", []string{http.MethodPost},
		func(w http.ResponseWriter, r *http.Request) {
			if p.Reloader == nil {
				writeAdminError(w, http.StatusNotFound, "not_found", "no config file to reload")
				return
			}
			p.Reloader.Handler()(w, r)
		}))
	if a := p.Components.Identity; a != nil && a.Admin != nil {
		h := a.Admin.Handler()
		mux.Handle("/v1/admin/", h)
	}
	return mux
}

// mountDocs serves the API reference page and both OpenAPI documents. They are static
// and hold no secret, so they need no token (the operations they describe do).
func (p *Processor) mountDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(admin.OpenAPI())
	})
	public := p.PublicURL
	if public == "" {
		public = p.Components.Config.GetAdmin().GetPublicUrl()
	}
	if public == "" {
		public = DefaultPublicURL
	}
	docs, err := apidocs.NewHandler([]apidocs.Document{
		{Name: "public API", Slug: "public", JSON: apidocs.PublicOpenAPI(), ServerURL: public},
		{Name: "admin API", Slug: "admin", JSON: admin.OpenAPI(), ServerURL: "/"},
	})
	if err != nil {
		// Only a bad admin.public_url gets here, and config validation refuses it first.
		p.Components.Logger.Warn("API reference page unavailable", zap.Error(err))
		return
	}
	for _, pattern := range apidocs.Patterns() {
		mux.Handle(pattern, docs)
	}
}

// Serve runs `llm-router serve`: the ext_proc server on cfg.server.extproc_address and
// the admin server on cfg.server.admin_address, until ctx ends or SIGTERM/SIGINT, then
// drains in-flight streams.
func Serve(ctx context.Context, path string, cfg *configv1.Config, log *zap.Logger, level *zap.AtomicLevel) error {
	c, err := Build(cfg, BuildOptions{Logger: log, LogLevel: level})
	if err != nil {
		return err
	}
	p := NewProcessor(c)
	if path != "" {
		p.Reloader = NewReloader(path, c)
		rctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go p.Reloader.Run(rctx, 2*time.Second)
	}
	grpcLis, err := Listen(cfg.GetServer().GetExtprocAddress())
	if err != nil {
		return fmt.Errorf("ext_proc listener: %w", err)
	}
	adminLis, err := net.Listen("tcp", cfg.GetServer().GetAdminAddress())
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	admin := &http.Server{Handler: p.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- p.GRPC.Serve(grpcLis) }()
	go func() {
		if err := admin.Serve(adminLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	log.Info("llm-router serving",
		zap.String("extproc", grpcLis.Addr().String()),
		zap.String("admin", adminLis.Addr().String()),
		zap.String("version", Version),
		zap.String("config_hash", p.configHash))

	// The caller cancels ctx on SIGTERM/SIGINT.
	select {
	case <-waitCtx(ctx).Done():
		log.Info("stopping: draining in-flight streams")
	case err := <-errc:
		return err
	}
	timeout := drainTimeout(cfg)
	extproc.DrainAndStop(p.Server, p.GRPC, timeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(shutdownCtx)
	c.Close(shutdownCtx)
	log.Info("llm-router stopped")
	return nil
}
