package eventstream

import (
	"bytes"
	"errors"
	"testing"
)

type decoded struct {
	frames [][]byte // re-encoded messages
	err    error
}

// decodeAll feeds data in pieces of at most step bytes (0 = all at once) and
// re-encodes every message it gets, so results of different splits compare by value.
func decodeAll(t *testing.T, data []byte, step int) decoded {
	var d Decoder
	var out decoded
	if step <= 0 {
		step = len(data) + 1
	}
	for off := 0; off < len(data) || off == 0; off += step {
		end := min(off+step, len(data))
		msgs, err := d.Feed(data[off:end])
		for _, m := range msgs {
			b, encErr := AppendMessage(nil, m.Headers, m.Payload)
			if encErr != nil {
				// Only over-long (> 2^15-1) string values decode but do not encode.
				if !errors.Is(encErr, ErrEncode) {
					t.Fatalf("unexpected encode error %v", encErr)
				}
				b = []byte("unencodable")
			}
			out.frames = append(out.frames, b)
		}
		if err != nil {
			out.err = err
			return out
		}
		if end == len(data) {
			break
		}
	}
	return out
}

// FuzzDecode checks that the decoder never panics, that the way input is split
// does not change the result, and that every decoded message re-encodes to exactly
// the bytes it came from.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint16(1))
	if all, _ := stream(f, 3); len(all) > 0 {
		f.Add(all, uint16(7))
	}
	f.Add(mustEncode(f, allTypesHeaders(), []byte("{}")), uint16(13))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole := decodeAll(t, data, 0)
		split := decodeAll(t, data, int(step%64)+1)
		if (whole.err == nil) != (split.err == nil) {
			t.Fatalf("error differs by split: %v vs %v", whole.err, split.err)
		}
		if whole.err != nil && !errors.Is(whole.err, ErrCRC) && !errors.Is(whole.err, ErrMalformed) && !errors.Is(whole.err, ErrTooLarge) {
			t.Fatalf("unclassified error %v", whole.err)
		}
		if len(whole.frames) != len(split.frames) {
			t.Fatalf("message count differs by split: %d vs %d", len(whole.frames), len(split.frames))
		}
		consumed := 0
		for i := range whole.frames {
			if !bytes.Equal(whole.frames[i], split.frames[i]) {
				t.Fatalf("message %d differs by split", i)
			}
			if string(whole.frames[i]) == "unencodable" {
				return
			}
			if !bytes.HasPrefix(data[consumed:], whole.frames[i]) {
				t.Fatalf("message %d does not re-encode to its input bytes", i)
			}
			consumed += len(whole.frames[i])
		}
	})
}

// FuzzRoundTrip encodes fuzzer-chosen headers and payloads and decodes them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(":event-type", "messageStart", int64(5), []byte(`{"role":"assistant"}`), uint8(0))
	f.Add("x", "", int64(-1), []byte{}, uint8(9))
	f.Fuzz(func(t *testing.T, name, value string, n int64, payload []byte, kind uint8) {
		if len(name) == 0 || len(name) > 255 || len(value) > MaxHeaderValueSize || len(payload) > 1<<16 {
			return
		}
		var h Header
		switch kind % 10 {
		case 0:
			h = StringHeader(name, value)
		case 1:
			h = BytesHeader(name, []byte(value))
		case 2:
			h = BoolHeader(name, n%2 == 0)
		case 3:
			h = ByteHeader(name, int8(n))
		case 4:
			h = ShortHeader(name, int16(n))
		case 5:
			h = IntHeader(name, int32(n))
		case 6:
			h = LongHeader(name, n)
		case 7:
			h = Header{Name: []byte(name), Type: TypeTimestamp, Value: LongHeader(name, n).Value}
		default:
			var id [16]byte
			copy(id[:], value)
			h = UUIDHeader(name, id)
		}
		frame, err := AppendMessage(nil, []Header{h, StringHeader(":message-type", "event")}, payload)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		msgs, err := d.Feed(frame)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("decode: %v (%d messages)", err, len(msgs))
		}
		got := msgs[0].Headers[0]
		if string(got.Name) != name || got.Type != h.Type || !bytes.Equal(got.Value, h.Value) {
			t.Fatalf("header mismatch: %+v vs %+v", got, h)
		}
		if h.Type >= TypeByte && h.Type <= TypeLong && got.Int() != h.Int() {
			t.Fatalf("int mismatch")
		}
		if !bytes.Equal(msgs[0].Payload, payload) {
			t.Fatal("payload mismatch")
		}
	})
}
