package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Decoding errors. Every error the Decoder returns wraps exactly one of them.
var (
	// ErrCRC means a prelude or message checksum did not match: the bytes were
	// corrupted or the stream is not event-stream at all.
	ErrCRC = errors.New("eventstream: checksum mismatch")
	// ErrTooLarge means a message announced a size over the decoder's bound.
	ErrTooLarge = errors.New("eventstream: message too large")
	// ErrMalformed means a message's lengths or headers are inconsistent.
	ErrMalformed = errors.New("eventstream: malformed message")
)

// Decoder decodes event-stream messages from input split at any byte boundary.
// The zero value is ready to use. A Decoder is not safe for concurrent use.
//
// Steady-state decoding does not allocate: messages and their headers point into
// the caller's chunk (when no partial message was pending) or into the decoder's
// buffer, which is reused.
type Decoder struct {
	// MaxMessageSize bounds the total length of one message; 0 means
	// DefaultMaxMessageSize. Larger messages fail with ErrTooLarge as soon as their
	// prelude arrives, before anything is buffered.
	MaxMessageSize int

	buf  []byte // carried-over input; buf[off:] is not yet consumed
	off  int
	msgs []Message
	hdrs []Header
	err  error
}

// Feed consumes chunk and returns the messages it completed, in order. The returned
// slice, the messages' headers and payloads are valid only until the next call to
// Feed (and, when they alias chunk, only while chunk is unchanged); copy what must
// outlive that.
//
// On a checksum mismatch, an oversized or a malformed message Feed returns the
// messages decoded before the fault together with the error; the Decoder then stays
// failed and every later call returns the same error, since framing cannot be
// recovered once it is lost.
func (d *Decoder) Feed(chunk []byte) ([]Message, error) {
	d.msgs = d.msgs[:0]
	d.hdrs = d.hdrs[:0]
	if d.err != nil {
		return nil, d.err
	}
	// Messages returned by the previous call may point into buf, so compaction
	// waits until now.
	if d.off > 0 {
		n := copy(d.buf, d.buf[d.off:])
		d.buf = d.buf[:n]
		d.off = 0
	}
	input := chunk
	carried := len(d.buf) > 0
	if carried {
		d.buf = append(d.buf, chunk...)
		input = d.buf
	}
	pos, err := d.parse(input, carried)
	if err != nil {
		d.err = err
		d.buf = d.buf[:0]
		d.off = 0
		return d.msgs, err
	}
	if carried {
		d.off = pos
	} else {
		d.buf = append(d.buf[:0], input[pos:]...)
	}
	return d.msgs, nil
}

// Buffered returns the number of bytes of an incomplete message held back. At the
// end of a body a non-zero value means the stream was cut mid-message.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// Err returns the error that failed the decoder, or nil.
func (d *Decoder) Err() error { return d.err }

// Reset clears all state (including a failure) so the Decoder can read a new stream;
// it keeps its buffers.
func (d *Decoder) Reset() {
	d.buf, d.off, d.err = d.buf[:0], 0, nil
	d.msgs, d.hdrs = d.msgs[:0], d.hdrs[:0]
}

func (d *Decoder) maxSize() int {
	if d.MaxMessageSize > 0 {
		return d.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

// parse decodes whole messages from input and returns how many bytes it consumed.
func (d *Decoder) parse(input []byte, carried bool) (int, error) {
	pos := 0
	for len(input)-pos >= preludeLen {
		p := input[pos:]
		total := binary.BigEndian.Uint32(p[0:4])
		hlen := binary.BigEndian.Uint32(p[4:8])
		if got, want := crc32.ChecksumIEEE(p[0:8]), binary.BigEndian.Uint32(p[8:12]); got != want {
			return pos, fmt.Errorf("%w: prelude CRC is %#08x, computed %#08x", ErrCRC, want, got)
		}
		if uint64(total) > uint64(d.maxSize()) {
			return pos, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, total, d.maxSize())
		}
		if total < overheadLen || hlen > total-overheadLen {
			return pos, fmt.Errorf("%w: total length %d with headers length %d", ErrMalformed, total, hlen)
		}
		if hlen > MaxHeadersSize {
			return pos, fmt.Errorf("%w: headers are %d bytes (max %d)", ErrTooLarge, hlen, MaxHeadersSize)
		}
		n := int(total)
		if len(p) < n {
			if !carried {
				// Reserve the whole message once rather than growing chunk by chunk
				// (buf is empty here: input is the caller's chunk).
				d.buf = grow(d.buf[:0], n)
			}
			break
		}
		msg := p[:n]
		if got, want := crc32.ChecksumIEEE(msg[:n-4]), binary.BigEndian.Uint32(msg[n-4:]); got != want {
			return pos, fmt.Errorf("%w: message CRC is %#08x, computed %#08x", ErrCRC, want, got)
		}
		first := len(d.hdrs)
		if err := d.parseHeaders(msg[preludeLen : preludeLen+int(hlen)]); err != nil {
			return pos, err
		}
		d.msgs = append(d.msgs, Message{
			Headers: d.hdrs[first:len(d.hdrs):len(d.hdrs)],
			Payload: msg[preludeLen+int(hlen) : n-4 : n-4],
		})
		pos += n
	}
	return pos, nil
}

func (d *Decoder) parseHeaders(b []byte) error {
	for len(b) > 0 {
		nameLen := int(b[0])
		if nameLen == 0 || len(b) < 1+nameLen+1 {
			return fmt.Errorf("%w: truncated or empty header name", ErrMalformed)
		}
		h := Header{Name: b[1 : 1+nameLen : 1+nameLen], Type: HeaderType(b[1+nameLen])}
		b = b[2+nameLen:]
		size := h.Type.fixedSize()
		switch size {
		case -2:
			return fmt.Errorf("%w: header %q has unknown type %d", ErrMalformed, h.Name, h.Type)
		case -1:
			if len(b) < 2 {
				return fmt.Errorf("%w: header %q value length truncated", ErrMalformed, h.Name)
			}
			size = int(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) < size {
			return fmt.Errorf("%w: header %q value truncated", ErrMalformed, h.Name)
		}
		h.Value = b[:size:size]
		b = b[size:]
		d.hdrs = append(d.hdrs, h)
	}
	return nil
}
