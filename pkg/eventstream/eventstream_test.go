package eventstream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	smithyes "github.com/aws/smithy-go/eventstream"
	"github.com/stretchr/testify/require"
)

var testUUID = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func allTypesHeaders() []Header {
	return []Header{
		BoolHeader("t", true),
		BoolHeader("f", false),
		ByteHeader("byte", -7),
		ShortHeader("short", -300),
		IntHeader("int", -70000),
		LongHeader("long", -1<<40),
		BytesHeader("bytes", []byte{0, 0xff, 3}),
		StringHeader(":event-type", "contentBlockDelta"),
		TimestampHeader("ts", time.UnixMilli(1700000000123)),
		UUIDHeader("uuid", testUUID),
	}
}

func mustEncode(t testing.TB, headers []Header, payload []byte) []byte {
	t.Helper()
	b, err := AppendMessage(nil, headers, payload)
	require.NoError(t, err)
	return b
}

func TestRoundTripAllHeaderTypes(t *testing.T) {
	hs := allTypesHeaders()
	frame := mustEncode(t, hs, []byte(`{"p":"x"}`))

	var d Decoder
	msgs, err := d.Feed(frame)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, `{"p":"x"}`, string(m.Payload))
	require.Len(t, m.Headers, len(hs))
	for i := range hs {
		require.Equal(t, hs[i].Name, m.Headers[i].Name)
		require.Equal(t, hs[i].Type, m.Headers[i].Type)
		require.Equal(t, len(hs[i].Value), len(m.Headers[i].Value))
	}
	get := func(name string) Header {
		h, ok := m.Header(name)
		require.True(t, ok, name)
		return h
	}
	require.True(t, get("t").Bool())
	require.False(t, get("f").Bool())
	require.EqualValues(t, -7, get("byte").Int())
	require.EqualValues(t, -300, get("short").Int())
	require.EqualValues(t, -70000, get("int").Int())
	require.EqualValues(t, -1<<40, get("long").Int())
	require.Equal(t, []byte{0, 0xff, 3}, get("bytes").Value)
	require.Equal(t, "contentBlockDelta", get(":event-type").StringValue())
	require.Equal(t, "contentBlockDelta", string(m.Value(":event-type")))
	require.Equal(t, time.UnixMilli(1700000000123).UTC(), get("ts").Time())
	require.Equal(t, testUUID[:], get("uuid").Value)
	require.Zero(t, get("uuid").Int(), "Int of a non-integer type")
	_, ok := m.Header("missing")
	require.False(t, ok)
	require.Nil(t, m.Value("missing"))
	require.Zero(t, d.Buffered())
}

// The smithy-go codec is what aws-sdk-go-v2 uses on the wire; both directions must
// agree byte for byte.
func TestCompatibleWithSmithyCodec(t *testing.T) {
	sm := smithyes.Message{
		Headers: smithyes.Headers{
			{Name: ":message-type", Value: smithyes.StringValue("event")},
			{Name: "t", Value: smithyes.BoolValue(true)},
			{Name: "f", Value: smithyes.BoolValue(false)},
			{Name: "b", Value: smithyes.Int8Value(-2)},
			{Name: "s", Value: smithyes.Int16Value(513)},
			{Name: "i", Value: smithyes.Int32Value(-1)},
			{Name: "l", Value: smithyes.Int64Value(1 << 50)},
			{Name: "by", Value: smithyes.BytesValue([]byte("raw"))},
			{Name: "ts", Value: smithyes.TimestampValue(time.UnixMilli(42))},
			{Name: "u", Value: smithyes.UUIDValue(testUUID)},
		},
		Payload: []byte(`{"hello":"world"}`),
	}
	var buf bytes.Buffer
	require.NoError(t, smithyes.NewEncoder().Encode(&buf, sm))

	ours := mustEncode(t, []Header{
		StringHeader(":message-type", "event"),
		BoolHeader("t", true), BoolHeader("f", false),
		ByteHeader("b", -2), ShortHeader("s", 513), IntHeader("i", -1), LongHeader("l", 1<<50),
		BytesHeader("by", []byte("raw")), TimestampHeader("ts", time.UnixMilli(42)), UUIDHeader("u", testUUID),
	}, []byte(`{"hello":"world"}`))
	require.Equal(t, buf.Bytes(), ours)

	var d Decoder
	msgs, err := d.Feed(buf.Bytes())
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.EqualValues(t, 513, msgs[0].Headers[4].Int())

	back, err := smithyes.NewDecoder().Decode(bytes.NewReader(ours), nil)
	require.NoError(t, err)
	require.Equal(t, sm.Payload, back.Payload)
	require.Equal(t, "event", back.Headers.Get(":message-type").String())
}

