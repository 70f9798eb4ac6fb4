package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/extproc"
	"github.com/llm-router/llm-router/pkg/provider"
)

func (x *routerExchange) ResponseHeaders(_ context.Context, h extproc.Headers, eos bool) extproc.Reply {
	t0 := time.Now()
	defer x.track(t0)
	x.firstByte = x.g.now().Sub(x.start)
	x.status, _ = atoi(h.Bytes(":status"))
	info := x.attempt.Load()
	if info == nil {
		// Nothing was sent upstream by us (e.g. Envoy answered locally).
		return extproc.Reply{SkipResponseBody: true}
	}
	reply := x.newReply()
	// The caller learns its remaining allowance on every response (OpenAI's headers).
	for _, lh := range x.limitHeaders {
		reply.Headers.AddSet(lh.Name, lh.Value)
	}
	x.keepUpstreamRequestID(h, &reply)
	if x.status < 200 || x.status >= 300 {
		x.errType = errorTypeForStatus(x.status)
		if !info.passthrough {
			// Keep BUFFERED: the whole error body is translated in ResponseBody.
			x.errHeader = map[string]string{}
			h.Each(func(name, value string) {
				if name == "retry-after" || strings.HasPrefix(name, "x-amzn-") || strings.HasPrefix(name, "x-ratelimit") {
					x.errHeader[name] = value
				}
			})
		}
		return reply
	}
	if eos {
		return reply
	}
	ct := h.Bytes("content-type")
	streamed := x.stream || hasPrefix(ct, "text/event-stream") || hasPrefix(ct, "application/vnd.amazon.eventstream")
	if info.passthrough {
		if pt, ok := info.backend.Adapter.Backend.(provider.Passthrough); ok {
			x.scanner = pt.NewUsageScanner(streamed, !x.wantsUsage)
		}
	} else if streamed && x.endpoint != epEmbeddings {
		x.decoder = info.backend.Adapter.Backend.NewChatStreamDecoder()
		x.encoder = x.front.NewChatStreamEncoder(x.canon)
		reply.Headers.AddSet("content-type", "text/event-stream")
	}
	if streamed {
		x.respStream = true
		reply.StreamResponseBody = true
		reply.Headers.Remove = removeContentLength
	}
	return reply
}

func (x *routerExchange) ResponseBody(_ context.Context, chunk []byte, eos bool) extproc.Reply {
	t0 := time.Now()
	defer x.track(t0)
	info := x.attempt.Load()
	if info == nil {
		return extproc.Reply{}
	}
	var reply extproc.Reply
	switch {
	case x.status < 200 || x.status >= 300:
		if info.passthrough {
			return reply
		}
		reply = x.translateError(info, chunk)
	case x.respStream:
		reply = x.streamChunk(info, chunk, eos)
	default:
		reply = x.bufferedBody(info, chunk)
	}
	if eos || !x.respStream {
		reply.Metadata = x.usageMetadata()
	}
	return reply
}

// removeContentLength is shared by replies (the response references it): never modified.
var removeContentLength = []string{"content-length"}

// bufferedBody handles a complete successful body.
func (x *routerExchange) bufferedBody(info *attemptInfo, body []byte) extproc.Reply {
	reply := x.newReply()
	if x.scanner != nil {
		out := x.scanner.Scan(body, true)
		x.usage = x.scanner.Usage()
		if len(out) != len(body) {
			reply.ReplaceBody, reply.Body = true, out
			reply.Headers.AddSet("content-length", strconv.Itoa(len(out)))
		}
		x.cacheAppend(out)
		x.cacheStore("application/json", x.usage)
		return reply
	}
	var out []byte
	var err error
	if x.endpoint == epEmbeddings {
		eb := info.backend.Adapter.Backend.(provider.EmbeddingBackend)
		var resp *canonical.EmbeddingResponse
		resp, err = eb.DecodeEmbeddingResponse(body)
		if err == nil {
			x.usage = resp.Usage
			if resp.Model == "" {
				resp.Model = x.model.Name
			}
			out, err = x.front.(provider.EmbeddingFrontend).EncodeEmbeddingResponse(resp, x.embed.EncodingFormat)
		}
	} else {
		var resp *canonical.Response
		resp, err = info.backend.Adapter.Backend.DecodeChatResponse(body)
		if err == nil {
			x.usage = resp.Usage
			out, err = x.front.EncodeChatResponse(resp)
		}
	}
	if err != nil {
		x.errType = "bad_upstream_response"
		e := canonical.NewError(canonical.ErrUpstream, "provider %s returned a response llm-router could not decode", info.backend.Provider)
		return x.replaceWithError(e)
	}
	reply.ReplaceBody, reply.Body = true, out
	reply.Headers.AddSet("content-length", strconv.Itoa(len(out)))
	reply.Headers.AddSet("content-type", "application/json")
	x.cacheAppend(out)
	x.cacheStore("application/json", x.usage)
	return reply
}

