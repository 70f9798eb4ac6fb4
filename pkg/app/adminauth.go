package app

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/auth"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// adminGuard protects the admin operations served outside the admin package (the log
// level, config reload) exactly as the admin API protects its own: an admin token or,
// when the admin API is built, an admin-scoped JWT, sent as a bearer token or in
// x-api-key; every call is audit-logged ("admin.audit"), never with the credential.
type adminGuard struct {
	tokens *auth.Static  // the configured admin tokens (read at start, like the admin API's)
	api    *admin.Server // nil without storage: admin tokens only
	audit  *zap.Logger
}

// newAdminGuard builds the guard. Tokens whose hash does not parse are skipped (config
// validation refuses them before this point).
func newAdminGuard(tokens []*configv1.AdminToken, api *admin.Server, audit *zap.Logger) adminGuard {
	keys := make([]auth.StaticKey, 0, len(tokens))
	for _, t := range tokens {
		if h, err := auth.ParseSHA256(t.GetSha256()); err == nil {
			keys = append(keys, auth.StaticKey{ID: t.GetId(), SHA256: h})
		}
	}
	return adminGuard{tokens: auth.NewStatic(keys), api: api, audit: audit}
}

// wrap allows methods, authenticates, runs next and writes one audit line.
func (g adminGuard) wrap(action string, methods []string, next http.HandlerFunc) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", allow)
			writeAdminError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed; use "+allow)
			return
		}
		actor, err := g.authenticate(r)
		if err != nil {
			code := status.Code(err)
			g.audit.Warn("admin authentication failed", zap.String("action", action), zap.String("path", r.URL.Path),
				zap.String("remote", r.RemoteAddr), zap.String("outcome", code.String()))
			switch code {
			case codes.PermissionDenied:
				writeAdminError(w, http.StatusForbidden, "permission_denied", status.Convert(err).Message())
			case codes.Unavailable:
				writeAdminError(w, http.StatusServiceUnavailable, "unavailable", status.Convert(err).Message())
			default:
				w.Header().Set("WWW-Authenticate", `Bearer realm="llm-router admin"`)
				writeAdminError(w, http.StatusUnauthorized, "unauthenticated", "admin token required")
			}
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next(rec, r)
		fields := []zap.Field{zap.String("action", action), zap.String("method", r.Method), zap.String("actor", actor.ID),
			zap.String("actor_kind", actor.Kind), zap.String("remote", r.RemoteAddr), zap.Int("status", rec.status)}
		if rec.status >= 400 {
			g.audit.Warn("admin action failed", fields...)
			return
		}
		g.audit.Info("admin action", fields...)
	})
}

func (g adminGuard) authenticate(r *http.Request) (admin.Actor, error) {
	cred := auth.CredentialFromHeaders(r.Header.Get)
	if g.api != nil {
		return g.api.Authenticate(r.Context(), cred)
	}
	if id, err := g.tokens.Authenticate(r.Context(), cred); err == nil {
		return admin.Actor{ID: id.KeyID, Kind: "token"}, nil
	}
	return admin.Actor{}, status.Error(codes.Unauthenticated, "invalid admin credential")
}

// writeAdminError writes the admin API's error body: {"error":{"code","message"}}.
func writeAdminError(w http.ResponseWriter, code int, name, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": name, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// jsonContentType labels a handler's body as JSON unless it sets a type itself (zap's
// level handler writes JSON without one).
func jsonContentType(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		next.ServeHTTP(w, r)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}
