package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

func sseBody(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "data: {\"i\":%d,\"pad\":\"%s\"}\n\n", i, strings.Repeat("x", 40))
	}
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// 200 fast streamed responses through ServeHTTP (router-level ext_proc switching to STREAMED
// with mode_override, request body present) are never truncated (golang/go#40747).
func TestServeHTTP_FastStreamsNeverTruncated(t *testing.T) {
	want := sseBody(60)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range strings.SplitAfter(want, "\n\n") {
			if ev == "" {
				continue
			}
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	})
	fp := newFakeProc(t, func(ps *procStream) error {
		for m := range ps.in {
			r := continueFor(m)
			if m.GetResponseHeaders() != nil {
				r.ModeOverride = &extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_STREAMED}
			}
			ps.send(r)
		}
		return nil
	})
	// A generous message timeout: this test is about truncation, and -race on 2 cores can be
	// slower than the default 200ms.
	e := harnessFor(t, fp, extProc(func(c *extprocv3.ExternalProcessor) {
		c.AllowModeOverride = true
		c.MessageTimeout = ms(10000)
	}), u)
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	sem := make(chan struct{}, 8)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			if string(b) != want {
				errs <- fmt.Errorf("truncated: status %d, got %d bytes, want %d", resp.StatusCode, len(b), len(want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.EqualValues(t, 200, e.Stats()["downstream_rq_2xx"])
}

// Each chunk is flushed to the client as it is forwarded.
func TestServeHTTP_FlushesEachChunk(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	e := harnessFor(t, nil, nil, u)
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stream")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "data: first\n", line)
	close(release)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Equal(t, "\ndata: second\n\n", string(rest))
}

// A stream reset after the response started is visible to the client as a broken body; the
// request body is read completely before the upstream sees the request.
func TestServeHTTP_ResetAndBodyFullyRead(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
	})
	e := harnessFor(t, nil, nil, u)
	srv := httptest.NewServer(e)
	defer srv.Close()
	big := bytes.Repeat([]byte("z"), 300<<10)
	resp, err := http.Post(srv.URL+"/x", "application/octet-stream", bytes.NewReader(big))
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Error(t, err)
	require.Equal(t, len(big), len(u.requests()[0].body))
	require.EqualValues(t, 1, e.Stats()["downstream_rq_reset"])
}

// A client that goes away mid-stream cancels the upstream request and closes side streams
// (item 32) without leaking goroutines.
func TestServeHTTP_ClientDisconnect(t *testing.T) {
	checkNoLeak(t)
	upstreamDone := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	fp := newFakeProc(t, nil)
	e := harnessFor(t, fp, extProc(withMode(extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_STREAMED)), u)
	srv := httptest.NewServer(e)
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/x", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	buf := make([]byte, 64)
	_, err = resp.Body.Read(buf)
	require.NoError(t, err)
	_ = resp.Body.Close() // the client goes away
	tr.CloseIdleConnections()
	select {
	case <-upstreamDone:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream not cancelled")
	}
	ps := fp.allStreams()[0]
	ps.waitEnd()
	require.True(t, ps.canceled)
	srv.Close()
	e.Close()
}

// The request trailers and response trailers go through ServeHTTP.
func TestServeHTTP_Trailers(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Upstream-Sum")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Upstream-Sum", r.Trailer.Get("X-Req-Sum"))
	})
	e := harnessFor(t, nil, nil, u)
	srv := httptest.NewServer(e)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/t", io.MultiReader(strings.NewReader("abc")))
	req.Trailer = http.Header{"X-Req-Sum": {"42"}}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, "body", string(b))
	require.Equal(t, "42", resp.Trailer.Get("X-Upstream-Sum"))
}
