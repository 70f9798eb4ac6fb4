package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/envoyconfig"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/harness"
	"github.com/llm-router/llm-router/pkg/provider/mock"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// RunOptions configure `llm-router run`.
type RunOptions struct {
	// Listen is the HTTP address of the data plane; "" uses the config's listen_address.
	Listen string
	// DevKey is the API key to accept; "" generates one (unless the config has keys).
	DevKey string
	// Admin is the admin address; "" uses the config's, "-" disables it.
	Admin string
	// Out receives the startup banner (the key and a curl line).
	Out io.Writer
	// Logger receives logs.
	Logger *zap.Logger
	// Ready, when set, receives the bound data-plane address once serving.
	Ready func(addr string)
	// AdminReady, when set, receives the bound admin address once serving.
	AdminReady func(addr string)
	// LogLevel, when set, is exposed on the admin API for runtime changes.
	LogLevel *zap.AtomicLevel
}

// Local is a running local data plane: the processor, the Envoy emulator in front of
// it, and the built-in mock provider.
type Local struct {
	Processor *Processor
	Envoy     *harness.Envoy
	Key       string
	mockSrv   *http.Server
	grpcLis   net.Listener
	conn      *grpc.ClientConn
}

// StartLocal assembles the local data plane for cfg without serving HTTP yet.
func StartLocal(cfg *configv1.Config, opts RunOptions) (*Local, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	l := &Local{}
	// The built-in mock provider listens on loopback for providers of kind mock that
	// have no base_url.
	var mockURL string
	for _, p := range cfg.GetProviders() {
		if p.GetKind() == "mock" && p.GetBaseUrl() == "" {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("mock provider listener: %w", err)
			}
			l.mockSrv = &http.Server{Handler: mock.NewServer(mock.Options{}), ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = l.mockSrv.Serve(lis) }()
			mockURL = "http://" + lis.Addr().String()
			p.BaseUrl = mockURL
			break
		}
	}
	for _, p := range cfg.GetProviders() {
		if p.GetKind() == "mock" && p.GetBaseUrl() == "" {
			p.BaseUrl = mockURL
		}
	}
	if err := setupKey(cfg, opts, l); err != nil {
		return nil, err
	}
	c, err := Build(cfg, BuildOptions{Logger: log, LogLevel: opts.LogLevel})
	if err != nil {
		l.Close()
		return nil, err
	}
	l.Processor = NewProcessor(c)
	l.grpcLis, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		return nil, err
	}
	go func() { _ = l.Processor.GRPC.Serve(l.grpcLis) }()
	l.conn, err = grpc.NewClient(l.grpcLis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		l.Close()
		return nil, err
	}
	hc, err := HarnessConfig(cfg, l.conn, c.Registry.DefaultBaseURL)
	if err != nil {
		l.Close()
		return nil, err
	}
	hc.Logger = log.Named("dataplane")
	hc.BufferLimitBytes = int(cfg.GetServer().GetMaxRequestBodyBytes())
	l.Envoy, err = harness.New(hc)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("data plane: %w", err)
	}
	return l, nil
}

// setupKey makes sure the local gateway accepts a known key.
func setupKey(cfg *configv1.Config, opts RunOptions, l *Local) error {
	if cfg.Auth == nil {
		cfg.Auth = &configv1.Auth{}
	}
	if len(cfg.Auth.GetKeys()) > 0 && opts.DevKey == "" {
		return nil // the config brings its own keys
	}
	key := opts.DevKey
	if key == "" {
		key = os.Getenv("LLM_ROUTER_DEV_KEY")
	}
	if key == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		key = "llmr-dev-" + hex.EncodeToString(b[:])
	}
	h := auth.HashSecret(key)
	cfg.Auth.AllowUnauthenticated = false
	cfg.Auth.Keys = append(cfg.Auth.Keys, &configv1.StaticKey{Id: "dev", Sha256: hex.EncodeToString(h[:])})
	l.Key = key
	return nil
}

