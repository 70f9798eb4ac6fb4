package envoyconfig

import (
	"fmt"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"slices"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// clusterSet finds clusters by name with their paths.
type clusterSet struct {
	byName map[string]*clusterv3.Cluster
	paths  map[string]string
	// external reports names that exist outside the document (Istio's own clusters).
	external func(name string) bool
}

func (s *clusterSet) get(name string) (*clusterv3.Cluster, string, bool) {
	c, ok := s.byName[name]
	return c, s.paths[name], ok
}

// crossCheck compares a parsed bootstrap with the llm-router config.
func crossCheck(b *bootstrapv3.Bootstrap, cfg *configv1.Config) []Problem {
	var ps []Problem
	cs := &clusterSet{byName: map[string]*clusterv3.Cluster{}, paths: map[string]string{}}
	for i, c := range b.GetStaticResources().GetClusters() {
		cs.byName[c.GetName()] = c
		cs.paths[c.GetName()] = joinIndex("static_resources.clusters", i)
	}

	type hcmAt struct {
		hcm  *hcmv3.HttpConnectionManager
		path string
	}
	var hcms []hcmAt
	for i, l := range b.GetStaticResources().GetListeners() {
		lpath := joinIndex("static_resources.listeners", i)
		chains := l.GetFilterChains()
		paths := make([]string, len(chains))
		for j := range chains {
			paths[j] = joinIndex(lpath+".filter_chains", j)
		}
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
			paths = append(paths, lpath+".default_filter_chain")
		}
		for j, fc := range chains {
			for k, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if unpackInto(f.GetTypedConfig(), h) {
					hcms = append(hcms, hcmAt{h, joinIndex(paths[j]+".filters", k) + ".typed_config"})
				}
			}
		}
	}
	if len(hcms) == 0 {
		return append(ps, Problem{Path: "static_resources.listeners", Message: "no listener has an HTTP connection manager (" + HCMFilterName + ")"})
	}

	for _, h := range hcms {
		ps = append(ps, checkHTTPFilters(h.hcm.GetHttpFilters(), h.path+".http_filters", cs)...)
		ps = append(ps, checkCORSRoutes(h.hcm, h.path)...)
	}
	if cfg == nil {
		return ps
	}

	for _, h := range hcms {
		ps = append(ps, checkRoutePolicies(h.hcm.GetRouteConfig(), h.path+".route_config", cfg)...)
	}
	names := backendNames(cfg)
	for _, name := range names {
		want := ClusterName(name)
		c, cpath, ok := cs.get(want)
		if !ok {
			ps = append(ps, Problem{Path: "static_resources.clusters", Message: fmt.Sprintf("missing cluster %s for backend %s", want, name)})
		} else if cfg.GetServer().GetUpstreamFilter() {
			ps = append(ps, checkBackendCluster(c, cpath, name, cs)...)
		}
		found := false
		for _, h := range hcms {
			rc := h.hcm.GetRouteConfig()
			if rc == nil {
				continue
			}
			if r, rpath := findBackendRoute(rc, h.path+".route_config", name); r != nil {
				found = true
				if target := r.GetRoute().GetCluster(); target == "" {
					ps = append(ps, Problem{Path: rpath + ".route", Message: fmt.Sprintf("the route of backend %s must send to cluster %s", name, want)})
				} else if _, _, ok := cs.get(target); !ok {
					ps = append(ps, Problem{Path: rpath + ".route.cluster", Message: fmt.Sprintf("cluster %s does not exist", target)})
				}
				break
			}
		}
		if !found {
			ps = append(ps, Problem{Path: hcms[0].path + ".route_config", Message: fmt.Sprintf("no route matches %s: %s (backend %s)", BackendHeader, name, name)})
		}
	}
	return ps
}

