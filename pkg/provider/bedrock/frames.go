package bedrock

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/eventstream"
)

// frameHandler consumes the event frames of one Bedrock response stream.
type frameHandler interface {
	// event handles an ":message-type: event" frame; an error means its payload was
	// malformed.
	event(dst []canonical.StreamEvent, eventType, payload []byte) ([]canonical.StreamEvent, error)
	// fail appends the terminal error event and marks the stream done.
	fail(dst []canonical.StreamEvent, err *canonical.Error) []canonical.StreamEvent
	// finished reports whether the stream has ended (normally or with an error).
	finished() bool
}

// frameReader splits a Bedrock event-stream body into frames and routes them:
// events to the handler, exception and error frames (Bedrock's in-band errors inside
// a 200 response) and corrupted framing to handler.fail, which ends the stream.
type frameReader struct {
	dec eventstream.Decoder
}

func (f *frameReader) feed(dst []canonical.StreamEvent, chunk []byte, h frameHandler) ([]canonical.StreamEvent, error) {
	msgs, err := f.dec.Feed(chunk)
	for i := range msgs {
		if h.finished() {
			return dst, nil
		}
		m := &msgs[i]
		switch string(m.Value(":message-type")) {
		case "event":
			et := m.Value(":event-type")
			var perr error
			dst, perr = h.event(dst, et, m.Payload)
			if perr != nil {
				return h.fail(dst, upstreamError("malformed Bedrock %q event: %v", et, perr)), nil
			}
		case "exception":
			return h.fail(dst, exceptionError(string(m.Value(":exception-type")), m.Payload)), nil
		case "error":
			e := upstreamError("Bedrock stream error %s: %s", m.Value(":error-code"), m.Value(":error-message"))
			e.ProviderType = string(m.Value(":error-code"))
			return h.fail(dst, e), nil
		default:
			return h.fail(dst, upstreamError("Bedrock stream frame with unknown :message-type %q", m.Value(":message-type"))), nil
		}
	}
	if err != nil && !h.finished() {
		return h.fail(dst, upstreamError("corrupted Bedrock event stream: %v", err)), nil
	}
	return dst, nil
}

// truncated is the error for a body that ended before the terminal event.
func (f *frameReader) truncated(want string) error {
	if f.dec.Buffered() > 0 {
		return fmt.Errorf("bedrock stream ended mid-frame (%d bytes pending): %w", f.dec.Buffered(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("bedrock stream ended before %s: %w", want, io.ErrUnexpectedEOF)
}

// exceptionError maps an exception frame (":exception-type" such as
// "throttlingException", payload {"message": …}) to a canonical error.
func exceptionError(typ string, payload []byte) *canonical.Error {
	var body struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(payload, &body)
	msg := body.Message
	if msg == "" {
		msg = body.MessageU
	}
	return errorFor(typ, 0, msg)
}