func stream(t testing.TB, n int) ([]byte, [][]byte) {
	var all []byte
	var payloads [][]byte
	for i := 0; i < n; i++ {
		p := []byte(fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":"tok%d"},"p":"abcdefgh"}`, i))
		if i%3 == 2 {
			p = nil // empty payloads are legal
		}
		var err error
		all, err = AppendMessage(all, []Header{
			StringHeader(":event-type", "contentBlockDelta"),
			StringHeader(":content-type", "application/json"),
			StringHeader(":message-type", "event"),
		}, p)
		require.NoError(t, err)
		payloads = append(payloads, p)
	}
	return all, payloads
}

// collect feeds parts and copies out payloads (they are only valid until next Feed).
func collect(t *testing.T, d *Decoder, parts ...[]byte) [][]byte {
	var out [][]byte
	for _, p := range parts {
		msgs, err := d.Feed(p)
		require.NoError(t, err)
		for _, m := range msgs {
			require.Equal(t, "contentBlockDelta", string(m.Value(":event-type")))
			out = append(out, append([]byte(nil), m.Payload...))
		}
	}
	return out
}

func normalize(ps [][]byte) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func TestSplitAtEveryBoundary(t *testing.T) {
	all, want := stream(t, 5)
	for i := 0; i <= len(all); i++ {
		for _, j := range []int{i, (i + len(all)) / 2, len(all)} {
			var d Decoder
			got := collect(t, &d, all[:i], all[i:j], all[j:])
			require.Equal(t, normalize(want), normalize(got), "split %d/%d", i, j)
			require.Zero(t, d.Buffered())
		}
	}
}

func TestByteAtATime(t *testing.T) {
	all, want := stream(t, 4)
	var d Decoder
	var got [][]byte
	for i := range all {
		got = append(got, collect(t, &d, all[i:i+1])...)
	}
	require.Equal(t, normalize(want), normalize(got))
	require.Zero(t, d.Buffered())
}

func TestBufferedReportsTruncation(t *testing.T) {
	all, _ := stream(t, 2)
	var d Decoder
	msgs, err := d.Feed(all[:len(all)-3])
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NotZero(t, d.Buffered())
}

func corrupt(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

// withPrelude builds a frame whose prelude announces total/hlen with a valid prelude
// CRC, followed by body and a correct message CRC.
func withPrelude(total, hlen uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, total)
	b = binary.BigEndian.AppendUint32(b, hlen)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestDecodeErrors(t *testing.T) {
	good := mustEncode(t, []Header{StringHeader("a", "b")}, []byte("payload"))
	hdr := func(raw ...byte) []byte { return withPrelude(uint32(16+len(raw)), uint32(len(raw)), raw) }
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"prelude crc", corrupt(good, 9), 0, ErrCRC},
		{"length bit flip caught by prelude crc", corrupt(good, 2), 0, ErrCRC},
		{"payload bit flip caught by message crc", corrupt(good, len(good)-6), 0, ErrCRC},
		{"message crc itself", corrupt(good, len(good)-1), 0, ErrCRC},
		{"too large", withPrelude(32<<20, 0, nil), 0, ErrTooLarge},
		{"over custom bound", good, 20, ErrTooLarge},
		{"total below minimum", withPrelude(8, 0, nil), 0, ErrMalformed},
		{"headers longer than message", withPrelude(20, 10, []byte{1, 2, 3, 4}), 0, ErrMalformed},
		{"headers over 128KiB", withPrelude(200<<10, 129<<10, make([]byte, 200<<10-16)), 0, ErrTooLarge},
		{"empty header name", hdr(0, 7), 0, ErrMalformed},
		{"name past end", hdr(5, 'a'), 0, ErrMalformed},
		{"unknown type", hdr(1, 'a', 10), 0, ErrMalformed},
		{"string length truncated", hdr(1, 'a', 7, 0), 0, ErrMalformed},
		{"string value truncated", hdr(1, 'a', 7, 0, 5, 'x'), 0, ErrMalformed},
		{"long value truncated", hdr(1, 'a', 5, 1, 2, 3), 0, ErrMalformed},
		{"not event-stream", []byte("HTTP/1.1 200 OK\r\ncontent-type: x\r\n\r\n"), 0, ErrCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{MaxMessageSize: tt.max}
			// A valid message before the bad one is still delivered.
			input := append(append([]byte(nil), good...), tt.input...)
			if tt.max != 0 {
				input = tt.input
			}
			msgs, err := d.Feed(input)
			require.ErrorIs(t, err, tt.want)
			if tt.max == 0 {
				require.Len(t, msgs, 1)
				require.Equal(t, "payload", string(msgs[0].Payload))
			}
			// The failure is sticky.
			msgs, err2 := d.Feed(good)
			require.Empty(t, msgs)
			require.ErrorIs(t, err2, tt.want)
			require.ErrorIs(t, d.Err(), tt.want)
			// Reset recovers.
			d.Reset()
			d.MaxMessageSize = 0
			msgs, err = d.Feed(good)
			require.NoError(t, err)
			require.Len(t, msgs, 1)
		})
	}
}

