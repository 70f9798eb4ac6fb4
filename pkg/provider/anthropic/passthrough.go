package anthropic

import (
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
	"github.com/llm-router/llm-router/pkg/sse"
)

// maxScanBody bounds how much of a non-streamed body the usage scanner keeps.
const maxScanBody = 64 << 20

// RewriteChatRequest implements provider.Passthrough for an Anthropic caller and an
// Anthropic backend: only the model changes (on Vertex: the model leaves the body and
// anthropic_version joins it). Anthropic streams always carry usage, so the caller
// always "wants" it and nothing is ever stripped.
func (b *Backend) RewriteChatRequest(body []byte, model string, stream bool) ([]byte, bool, error) {
	if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
		return nil, true, badRequest("", "request body is not a JSON object")
	}
	var err error
	if b.vertex {
		if body, err = sjson.DeleteBytes(body, "model"); err == nil {
			body, err = sjson.SetBytes(body, "anthropic_version", VertexVersion)
		}
	} else {
		body, err = sjson.SetBytes(body, "model", model)
	}
	if err != nil {
		return nil, true, badRequest("", "rewriting request: %v", err)
	}
	return body, true, nil
}

// NewUsageScanner implements provider.Passthrough. strip is ignored: there is no
// usage-only event in an Anthropic stream.
func (b *Backend) NewUsageScanner(stream, strip bool) provider.UsageScanner {
	return &usageScanner{stream: stream}
}

// usageScanner reads usage from message_start and message_delta events, or from the
// usage object of a complete message. It forwards every byte unchanged.
type usageScanner struct {
	stream bool
	r      sse.Reader
	body   []byte
	usage  Usage
	found  bool
}

// Scan implements provider.UsageScanner.
func (s *usageScanner) Scan(chunk []byte, endOfStream bool) []byte {
	if s.stream {
		s.events(s.r.Feed(chunk))
		if endOfStream {
			s.events(s.r.Flush())
		}
		return chunk
	}
	if len(s.body)+len(chunk) <= maxScanBody {
		s.body = append(s.body, chunk...)
	}
	if endOfStream {
		if u := gjson.GetBytes(s.body, "usage"); u.IsObject() {
			s.apply(u, true)
		}
		s.body = nil
	}
	return chunk
}

func (s *usageScanner) events(evs []sse.Event) {
	for _, ev := range evs {
		switch gjson.GetBytes(ev.Data, "type").String() {
		case "message_start":
			if u := gjson.GetBytes(ev.Data, "message.usage"); u.IsObject() {
				s.apply(u, true)
			}
		case "message_delta":
			if u := gjson.GetBytes(ev.Data, "usage"); u.IsObject() {
				s.apply(u, false)
			}
		}
	}
}

// apply sets the counts present in u (message_delta counts are cumulative totals).
func (s *usageScanner) apply(u gjson.Result, all bool) {
	s.found = true
	set := func(path string, dst *int) {
		if v := u.Get(path); v.Exists() {
			*dst = int(v.Int())
		} else if all {
			*dst = 0
		}
	}
	set("input_tokens", &s.usage.InputTokens)
	set("output_tokens", &s.usage.OutputTokens)
	set("cache_creation_input_tokens", &s.usage.CacheCreationInputTokens)
	set("cache_read_input_tokens", &s.usage.CacheReadInputTokens)
	if v := u.Get("output_tokens_details.thinking_tokens"); v.Exists() {
		s.usage.OutputTokensDetails = &OutputTokensDetails{ThinkingTokens: int(v.Int())}
	}
}

// Usage implements provider.UsageScanner.
func (s *usageScanner) Usage() canonical.Usage {
	if !s.found {
		return canonical.Usage{}
	}
	return toCanonicalUsage(s.usage)
}
