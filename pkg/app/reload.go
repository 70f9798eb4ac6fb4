package app

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/gateway"
	"github.com/llm-router/llm-router/pkg/provider/all"
)

// Reloader replaces the gateway's runtime when the config file changes (polled), on
// SIGHUP, or through the admin endpoint. A new config is fully validated and built
// before it replaces the old one atomically; a bad file keeps the old config running
// and is reported in the log, a metric and /statusz. Requests in flight finish on the
// runtime they started with. Storage, listeners and admin tokens are read at start
// only: changing them needs a restart.
type Reloader struct {
	path string
	c    *Components
	log  *zap.Logger

	mu        sync.Mutex
	hash      string
	lastErr   string
	lastMod   time.Time
	successes prometheus.Counter
	failures  prometheus.Counter
}

// NewReloader watches path for c.
func NewReloader(path string, c *Components) *Reloader {
	r := &Reloader{path: path, c: c, log: c.Logger.Named("reload"), hash: config.Hash(c.Config)}
	r.successes = prometheus.NewCounter(prometheus.CounterOpts{Name: "llm_router_config_reloads_total", Help: "Config reloads applied."})
	r.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "llm_router_config_reload_failures_total", Help: "Config reloads refused (the old config keeps running)."})
	if c.Metrics != nil {
		_ = c.Metrics.Register(r.successes)
		_ = c.Metrics.Register(r.failures)
	}
	if st, err := os.Stat(path); err == nil {
		r.lastMod = st.ModTime()
	}
	return r
}

// Status reports the active config hash and the last reload error ("" if none).
func (r *Reloader) Status() (hash, lastErr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hash, r.lastErr
}

// Reload loads, validates and applies the file now. It returns the error that kept
// the old config, if any.
func (r *Reloader) Reload() error {
	cfg, err := config.Load(r.path, config.Options{Kinds: all.Registry().Kinds(), ResolveSecrets: true})
	if err == nil {
		var rt *gateway.Runtime
		if rt, err = gateway.NewRuntime(cfg, r.c.runtimeOptions); err == nil {
			r.c.Gateway.Swap(rt)
			r.c.Config = cfg
			if r.c.Router != nil {
				var backends, models []string
				for _, m := range rt.Models() {
					models = append(models, m.Name)
					for _, b := range m.Backends {
						backends = append(backends, b.Name)
					}
				}
				r.c.Router.Retain(backends, models)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastErr = err.Error()
		r.failures.Inc()
		r.log.Error("config reload refused; the previous config keeps running", zap.String("path", r.path), zap.Error(err))
		return err
	}
	r.lastErr = ""
	r.hash = config.Hash(cfg)
	r.successes.Inc()
	r.log.Info("config reloaded", zap.String("path", r.path), zap.String("config_hash", r.hash))
	return nil
}

// Run polls the file every interval and listens for SIGHUP until ctx ends.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.Reload()
		case <-t.C:
			st, err := os.Stat(r.path)
			if err != nil || st.ModTime().Equal(r.lastMod) {
				continue
			}
			r.lastMod = st.ModTime()
			_ = r.Reload()
		}
	}
}

// Handler reloads the file now and answers {"reloaded":true,"config_hash":...} or 422
// with the reason. The admin listener puts it behind the admin guard.
func (r *Reloader) Handler() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		if err := r.Reload(); err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"reloaded":false,"error":` + quoteJSON(err.Error()) + "}\n"))
			return
		}
		hash, _ := r.Status()
		_, _ = w.Write([]byte(`{"reloaded":true,"config_hash":"` + hash + "\"}\n"))
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			if c < 0x20 {
				continue
			}
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
