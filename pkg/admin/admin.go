// Package admin serves llm-router's admin API (proto/llmrouter/admin/v1): virtual keys
// (create, get, list, update, rotate, revoke, delete), usage reports (JSON and CSV) and
// usage erasure. Server implements the gRPC service; Handler serves the same calls as
// HTTP/JSON under /v1/admin, described by OpenAPI() (served by pkg/app). Every call needs
// an admin token (configured as its SHA-256) or a JWT carrying the admin scope, and every
// call is audit-logged — with the key id, never a secret.
package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llm-router/llm-router/pkg/auth"
	"github.com/llm-router/llm-router/pkg/keystore"
	"github.com/llm-router/llm-router/pkg/ledger"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

// DefaultScope is the JWT scope that grants admin access.
const DefaultScope = "llm-router:admin"

// Token is an admin token as configured: an id for the audit log and the SHA-256 of the
// token (the config never holds the token itself).
type Token struct {
	ID     string
	SHA256 [32]byte
}

// Options configure a Server.
type Options struct {
	// Keys is the key store (required).
	Keys keystore.Store
	// Usage is the usage ledger; without it the usage calls answer Unimplemented.
	Usage ledger.Store
	// Tokens are the admin tokens.
	Tokens []Token
	// JWT, when set, also admits bearer JWTs that carry Scope (default DefaultScope).
	JWT   auth.Authenticator
	Scope string
	// RotationGrace is the default grace period of a rotated secret (default 1h);
	// MaxRotationGrace caps requested ones (default 30 days).
	RotationGrace    time.Duration
	MaxRotationGrace time.Duration
	// AuditLogger receives one entry per admin call (default: no-op). Pass the
	// process logger; entries are named "admin.audit".
	AuditLogger *zap.Logger
	Now         func() time.Time
}

// Server implements adminv1.AdminServiceServer. Its methods require an authenticated
// admin in the context: Handler and UnaryInterceptor put it there.
type Server struct {
	adminv1.UnimplementedAdminServiceServer
	opts   Options
	tokens *auth.Static
	audit  *zap.Logger
	now    func() time.Time
}

