package puddle

// Fuzz targets for the wire (STYLE.md item 10): the frame reader, the
// envelope command decoder and the handshake head parser. The seed corpus
// lives in testdata/fuzz/<FuzzName>/; `make fuzz` runs every target.

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/wire"
)

// fuzzLimit is the frame reader's message limit under fuzzing: small, so
// that oversized and fragmented input is common.
const fuzzLimit = 64

// chunkConn is a net.Conn that reads from a byte slice at most chunk bytes
// per Read (every byte when chunk is 0), so that frame headers and payloads
// arrive split. Writes are discarded.
type chunkConn struct {
	r     *bytes.Reader
	chunk int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}

func (c *chunkConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *chunkConn) Close() error                { return nil }
func (c *chunkConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8700} }
func (c *chunkConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *chunkConn) SetDeadline(time.Time) error      { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*chunkConn)(nil)

// maskedFrame encodes one client frame (masked, as clients must send).
func maskedFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: [4]byte{0x1f, 0x2e, 0x3d, 0x4c}, Length: int64(len(payload))}
	var b bytes.Buffer
	if err := ws.WriteHeader(&b, h); err != nil {
		panic(err)
	}
	p := bytes.Clone(payload)
	ws.Cipher(p, h.Mask, 0)
	b.Write(p)
	return b.Bytes()
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader, split into reads
// of chunk bytes and with the first extra bytes given as already-buffered
// handshake leftovers. It must never panic, never return a message over the
// limit, and only return valid UTF-8 text.
func FuzzFrameReader(f *testing.F) {
	hello := maskedFrame(ws.OpText, true, []byte("hello"))
	f.Add(hello, uint8(0), uint8(0))
	f.Add(append(append(maskedFrame(ws.OpText, false, []byte("hel")), maskedFrame(ws.OpPing, true, []byte("p"))...),
		maskedFrame(ws.OpContinuation, true, []byte("lo ✓"))...), uint8(1), uint8(3))
	f.Add(maskedFrame(ws.OpBinary, true, bytes.Repeat([]byte{0xff}, fuzzLimit+1)), uint8(7), uint8(0))
	f.Add([]byte{0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4}, uint8(0), uint8(0)) // 2^40 bytes
	f.Add(hello[:3], uint8(1), uint8(1))
	f.Add(maskedFrame(ws.OpText, true, []byte{0xc3, 0x28}), uint8(0), uint8(0))
	f.Add(append(maskedFrame(ws.OpClose, true, []byte{0x03, 0xe8}), hello...), uint8(2), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, chunk, extra uint8) {
		n := min(int(extra), len(data))
		c := &chunkConn{r: bytes.NewReader(data[n:]), chunk: int(chunk)}
		fr := newFrameReader(c, data[:n], fuzzLimit)
		fr.ctl = controlFunc(func(op ws.OpCode, p []byte) {
			if !op.IsControl() || len(p) > 125 {
				t.Fatalf("control callback op %v with %d bytes", op, len(p))
			}
		})
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("%d messages from %d bytes", i, len(data))
			}
			op, msg, err := fr.nextData()
			if err != nil {
				return
			}
			if op != ws.OpText && op != ws.OpBinary {
				t.Fatalf("message with opcode %v", op)
			}
			if len(msg) > fuzzLimit {
				t.Fatalf("message of %d bytes over the limit %d", len(msg), fuzzLimit)
			}
			if op == ws.OpText && !utf8.Valid(msg) {
				t.Fatalf("invalid UTF-8 text %q", msg)
			}
			fr.shrink()
		}
	})
}

// FuzzEnvelopeCommand decodes arbitrary bytes as an envelope-mode command,
// both as a text frame and as a binary frame's header. Decoding must not
// panic; raw JSON the server echoes (ref) must stay valid JSON in the
// answers; SplitBinary must cut exactly at the first newline.
func FuzzEnvelopeCommand(f *testing.F) {
	f.Add([]byte(`{"type":"send","room":"lobby","data":{"text":"hi","n":1},"ref":"r1"}`))
	f.Add([]byte("{\"type\":\"send\",\"room\":\"lobby\",\"ref\":7}\n\x00\x01\n\xff"))
	f.Add([]byte(`{"type":"auth","token":"ph_x","ref":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"type":"create","room":"t1","public":true,"echo":false,"format":"json"}`))
	f.Add([]byte(`{"type":"send","to":"tk_a/1","data":"\ud800","ref":null}`))
	f.Add([]byte(`{"type":"join","room":"other/room","password":"p\u0000w"`))
	f.Add(maskedFrame(ws.OpText, true, []byte(`{"type":"ping"}`)))

	f.Fuzz(func(t *testing.T, data []byte) {
		var cmd wire.Command
		if json.Unmarshal(data, &cmd) == nil {
			checkCommand(t, &cmd)
		}

		hdr, payload, ok := wire.SplitBinary(data)
		if !ok {
			if bytes.IndexByte(data, '\n') >= 0 {
				t.Fatalf("SplitBinary missed the newline in %q", data)
			}
			return
		}
		if bytes.IndexByte(hdr, '\n') >= 0 {
			t.Fatalf("header %q holds a newline", hdr)
		}
		joined := append(append(bytes.Clone(hdr), '\n'), payload...)
		if !bytes.Equal(joined, data) {
			t.Fatalf("header+\"\\n\"+payload = %q, frame %q", joined, data)
		}
		var bcmd wire.Command
		if json.Unmarshal(hdr, &bcmd) == nil {
			checkCommand(t, &bcmd)
		}
	})
}

