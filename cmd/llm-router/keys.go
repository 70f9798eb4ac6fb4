package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/llm-router/llm-router/pkg/admin"
	adminv1 "github.com/llm-router/llm-router/proto/llmrouter/admin/v1"
)

// cmdKeys manages virtual keys through the admin API of a running server.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: llm-router keys create|list|get|rotate|revoke [flags]")
		return 2
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, stderr)
	addr := fs.String("admin", envOr("LLM_ROUTER_ADMIN_URL", "http://127.0.0.1:9090"), "admin API base URL (env LLM_ROUTER_ADMIN_URL)")
	token := fs.String("token", os.Getenv("LLM_ROUTER_ADMIN_TOKEN"), "admin token (env LLM_ROUTER_ADMIN_TOKEN)")
	name := fs.String("name", "", "key name (create)")
	owner := fs.String("owner", "", "owner (create, list filter)")
	team := fs.String("team", "", "team (create, list filter)")
	models := fs.String("models", "", "comma-separated allowed models (create)")
	ttl := fs.Duration("ttl", 0, "expiry (create)")
	grace := fs.Duration("grace", time.Hour, "grace period of the old secret (rotate)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := admin.NewClient(*addr, *token)
	var out proto.Message
	var secret string
	var err error
	switch sub {
	case "create":
		req := &adminv1.CreateKeyRequest{Name: *name, Owner: *owner, Team: *team}
		if *models != "" {
			req.Models = strings.Split(*models, ",")
		}
		if *ttl > 0 {
			req.Ttl = durationpb.New(*ttl)
		}
		var resp *adminv1.CreateKeyResponse
		if resp, err = c.CreateKey(ctx, req); err == nil {
			out, secret = resp.GetKey(), resp.GetSecret()
		}
	case "list":
		out, err = c.ListKeys(ctx, &adminv1.ListKeysRequest{Owner: *owner, Team: *team})
	case "get", "rotate", "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "usage: llm-router keys %s KEY_ID\n", sub)
			return 2
		}
		id := fs.Arg(0)
		switch sub {
		case "get":
			out, err = c.GetKey(ctx, id)
		case "revoke":
			out, err = c.RevokeKey(ctx, id)
		default:
			var resp *adminv1.RotateKeyResponse
			if resp, err = c.RotateKey(ctx, id, *grace); err == nil {
				out, secret = resp.GetKey(), resp.GetSecret()
			}
		}
	default:
		fmt.Fprintf(stderr, "llm-router keys: unknown subcommand %q\n", sub)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "llm-router keys %s: %v\n", sub, err)
		return 1
	}
	b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	if secret != "" {
		// Shown once, on stderr apart from the JSON, so scripts can capture it separately.
		fmt.Fprintf(stderr, "secret (shown once, store it now): %s\n", secret)
	}
	return 0
}
