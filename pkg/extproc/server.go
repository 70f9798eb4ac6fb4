package extproc

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// MetadataNamespace is the dynamic metadata namespace the processor writes to. Envoy's
// ext_proc filter must list it in metadata_options.receiving_namespaces.
const MetadataNamespace = "llm_router"

// AttributesKey is the fixed key under which Envoy sends request_attributes.
const AttributesKey = "envoy.filters.http.ext_proc"

// Options configure a Server.
type Options struct {
	// Logger receives stream-level errors; nil disables logging.
	Logger *zap.Logger
	// OnStream, when set, is called with +1 when a stream starts and -1 when it ends
	// (for an active-streams gauge).
	OnStream func(delta int)
}

// Server implements envoy.service.ext_proc.v3.ExternalProcessorServer.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	handler  Handler
	log      *zap.Logger
	onStream func(int)
	health   *health.Server
	draining atomic.Bool
	active   sync.WaitGroup
}

// NewServer returns a Server that hands each stream to h.
func NewServer(h Handler, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{handler: h, log: log, onStream: opts.OnStream, health: health.NewServer()}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(extprocv3.ExternalProcessor_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s
}

// Register adds the ext_proc service and the gRPC health service to g.
func (s *Server) Register(g *grpc.Server) {
	extprocv3.RegisterExternalProcessorServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
}

// Drain marks the server as draining: health turns NOT_SERVING and new streams are
// refused with UNAVAILABLE, while streams in flight continue. It then waits for them
// until ctx ends and reports whether all finished.
func (s *Server) Drain(ctx context.Context) bool {
	s.draining.Store(true)
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Process implements the ext_proc bidi stream.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	if s.draining.Load() {
		return status.Error(codes.Unavailable, "llm-router is draining")
	}
	s.active.Add(1)
	defer s.active.Done()
	if s.onStream != nil {
		s.onStream(1)
		defer s.onStream(-1)
	}
	ctx := stream.Context()
	ex := s.handler.NewExchange(ctx)
	var closeErr error
	defer func() { ex.Close(ctx, closeErr) }()
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			closeErr = err
			return err
		}
		resp, done, err := dispatch(ctx, ex, req)
		if err != nil {
			closeErr = err
			return err
		}
		if err := stream.Send(resp); err != nil {
			closeErr = err
			return err
		}
		if done {
			// After an immediate response Envoy ignores everything (item 16); wait for it
			// to close the stream so the Exchange sees a clean end.
			for {
				if _, err := stream.Recv(); err != nil {
					return nil
				}
			}
		}
	}
}

// connWindow is the HTTP/2 connection flow-control window: every stream Envoy
// multiplexes on one connection shares it. It is four times the largest window gRPC's
// dynamic flow control would grow to (16 MiB).
const connWindow = 64 << 20

// ServerOptions returns gRPC server options sized for bodies up to maxBody bytes.
//
// Flow-control windows are static: a stream's window holds a whole message of the
// largest size, so no message waits for a window update. With gRPC's default dynamic
// windows, every data frame received while no estimate is pending triggers a BDP ping
// and a window update, which cost both sides a few frames, syscalls and about 27
// allocations per chat exchange in this lock-step protocol.
func ServerOptions(maxBody int) []grpc.ServerOption {
	limit := maxBody + 1<<20 // headers and framing on top of the body
	if limit < 4<<20 {
		limit = 4 << 20
	}
	window := int32(math.MaxInt32)
	if limit < math.MaxInt32 {
		window = int32(limit)
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(limit),
		grpc.MaxSendMsgSize(limit),
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.StaticStreamWindowSize(window),
		grpc.StaticConnWindowSize(max(window, connWindow)),
	}
}

// DrainAndStop drains s, then stops g gracefully, forcing it after timeout.
func DrainAndStop(s *Server, g *grpc.Server, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.Drain(ctx)
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		g.Stop()
	}
}
