package gateway

import (
	"context"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
)

// Request attributes the upstream-level filter is configured to send.
const (
	attrUpstreamHostMetadata = "xds.upstream_host_metadata"
	attrClusterName          = "xds.cluster_name"
	// ClusterPrefix prefixes the Envoy cluster of each backend.
	ClusterPrefix = "llm_router."
)

// upstreamExchange is one upstream attempt seen by the upstream-level filter: it
// translates the caller's request for the attempt's backend and adds its credentials.
type upstreamExchange struct {
	g *Gateway
}

// backendFromAttributes reads the backend name from the endpoint metadata
// (filter_metadata.llm_router.backend), falling back to the cluster name.
//
// Envoy renders a message-valued attribute as the message's protobuf text format in a
// string value (Envoy AI Gateway decodes it the same way); a Struct form is accepted too.
func backendFromAttributes(attrs map[string]*structpb.Value) string {
	v := attrs[attrUpstreamHostMetadata]
	if text := v.GetStringValue(); text != "" {
		var md corev3.Metadata
		if err := prototext.Unmarshal([]byte(text), &md); err == nil {
			if b := md.GetFilterMetadata()[extproc.MetadataNamespace].GetFields()["backend"].GetStringValue(); b != "" {
				return b
			}
		}
	}
	if md := v.GetStructValue(); md != nil {
		ns := md.GetFields()["filter_metadata"].GetStructValue().GetFields()[extproc.MetadataNamespace].GetStructValue()
		if b := ns.GetFields()["backend"].GetStringValue(); b != "" {
			return b
		}
	}
	return strings.TrimPrefix(attrs[attrClusterName].GetStringValue(), ClusterPrefix)
}

func (u *upstreamExchange) RequestHeaders(ctx context.Context, req *extproc.RequestHeaders) extproc.Reply {
	reqID := req.Headers.Get(HeaderRequestID)
	v, ok := u.g.inflight.Load(reqID)
	if !ok {
		e := canonical.NewError(canonical.ErrInternal, "upstream filter: no router-level state for this request; both ext_proc filters must use the same llm-router instance")
		return errorReply(u.g, e)
	}
	x := v.(*routerExchange)
	name := backendFromAttributes(req.Attributes)
	b, ok := x.rt.Backend(name)
	if !ok {
		return x.fail(canonical.NewError(canonical.ErrInternal, "upstream filter: unknown backend %q in endpoint metadata", name))
	}
	up, info, cerr := x.buildAttempt(ctx, b)
	if cerr != nil {
		return x.fail(cerr)
	}
	x.attempt.Store(info)
	var reply extproc.Reply
	applyUpstream(&reply, up)
	reply.ContinueAndReplace = true
	reply.ReplaceBody = true
	reply.Body = up.Body
	reply.Headers.AddSet(HeaderBackend, b.Name)
	return reply
}

func (u *upstreamExchange) RequestBody(context.Context, []byte, bool) extproc.Reply {
	return extproc.Reply{}
}

func (u *upstreamExchange) ResponseHeaders(context.Context, extproc.Headers, bool) extproc.Reply {
	return extproc.Reply{}
}

func (u *upstreamExchange) ResponseBody(context.Context, []byte, bool) extproc.Reply {
	return extproc.Reply{}
}

func (u *upstreamExchange) Close(context.Context, error) {}

// errorReply renders e in the OpenAI schema when no exchange context exists.
func errorReply(g *Gateway, e *canonical.Error) extproc.Reply {
	x := &routerExchange{g: g, rt: g.rt.Load()}
	x.front = g.frontends["openai"]
	return x.fail(e)
}
