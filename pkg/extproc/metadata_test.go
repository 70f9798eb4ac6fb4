package extproc

import (
	"context"
	"math"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

func stringMetadata(kv ...string) Metadata {
	var m Metadata
	for i := 0; i < len(kv); i += 2 {
		m.SetString(kv[i], kv[i+1])
	}
	return m
}

// referenceMetadata is how dynamic metadata used to be built: a real Struct.
func referenceMetadata(fields map[string]*structpb.Value) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		MetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: fields}),
	}}
}

func TestMetadataWireFormMatchesStruct(t *testing.T) {
	// One field per case, so map order cannot differ: the bytes must be identical to
	// proto.Marshal of the Struct the processor used to send.
	cases := []struct {
		name string
		set  func(m *Metadata)
		want *structpb.Value
	}{
		{"string", func(m *Metadata) { m.SetString("backend", "openai.gpt-4o-mini") }, structpb.NewStringValue("openai.gpt-4o-mini")},
		{"empty string", func(m *Metadata) { m.SetString("ab_arm", "") }, structpb.NewStringValue("")},
		{"unicode", func(m *Metadata) { m.SetString("key_id", "clé-🔑") }, structpb.NewStringValue("clé-🔑")},
		{"long string", func(m *Metadata) { m.SetString("request_id", string(make([]byte, 300))) }, structpb.NewStringValue(string(make([]byte, 300)))},
		{"integer", func(m *Metadata) { m.SetNumber("input_tokens", 480) }, structpb.NewNumberValue(480)},
		{"zero", func(m *Metadata) { m.SetNumber("time_to_first_byte_ms", 0) }, structpb.NewNumberValue(0)},
		{"fraction", func(m *Metadata) { m.SetNumber("cost_usd", 0.000186) }, structpb.NewNumberValue(0.000186)},
		{"negative", func(m *Metadata) { m.SetNumber("x", -1.5) }, structpb.NewNumberValue(-1.5)},
		{"infinity", func(m *Metadata) { m.SetNumber("x", math.Inf(1)) }, structpb.NewNumberValue(math.Inf(1))},
		{"true", func(m *Metadata) { m.SetBool("tokens_estimated", true) }, structpb.NewBoolValue(true)},
		{"false", func(m *Metadata) { m.SetBool("tokens_estimated", false) }, structpb.NewBoolValue(false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m Metadata
			tc.set(&m)
			name := ""
			st, err := m.Struct()
			require.NoError(t, err)
			for k := range st.GetFields() {
				name = k
			}
			want, err := proto.Marshal(&extprocv3.ProcessingResponse{DynamicMetadata: referenceMetadata(map[string]*structpb.Value{name: tc.want})})
			require.NoError(t, err)
			got, err := proto.Marshal(&extprocv3.ProcessingResponse{DynamicMetadata: m.dynamicMetadata(nil)})
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestMetadataManyFieldsRoundTrip(t *testing.T) {
	var m Metadata
	m.SetString("backend", "b1")
	m.SetString("model", "gpt")
	m.SetString("request_id", "r-1")
	m.SetNumber("input_tokens", 12)
	m.SetNumber("cost_usd", 0.25)
	m.SetBool("tokens_estimated", true)
	want := referenceMetadata(map[string]*structpb.Value{
		"backend": structpb.NewStringValue("b1"), "model": structpb.NewStringValue("gpt"),
		"request_id": structpb.NewStringValue("r-1"), "input_tokens": structpb.NewNumberValue(12),
		"cost_usd": structpb.NewNumberValue(0.25), "tokens_estimated": structpb.NewBoolValue(true),
	})
	b, err := proto.Marshal(&extprocv3.ProcessingResponse{DynamicMetadata: m.dynamicMetadata(nil)})
	require.NoError(t, err)
	var got extprocv3.ProcessingResponse
	require.NoError(t, proto.Unmarshal(b, &got))
	require.True(t, proto.Equal(want, got.GetDynamicMetadata()), "got %v", got.GetDynamicMetadata())
	require.Equal(t, proto.Size(&extprocv3.ProcessingResponse{DynamicMetadata: want}), len(b))

	// The response owns its bytes: reusing the Metadata changes nothing already built.
	dm := m.dynamicMetadata(nil)
	before, err := proto.Marshal(dm)
	require.NoError(t, err)
	m.Reset()
	require.True(t, m.Empty())
	m.SetString("backend", "other-backend-name")
	after, err := proto.Marshal(dm)
	require.NoError(t, err)
	require.Equal(t, before, after)

	var empty Metadata
	require.Nil(t, empty.dynamicMetadata(nil), "no metadata, no dynamic_metadata field")
}

func TestMetadataInvalidUTF8EndsTheStream(t *testing.T) {
	var m Metadata
	m.SetString("request_id", "bad\xff")
	m.SetString("model", "ok")
	require.Error(t, m.Err())
	require.False(t, m.Empty())
	_, err := m.Struct()
	require.Error(t, err)

	ex := &scriptExchange{closed: make(chan error, 1), replies: map[string]Reply{"request_body": {Metadata: m}}}
	_, client, _ := startServer(t, ex)
	stream, err := client.Process(context.Background())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{EndOfStream: true}}}))
	_, err = stream.Recv()
	require.Equal(t, codes.Internal, status.Code(err), "a Struct with invalid UTF-8 cannot be marshalled")
	require.Error(t, <-ex.closed)
}

func TestHeaderMutationMatchesPerHeaderMessages(t *testing.T) {
	m := HeaderMutation{Set: []Header{{"x-llm-router-backend", "b1"}, {"content-length", "12"}, {"x-empty", ""}, {":path", "/v1/chat/completions"}}, Remove: []string{"authorization"}}
	want := &extprocv3.HeaderMutation{RemoveHeaders: []string{"authorization"}}
	for _, h := range m.Set {
		want.SetHeaders = append(want.SetHeaders, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Name, RawValue: []byte(h.Value)}})
	}
	got := headerMutation(&m)
	require.True(t, proto.Equal(want, got), "got %v", got)
	wb, err := proto.Marshal(want)
	require.NoError(t, err)
	gb, err := proto.Marshal(got)
	require.NoError(t, err)
	require.Equal(t, wb, gb)
	// The set list is copied: the exchange may reuse it.
	m.Set[0] = Header{"x", "y"}
	require.Equal(t, "x-llm-router-backend", got.GetSetHeaders()[0].GetHeader().GetKey())
	require.Equal(t, []byte("b1"), got.GetSetHeaders()[0].GetHeader().GetRawValue())
}