// backendNames lists the distinct backend names of cfg in config order.
func backendNames(cfg *configv1.Config) []string {
	var names []string
	for _, m := range cfg.GetModels() {
		for _, b := range m.GetBackends() {
			if n := BackendName(m, b); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

func findBackendRoute(rc *routev3.RouteConfiguration, path, backend string) (*routev3.Route, string) {
	for i, vh := range rc.GetVirtualHosts() {
		for j, r := range vh.GetRoutes() {
			for _, h := range r.GetMatch().GetHeaders() {
				if !strings.EqualFold(h.GetName(), BackendHeader) || h.GetInvertMatch() {
					continue
				}
				if h.GetStringMatch().GetExact() == backend || h.GetExactMatch() == backend { //nolint:staticcheck // old configs use exact_match
					return r, joinIndex(joinIndex(path+".virtual_hosts", i)+".routes", j)
				}
			}
		}
	}
	return nil, ""
}

// checkHTTPFilters checks a connection manager's filter chain: the router-level
// ext_proc filter must come before the router.
func checkHTTPFilters(filters []*hcmv3.HttpFilter, path string, cs *clusterSet) []Problem {
	router := -1
	for i, f := range filters {
		if f.GetName() == RouterFilterName || isType(f.GetTypedConfig(), &routerv3.Router{}) {
			router = i
			break
		}
	}
	if router < 0 {
		return []Problem{{Path: path, Message: "no router filter (" + RouterFilterName + ")"}}
	}
	var candidates []int
	for i := 0; i < router; i++ {
		if isType(filters[i].GetTypedConfig(), &extprocv3.ExternalProcessor{}) {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return []Problem{{Path: path, Message: "no " + ExtProcFilterName + " filter before the router: llm-router never sees the requests"}}
	}
	// With several ext_proc filters, llm-router's is the one on its cluster.
	pick := candidates[0]
	for _, i := range candidates {
		if extprocOf(filters[i]).GetGrpcService().GetEnvoyGrpc().GetClusterName() == ExtprocCluster {
			pick = i
			break
		}
	}
	fpath := joinIndex(path, pick)
	ps := checkRouterExtProc(extprocOf(filters[pick]), fpath+".typed_config", cs)
	if filters[pick].GetDisabled() {
		ps = append(ps, Problem{Path: fpath + ".disabled", Message: "the ext_proc filter is disabled"})
	}
	return ps
}

func extprocOf(f *hcmv3.HttpFilter) *extprocv3.ExternalProcessor {
	ep := &extprocv3.ExternalProcessor{}
	unpackInto(f.GetTypedConfig(), ep)
	return ep
}

// checkRouterExtProc checks the router-level filter against the modes the processor
// relies on (see RouterFilter).
func checkRouterExtProc(ep *extprocv3.ExternalProcessor, path string, cs *clusterSet) []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) {
		ps = append(ps, Problem{Path: joinField(path, p), Message: fmt.Sprintf(format, args...)})
	}
	m := ep.GetProcessingMode()
	mpath := "processing_mode"
	if m == nil {
		add(mpath, "missing: the processor needs request_body_mode BUFFERED and response bodies")
	} else {
		if !headerSent(m.GetRequestHeaderMode()) {
			add(mpath+".request_header_mode", "is %s, must be SEND", m.GetRequestHeaderMode())
		}
		if m.GetRequestBodyMode() != extprocv3.ProcessingMode_BUFFERED {
			add(mpath+".request_body_mode", "is %s, must be BUFFERED: the processor reads and rewrites whole requests", m.GetRequestBodyMode())
		}
		if !headerSent(m.GetResponseHeaderMode()) {
			add(mpath+".response_header_mode", "is %s, must be SEND", m.GetResponseHeaderMode())
		}
		if rb := m.GetResponseBodyMode(); rb != extprocv3.ProcessingMode_BUFFERED && rb != extprocv3.ProcessingMode_STREAMED {
			add(mpath+".response_body_mode", "is %s, must be BUFFERED or STREAMED: the processor counts tokens and translates responses", rb)
		}
	}
	if !ep.GetAllowModeOverride() {
		add("allow_mode_override", "must be true: the processor switches SSE responses to STREAMED")
	}
	if !slices.Contains(ep.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(), MetadataNamespace) {
		add("metadata_options.receiving_namespaces.untyped", "must contain %q, or the processor's usage metadata is dropped", MetadataNamespace)
	}
	if ep.GetFailureModeAllow() {
		add("failure_mode_allow", "must be false: with the processor down, requests would skip authentication and limits")
	}
	ps = append(ps, checkExtProcCommon(ep, path, cs)...)
	return ps
}

func headerSent(m extprocv3.ProcessingMode_HeaderSendMode) bool {
	return m == extprocv3.ProcessingMode_SEND || m == extprocv3.ProcessingMode_DEFAULT
}

// checkExtProcCommon checks what both filters need: a gRPC service on an HTTP/2
// cluster and a usable message timeout.
func checkExtProcCommon(ep *extprocv3.ExternalProcessor, path string, cs *clusterSet) []Problem {
	var ps []Problem
	mt := ep.GetMessageTimeout()
	switch {
	case mt == nil:
		ps = append(ps, Problem{Path: joinField(path, "message_timeout"), Message: fmt.Sprintf("missing: Envoy's default is %v; set it explicitly (llm-router uses %v)", MinMessageTimeout, MessageTimeout)})
	case mt.AsDuration() < MinMessageTimeout:
		ps = append(ps, Problem{Path: joinField(path, "message_timeout"), Message: fmt.Sprintf("%v is below %v", mt.AsDuration(), MinMessageTimeout)})
	}
	gs := ep.GetGrpcService()
	switch {
	case gs == nil:
		ps = append(ps, Problem{Path: joinField(path, "grpc_service"), Message: "missing: llm-router is a gRPC external processor"})
	case gs.GetEnvoyGrpc() != nil:
		name := gs.GetEnvoyGrpc().GetClusterName()
		c, cpath, ok := cs.get(name)
		switch {
		case ok:
			if !isHTTP2(c) {
				ps = append(ps, Problem{Path: cpath, Message: fmt.Sprintf("cluster %s carries gRPC and must use HTTP/2 (explicit_http_config.http2_protocol_options)", name)})
			}
		case cs.external == nil || !cs.external(name):
			ps = append(ps, Problem{Path: joinField(path, "grpc_service.envoy_grpc.cluster_name"), Message: fmt.Sprintf("cluster %s does not exist", name)})
		}
	}
	return ps
}

// isHTTP2 reports whether a cluster speaks HTTP/2 to its hosts.
func isHTTP2(c *clusterv3.Cluster) bool {
	if c.GetHttp2ProtocolOptions() != nil { //nolint:staticcheck // the deprecated field still works
		return true
	}
	o := &httpv3.HttpProtocolOptions{}
	if !unpackInto(c.GetTypedExtensionProtocolOptions()[HTTPProtocolOptionsKey], o) {
		return false
	}
	return o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

// checkBackendCluster checks a backend cluster when the upstream filter is on: the
// per-attempt ext_proc filter before a final upstream codec, and endpoint metadata that
// names the backend.
func checkBackendCluster(c *clusterv3.Cluster, path, backend string, cs *clusterSet) []Problem {
	var ps []Problem
	opath := joinKey(path+".typed_extension_protocol_options", HTTPProtocolOptionsKey)
	o := &httpv3.HttpProtocolOptions{}
	if !unpackInto(c.GetTypedExtensionProtocolOptions()[HTTPProtocolOptionsKey], o) {
		return append(ps, Problem{Path: path, Message: "no " + HTTPProtocolOptionsKey + " with the upstream ext_proc filter, but server.upstream_filter is true"})
	}
	fpath := opath + ".http_filters"
	filters := o.GetHttpFilters()
	idx := slices.IndexFunc(filters, func(f *hcmv3.HttpFilter) bool {
		return isType(f.GetTypedConfig(), &extprocv3.ExternalProcessor{})
	})
	if idx < 0 {
		ps = append(ps, Problem{Path: fpath, Message: "no upstream " + ExtProcFilterName + " filter, but server.upstream_filter is true: fallbacks would reach providers untranslated and without credentials"})
	} else {
		ep := extprocOf(filters[idx])
		epath := joinIndex(fpath, idx) + ".typed_config"
		if !slices.Contains(ep.GetRequestAttributes(), AttrUpstreamHostMetadata) {
			ps = append(ps, Problem{Path: epath + ".request_attributes", Message: fmt.Sprintf("must contain %q: the processor learns the attempt's backend from it", AttrUpstreamHostMetadata)})
		}
		if m := ep.GetProcessingMode(); m != nil && !headerSent(m.GetRequestHeaderMode()) {
			ps = append(ps, Problem{Path: epath + ".processing_mode.request_header_mode", Message: fmt.Sprintf("is %s, must be SEND", m.GetRequestHeaderMode())})
		}
		ps = append(ps, checkExtProcCommon(ep, epath, cs)...)
	}
	// An empty list means Envoy's implicit codec; a non-empty one must end with it.
	if n := len(filters); n > 0 && !isUpstreamCodec(filters[n-1]) {
		ps = append(ps, Problem{Path: fpath, Message: "the last upstream filter must be " + UpstreamCodecFilterName})
	}
	for i, le := range c.GetLoadAssignment().GetEndpoints() {
		for j, ep := range le.GetLbEndpoints() {
			v := ep.GetMetadata().GetFilterMetadata()[MetadataNamespace].GetFields()["backend"].GetStringValue()
			epath := joinIndex(joinIndex(path+".load_assignment.endpoints", i)+".lb_endpoints", j)
			switch {
			case v == "":
				ps = append(ps, Problem{Path: epath + ".metadata", Message: "missing filter_metadata." + MetadataNamespace + ".backend: the upstream processor cannot tell which backend it talks to"})
			case le.GetPriority() == 0 && v != backend:
				ps = append(ps, Problem{Path: epath + ".metadata", Message: fmt.Sprintf("priority 0 endpoint is labelled backend %q, want %q", v, backend)})
			}
		}
	}
	return ps
}

func isUpstreamCodec(f *hcmv3.HttpFilter) bool {
	return f.GetName() == UpstreamCodecFilterName || isType(f.GetTypedConfig(), &upstreamcodecv3.UpstreamCodec{})
}

// isType reports whether a holds a message of m's type.
func isType(a *anypb.Any, m proto.Message) bool {
	return a != nil && a.MessageIs(m)
}

// unpackInto unpacks a into m when the types match.
func unpackInto(a *anypb.Any, m proto.Message) bool {
	return isType(a, m) && a.UnmarshalTo(m) == nil
}

// checkRoutePolicies validates filter_metadata.llm_router on virtual hosts and routes:
// the per-route policy the processor reads from xds.route_metadata.
func checkRoutePolicies(rc *routev3.RouteConfiguration, path string, cfg *configv1.Config) []Problem {
	if rc == nil {
		return nil
	}
	models := map[string]bool{"*": true}
	for _, m := range cfg.GetModels() {
		models[m.GetName()] = true
		for _, a := range m.GetAliases() {
			models[a] = true
		}
	}
	var ps []Problem
	check := func(md *corev3.Metadata, at string) {
		pol := md.GetFilterMetadata()[MetadataNamespace]
		if pol == nil {
			return
		}
		at += ".metadata.filter_metadata." + MetadataNamespace
		for key, v := range pol.GetFields() {
			switch key {
			case "allowed_models":
				list := v.GetListValue()
				if list == nil {
					ps = append(ps, Problem{Path: at + ".allowed_models", Message: "must be a list of model names"})
					continue
				}
				for i, m := range list.GetValues() {
					if !models[m.GetStringValue()] {
						ps = append(ps, Problem{Path: joinIndex(at+".allowed_models", i), Message: fmt.Sprintf("unknown model %q", m.GetStringValue())})
					}
				}
			case "cache":
				if c := v.GetStringValue(); c != "never" && c != "always" && c != "auto" {
					ps = append(ps, Problem{Path: at + ".cache", Message: fmt.Sprintf("cache must be never, always or auto, not %q", c)})
				}
			default:
				ps = append(ps, Problem{Path: at + "." + key, Message: "unknown llm_router policy field (known: allowed_models, cache)"})
			}
		}
	}
	for i, vh := range rc.GetVirtualHosts() {
		vpath := joinIndex(path+".virtual_hosts", i)
		check(vh.GetMetadata(), vpath)
		for j, r := range vh.GetRoutes() {
			check(r.GetMetadata(), joinIndex(vpath+".routes", j))
		}
	}
	return ps
}
