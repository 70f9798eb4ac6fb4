package harness

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// BenchmarkRoundTrip measures one full exchange through the harness against a no-op
// processor: "buffered" is request and response bodies BUFFERED (a chat completion);
// "streamed" switches the response to STREAMED with mode_override for a 20-event SSE stream.
func BenchmarkRoundTrip(b *testing.B) {
	reqBody := `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`
	respBody := `{"id":"x","choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"total_tokens":3}}`
	sse := sseBody(20)
	u := newUpstream(b, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, ev := range strings.SplitAfter(sse, "\n\n") {
				if ev != "" {
					_, _ = io.WriteString(w, ev)
					w.(http.Flusher).Flush()
				}
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, respBody)
	})
	fp := newFakeProc(b, func(ps *procStream) error {
		for m := range ps.in {
			r := continueFor(m)
			if m.GetResponseHeaders() != nil {
				if ct, _ := headerValue(m.GetResponseHeaders().GetHeaders(), "content-type"); ct == "text/event-stream" {
					r.ModeOverride = &extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_STREAMED}
				}
			}
			ps.send(r)
		}
		return nil
	})
	e := harnessFor(b, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.AllowModeOverride = true
		c.MessageTimeout = ms(5000)
	}), u)
	for _, bc := range []struct {
		name, path string
		want       int
	}{
		{"buffered", "/v1/chat/completions", len(respBody)},
		{"streamed", "/v1/chat/completions/stream", len(sse)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := e.Do(context.Background(), &Request{Method: "POST", Path: bc.path,
					Header: http.Header{"Content-Type": {"application/json"}}, Body: strings.NewReader(reqBody)})
				if err != nil || resp.Status != 200 || len(resp.Body) != bc.want {
					b.Fatalf("bad response: %v %d %d", err, resp.Status, len(resp.Body))
				}
			}
		})
	}
}
