// Package sse reads and writes Server-Sent Events (text/event-stream) incrementally.
// The reader accepts input split at any byte boundary, LF, CRLF or CR line ends, and
// "data:" with or without the space, as the WHATWG spec requires.
package sse

import "bytes"

// Event is one dispatched event. Its slices point into the reader's buffer and are valid
// only until the next call to Feed.
type Event struct {
	// Event is the "event:" field ("" means the default "message").
	Event []byte
	// Data is the "data:" lines joined with "\n".
	Data []byte
	// ID is the "id:" field.
	ID []byte
}

// Reader parses an SSE byte stream incrementally. The zero value is ready to use.
type Reader struct {
	buf     []byte // unconsumed input (a partial line)
	data    []byte // accumulated data of the current event
	event   []byte
	id      []byte
	hasData bool
	hasAny  bool
	skipLF  bool // the previous chunk ended in CR: a leading LF belongs to it
	bomDone bool // the start of the stream was checked for a byte order mark
	events  []Event
	// arena holds the bytes of the events returned by the current Feed or Flush, so
	// dispatching does not allocate once the reader is warm.
	arena []byte
}

// bom is the UTF-8 byte order mark, which the spec says to ignore at stream start.
const bom = "\xEF\xBB\xBF"

// Feed consumes chunk and returns the events it completed. The returned slice and the
// events' byte slices are reused by the next call.
func (r *Reader) Feed(chunk []byte) []Event {
	r.events = r.events[:0]
	r.arena = r.arena[:0]
	// Copy-free fast path would alias chunk; we keep the partial line only.
	input := chunk
	if len(r.buf) > 0 {
		r.buf = append(r.buf, chunk...)
		input = r.buf
	}
	if !r.bomDone {
		if len(input) < len(bom) && bom[:len(input)] == string(input) {
			// Too short to tell: keep it until more arrives.
			r.buf = append(r.buf[:0], input...)
			return r.events
		}
		r.bomDone = true
		if len(input) >= len(bom) && string(input[:len(bom)]) == bom {
			input = input[len(bom):]
		}
	}
	if r.skipLF && len(input) > 0 {
		if input[0] == '\n' {
			input = input[1:]
		}
		r.skipLF = false
	}
	start := 0
	for i := 0; i < len(input); i++ {
		c := input[i]
		if c != '\n' && c != '\r' {
			continue
		}
		r.line(input[start:i])
		if c == '\r' {
			if i+1 < len(input) {
				if input[i+1] == '\n' {
					i++
				}
			} else {
				r.skipLF = true
			}
		}
		start = i + 1
	}
	rest := input[start:]
	if len(r.buf) > 0 {
		// input aliases r.buf: move the remainder to the front.
		n := copy(r.buf, rest)
		r.buf = r.buf[:n]
	} else {
		r.buf = append(r.buf[:0], rest...)
	}
	return r.events
}

// Pending reports whether a partial line or an undispatched event is buffered; at the
// end of a body this means the stream was cut mid-event.
func (r *Reader) Pending() bool { return len(bytes.TrimSpace(r.buf)) > 0 || r.hasAny }

// Flush dispatches a final event that was not followed by a blank line. Call it at the
// end of the body; servers often omit the last blank line.
func (r *Reader) Flush() []Event {
	r.events = r.events[:0]
	r.arena = r.arena[:0]
	if !r.bomDone {
		r.bomDone = true
		if len(r.buf) < len(bom) && string(r.buf) == bom[:len(r.buf)] {
			r.buf = r.buf[:0] // only (part of) a byte order mark arrived
		}
	}
	if len(r.buf) > 0 {
		r.line(r.buf)
		r.buf = r.buf[:0]
	}
	r.dispatch()
	return r.events
}

func (r *Reader) line(l []byte) {
	if len(l) == 0 {
		r.dispatch()
		return
	}
	if l[0] == ':' { // comment
		return
	}
	field, value := l, []byte(nil)
	if i := bytes.IndexByte(l, ':'); i >= 0 {
		field, value = l[:i], l[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
		r.hasAny = true
	case "event":
		r.event = append(r.event[:0], value...)
		r.hasAny = true
	case "id":
		r.id = append(r.id[:0], value...)
		r.hasAny = true
	}
}

func (r *Reader) dispatch() {
	if !r.hasAny {
		return
	}
	if r.hasData {
		// r.data is reused for the next event, so the event's bytes are copied into the
		// arena. If the arena grows, earlier events keep pointing at the old array,
		// which stays intact until the next Feed.
		ev := Event{Data: r.keep(r.data)}
		if len(r.event) > 0 {
			ev.Event = r.keep(r.event)
		}
		if len(r.id) > 0 {
			ev.ID = r.keep(r.id)
		}
		r.events = append(r.events, ev)
	}
	r.data = r.data[:0]
	r.event = r.event[:0]
	r.hasData = false
	r.hasAny = false
}

// keep copies b into the arena and returns the copy, capped so appends to it cannot
// overwrite a neighbour.
func (r *Reader) keep(b []byte) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// AppendEvent appends an SSE event ("event: name" when name is non-empty, one "data:"
// line per line of data, then a blank line) to dst.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		data = data[i+1:]
	}
	return append(dst, '\n', '\n')
}

// IsDone reports whether data is OpenAI's "[DONE]" sentinel.
func IsDone(data []byte) bool { return string(bytes.TrimSpace(data)) == "[DONE]" }
