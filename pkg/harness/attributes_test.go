package harness

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Message-valued attributes (xds.upstream_host_metadata, xds.cluster_metadata) are sent as
// ShortDebugString text, which Envoy AI Gateway parses with prototext.Unmarshal.
func TestShortDebugString(t *testing.T) {
	s, err := structpb.NewStruct(map[string]any{"backend": "openai", "weight": 1.5, "on": true, "none": nil, "list": []any{"a", 2.0}, "nested": map[string]any{"q": "x\"y\né\x01"}})
	require.NoError(t, err)
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"llm_router": s, "a": {}}}
	got := shortDebugString(md)
	require.Equal(t, `filter_metadata { key: "a" value { } } filter_metadata { key: "llm_router" value { fields { key: "backend" value { string_value: "openai" } } fields { key: "list" value { list_value { values { string_value: "a" } values { number_value: 2 } } } } fields { key: "nested" value { struct_value { fields { key: "q" value { string_value: "x\"y\né\001" } } } } } fields { key: "none" value { null_value: NULL_VALUE } } fields { key: "on" value { bool_value: true } } fields { key: "weight" value { number_value: 1.5 } } } }`, got)
	var back corev3.Metadata
	require.NoError(t, prototext.Unmarshal([]byte(got), &back))
	require.True(t, proto.Equal(md, &back))
}

func TestAttributeEvaluation(t *testing.T) {
	env := &attrEnv{
		reqHeaders:  hmap{{":path", "/v1/chat?x=1"}, {":method", "POST"}, {":authority", "h"}, {":scheme", "https"}, {"x-request-id", "rid"}, {"user-agent", "ua"}, {"x-a", "1"}, {"x-a", "2"}},
		respHeaders: hmap{{":status", "200"}, {"content-type", "text/event-stream"}},
		respCode:    200, protocol: "HTTP/1.1", clusterName: "c", haveCluster: true, routeName: "r",
		haveUpstream: true, hostMeta: hostMeta("openai"), hostAddr: "10.0.0.1:443", sourceAddr: "1.2.3.4:5",
		details: "via_upstream",
	}
	exprs := []string{"request.path", "request.url_path", "request.query", "request.host", "request.scheme", "request.method",
		"request.id", "request.useragent", "request.protocol", "request.headers['x-a']", "request.headers", "request.referer",
		"response.code", "response.code_details", "response.headers['content-type']", "xds.cluster_name", "xds.route_name",
		"xds.cluster_metadata", "xds.upstream_host_metadata.filter_metadata['llm_router'].backend",
		"xds.upstream_host_metadata.filter_metadata[\"llm_router\"]", "upstream.address", "upstream.port", "source.address",
		"metadata", "request"}
	got := evalAttributes(exprs, env).GetFields()
	want := map[string]any{
		"request.path": "/v1/chat?x=1", "request.url_path": "/v1/chat", "request.query": "x=1", "request.host": "h",
		"request.scheme": "https", "request.method": "POST", "request.id": "rid", "request.useragent": "ua",
		"request.protocol": "HTTP/1.1", "request.headers['x-a']": "1,2", "request.headers": "map value",
		"response.code": float64(200), "response.code_details": "via_upstream", "response.headers['content-type']": "text/event-stream",
		"xds.cluster_name": "c", "xds.route_name": "r", "xds.cluster_metadata": "",
		"xds.upstream_host_metadata.filter_metadata['llm_router'].backend": "openai",
		"xds.upstream_host_metadata.filter_metadata[\"llm_router\"]":       "map value",
		"upstream.address": "10.0.0.1:443", "upstream.port": float64(443), "source.address": "1.2.3.4:5",
		"metadata": "", "request": "map value",
	}
	require.Len(t, got, len(want), "request.referer is absent and omitted")
	for k, v := range want {
		require.Equal(t, v, got[k].AsInterface(), k)
	}
	for _, bad := range []string{"", "a.", "a[1]", "a['x'", "a b", "foo.bar"} {
		require.Error(t, validateAttribute(bad), bad)
	}
	env2 := &attrEnv{reqHeaders: hmap{{":path", "/"}}}
	empty := evalAttributes([]string{"xds.upstream_host_metadata", "xds.cluster_name", "response.code", "upstream.port", "response.headers", "source.address"}, env2)
	require.Empty(t, empty.GetFields())
	require.Equal(t, "1.5", celPrint(1.5))
	require.Equal(t, "NULL", celPrint(celNull{}))
	require.Equal(t, "list value", celPrint([]any{}))
	require.Equal(t, "b", celPrint([]byte("b")))
}
