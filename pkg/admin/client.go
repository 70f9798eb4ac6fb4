package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

// Client calls the HTTP admin API (for `llm-router keys …` and scripts).
type Client struct {
	// BaseURL is the admin listener, e.g. "http://127.0.0.1:9090".
	BaseURL string
	// Token is an admin token or an admin JWT, sent as a bearer credential.
	Token string
	// HTTPClient defaults to a client with a 30s timeout.
	HTTPClient *http.Client
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, e.Code, e.Message)
}

// NewClient returns a Client.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out proto.Message) error {
	body, err := c.raw(ctx, method, path, query, in, "application/json")
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if out == nil {
		return nil
	}
	if err := unmarshalLenient.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: decode %s %s: %w", method, path, err)
	}
	return nil
}

// requestMarshal leaves zero fields out, so a request carries only what the caller set.
var requestMarshal = protojson.MarshalOptions{UseProtoNames: true}

// unmarshalLenient tolerates fields added by a newer server.
var unmarshalLenient = protojson.UnmarshalOptions{DiscardUnknown: true}

func (c *Client) raw(ctx context.Context, method, path string, query url.Values, in proto.Message, accept string) (io.ReadCloser, error) {
	var rd io.Reader
	if in != nil {
		b, err := requestMarshal.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("admin API: encode: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		apiErr := &APIError{Status: resp.StatusCode, Code: "unknown", Message: strings.TrimSpace(string(data))}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			apiErr.Code, apiErr.Message = e.Error.Code, e.Error.Message
		}
		return nil, apiErr
	}
	return resp.Body, nil
}

func keyPath(id string, suffix string) string {
	return "/v1/admin/keys/" + url.PathEscape(id) + suffix
}

// CreateKey issues a key; the response holds its secret, shown once.
func (c *Client) CreateKey(ctx context.Context, req *adminv1.CreateKeyRequest) (*adminv1.CreateKeyResponse, error) {
	out := &adminv1.CreateKeyResponse{}
	return out, c.do(ctx, http.MethodPost, "/v1/admin/keys", nil, req, out)
}

// GetKey returns a key.
func (c *Client) GetKey(ctx context.Context, id string) (*adminv1.Key, error) {
	out := &adminv1.GetKeyResponse{}
	if err := c.do(ctx, http.MethodGet, keyPath(id, ""), nil, nil, out); err != nil {
		return nil, err
	}
	return out.GetKey(), nil
}

// ListKeys returns one page of keys.
func (c *Client) ListKeys(ctx context.Context, req *adminv1.ListKeysRequest) (*adminv1.ListKeysResponse, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("owner", req.GetOwner())
	set("team", req.GetTeam())
	set("status", req.GetStatus())
	set("page_token", req.GetPageToken())
	if req.GetPageSize() > 0 {
		q.Set("page_size", strconv.Itoa(int(req.GetPageSize())))
	}
	for k, v := range req.GetTags() {
		q.Add("tag", k+"="+v)
	}
	out := &adminv1.ListKeysResponse{}
	return out, c.do(ctx, http.MethodGet, "/v1/admin/keys", q, nil, out)
}

// UpdateKey changes the fields named in req.UpdateMask, which is required: without it a
// field set to its zero value (priority 0, no models) could not be told from one left out.
func (c *Client) UpdateKey(ctx context.Context, req *adminv1.UpdateKeyRequest) (*adminv1.Key, error) {
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		return nil, fmt.Errorf("admin API: UpdateKey needs an update mask naming the fields to change")
	}
	out := &adminv1.UpdateKeyResponse{}
	if err := c.do(ctx, http.MethodPatch, keyPath(req.GetId(), ""), nil, req, out); err != nil {
		return nil, err
	}
	return out.GetKey(), nil
}

// RotateKey gives a key a new secret; grace < 0 uses the server's default grace period.
func (c *Client) RotateKey(ctx context.Context, id string, grace time.Duration) (*adminv1.RotateKeyResponse, error) {
	req := &adminv1.RotateKeyRequest{}
	if grace >= 0 {
		req.GracePeriod = durationpb.New(grace)
	}
	out := &adminv1.RotateKeyResponse{}
	return out, c.do(ctx, http.MethodPost, keyPath(id, "/rotate"), nil, req, out)
}

// RevokeKey revokes a key.
func (c *Client) RevokeKey(ctx context.Context, id string) (*adminv1.Key, error) {
	out := &adminv1.RevokeKeyResponse{}
	if err := c.do(ctx, http.MethodPost, keyPath(id, "/revoke"), nil, nil, out); err != nil {
		return nil, err
	}
	return out.GetKey(), nil
}

// DeleteKey deletes a key.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, keyPath(id, ""), nil, nil, &adminv1.DeleteKeyResponse{})
}

func usageQuery(req *adminv1.GetUsageReportRequest) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"start_date": req.GetStartDate(), "end_date": req.GetEndDate(), "key_id": req.GetKeyId(),
		"owner": req.GetOwner(), "model": req.GetModel()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(req.GetGroupBy()) > 0 {
		q.Set("group_by", strings.Join(req.GetGroupBy(), ","))
	}
	return q
}

// UsageReport returns a usage report.
func (c *Client) UsageReport(ctx context.Context, req *adminv1.GetUsageReportRequest) (*adminv1.GetUsageReportResponse, error) {
	out := &adminv1.GetUsageReportResponse{}
	return out, c.do(ctx, http.MethodGet, "/v1/admin/usage", usageQuery(req), nil, out)
}

// UsageCSV copies a usage report as CSV to w.
func (c *Client) UsageCSV(ctx context.Context, req *adminv1.GetUsageReportRequest, w io.Writer) error {
	q := usageQuery(req)
	q.Set("format", "csv")
	body, err := c.raw(ctx, http.MethodGet, "/v1/admin/usage", q, nil, "text/csv")
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	if _, err := io.Copy(w, body); err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	return nil
}

// EraseUsage erases the usage of a key or an owner and returns the rows removed.
func (c *Client) EraseUsage(ctx context.Context, req *adminv1.EraseUsageRequest) (int64, error) {
	out := &adminv1.EraseUsageResponse{}
	if err := c.do(ctx, http.MethodPost, "/v1/admin/usage/erase", nil, req, out); err != nil {
		return 0, err
	}
	return out.GetDeleted(), nil
}
