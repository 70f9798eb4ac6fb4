// Package bench is an ext_proc load generator: it drives a processor over gRPC with the
// message sequence Envoy's router-level ext_proc filter sends for an LLM request
// (request headers, buffered request body, response headers, then the response body
// buffered or as streamed chunks), checks every answer has the kind Envoy expects, and
// reports latency percentiles and throughput. It also contains the no-op processor used
// as the floor: the same driver against a server that answers CONTINUE to everything.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// Scenario is one kind of exchange to drive.
type Scenario struct {
	// Path and Headers are the request's; Body its JSON body.
	Path    string
	Headers map[string]string
	Body    []byte
	// Response is the upstream response body (buffered), or the SSE chunks when Chunks
	// is set (streamed: one ext_proc body message per chunk).
	Response    []byte
	Chunks      [][]byte
	ContentType string
}

// Options configure a run.
type Options struct {
	Concurrency int
	Duration    time.Duration
	// Requests, when > 0, stops after that many exchanges instead of Duration.
	Requests int
}

// Result summarises a run.
type Result struct {
	Requests           int
	Errors             int
	FirstError         string
	Elapsed            time.Duration
	P50, P90, P99, Max time.Duration
}

// RPS is requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// String formats the result as one table row.
func (r Result) String() string {
	return fmt.Sprintf("%8d req  %9.0f req/s  p50 %8s  p90 %8s  p99 %8s  max %8s  errors %d",
		r.Requests, r.RPS(), r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Errors)
}

// Run drives conn with sc until the duration or request count is reached.
func Run(ctx context.Context, conn grpc.ClientConnInterface, sc Scenario, opts Options) Result {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	client := extprocv3.NewExternalProcessorClient(conn)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		firstErr  string
		issued    atomic.Int64
	)
	deadline := time.Now().Add(opts.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				if opts.Requests > 0 {
					if issued.Add(1) > int64(opts.Requests) {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				err := Exchange(ctx, client, sc)
				d := time.Since(t0)
				if err != nil {
					mu.Lock()
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := Result{Requests: len(latencies), Errors: errs, FirstError: firstErr, Elapsed: time.Since(start)}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		res.P50 = latencies[n*50/100]
		res.P90 = latencies[n*90/100]
		res.P99 = latencies[min(n-1, n*99/100)]
		res.Max = latencies[n-1]
	}
	return res
}

func headerMap(kv map[string]string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(kv))}
	for k, v := range kv {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	return m
}

// Exchange drives one request through the processor as Envoy's router-level filter
// configured with request/response headers SEND and bodies BUFFERED (switching to
// STREAMED when the processor says so) would.
func Exchange(ctx context.Context, client extprocv3.ExternalProcessorClient, sc Scenario) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Process(ctx)
	if err != nil {
		return err
	}
	reqHeaders := map[string]string{":method": "POST", ":path": sc.Path, ":scheme": "http", ":authority": "bench", "content-type": "application/json", "content-length": strconv.Itoa(len(sc.Body))}
	for k, v := range sc.Headers {
		reqHeaders[k] = v
	}
	first := &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(reqHeaders)}},
		ProtocolConfig: &extprocv3.ProtocolConfiguration{
			RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED, ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
		},
		MetadataContext: &corev3.Metadata{},
	}
	resp, err := roundTrip(stream, first)
	if err != nil {
		return err
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		return fmt.Errorf("immediate response %d on request headers: %s", ir.GetStatus().GetCode(), ir.GetBody())
	}
	if resp.GetRequestHeaders() == nil {
		return errors.New("request_headers not answered with request_headers")
	}
	resp, err = roundTrip(stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: sc.Body, EndOfStream: true}}, MetadataContext: &corev3.Metadata{}})
	if err != nil {
		return err
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		return fmt.Errorf("immediate response %d on request body: %s", ir.GetStatus().GetCode(), ir.GetBody())
	}
	if resp.GetRequestBody() == nil {
		return errors.New("request_body not answered with request_body")
	}
	ct := sc.ContentType
	if ct == "" {
		ct = "application/json"
	}
	rh := map[string]string{":status": "200", "content-type": ct}
	if sc.Chunks == nil {
		rh["content-length"] = strconv.Itoa(len(sc.Response))
	}
	resp, err = roundTrip(stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(rh)}}, MetadataContext: &corev3.Metadata{}})
	if err != nil {
		return err
	}
	if resp.GetResponseHeaders() == nil {
		return errors.New("response_headers not answered with response_headers")
	}
	streamed := resp.GetModeOverride().GetResponseBodyMode() == extprocfilterv3.ProcessingMode_STREAMED
	if sc.Chunks == nil || !streamed {
		body := sc.Response
		if sc.Chunks != nil {
			body = []byte(strings.Join(func() []string {
				out := make([]string, len(sc.Chunks))
				for i, c := range sc.Chunks {
					out[i] = string(c)
				}
				return out
			}(), ""))
		}
		resp, err = roundTrip(stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}, MetadataContext: &corev3.Metadata{}})
		if err != nil {
			return err
		}
		if resp.GetResponseBody() == nil {
			return errors.New("response_body not answered with response_body")
		}
		return closeStream(stream)
	}
	// STREAMED: Envoy sends each chunk as it arrives without waiting for answers; the
	// answers come back FIFO.
	errc := make(chan error, 1)
	go func() {
		for i := range sc.Chunks {
			r, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			if r.GetResponseBody() == nil {
				errc <- fmt.Errorf("chunk %d not answered with response_body", i)
				return
			}
		}
		errc <- nil
	}()
	for i, c := range sc.Chunks {
		msg := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: c, EndOfStream: i == len(sc.Chunks)-1}}, MetadataContext: &corev3.Metadata{}}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	if err := <-errc; err != nil {
		return err
	}
	return closeStream(stream)
}

func roundTrip(stream extprocv3.ExternalProcessor_ProcessClient, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	if err := stream.Send(req); err != nil {
		return nil, err
	}
	return stream.Recv()
}

func closeStream(stream extprocv3.ExternalProcessor_ProcessClient) error {
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return nil // the processor may end the stream either way
	}
	return nil
}

// NoopProcessor answers every message with an empty response of the matching kind: the
// cheapest correct processor, the floor a real one is compared with.
type NoopProcessor struct {
	extprocv3.UnimplementedExternalProcessorServer
}

// Process implements the ext_proc service.
func (NoopProcessor) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		resp := &extprocv3.ProcessingResponse{}
		switch req.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp.Response = &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp.Response = &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			// Ask for streamed bodies exactly like the real processor does for SSE, so the
			// floor drives the same message pattern.
			resp.Response = &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}
			if isSSE(req.GetResponseHeaders().GetHeaders()) {
				resp.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED}
			}
		case *extprocv3.ProcessingRequest_ResponseBody:
			resp.Response = &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}
		case *extprocv3.ProcessingRequest_RequestTrailers:
			resp.Response = &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}
		case *extprocv3.ProcessingRequest_ResponseTrailers:
			resp.Response = &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}
		}
		if err := stream.Send(resp); err != nil {
			return nil
		}
	}
}

func isSSE(h *corev3.HeaderMap) bool {
	for _, hv := range h.GetHeaders() {
		if hv.GetKey() == "content-type" {
			return strings.HasPrefix(string(hv.GetRawValue()), "text/event-stream")
		}
	}
	return false
}