// streamChunk handles one chunk of a streamed successful response.
func (x *routerExchange) streamChunk(info *attemptInfo, chunk []byte, eos bool) extproc.Reply {
	var reply extproc.Reply
	if x.scanner != nil {
		out := x.scanner.Scan(chunk, eos)
		x.usage = x.scanner.Usage()
		if len(out) != len(chunk) {
			reply.ReplaceBody, reply.Body = true, out
		}
		x.cacheAppend(out)
		if eos {
			x.cacheStore("text/event-stream", x.usage)
		}
		return reply
	}
	if x.decoder == nil {
		return reply
	}
	var err error
	x.events, err = x.decoder.Decode(x.events[:0], chunk)
	if err == nil && eos {
		x.events, err = x.decoder.Finish(x.events)
	}
	if err != nil {
		x.errType = "stream_decode_error"
		x.events = append(x.events, canonical.StreamEvent{Type: canonical.EventError,
			Err: canonical.NewError(canonical.ErrUpstream, "provider %s sent a stream llm-router could not decode", info.backend.Provider)})
	}
	out := x.out[:0]
	for i := range x.events {
		ev := &x.events[i]
		switch ev.Type {
		case canonical.EventUsage:
			x.usage = ev.Usage
		case canonical.EventError:
			if x.errType == "" {
				x.errType = "stream_error"
			}
		}
		out = x.encoder.Encode(out, ev)
	}
	x.out = out
	reply.ReplaceBody = true
	reply.Body = append([]byte(nil), out...)
	x.cacheAppend(reply.Body)
	if eos {
		x.cacheStore("text/event-stream", x.usage)
	}
	return reply
}

// translateError renders an upstream error body in the caller's schema.
func (x *routerExchange) translateError(info *attemptInfo, body []byte) extproc.Reply {
	hdr := http.Header{}
	for k, v := range x.errHeader {
		hdr.Set(k, v)
	}
	e := info.backend.Adapter.Backend.DecodeError(x.status, hdr, body)
	if e == nil {
		e = canonical.NewError(canonical.KindForStatus(x.status), "provider %s returned HTTP %d", info.backend.Provider, x.status)
	}
	if e.Status == 0 {
		e.Status = x.status
	}
	x.errType = string(e.Kind)
	return x.replaceWithError(e)
}

// replaceWithError replaces a buffered response with err in the caller's schema.
func (x *routerExchange) replaceWithError(e *canonical.Error) extproc.Reply {
	body := x.front.EncodeError(e)
	reply := x.newReply()
	reply.ReplaceBody, reply.Body = true, body
	reply.Headers.AddSet("content-type", "application/json")
	reply.Headers.AddSet("content-length", strconv.Itoa(len(body)))
	if e.Status != x.status && e.Status >= 200 {
		reply.Headers.AddSet(":status", strconv.Itoa(e.Status))
		x.status = e.Status
	}
	if ra := e.RetryAfterHeader(); ra != "" {
		reply.Headers.AddSet("retry-after", ra)
	}
	return reply
}

// usageMetadata returns the response-end metadata: usage, cost and time to first byte.
func (x *routerExchange) usageMetadata() extproc.Metadata {
	md := &x.md
	md.Reset()
	u := x.usage
	md.SetNumber("input_tokens", float64(u.InputTokens))
	md.SetNumber("output_tokens", float64(u.OutputTokens))
	md.SetNumber("total_tokens", float64(u.TotalTokens()))
	if u.CachedInputTokens > 0 {
		md.SetNumber("cached_input_tokens", float64(u.CachedInputTokens))
	}
	if u.ReasoningTokens > 0 {
		md.SetNumber("reasoning_tokens", float64(u.ReasoningTokens))
	}
	if u.Estimated {
		md.SetBool("tokens_estimated", true)
	}
	if info := x.attempt.Load(); info != nil && x.g.pricer != nil {
		if usd, known := x.g.pricer.Cost(info.backend.Adapter.Settings.Kind, info.backend.Model, u); known {
			md.SetNumber("cost_usd", usd)
		}
	}
	if x.firstByte > 0 {
		md.SetNumber("time_to_first_byte_ms", float64(x.firstByte.Milliseconds()))
	}
	return *md
}

func errorTypeForStatus(status int) string {
	switch {
	case status == 429:
		return "rate_limit"
	case status >= 500:
		return "upstream_" + strconv.Itoa(status)
	case status >= 400:
		return "client_" + strconv.Itoa(status)
	}
	return ""
}

// HeaderUpstreamRequestID carries the provider's x-request-id to the caller: Envoy
// replaces x-request-id with the gateway's own on every response
// (always_set_request_id_in_response), and the provider's id is what its support asks
// for.
const HeaderUpstreamRequestID = "x-upstream-request-id"

// keepUpstreamRequestID records the provider's request id for the access log and, when
// it travels in x-request-id (OpenAI and compatible servers), copies it to
// x-upstream-request-id. Anthropic's request-id and Bedrock's x-amzn-requestid reach
// the caller unchanged.
func (x *routerExchange) keepUpstreamRequestID(h extproc.Headers, reply *extproc.Reply) {
	if id := h.Get(HeaderRequestID); id != "" && id != x.reqID {
		x.upstreamReqID = id
		reply.Headers.AddSet(HeaderUpstreamRequestID, id)
		return
	}
	if id := h.Get("request-id"); id != "" {
		x.upstreamReqID = id
	} else if id := h.Get("x-amzn-requestid"); id != "" {
		x.upstreamReqID = id
	}
}