// checkCommand checks what the server does with a decoded command's raw
// JSON: data and ref are valid JSON, and the answers that echo ref are valid
// JSON text frames.
func checkCommand(t *testing.T, cmd *wire.Command) {
	t.Helper()
	if cmd.Data != nil && !json.Valid(cmd.Data) {
		t.Fatalf("data %q is not valid JSON", cmd.Data)
	}
	if cmd.Ref != nil && !json.Valid(cmd.Ref) {
		t.Fatalf("ref %q is not valid JSON", cmd.Ref)
	}
	for _, frame := range [][]byte{
		receiptFrame("0000000000001-1", cmd.Ref, "room", "lobby"),
		errorFrame(wire.Errorf(wire.CodeBadRequest, "unknown type %q", cmd.Type), cmd.Ref),
		eventFrame(wire.Event{Type: wire.TypePong, Ref: cmd.Ref}),
	} {
		p := serverFramePayload(t, frame)
		if !json.Valid(p) {
			t.Fatalf("answer %q is not valid JSON (ref %q)", p, cmd.Ref)
		}
	}
}

// serverFramePayload checks an unmasked, final text frame and returns its
// payload.
func serverFramePayload(t *testing.T, frame []byte) []byte {
	t.Helper()
	h, err := ws.ReadHeader(bytes.NewReader(frame))
	if err != nil || !h.Fin || h.Masked || h.OpCode != ws.OpText {
		t.Fatalf("bad server frame header %+v: %v", h, err)
	}
	n := 2
	switch {
	case h.Length > 0xffff:
		n = 10
	case h.Length >= 126:
		n = 4
	}
	if int64(len(frame)-n) != h.Length {
		t.Fatalf("frame length %d, header says %d", len(frame)-n, h.Length)
	}
	return frame[n:]
}

// FuzzParseHead parses arbitrary bytes as a handshake request head, then
// runs what the ingress runs on the result. It must never panic.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8700\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ph_x\r\n\r\n"))
	f.Add([]byte("GET /ws/rooms/admin%2Flobby?token=ph_x&password=p%20w HTTP/1.1\r\nHost: h\r\nOrigin: http://h\r\n\r\n"))
	f.Add([]byte("GET /ws?token=%zz HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost"))
	f.Add([]byte("GET http://h/ws HTTP/1.0\r\nX: " + string(bytes.Repeat([]byte{'a'}, 9000)) + "\r\n\r\n"))
	f.Add(append([]byte("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n"), maskedFrame(ws.OpText, true, []byte(`{"type":"auth"}`))...))

	f.Fuzz(func(t *testing.T, head []byte) {
		_ = isWebSocketPath(head)
		r, ok := parseHead(head)
		if !ok {
			return
		}
		_ = bearer(r.authorization)
		_ = originAllowed(r.origin, r.host, []string{"https://example.com"})
		_ = r.query.Get("token")
	})
}

// TestChunkConnSplits checks the fuzz harness itself: a frame read one byte
// at a time comes out whole.
func TestChunkConnSplits(t *testing.T) {
	payload := bytes.Repeat([]byte("ab"), 20)
	data := append(maskedFrame(ws.OpBinary, false, payload[:10]), maskedFrame(ws.OpContinuation, true, payload[10:])...)
	fr := newFrameReader(&chunkConn{r: bytes.NewReader(data[3:]), chunk: 1}, data[:3], fuzzLimit)
	op, msg, err := fr.nextData()
	if err != nil || op != ws.OpBinary || !bytes.Equal(msg, payload) {
		t.Fatalf("next: %v %q %v", op, msg, err)
	}
	big := maskedFrame(ws.OpBinary, true, make([]byte, 200))
	fr = newFrameReader(&chunkConn{r: bytes.NewReader(big)}, nil, fuzzLimit)
	if _, _, err := fr.nextData(); err == nil {
		t.Fatal("a 200-byte message passed a 64-byte limit")
	} else if ce, ok := err.(*closeError); !ok || ce.Code != 1009 {
		t.Fatalf("oversized message: %v, want close 1009", err)
	}
}

// controlFunc adapts a function to controlHandler.
type controlFunc func(op ws.OpCode, p []byte)

func (f controlFunc) control(op ws.OpCode, p []byte) { f(op, p) }