// HarnessConfig configures the Envoy emulator from the same plan that
// `llm-router envoy` renders, so the local data plane and a real Envoy agree.
func HarnessConfig(cfg *configv1.Config, conn grpc.ClientConnInterface, defaultBaseURL func(string) string) (harness.Config, error) {
	hc := harness.Config{
		RouterFilter: envoyconfig.RouterFilter(cfg),
		Processor:    conn,
		// The same CORS policy and internal-only headers as the generated bootstrap.
		CORS:                envoyconfig.CORSPolicy(cfg),
		InternalOnlyHeaders: []string{envoyconfig.BackendHeader, envoyconfig.UnroutedHeader},
	}
	eopts := envoyconfig.Options{DefaultBaseURL: defaultBaseURL}
	hcm, err := envoyconfig.ConnectionManager(cfg, eopts)
	if err != nil {
		return hc, err
	}
	// Every response carries the request's x-request-id, as with the bootstrap's HCM.
	hc.AlwaysSetRequestIDInResponse = hcm.GetAlwaysSetRequestIdInResponse()
	hc.LocalReply = emulatedLocalReply(envoyconfig.LocalReplyConfig(cfg, eopts))
	plans := envoyconfig.Plan(cfg, eopts)
	var upstream = cfg.GetServer().GetUpstreamFilter()
	for _, p := range plans {
		cl := harness.Cluster{Name: p.Name, ConnectTimeout: p.ConnectTimeout}
		if upstream {
			cl.UpstreamFilter = envoyconfig.UpstreamFilter(cfg)
		}
		for _, ep := range p.Endpoints {
			u, err := url.Parse(ep.URL)
			if err != nil {
				return hc, fmt.Errorf("backend %s: %w", p.Backend, err)
			}
			md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
				extproc.MetadataNamespace: {Fields: map[string]*structpb.Value{"backend": structpb.NewStringValue(ep.Backend)}},
			}}
			cl.Endpoints = append(cl.Endpoints, harness.Endpoint{Address: u.Scheme + "://" + u.Host, Priority: ep.Priority, Metadata: md})
		}
		hc.Clusters = append(hc.Clusters, cl)
		route := harness.Route{Name: p.Backend, Header: "x-llm-router-backend", Value: p.Backend, Cluster: p.Name, Timeout: p.RouteTimeout()}
		if p.Retry.NumRetries > 0 {
			route.Retry = &harness.RetryPolicy{
				NumRetries: p.Retry.NumRetries, RetryOn: p.Retry.RetryOn, RetriableStatusCodes: p.Retry.RetriableStatusCodes,
				PreviousPriorities: p.Retry.PreviousPriorities, PerTryTimeout: p.Retry.PerTryTimeout,
			}
		}
		hc.Routes = append(hc.Routes, route)
	}
	// The bootstrap's catch-all: a route entry (so the CORS filter acts on requests not
	// routed yet) whose cluster is never found, answered 404 with flag NC.
	hc.Routes = append(hc.Routes, harness.Route{
		Name: envoyconfig.UnroutedRouteName, PathPrefix: "/",
		ClusterHeader: envoyconfig.UnroutedHeader, ClusterNotFoundStatus: http.StatusNotFound,
	})
	return hc, nil
}

// Close stops everything StartLocal started.
func (l *Local) Close() {
	if l.conn != nil {
		_ = l.conn.Close()
	}
	if l.Processor != nil {
		l.Processor.GRPC.Stop()
	}
	if l.mockSrv != nil {
		_ = l.mockSrv.Close()
	}
}

// Run runs `llm-router run` until ctx ends.
func Run(ctx context.Context, cfg *configv1.Config, opts RunOptions) error {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	l, err := StartLocal(cfg, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	addr := opts.Listen
	if addr == "" {
		addr = cfg.GetServer().GetListenAddress()
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: l.Envoy, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	base := "http://" + lis.Addr().String()
	var admin *http.Server
	var adminBase string
	adminAddr := opts.Admin
	if adminAddr == "" {
		adminAddr = cfg.GetServer().GetAdminAddress()
	}
	if adminAddr != "-" {
		alis, err := net.Listen("tcp", adminAddr)
		if err != nil {
			log.Warn("admin listener unavailable; continuing without it", zap.Error(err))
		} else {
			// The API reference page tries requests against this data plane.
			l.Processor.PublicURL = base
			admin = &http.Server{Handler: l.Processor.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = admin.Serve(alis) }()
			adminBase = "http://" + alis.Addr().String()
			if opts.AdminReady != nil {
				opts.AdminReady(alis.Addr().String())
			}
		}
	}
	if opts.Out != nil {
		fmt.Fprintf(opts.Out, "llm-router %s: local gateway listening on %s\n", Version, base)
		if adminBase != "" {
			fmt.Fprintf(opts.Out, "API reference: %s/docs/\n", adminBase)
		}
		if l.Key != "" {
			fmt.Fprintf(opts.Out, "API key: %s\n", l.Key)
			fmt.Fprintf(opts.Out, "Try:\n  curl -s %s/v1/chat/completions -H \"Authorization: Bearer %s\" -H 'content-type: application/json' -d '{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n", base, l.Key)
		}
	}
	if opts.Ready != nil {
		opts.Ready(lis.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drainTimeout(cfg))
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if admin != nil {
		_ = admin.Shutdown(shutdownCtx)
	}
	extproc.DrainAndStop(l.Processor.Server, l.Processor.GRPC, 5*time.Second)
	return nil
}

// emulatedLocalReply drops the mappers whose filters the emulator cannot evaluate (CEL
// extension filters, used for ext_proc's own failures); the remaining mappers are kept
// in order, so every local reply the emulator produces has the same body Envoy would
// give it, except processor failures, which keep Envoy's default body.
func emulatedLocalReply(lr *hcmv3.LocalReplyConfig) *hcmv3.LocalReplyConfig {
	if lr == nil {
		return nil
	}
	out := proto.Clone(lr).(*hcmv3.LocalReplyConfig)
	mappers := out.Mappers[:0]
	for _, m := range out.GetMappers() {
		if usesExtensionFilter(m.GetFilter()) {
			continue
		}
		mappers = append(mappers, m)
	}
	out.Mappers = mappers
	return out
}

func usesExtensionFilter(f *accesslogv3.AccessLogFilter) bool {
	switch x := f.GetFilterSpecifier().(type) {
	case *accesslogv3.AccessLogFilter_ExtensionFilter:
		return true
	case *accesslogv3.AccessLogFilter_AndFilter:
		for _, sub := range x.AndFilter.GetFilters() {
			if usesExtensionFilter(sub) {
				return true
			}
		}
	case *accesslogv3.AccessLogFilter_OrFilter:
		for _, sub := range x.OrFilter.GetFilters() {
			if usesExtensionFilter(sub) {
				return true
			}
		}
	}
	return false
}
