// Package eventstream encodes and decodes the AWS event-stream binary framing
// (content type application/vnd.amazon.eventstream), which Amazon Bedrock uses for
// ConverseStream and InvokeModelWithResponseStream responses.
//
// A message is laid out as:
//
//	total length   uint32 big-endian (whole message, including both CRCs)
//	headers length uint32 big-endian
//	prelude CRC    uint32, CRC-32 (IEEE) of the 8 bytes above
//	headers        headers-length bytes of header records
//	payload        total - headers - 16 bytes
//	message CRC    uint32, CRC-32 (IEEE) of everything before it
//
// A header record is a 1-byte name length, the name, a 1-byte value type and the
// value: nothing for bool true/false, 1/2/4/8 bytes for byte/short/int/long, a 2-byte
// length and the bytes for byte arrays and strings, 8 bytes (milliseconds since the
// epoch) for timestamps and 16 bytes for UUIDs. All integers are big-endian.
//
// The Decoder accepts input split at arbitrary byte boundaries, bounds the message
// size and checks both CRCs; the encoder (AppendMessage) exists for mocks and tests.
package eventstream

import (
	"encoding/binary"
	"time"
)

// HeaderType is the wire type tag of a header value.
type HeaderType uint8

// Header value types, as numbered on the wire.
const (
	TypeBoolTrue  HeaderType = 0
	TypeBoolFalse HeaderType = 1
	TypeByte      HeaderType = 2
	TypeShort     HeaderType = 3
	TypeInt       HeaderType = 4
	TypeLong      HeaderType = 5
	TypeBytes     HeaderType = 6
	TypeString    HeaderType = 7
	TypeTimestamp HeaderType = 8
	TypeUUID      HeaderType = 9
)

// fixedSize is the value size of fixed-width types, or -1 for length-prefixed ones.
func (t HeaderType) fixedSize() int {
	switch t {
	case TypeBoolTrue, TypeBoolFalse:
		return 0
	case TypeByte:
		return 1
	case TypeShort:
		return 2
	case TypeInt:
		return 4
	case TypeLong, TypeTimestamp:
		return 8
	case TypeUUID:
		return 16
	case TypeBytes, TypeString:
		return -1
	default:
		return -2
	}
}

// Header is one message header. Value holds the raw value bytes exactly as on the
// wire (big-endian integers, the bytes of a string or byte array, the 16 bytes of a
// UUID, nothing for booleans). Headers returned by the Decoder alias its buffer and
// are valid only until the next call to Feed.
type Header struct {
	Name  []byte
	Type  HeaderType
	Value []byte
}

// Bool returns the value of a boolean header (false for other types).
func (h Header) Bool() bool { return h.Type == TypeBoolTrue }

// Int returns the value of a byte, short, int, long or timestamp header as int64
// (sign-extended), or 0 for other types.
func (h Header) Int() int64 {
	switch {
	case h.Type == TypeByte && len(h.Value) == 1:
		return int64(int8(h.Value[0]))
	case h.Type == TypeShort && len(h.Value) == 2:
		return int64(int16(binary.BigEndian.Uint16(h.Value)))
	case h.Type == TypeInt && len(h.Value) == 4:
		return int64(int32(binary.BigEndian.Uint32(h.Value)))
	case (h.Type == TypeLong || h.Type == TypeTimestamp) && len(h.Value) == 8:
		return int64(binary.BigEndian.Uint64(h.Value))
	}
	return 0
}

// Time returns the value of a timestamp header (millisecond precision, UTC).
func (h Header) Time() time.Time { return time.UnixMilli(h.Int()).UTC() }

// StringValue returns the value of a string or byte-array header as a string (it
// allocates; compare with string(h.Value) == "x" to avoid that).
func (h Header) StringValue() string { return string(h.Value) }

// StringHeader builds a string header.
func StringHeader(name, value string) Header {
	return Header{Name: []byte(name), Type: TypeString, Value: []byte(value)}
}

// BytesHeader builds a byte-array header.
func BytesHeader(name string, value []byte) Header {
	return Header{Name: []byte(name), Type: TypeBytes, Value: value}
}

// BoolHeader builds a boolean header.
func BoolHeader(name string, value bool) Header {
	t := TypeBoolFalse
	if value {
		t = TypeBoolTrue
	}
	return Header{Name: []byte(name), Type: t}
}

// ByteHeader builds a (signed) byte header.
func ByteHeader(name string, value int8) Header {
	return Header{Name: []byte(name), Type: TypeByte, Value: []byte{byte(value)}}
}

// ShortHeader builds a 16-bit integer header.
func ShortHeader(name string, value int16) Header {
	return Header{Name: []byte(name), Type: TypeShort, Value: binary.BigEndian.AppendUint16(nil, uint16(value))}
}

// IntHeader builds a 32-bit integer header.
func IntHeader(name string, value int32) Header {
	return Header{Name: []byte(name), Type: TypeInt, Value: binary.BigEndian.AppendUint32(nil, uint32(value))}
}

// LongHeader builds a 64-bit integer header.
func LongHeader(name string, value int64) Header {
	return Header{Name: []byte(name), Type: TypeLong, Value: binary.BigEndian.AppendUint64(nil, uint64(value))}
}

// TimestampHeader builds a timestamp header (millisecond precision).
func TimestampHeader(name string, t time.Time) Header {
	return Header{Name: []byte(name), Type: TypeTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli()))}
}

// UUIDHeader builds a UUID header.
func UUIDHeader(name string, id [16]byte) Header {
	return Header{Name: []byte(name), Type: TypeUUID, Value: append([]byte(nil), id[:]...)}
}

// Message is one event-stream message.
type Message struct {
	Headers []Header
	Payload []byte
}

// Header returns the first header called name.
func (m *Message) Header(name string) (Header, bool) {
	for _, h := range m.Headers {
		if string(h.Name) == name {
			return h, true
		}
	}
	return Header{}, false
}

// Value returns the raw value of the first header called name, or nil. For the
// string headers AWS uses (":message-type", ":event-type", ":exception-type") it is
// the string's bytes.
func (m *Message) Value(name string) []byte {
	h, _ := m.Header(name)
	return h.Value
}