var _ adminv1.AdminServiceServer = (*Server)(nil)

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Keys == nil {
		return nil, errors.New("admin: a key store is required")
	}
	if len(opts.Tokens) == 0 && opts.JWT == nil {
		return nil, errors.New("admin: configure at least one admin token or an admin JWT issuer")
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if opts.RotationGrace <= 0 {
		opts.RotationGrace = time.Hour
	}
	if opts.MaxRotationGrace <= 0 {
		opts.MaxRotationGrace = 30 * 24 * time.Hour
	}
	if opts.AuditLogger == nil {
		opts.AuditLogger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	keys := make([]auth.StaticKey, 0, len(opts.Tokens))
	for _, t := range opts.Tokens {
		if t.ID == "" || t.SHA256 == [32]byte{} {
			return nil, errors.New("admin: every admin token needs an id and a SHA-256")
		}
		keys = append(keys, auth.StaticKey{ID: t.ID, SHA256: t.SHA256})
	}
	return &Server{opts: opts, tokens: auth.NewStatic(keys), audit: opts.AuditLogger.Named("admin.audit"), now: opts.Now}, nil
}

// Actor is the authenticated admin making a call.
type Actor struct {
	// ID is the admin token's id or the JWT's key id.
	ID string
	// Kind is "token" or "jwt".
	Kind string
	// Remote is the peer address.
	Remote string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor (for embedding the Server elsewhere).
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Authenticate checks an admin credential: an admin token, or a JWT with the admin
// scope. It returns a gRPC status error (Unauthenticated or PermissionDenied).
func (s *Server) Authenticate(ctx context.Context, credential string) (Actor, error) {
	if credential == "" {
		return Actor{}, status.Error(codes.Unauthenticated, "missing admin credential")
	}
	if id, err := s.tokens.Authenticate(ctx, credential); err == nil {
		return Actor{ID: id.KeyID, Kind: "token"}, nil
	}
	if s.opts.JWT != nil {
		id, err := s.opts.JWT.Authenticate(ctx, credential)
		switch {
		case err == nil && id.HasScope(s.opts.Scope):
			return Actor{ID: id.KeyID, Kind: "jwt"}, nil
		case err == nil:
			return Actor{}, status.Errorf(codes.PermissionDenied, "the token lacks the %q scope", s.opts.Scope)
		case errors.Is(err, auth.ErrUnavailable):
			return Actor{}, status.Error(codes.Unavailable, "admin JWT verification unavailable")
		}
	}
	return Actor{}, status.Error(codes.Unauthenticated, "invalid admin credential")
}

// begin checks the caller is an authenticated admin and returns the audit function
// that ends the call: it logs the action, actor, key and outcome (never a secret), and
// turns store errors into gRPC status errors.
func (s *Server) begin(ctx context.Context, action string) (Actor, func(keyID string, err error, fields ...zap.Field) error, error) {
	a, ok := actorFrom(ctx)
	if !ok {
		s.audit.Warn("admin call without an authenticated admin", zap.String("action", action))
		return a, nil, status.Error(codes.Unauthenticated, "admin authentication required")
	}
	done := func(keyID string, err error, fields ...zap.Field) error {
		err = toStatus(err)
		fs := append([]zap.Field{zap.String("action", action), zap.String("actor", a.ID), zap.String("actor_kind", a.Kind),
			zap.String("remote", a.Remote), zap.String("outcome", status.Code(err).String())}, fields...)
		if keyID != "" {
			fs = append(fs, zap.String("key_id", keyID))
		}
		if err != nil {
			s.audit.Warn("admin action failed", append(fs, zap.String("error", status.Convert(err).Message()))...)
		} else {
			s.audit.Info("admin action", fs...)
		}
		return err
	}
	return a, done, nil
}

// toStatus maps store errors to gRPC status errors. Unknown errors become Internal
// with a generic message: database details stay in the server log.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return status.Error(codes.NotFound, "key not found")
	case errors.Is(err, keystore.ErrConflict):
		return status.Error(codes.FailedPrecondition, strings.TrimPrefix(err.Error(), "keystore: "))
	case errors.Is(err, keystore.ErrInvalidArgument), errors.Is(err, ledger.ErrInvalidArgument):
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "keystore: "), "ledger: ")
		return status.Error(codes.InvalidArgument, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	return status.Error(codes.Internal, "internal error (see the server log)")
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// keyToProto renders a key without any secret material.
func keyToProto(k *keystore.Key) *adminv1.Key {
	out := &adminv1.Key{
		Id: k.ID, DisplayPrefix: k.DisplayPrefix, Name: k.Name, Owner: k.Owner, Team: k.Team, Tags: k.Tags,
		Models: k.Models, Endpoints: k.Endpoints, Priority: int32(k.Priority), Status: string(k.Status),
		Limits:     &adminv1.Limits{RequestsPerMinute: k.Limits.RequestsPerMinute, TokensPerMinute: k.Limits.TokensPerMinute, MaxParallel: k.Limits.MaxParallel},
		Budget:     &adminv1.Budget{Usd: k.Budget.USD, Period: k.Budget.Period},
		CreateTime: ts(k.CreatedAt), UpdateTime: ts(k.UpdatedAt), ExpireTime: ts(k.ExpiresAt), LastUsedTime: ts(k.LastUsedAt),
		RevokeTime: ts(k.RevokedAt),
	}
	if k.HasPrevHash() {
		out.PreviousSecretExpireTime = ts(k.PrevHashExpiresAt)
	}
	return out
}

func limitsFrom(l *adminv1.Limits) keystore.Limits {
	return keystore.Limits{RequestsPerMinute: l.GetRequestsPerMinute(), TokensPerMinute: l.GetTokensPerMinute(), MaxParallel: l.GetMaxParallel()}
}

func budgetFrom(b *adminv1.Budget) keystore.Budget {
	return keystore.Budget{USD: b.GetUsd(), Period: b.GetPeriod()}
}

func checkScopes(models, endpoints []string) error {
	for _, m := range append(slices.Clone(models), endpoints...) {
		if strings.TrimSpace(m) == "" || len(m) > 256 {
			return invalid("models and endpoints must be non-empty names of at most 256 bytes")
		}
	}
	return nil
}

// CreateKey implements adminv1.AdminServiceServer.
func (s *Server) CreateKey(ctx context.Context, req *adminv1.CreateKeyRequest) (*adminv1.CreateKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.create")
	if err != nil {
		return nil, err
	}
	if err := checkScopes(req.GetModels(), req.GetEndpoints()); err != nil {
		return nil, done("", err)
	}
	spec := keystore.Key{Name: req.GetName(), Owner: req.GetOwner(), Team: req.GetTeam(), Tags: req.GetTags(),
		Models: req.GetModels(), Endpoints: req.GetEndpoints(), Limits: limitsFrom(req.GetLimits()), Budget: budgetFrom(req.GetBudget()),
		Priority: int(req.GetPriority())}
	switch {
	case req.GetExpireTime() != nil && req.GetTtl() != nil:
		return nil, done("", invalid("set expire_time or ttl, not both"))
	case req.GetExpireTime() != nil:
		if err := req.GetExpireTime().CheckValid(); err != nil {
			return nil, done("", invalid("expire_time: %v", err))
		}
		spec.ExpiresAt = req.GetExpireTime().AsTime()
	case req.GetTtl() != nil:
		if err := req.GetTtl().CheckValid(); err != nil || req.GetTtl().AsDuration() <= 0 {
			return nil, done("", invalid("ttl must be a positive duration"))
		}
		spec.ExpiresAt = s.now().Add(req.GetTtl().AsDuration())
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(s.now()) {
		return nil, done("", invalid("the expiry is in the past"))
	}
	secret, k, err := keystore.Issue(ctx, s.opts.Keys, spec)
	if err != nil {
		return nil, done("", err)
	}
	return &adminv1.CreateKeyResponse{Key: keyToProto(k), Secret: secret}, done(k.ID, nil, zap.String("owner", k.Owner), zap.String("name", k.Name))
}

// GetKey implements adminv1.AdminServiceServer.
func (s *Server) GetKey(ctx context.Context, req *adminv1.GetKeyRequest) (*adminv1.GetKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.get")
	if err != nil {
		return nil, err
	}
	k, err := s.opts.Keys.Get(ctx, req.GetId())
	if err != nil {
		return nil, done(req.GetId(), err)
	}
	return &adminv1.GetKeyResponse{Key: keyToProto(k)}, done(k.ID, nil)
}

// ListKeys implements adminv1.AdminServiceServer.
func (s *Server) ListKeys(ctx context.Context, req *adminv1.ListKeysRequest) (*adminv1.ListKeysResponse, error) {
	_, done, err := s.begin(ctx, "keys.list")
	if err != nil {
		return nil, err
	}
	if req.GetPageSize() < 0 {
		return nil, done("", invalid("page_size must not be negative"))
	}
	page, err := s.opts.Keys.List(ctx, keystore.ListOptions{Owner: req.GetOwner(), Team: req.GetTeam(), Status: keystore.Status(req.GetStatus()),
		Tags: req.GetTags(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, done("", err)
	}
	out := &adminv1.ListKeysResponse{NextPageToken: page.NextPageToken, Keys: make([]*adminv1.Key, 0, len(page.Keys))}
	for _, k := range page.Keys {
		out.Keys = append(out.Keys, keyToProto(k))
	}
	return out, done("", nil, zap.Int("results", len(out.Keys)))
}

// UpdateKey implements adminv1.AdminServiceServer.
func (s *Server) UpdateKey(ctx context.Context, req *adminv1.UpdateKeyRequest) (*adminv1.UpdateKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.update")
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, done(req.GetId(), invalid("update_mask names no field"))
	}
	var u keystore.Update
	for _, p := range paths {
		switch p {
		case "name":
			u.Name = new(req.GetName())
		case "owner":
			u.Owner = new(req.GetOwner())
		case "team":
			u.Team = new(req.GetTeam())
		case "tags":
			u.Tags = new(req.GetTags())
		case "models":
			u.Models = new(req.GetModels())
		case "endpoints":
			u.Endpoints = new(req.GetEndpoints())
		case "limits":
			u.Limits = new(limitsFrom(req.GetLimits()))
		case "budget":
			u.Budget = new(budgetFrom(req.GetBudget()))
		case "priority":
			u.Priority = new(int(req.GetPriority()))
		case "expire_time":
			var t time.Time
			if req.GetExpireTime() != nil {
				if err := req.GetExpireTime().CheckValid(); err != nil {
					return nil, done(req.GetId(), invalid("expire_time: %v", err))
				}
				t = req.GetExpireTime().AsTime()
			}
			u.ExpiresAt = &t
		default:
			return nil, done(req.GetId(), invalid("update_mask: unknown field %q", p))
		}
	}
	if err := checkScopes(req.GetModels(), req.GetEndpoints()); err != nil {
		return nil, done(req.GetId(), err)
	}
	k, err := s.opts.Keys.Update(ctx, req.GetId(), u)
	if err != nil {
		return nil, done(req.GetId(), err)
	}
	return &adminv1.UpdateKeyResponse{Key: keyToProto(k)}, done(k.ID, nil, zap.Strings("fields", paths))
}

// RotateKey implements adminv1.AdminServiceServer.
func (s *Server) RotateKey(ctx context.Context, req *adminv1.RotateKeyRequest) (*adminv1.RotateKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.rotate")
	if err != nil {
		return nil, err
	}
	grace := s.opts.RotationGrace
	if g := req.GetGracePeriod(); g != nil {
		if err := g.CheckValid(); err != nil || g.AsDuration() < 0 {
			return nil, done(req.GetId(), invalid("grace_period must be a non-negative duration"))
		}
		grace = g.AsDuration()
	}
	if grace > s.opts.MaxRotationGrace {
		return nil, done(req.GetId(), invalid("grace_period is longer than the maximum %v", s.opts.MaxRotationGrace))
	}
	secret, k, err := keystore.RotateSecret(ctx, s.opts.Keys, req.GetId(), grace)
	if err != nil {
		return nil, done(req.GetId(), err)
	}
	return &adminv1.RotateKeyResponse{Key: keyToProto(k), Secret: secret}, done(k.ID, nil, zap.Duration("grace_period", grace))
}

// RevokeKey implements adminv1.AdminServiceServer.
func (s *Server) RevokeKey(ctx context.Context, req *adminv1.RevokeKeyRequest) (*adminv1.RevokeKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.revoke")
	if err != nil {
		return nil, err
	}
	k, err := s.opts.Keys.Revoke(ctx, req.GetId())
	if err != nil {
		return nil, done(req.GetId(), err)
	}
	return &adminv1.RevokeKeyResponse{Key: keyToProto(k)}, done(k.ID, nil)
}

// DeleteKey implements adminv1.AdminServiceServer.
func (s *Server) DeleteKey(ctx context.Context, req *adminv1.DeleteKeyRequest) (*adminv1.DeleteKeyResponse, error) {
	_, done, err := s.begin(ctx, "keys.delete")
	if err != nil {
		return nil, err
	}
	if err := s.opts.Keys.Delete(ctx, req.GetId()); err != nil {
		return nil, done(req.GetId(), err)
	}
	return &adminv1.DeleteKeyResponse{}, done(req.GetId(), nil)
}

// reportQuery validates a report request.
func reportQuery(req *adminv1.GetUsageReportRequest) (ledger.ReportQuery, error) {
	q := ledger.ReportQuery{GroupBy: req.GetGroupBy(), KeyID: req.GetKeyId(), Owner: req.GetOwner(), Model: req.GetModel()}
	if d := req.GetStartDate(); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return q, invalid("start_date %q: want YYYY-MM-DD", d)
		}
		q.From = t
	}
	if d := req.GetEndDate(); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return q, invalid("end_date %q: want YYYY-MM-DD", d)
		}
		q.To = t.Add(24 * time.Hour) // the end date is included
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, invalid("start_date is after end_date")
	}
	return q, nil
}

