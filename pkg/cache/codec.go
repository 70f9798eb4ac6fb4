package cache

import (
	"encoding/binary"
	"errors"
	"time"
)

// codecVersion is the first byte of an encoded entry. Bump it when the layout changes:
// a replica that reads an unknown version treats the value as a miss.
const codecVersion = 1

const (
	flagStream    = 1 << 0
	flagEstimated = 1 << 1
)

// ErrCorrupt is returned when a stored value cannot be decoded.
var ErrCorrupt = errors.New("cache: stored entry is corrupt or from an unknown version")

// encodeEntry writes e in the compact binary layout used for Redis values:
//
//	version byte (1)
//	uvarint status
//	flags byte (bit 0 stream, bit 1 usage estimated)
//	uvarint len, content type bytes
//	uvarint len, model bytes
//	varint created-at, unix nanoseconds (0 for the zero time)
//	varint × 5: input, output, cached input, cache creation, reasoning tokens
//	body (the rest)
//
// Headers cost a few dozen bytes, against hundreds for JSON with a base64 body.
func encodeEntry(e *Entry) []byte {
	out := make([]byte, 0, 48+len(e.ContentType)+len(e.Model)+len(e.Body))
	out = append(out, codecVersion)
	out = binary.AppendUvarint(out, uint64(max(e.Status, 0)))
	var flags byte
	if e.Stream {
		flags |= flagStream
	}
	if e.Usage.Estimated {
		flags |= flagEstimated
	}
	out = append(out, flags)
	out = binary.AppendUvarint(out, uint64(len(e.ContentType)))
	out = append(out, e.ContentType...)
	out = binary.AppendUvarint(out, uint64(len(e.Model)))
	out = append(out, e.Model...)
	var created int64
	if !e.CreatedAt.IsZero() {
		created = e.CreatedAt.UnixNano()
	}
	out = binary.AppendVarint(out, created)
	u := e.Usage
	for _, v := range [...]int{u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheCreationTokens, u.ReasoningTokens} {
		out = binary.AppendVarint(out, int64(v))
	}
	return append(out, e.Body...)
}

// decodeEntry parses encodeEntry's layout. The returned entry's Body aliases b.
func decodeEntry(b []byte) (*Entry, error) {
	d := decoder{b: b}
	if v := d.byte(); v != codecVersion {
		return nil, ErrCorrupt
	}
	e := &Entry{}
	status := d.uvarint()
	if status > 999 {
		return nil, ErrCorrupt
	}
	e.Status = int(status)
	flags := d.byte()
	if flags&^(flagStream|flagEstimated) != 0 {
		return nil, ErrCorrupt
	}
	e.Stream = flags&flagStream != 0
	e.Usage.Estimated = flags&flagEstimated != 0
	e.ContentType = string(d.bytes())
	e.Model = string(d.bytes())
	if created := d.varint(); created != 0 {
		e.CreatedAt = time.Unix(0, created)
	}
	for _, p := range [...]*int{&e.Usage.InputTokens, &e.Usage.OutputTokens, &e.Usage.CachedInputTokens, &e.Usage.CacheCreationTokens, &e.Usage.ReasoningTokens} {
		*p = int(d.varint())
	}
	if d.err {
		return nil, ErrCorrupt
	}
	e.Body = d.b[d.i:]
	return e, nil
}

// decoder reads the layout, remembering the first error instead of panicking.
type decoder struct {
	b   []byte
	i   int
	err bool
}

func (d *decoder) byte() byte {
	if d.err || d.i >= len(d.b) {
		d.err = true
		return 0
	}
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.err = true
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.err = true
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)-d.i) {
		d.err = true
		return nil
	}
	s := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}
