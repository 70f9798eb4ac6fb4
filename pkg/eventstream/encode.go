package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Limits of the format. AWS documents 16 MiB of payload and 128 KiB of headers per
// message; string and byte-array header values carry a 2-byte length and AWS SDKs
// cap them at 2^15-1 bytes.
const (
	preludeLen  = 12 // total length + headers length + prelude CRC
	overheadLen = preludeLen + 4
	// MaxPayloadSize is the largest payload AWS sends in one message.
	MaxPayloadSize = 16 << 20
	// MaxHeadersSize is the largest headers section AWS sends in one message.
	MaxHeadersSize = 128 << 10
	// DefaultMaxMessageSize bounds a whole message unless Decoder.MaxMessageSize says
	// otherwise: the largest payload plus the largest headers plus the framing.
	DefaultMaxMessageSize = MaxPayloadSize + MaxHeadersSize + overheadLen
	// MaxHeaderValueSize bounds a string or byte-array header value.
	MaxHeaderValueSize = 1<<15 - 1
)

// ErrEncode is wrapped by every error AppendMessage returns.
var ErrEncode = errors.New("eventstream: cannot encode")

// AppendMessage appends the encoding of a message with headers and payload to dst.
// It reports an error for an empty or over-long header name, a value whose size
// does not match its type, or a message over the format's limits.
func AppendMessage(dst []byte, headers []Header, payload []byte) ([]byte, error) {
	hlen := 0
	for i := range headers {
		n, err := encodedHeaderLen(&headers[i])
		if err != nil {
			return dst, err
		}
		hlen += n
	}
	if hlen > MaxHeadersSize {
		return dst, fmt.Errorf("%w: headers are %d bytes (max %d)", ErrEncode, hlen, MaxHeadersSize)
	}
	if len(payload) > MaxPayloadSize {
		return dst, fmt.Errorf("%w: payload is %d bytes (max %d)", ErrEncode, len(payload), MaxPayloadSize)
	}
	total := overheadLen + hlen + len(payload)

	start := len(dst)
	dst = grow(dst, total)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hlen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for i := range headers {
		h := &headers[i]
		dst = append(dst, byte(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = append(dst, byte(h.Type))
		if h.Type.fixedSize() < 0 {
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Value)))
		}
		dst = append(dst, h.Value...)
	}
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}

func encodedHeaderLen(h *Header) (int, error) {
	if len(h.Name) == 0 || len(h.Name) > 255 {
		return 0, fmt.Errorf("%w: header name length %d (want 1..255)", ErrEncode, len(h.Name))
	}
	size := h.Type.fixedSize()
	switch {
	case size == -2:
		return 0, fmt.Errorf("%w: header %q has unknown type %d", ErrEncode, h.Name, h.Type)
	case size == -1:
		if len(h.Value) > MaxHeaderValueSize {
			return 0, fmt.Errorf("%w: header %q value is %d bytes (max %d)", ErrEncode, h.Name, len(h.Value), MaxHeaderValueSize)
		}
		return 1 + len(h.Name) + 1 + 2 + len(h.Value), nil
	case len(h.Value) != size:
		return 0, fmt.Errorf("%w: header %q of type %d needs %d value bytes, has %d", ErrEncode, h.Name, h.Type, size, len(h.Value))
	}
	return 1 + len(h.Name) + 1 + size, nil
}

// grow makes room for n more bytes with a single allocation at most.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
