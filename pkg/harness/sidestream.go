package harness

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"

	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// sideStream is one bidi Process stream to the processor (one per HTTP request per filter,
// item 1). Like Envoy's async gRPC client it never blocks the dispatcher: messages are queued
// to a sender goroutine, and a receive goroutine posts every message and the final status
// back to the dispatcher.
type sideStream struct {
	f            *extProcFilter
	cs           extprocsvc.ExternalProcessor_ProcessClient
	cancel       context.CancelFunc
	closed       bool // closed by us
	remoteClosed bool // Recv returned (OK close or error)

	mu      sync.Mutex
	queue   []*extprocsvc.ProcessingRequest
	closing bool
	wake    chan struct{}
}

func (f *extProcFilter) startSide() (*sideStream, error) {
	ctx, cancel := context.WithCancel(f.s.ctx)
	if len(f.cfg.grpcMD) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, f.cfg.grpcMD)
	}
	cs, err := f.s.e.client.Process(ctx, grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32))
	if err != nil {
		cancel()
		return nil, err
	}
	ss := &sideStream{f: f, cs: cs, cancel: cancel, wake: make(chan struct{}, 1)}
	f.s.wg.Add(2)
	go ss.recvLoop()
	go ss.sendLoop(ctx)
	return ss, nil
}

// sendLoop writes queued messages in order; on close it half-closes after the queue and then
// resets the stream, so the processor sees END_STREAM followed by a cancellation (item 10).
func (ss *sideStream) sendLoop(ctx context.Context) {
	defer ss.f.s.wg.Done()
	for {
		select {
		case <-ss.wake:
		case <-ctx.Done():
			return
		}
		ss.mu.Lock()
		q, closing := ss.queue, ss.closing
		ss.queue = nil
		ss.mu.Unlock()
		for _, req := range q {
			if ss.cs.Send(req) != nil {
				break // the failure surfaces through Recv
			}
		}
		if closing {
			_ = ss.cs.CloseSend()
			ss.cancel()
			return
		}
	}
}

func (ss *sideStream) kick() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

func (ss *sideStream) recvLoop() {
	defer ss.f.s.wg.Done()
	for {
		m, err := ss.cs.Recv()
		if err != nil {
			ss.f.s.post(func() { ss.f.onStreamEnd(ss, err) })
			return
		}
		if !ss.f.s.post(func() { ss.f.onStreamMessage(ss, m) }) {
			return
		}
	}
}

// send queues a message; it never sets end-of-stream on it (item 2).
func (ss *sideStream) send(req *extprocsvc.ProcessingRequest) {
	if ss.closed || ss.remoteClosed {
		return
	}
	ss.mu.Lock()
	ss.queue = append(ss.queue, req)
	ss.mu.Unlock()
	ss.kick()
}

// close is Envoy's default (non-graceful) close: END_STREAM then reset straight away, so the
// processor sees a cancellation (item 10). It reports whether the stream was still open.
func (ss *sideStream) close() bool {
	if ss.closed {
		return false
	}
	ss.closed = true
	if ss.remoteClosed {
		ss.cancel()
		return false
	}
	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	ss.kick()
	return true
}

func (f *extProcFilter) onStreamMessage(ss *sideStream, m *extprocsvc.ProcessingResponse) {
	if f.side != ss || ss.closed || f.dead() {
		return
	}
	f.onReceiveMessage(m)
}

func (f *extProcFilter) onStreamEnd(ss *sideStream, err error) {
	if f.side != ss || ss.closed || f.dead() {
		return
	}
	ss.remoteClosed = true
	if errors.Is(err, io.EOF) {
		f.onGrpcClose()
		return
	}
	f.onGrpcError(err)
}

// grpcErrorDetails formats ext_proc_error_gRPC_error_<code>{<message>} (item 14).
func grpcErrorDetails(err error) string {
	st, _ := status.FromError(err)
	code := st.Code()
	if code == codes.OK {
		code = codes.Unknown
	}
	return "ext_proc_error_gRPC_error_" + itoa(int(code)) + "{" + st.Message() + "}"
}
