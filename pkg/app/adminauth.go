package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
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
	tokens func() []*configv1.AdminToken
	api    *admin.Server // nil without storage: admin tokens only
	audit  *zap.Logger
}

// wrap allows methods, authenticates, runs next and writes one audit line.
func (g adminGuard) wrap(action string, methods []string, next http.HandlerFunc) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !contains(methods, r.Method) {
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
	if id, ok := matchAdminToken(cred, g.tokens()); ok {
		return admin.Actor{ID: id, Kind: "token"}, nil
	}
	return admin.Actor{}, status.Error(codes.Unauthenticated, "invalid admin credential")
}

// matchAdminToken compares the credential's SHA-256 with every configured token in
// constant time and returns the matching token's id.
func matchAdminToken(cred string, tokens []*configv1.AdminToken) (string, bool) {
	if cred == "" || len(tokens) == 0 {
		return "", false
	}
	sum := sha256.Sum256([]byte(cred))
	got := []byte(hex.EncodeToString(sum[:]))
	id, ok := "", false
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(got, []byte(strings.ToLower(t.GetSha256()))) == 1 {
			id, ok = t.GetId(), true
		}
	}
	return id, ok
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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
