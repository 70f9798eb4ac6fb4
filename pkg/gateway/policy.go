package gateway

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llm-router/llm-router/pkg/extproc"
)

// attrRouteMetadata is the router-level request attribute carrying the matched route's
// metadata, where platform teams put per-route policy.
const attrRouteMetadata = "xds.route_metadata"

// routePolicy is the per-route policy from filter_metadata.llm_router on the Envoy
// route (or virtual host) the request matched. It narrows the processor's config and
// never widens it.
type routePolicy struct {
	// allowedModels, when non-empty, are the only public model names this route serves.
	allowedModels []string
	// cache overrides the model's cache mode ("never" or "always").
	cache string
}

// routePolicyFrom reads the policy from the route metadata attribute. Envoy sends a
// message-valued attribute as its text-format proto in a string value.
func routePolicyFrom(attrs map[string]*structpb.Value) *routePolicy {
	text := attrs[attrRouteMetadata].GetStringValue()
	if text == "" {
		return nil
	}
	var md corev3.Metadata
	if prototext.Unmarshal([]byte(text), &md) != nil {
		return nil
	}
	ns := md.GetFilterMetadata()[extproc.MetadataNamespace]
	if ns == nil {
		return nil
	}
	p := &routePolicy{cache: ns.GetFields()["cache"].GetStringValue()}
	for _, v := range ns.GetFields()["allowed_models"].GetListValue().GetValues() {
		if s := v.GetStringValue(); s != "" {
			p.allowedModels = append(p.allowedModels, s)
		}
	}
	return p
}

// allows reports whether the route lets the caller use the public model name.
func (p *routePolicy) allows(model string) bool {
	if p == nil || len(p.allowedModels) == 0 {
		return true
	}
	for _, m := range p.allowedModels {
		if m == model || m == "*" {
			return true
		}
	}
	return false
}