func TestOversizeRejectedBeforeBuffering(t *testing.T) {
	var d Decoder
	// Only the 12-byte prelude of a 1 GiB message: rejected at once.
	_, err := d.Feed(withPrelude(1<<30, 0, nil)[:12])
	require.ErrorIs(t, err, ErrTooLarge)
	require.Zero(t, d.Buffered())
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		headers []Header
		payload []byte
	}{
		{"empty name", []Header{{Type: TypeBoolTrue}}, nil},
		{"long name", []Header{{Name: bytes.Repeat([]byte("n"), 256), Type: TypeBoolTrue}}, nil},
		{"unknown type", []Header{{Name: []byte("a"), Type: 42}}, nil},
		{"wrong fixed size", []Header{{Name: []byte("a"), Type: TypeInt, Value: []byte{1}}}, nil},
		{"value too long", []Header{BytesHeader("a", make([]byte, MaxHeaderValueSize+1))}, nil},
		{"headers too large", func() []Header {
			var hs []Header
			for i := 0; i < 5; i++ {
				hs = append(hs, BytesHeader(fmt.Sprint(i), make([]byte, MaxHeaderValueSize)))
			}
			return hs
		}(), nil},
		{"payload too large", nil, make([]byte, MaxPayloadSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendMessage([]byte("keep"), tt.headers, tt.payload)
			require.ErrorIs(t, err, ErrEncode)
			require.Equal(t, "keep", string(out))
		})
	}
}

func TestAppendKeepsPrefixAndDecodesLargePayload(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 1<<20)
	b, err := AppendMessage([]byte("prefix"), nil, payload)
	require.NoError(t, err)
	require.Equal(t, "prefix", string(b[:6]))
	var d Decoder
	// Arrives in 3 pieces; the decoder reserves the message once.
	frame := b[6:]
	var got []Message
	for _, part := range [][]byte{frame[:100], frame[100 : 1<<19], frame[1<<19:]} {
		msgs, err := d.Feed(part)
		require.NoError(t, err)
		got = append(got, msgs...)
	}
	require.Len(t, got, 1)
	require.Equal(t, payload, got[0].Payload)
	require.Empty(t, got[0].Headers)
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	all, _ := stream(t, 10)
	half := len(all) / 2
	var d Decoder
	_, _ = d.Feed(all[:half])
	_, _ = d.Feed(all[half:])
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Feed(all[:half]); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Feed(all[half:]); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

func BenchmarkDecodeFrame(b *testing.B) {
	frame := mustEncode(b, []Header{
		StringHeader(":event-type", "contentBlockDelta"),
		StringHeader(":content-type", "application/json"),
		StringHeader(":message-type", "event"),
	}, []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello, world"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}`))
	var d Decoder
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := d.Feed(frame)
		if err != nil || len(msgs) != 1 {
			b.Fatal(err)
		}
	}
}

// Frames straddling chunk boundaries (the common shape of a network read).
func BenchmarkDecodeFrameSplit(b *testing.B) {
	all, _ := stream(b, 64)
	var d Decoder
	b.SetBytes(int64(len(all)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(all); off += 1000 {
			end := min(off+1000, len(all))
			if _, err := d.Feed(all[off:end]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	hs := []Header{
		StringHeader(":event-type", "contentBlockDelta"),
		StringHeader(":content-type", "application/json"),
		StringHeader(":message-type", "event"),
	}
	payload := []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello, world"}}`)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendMessage(buf[:0], hs, payload)
		if err != nil {
			b.Fatal(err)
		}
	}
}
