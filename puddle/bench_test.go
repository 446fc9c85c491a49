package puddle

// Benchmarks of the socket read path's hot spots (STYLE.md item 11). The
// end-to-end fan-out benchmark, which needs a whole server, is in
// fanout_bench_test.go (package puddle_test: internal/testserver imports
// this package). Results: docs/benchmarks.md.

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/wire"
)

// sendCommand is a typical envelope-mode send: a room, a JSON object as data
// and a string ref.
var sendCommand = []byte(`{"type":"send","room":"lobby","data":{"text":"the quick brown fox jumps over the lazy dog","seq":12345,"tags":["a","b"]},"ref":"c-000123"}`)

// BenchmarkEnvelopeDecode decodes a send command the way handleEnvelope does
// today: json.Unmarshal into wire.Command.
func BenchmarkEnvelopeDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sendCommand)))
	for b.Loop() {
		var cmd wire.Command
		if err := json.Unmarshal(sendCommand, &cmd); err != nil {
			b.Fatal(err)
		}
		if cmd.Type != wire.TypeSend || cmd.Room != "lobby" || len(cmd.Data) == 0 {
			b.Fatalf("decoded %+v", cmd)
		}
	}
}

// BenchmarkReceiptFrame builds the receipt answered to every send.
func BenchmarkReceiptFrame(b *testing.B) {
	b.ReportAllocs()
	ref := json.RawMessage(`"c-000123"`)
	var n int
	for b.Loop() {
		n += len(receiptFrame("0001JX4ZK7Q2M-0001", ref, "room", "lobby"))
	}
	if n == 0 {
		b.Fatal("empty receipts")
	}
}

// loopConn is a net.Conn whose reads replay the same bytes forever.
type loopConn struct {
	data []byte
	off  int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *loopConn) Close() error                     { return nil }
func (c *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkFrameReader reads a stream of masked 128-byte text frames: header
// parse, unmask, UTF-8 check.
func BenchmarkFrameReader(b *testing.B) {
	payload := bytes.Repeat([]byte("abcdefgh"), 16)
	var stream []byte
	for range 64 {
		stream = append(stream, maskedFrame(ws.OpText, true, payload)...)
	}
	fr := newFrameReader(&loopConn{data: stream}, nil, 65536)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		op, msg, err := fr.nextData()
		if err != nil || op != ws.OpText || len(msg) != len(payload) {
			b.Fatalf("next: %v %d bytes, %v", op, len(msg), err)
		}
	}
}

var _ net.Conn = (*loopConn)(nil)
