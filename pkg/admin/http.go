package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/ledger"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of the HTTP API.
func OpenAPI() []byte { return openAPI }

// Route is one HTTP route of the admin API.
type Route struct {
	Method string
	// Path uses {name} for path parameters, as in OpenAPI and net/http patterns.
	Path    string
	handler func(s *Server, w http.ResponseWriter, r *http.Request)
}

// Routes lists the HTTP API. The OpenAPI document must describe each of them (a test
// checks it).
func Routes() []Route {
	return []Route{
		{http.MethodPost, "/v1/admin/keys", (*Server).httpCreate},
		{http.MethodGet, "/v1/admin/keys", (*Server).httpList},
		{http.MethodGet, "/v1/admin/keys/{id}", (*Server).httpGet},
		{http.MethodPatch, "/v1/admin/keys/{id}", (*Server).httpUpdate},
		{http.MethodDelete, "/v1/admin/keys/{id}", (*Server).httpDelete},
		{http.MethodPost, "/v1/admin/keys/{id}/rotate", (*Server).httpRotate},
		{http.MethodPost, "/v1/admin/keys/{id}/revoke", (*Server).httpRevoke},
		{http.MethodGet, "/v1/admin/usage", (*Server).httpUsage},
		{http.MethodPost, "/v1/admin/usage/erase", (*Server).httpErase},
	}
}

// maxBody bounds admin request bodies.
const maxBody = 1 << 20

// Handler serves the HTTP/JSON API. Mount it on the admin listener at /v1/admin/ (its
// routes carry their full paths); the listener serves OpenAPI() itself, with the other
// documents (pkg/app).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes() {
		h := rt.handler
		mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store") // responses may hold a secret
			actor, err := s.Authenticate(r.Context(), auth.CredentialFromHeaders(r.Header.Get))
			if err != nil {
				s.audit.Warn("admin authentication failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
					zap.String("remote", r.RemoteAddr), zap.String("outcome", status.Code(err).String()))
				if status.Code(err) == codes.Unauthenticated {
					w.Header().Set("WWW-Authenticate", `Bearer realm="llm-router admin"`)
				}
				writeError(w, err)
				return
			}
			actor.Remote = r.RemoteAddr
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			h(s, w, r.WithContext(WithActor(r.Context(), actor)))
		})
	}
	return mux
}

var (
	marshal   = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	unmarshal = protojson.UnmarshalOptions{}
)

