package extproc

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
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
		resp, done := dispatch(ctx, ex, req)
		if resp == nil {
			closeErr = status.Error(codes.InvalidArgument, "unsupported ext_proc message")
			return closeErr
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

// dispatch routes one request message to the exchange and builds the matching
// response. done reports an immediate response.
func dispatch(ctx context.Context, ex Exchange, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		rh := &RequestHeaders{
			Headers:     NewHeaders(r.RequestHeaders.GetHeaders().GetHeaders()),
			EndOfStream: r.RequestHeaders.GetEndOfStream(),
			Metadata:    req.GetMetadataContext(),
		}
		if a := req.GetAttributes()[AttributesKey]; a != nil {
			rh.Attributes = a.GetFields()
		}
		reply := ex.RequestHeaders(ctx, rh)
		return headersResponse(reply, true), reply.Immediate != nil
	case *extprocv3.ProcessingRequest_RequestBody:
		reply := ex.RequestBody(ctx, r.RequestBody.GetBody(), r.RequestBody.GetEndOfStream())
		return bodyResponse(reply, true), reply.Immediate != nil
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		reply := ex.ResponseHeaders(ctx, NewHeaders(r.ResponseHeaders.GetHeaders().GetHeaders()), r.ResponseHeaders.GetEndOfStream())
		return headersResponse(reply, false), reply.Immediate != nil
	case *extprocv3.ProcessingRequest_ResponseBody:
		reply := ex.ResponseBody(ctx, r.ResponseBody.GetBody(), r.ResponseBody.GetEndOfStream())
		return bodyResponse(reply, false), reply.Immediate != nil
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}, false
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}, false
	}
	return nil, false
}

func headersResponse(reply Reply, request bool) *extprocv3.ProcessingResponse {
	if reply.Immediate != nil {
		return immediate(reply)
	}
	common := commonResponse(reply)
	if reply.ContinueAndReplace {
		common.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
	}
	resp := &extprocv3.ProcessingResponse{DynamicMetadata: metadataStruct(reply.Metadata)}
	hr := &extprocv3.HeadersResponse{Response: common}
	if request {
		resp.Response = &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: hr}
	} else {
		resp.Response = &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: hr}
		switch {
		case reply.StreamResponseBody:
			// Body modes in an override are literal (item 86): name both.
			resp.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED}
		case reply.SkipResponseBody:
			resp.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE}
		}
	}
	return resp
}

func bodyResponse(reply Reply, request bool) *extprocv3.ProcessingResponse {
	if reply.Immediate != nil {
		return immediate(reply)
	}
	br := &extprocv3.BodyResponse{Response: commonResponse(reply)}
	resp := &extprocv3.ProcessingResponse{DynamicMetadata: metadataStruct(reply.Metadata)}
	if request {
		resp.Response = &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}
	} else {
		resp.Response = &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}
	}
	return resp
}

func commonResponse(reply Reply) *extprocv3.CommonResponse {
	c := &extprocv3.CommonResponse{}
	if !reply.Headers.Empty() || reply.ClearRouteCache {
		// clear_route_cache only works with a header_mutation present (item 78).
		c.HeaderMutation = headerMutation(reply.Headers)
		c.ClearRouteCache = reply.ClearRouteCache
	}
	if reply.ReplaceBody {
		c.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: reply.Body}}
	}
	return c
}

func headerMutation(m HeaderMutation) *extprocv3.HeaderMutation {
	hm := &extprocv3.HeaderMutation{RemoveHeaders: m.Remove}
	if len(m.Set) > 0 {
		hm.SetHeaders = make([]*corev3.HeaderValueOption, len(m.Set))
		for i, h := range m.Set {
			// Values go in raw_value only (item 35); append unset means overwrite (item 34).
			hm.SetHeaders[i] = &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Name, RawValue: []byte(h.Value)}}
		}
	}
	return hm
}

func immediate(reply Reply) *extprocv3.ProcessingResponse {
	ir := reply.Immediate
	out := &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(ir.Status)},
		Body:    ir.Body,
		Details: ir.Details,
	}
	if len(ir.Headers) > 0 {
		out.Headers = headerMutation(HeaderMutation{Set: ir.Headers})
	}
	return &extprocv3.ProcessingResponse{
		Response:        &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: out},
		DynamicMetadata: metadataStruct(reply.Metadata),
	}
}

func metadataStruct(fields map[string]*structpb.Value) *structpb.Struct {
	if len(fields) == 0 {
		return nil
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		MetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: fields}),
	}}
}

// ServerOptions returns gRPC server options sized for bodies up to maxBody bytes.
func ServerOptions(maxBody int) []grpc.ServerOption {
	limit := maxBody + 1<<20 // headers and framing on top of the body
	if limit < 4<<20 {
		limit = 4 << 20
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(limit),
		grpc.MaxSendMsgSize(limit),
		grpc.MaxConcurrentStreams(1 << 20),
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
