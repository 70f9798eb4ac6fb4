package admin

import (
	"context"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/llm-router/llm-router/pkg/auth"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

// UnaryInterceptor authenticates gRPC admin calls from the "authorization: Bearer …" or
// "x-api-key" metadata. Install it on the gRPC server that registers the Server
// (adminv1.RegisterAdminServiceServer); calls to other services pass through untouched.
// Without it every admin call fails with Unauthenticated.
func (s *Server) UnaryInterceptor() grpc.UnaryServerInterceptor {
	prefix := "/" + adminv1.AdminService_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, prefix) {
			return handler(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		cred := auth.CredentialFromHeaders(func(name string) string {
			if v := md.Get(name); len(v) > 0 {
				return v[0]
			}
			return ""
		})
		remote := ""
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			remote = p.Addr.String()
		}
		actor, err := s.Authenticate(ctx, cred)
		if err != nil {
			s.audit.Warn("admin authentication failed", zap.String("method", info.FullMethod), zap.String("remote", remote),
				zap.String("outcome", status.Code(err).String()))
			return nil, err
		}
		actor.Remote = remote
		return handler(WithActor(ctx, actor), req)
	}
}