func writeJSON(w http.ResponseWriter, code int, m proto.Message) {
	b, err := marshal.Marshal(m)
	if err != nil {
		writeError(w, status.Error(codes.Internal, "cannot encode the response"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

var httpStatus = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.FailedPrecondition: http.StatusConflict,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.Canceled:           499,
}

// codeName renders a gRPC code as snake_case ("not_found") for the JSON error body.
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeError answers {"error":{"code","message"}} with the HTTP status of the gRPC code.
func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(toStatus(err))
	code, ok := httpStatus[st.Code()]
	if !ok {
		code = http.StatusInternalServerError
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": codeName(st.Code()), "message": st.Message()}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// readBody decodes an optional JSON body into m and returns the raw bytes.
func readBody(r *http.Request, m proto.Message) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalid("request body larger than %d bytes", maxBody)
		}
		return nil, invalid("cannot read the request body")
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return data, nil
	}
	if err := unmarshal.Unmarshal(data, m); err != nil {
		return nil, invalid("request body: %v", err)
	}
	return data, nil
}

func (s *Server) httpCreate(w http.ResponseWriter, r *http.Request) {
	req := &adminv1.CreateKeyRequest{}
	if _, err := readBody(r, req); err != nil {
		s.auditBadRequest(r, "keys.create", err)
		writeError(w, err)
		return
	}
	resp, err := s.CreateKey(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/admin/keys/"+resp.GetKey().GetId())
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) httpGet(w http.ResponseWriter, r *http.Request) {
	resp, err := s.GetKey(r.Context(), &adminv1.GetKeyRequest{Id: r.PathValue("id")})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) httpList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := &adminv1.ListKeysRequest{Owner: q.Get("owner"), Team: q.Get("team"), Status: q.Get("status"), PageToken: q.Get("page_token")}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			err = invalid("page_size %q is not a number", v)
			s.auditBadRequest(r, "keys.list", err)
			writeError(w, err)
			return
		}
		req.PageSize = int32(n)
	}
	for _, tag := range q["tag"] {
		k, v, ok := strings.Cut(tag, "=")
		if !ok {
			k, v, ok = strings.Cut(tag, ":")
		}
		if !ok || k == "" {
			err := invalid("tag %q: want key=value", tag)
			s.auditBadRequest(r, "keys.list", err)
			writeError(w, err)
			return
		}
		if req.Tags == nil {
			req.Tags = map[string]string{}
		}
		req.Tags[k] = v
	}
	resp, err := s.ListKeys(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// updateFields maps JSON body keys (proto or camelCase names) to update_mask paths.
var updateFields = map[string]string{
	"name": "name", "owner": "owner", "team": "team", "tags": "tags", "models": "models", "endpoints": "endpoints",
	"limits": "limits", "budget": "budget", "priority": "priority", "expire_time": "expire_time", "expireTime": "expire_time",
}

func (s *Server) httpUpdate(w http.ResponseWriter, r *http.Request) {
	req := &adminv1.UpdateKeyRequest{}
	data, err := readBody(r, req)
	if err == nil && req.GetId() != "" && req.GetId() != r.PathValue("id") {
		err = invalid("the body's id differs from the path's")
	}
	if err == nil && req.GetUpdateMask() == nil {
		// PATCH semantics: the fields present in the body are the ones to change.
		var present map[string]json.RawMessage
		_ = json.Unmarshal(data, &present) // protojson accepted it, so it is an object
		mask := &fieldmaskpb.FieldMask{}
		for k := range present {
			if p, ok := updateFields[k]; ok {
				mask.Paths = append(mask.Paths, p)
			}
		}
		req.UpdateMask = mask
	}
	if err != nil {
		s.auditBadRequest(r, "keys.update", err)
		writeError(w, err)
		return
	}
	req.Id = r.PathValue("id")
	resp, err := s.UpdateKey(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) httpRotate(w http.ResponseWriter, r *http.Request) {
	req := &adminv1.RotateKeyRequest{}
	if _, err := readBody(r, req); err != nil {
		s.auditBadRequest(r, "keys.rotate", err)
		writeError(w, err)
		return
	}
	if v := r.URL.Query().Get("grace_period"); v != "" && req.GracePeriod == nil {
		d, err := time.ParseDuration(v)
		if err != nil {
			err = invalid("grace_period %q: want a duration such as 1h", v)
			s.auditBadRequest(r, "keys.rotate", err)
			writeError(w, err)
			return
		}
		req.GracePeriod = durationpb.New(d)
	}
	req.Id = r.PathValue("id")
	resp, err := s.RotateKey(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) httpRevoke(w http.ResponseWriter, r *http.Request) {
	resp, err := s.RevokeKey(r.Context(), &adminv1.RevokeKeyRequest{Id: r.PathValue("id")})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) httpDelete(w http.ResponseWriter, r *http.Request) {
	resp, err := s.DeleteKey(r.Context(), &adminv1.DeleteKeyRequest{Id: r.PathValue("id")})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) httpUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := &adminv1.GetUsageReportRequest{StartDate: q.Get("start_date"), EndDate: q.Get("end_date"), KeyId: q.Get("key_id"),
		Owner: q.Get("owner"), Model: q.Get("model")}
	for _, g := range q["group_by"] {
		for _, part := range strings.Split(g, ",") {
			if part = strings.TrimSpace(part); part != "" {
				req.GroupBy = append(req.GroupBy, part)
			}
		}
	}
	format := q.Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	switch format {
	case "", "json":
		resp, err := s.GetUsageReport(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	case "csv":
		rows, done, err := s.report(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="llm-router-usage.csv"`)
		werr := ledger.WriteCSV(w, rows)
		_ = done(req.GetKeyId(), nil, zap.Int("rows", len(rows)), zap.String("format", "csv"), zap.Bool("write_error", werr != nil))
	default:
		err := invalid("format %q: want json or csv", format)
		s.auditBadRequest(r, "usage.report", err)
		writeError(w, err)
	}
}

func (s *Server) httpErase(w http.ResponseWriter, r *http.Request) {
	req := &adminv1.EraseUsageRequest{}
	if _, err := readBody(r, req); err != nil {
		s.auditBadRequest(r, "usage.erase", err)
		writeError(w, err)
		return
	}
	resp, err := s.EraseUsage(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// auditBadRequest logs a call rejected before it reached the Server method. The
// message is the parser's, which never includes a secret (requests carry none).
func (s *Server) auditBadRequest(r *http.Request, action string, err error) {
	a, _ := actorFrom(r.Context())
	s.audit.Warn("admin action failed", zap.String("action", action), zap.String("actor", a.ID), zap.String("actor_kind", a.Kind),
		zap.String("remote", a.Remote), zap.String("outcome", status.Code(err).String()), zap.String("error", status.Convert(err).Message()))
}
