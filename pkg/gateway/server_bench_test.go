package gateway_test

import (
	"context"
	"io"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/llm-router/llm-router/pkg/bench"
	"github.com/llm-router/llm-router/pkg/extproc"
)

// memStream is an in-memory ext_proc server stream: Recv replays Envoy's messages and
// Send marshals each response with proto, as gRPC's codec does before writing it.
type memStream struct {
	grpc.ServerStream // only Context is used
	ctx               context.Context
	reqs              []*extprocv3.ProcessingRequest
	next              int
	buf               []byte
	sent              []*extprocv3.ProcessingResponse // kept when keep is set
	keep              bool
	bytes             int
}

func (s *memStream) Context() context.Context { return s.ctx }

func (s *memStream) Recv() (*extprocv3.ProcessingRequest, error) {
	if s.next >= len(s.reqs) {
		return nil, io.EOF
	}
	s.next++
	return s.reqs[s.next-1], nil
}

func (s *memStream) Send(r *extprocv3.ProcessingResponse) error {
	b, err := proto.MarshalOptions{}.MarshalAppend(s.buf[:0], r)
	if err != nil {
		return err
	}
	s.buf = b
	s.bytes += len(b)
	if s.keep {
		s.sent = append(s.sent, r)
	}
	return nil
}

func envoyHeaders(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

// chatMessages is the message sequence Envoy's router-level filter sends for the bench
// chat scenario (the same messages `llm-router bench` sends).
func chatMessages(sc bench.Scenario) []*extprocv3.ProcessingRequest {
	return []*extprocv3.ProcessingRequest{
		{
			Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: envoyHeaders(
				":method", "POST", ":path", sc.Path, ":scheme", "http", ":authority", "bench",
				"content-type", "application/json", "content-length", strconv.Itoa(len(sc.Body)),
				"authorization", sc.Headers["authorization"])}},
			ProtocolConfig: &extprocv3.ProtocolConfiguration{
				RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED, ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
			},
			MetadataContext: &corev3.Metadata{},
		},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: sc.Body, EndOfStream: true}}, MetadataContext: &corev3.Metadata{}},
		{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: envoyHeaders(
			":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(sc.Response)))}}, MetadataContext: &corev3.Metadata{}},
		{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: sc.Response, EndOfStream: true}}, MetadataContext: &corev3.Metadata{}},
	}
}

// BenchmarkServerExchange measures what the processor's gRPC service does for one chat
// exchange apart from the transport: extproc.Server.Process over an in-memory stream
// (dispatch, the gateway's work, building the ProcessingResponses) plus proto.Marshal of
// every response, which gRPC performs on the send path. "marshal" marshals the four
// responses of one exchange alone.
func BenchmarkServerExchange(b *testing.B) {
	gw := buildGateway(b)
	srv := extproc.NewServer(gw, extproc.Options{OnStream: func(int) {}})
	sc := bench.ChatScenario("bench", key)
	msgs := chatMessages(sc)
	ctx := context.Background()

	b.Run("process+marshal", func(b *testing.B) {
		s := &memStream{ctx: ctx, reqs: msgs}
		b.ReportAllocs()
		for b.Loop() {
			s.next, s.bytes = 0, 0
			if err := srv.Process(s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.bytes), "resp-bytes/op")
	})

	b.Run("marshal", func(b *testing.B) {
		s := &memStream{ctx: ctx, reqs: msgs, keep: true}
		if err := srv.Process(s); err != nil {
			b.Fatal(err)
		}
		if len(s.sent) != len(msgs) {
			b.Fatalf("%d responses for %d messages", len(s.sent), len(msgs))
		}
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range s.sent {
				var err error
				buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], r)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
