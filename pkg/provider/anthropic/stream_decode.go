package anthropic

import (
	"encoding/json"

	"github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"
)

// decodeEvent decodes one stream event's data into se. The per-token events (deltas,
// pings, block stops) take a reflection-free path that allocates only the delta's
// text; events with a message, content block, usage or error object, and anything the
// fast path does not handle exactly like encoding/json, go through json.Unmarshal.
func decodeEvent(data []byte, se *streamEvent, delta *streamDelta) error {
	if decodeEventFast(data, se, delta) {
		return nil
	}
	*se = streamEvent{}
	return json.Unmarshal(data, se)
}

func decodeEventFast(data []byte, se *streamEvent, delta *streamDelta) bool {
	*se = streamEvent{}
	r := jsonwire.NewReader(data)
	if !r.Open('{') {
		return false
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "type" && seen.First(0):
			if !r.Null() {
				se.Type = knownString(&r, eventTypes)
			}
		case k == "index" && seen.First(1):
			if !r.Null() {
				se.Index = int(r.Int())
			}
		case k == "delta" && seen.First(2):
			if !r.Null() {
				*delta = streamDelta{}
				se.Delta = delta
				decodeDelta(&r, delta)
			}
		case k == "message" && seen.First(3), k == "content_block" && seen.First(4),
			k == "usage" && seen.First(5), k == "error" && seen.First(6):
			if !r.Null() {
				return false
			}
		case jsonwire.MayFold(key, isEventField):
			return false
		default:
			r.Skip()
		}
	}
	return r.End()
}

func isEventField(k string) bool {
	switch k {
	case "type", "index", "delta", "message", "content_block", "usage", "error":
		return true
	}
	return false
}

// eventTypes are the type values of events and deltas, returned without allocating.
var eventTypes = []string{
	"content_block_delta", "text_delta", "input_json_delta", "thinking_delta", "signature_delta",
	"ping", "content_block_stop", "message_stop", "message_delta", "content_block_start", "message_start",
}

// knownString reads a string, returning the matching element of known when there is
// one so that common values need no allocation.
func knownString(r *jsonwire.Reader, known []string) string {
	s := r.StringSpan()
	for _, k := range known {
		if r.Equal(s, k) {
			return k
		}
	}
	return r.Text(s)
}

func decodeDelta(r *jsonwire.Reader, d *streamDelta) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "type" && seen.First(0):
			if !r.Null() {
				d.Type = knownString(r, eventTypes)
			}
		case k == "text" && seen.First(1):
			r.OptString(&d.Text)
		case k == "partial_json" && seen.First(2):
			r.OptString(&d.PartialJSON)
		case k == "thinking" && seen.First(3):
			r.OptString(&d.Thinking)
		case k == "signature" && seen.First(4):
			r.OptString(&d.Signature)
		case k == "stop_reason" && seen.First(5):
			d.StopReason = r.StringPtr()
		case k == "stop_sequence" && seen.First(6):
			d.StopSequence = r.StringPtr()
		case jsonwire.MayFold(key, isDeltaField):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

func isDeltaField(k string) bool {
	switch k {
	case "type", "text", "partial_json", "thinking", "signature", "stop_reason", "stop_sequence":
		return true
	}
	return false
}