func (s *Server) report(ctx context.Context, req *adminv1.GetUsageReportRequest) ([]ledger.ReportRow, func(string, error, ...zap.Field) error, error) {
	_, done, err := s.begin(ctx, "usage.report")
	if err != nil {
		return nil, nil, err
	}
	if s.opts.Usage == nil {
		return nil, nil, done("", status.Error(codes.Unimplemented, "no usage ledger is configured"))
	}
	q, err := reportQuery(req)
	if err != nil {
		return nil, nil, done(req.GetKeyId(), err)
	}
	rows, err := s.opts.Usage.Report(ctx, q)
	if err != nil {
		return nil, nil, done(req.GetKeyId(), err)
	}
	return rows, done, nil
}

// GetUsageReport implements adminv1.AdminServiceServer.
func (s *Server) GetUsageReport(ctx context.Context, req *adminv1.GetUsageReportRequest) (*adminv1.GetUsageReportResponse, error) {
	rows, done, err := s.report(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &adminv1.GetUsageReportResponse{Rows: make([]*adminv1.UsageRow, 0, len(rows))}
	for _, r := range rows {
		day := ""
		if !r.Day.IsZero() {
			day = r.Day.UTC().Format(time.DateOnly)
		}
		out.Rows = append(out.Rows, &adminv1.UsageRow{Day: day, KeyId: r.KeyID, Owner: r.Owner, Model: r.Model, Requests: r.Requests,
			Errors: r.Errors, EstimatedRequests: r.EstimatedRequests, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
			CachedTokens: r.CachedTokens, CacheCreationTokens: r.CacheCreationTokens, ReasoningTokens: r.ReasoningTokens,
			CostUsd: ledger.FormatNanoUSD(r.CostNanoUSD), CostNanoUsd: r.CostNanoUSD,
			MeanLatencyMs: float64(r.MeanLatency) / float64(time.Millisecond)})
	}
	return out, done(req.GetKeyId(), nil, zap.Int("rows", len(rows)))
}

// EraseUsage implements adminv1.AdminServiceServer.
func (s *Server) EraseUsage(ctx context.Context, req *adminv1.EraseUsageRequest) (*adminv1.EraseUsageResponse, error) {
	_, done, err := s.begin(ctx, "usage.erase")
	if err != nil {
		return nil, err
	}
	if s.opts.Usage == nil {
		return nil, done("", status.Error(codes.Unimplemented, "no usage ledger is configured"))
	}
	n, err := s.opts.Usage.Erase(ctx, ledger.EraseFilter{KeyID: req.GetKeyId(), Owner: req.GetOwner()})
	if err != nil {
		return nil, done(req.GetKeyId(), err)
	}
	// The owner is personal data being erased: audit that an erasure happened and its
	// size, and identify the owner only by a hash.
	fields := []zap.Field{zap.Int64("deleted", n)}
	if req.GetOwner() != "" {
		fields = append(fields, zap.String("owner_sha256", fmt.Sprintf("%x", sha256.Sum256([]byte(req.GetOwner())))))
	}
	return &adminv1.EraseUsageResponse{Deleted: n}, done(req.GetKeyId(), nil, fields...)
}
