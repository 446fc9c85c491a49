package e2e

// The socket path below the protocol: frames that arrive over several
// reads, a frame that stalls half way, a receiver whose kernel buffer fills
// and drains again, and a receiver that never reads again. A running socket
// reads and writes its raw descriptor and waits for the poller when the
// peer has nothing to give or no room to take (puddle/fdio.go).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// maskedFrame encodes a client frame.
func maskedFrame(t *testing.T, op ws.OpCode, payload []byte) []byte {
	t.Helper()
	p := bytes.Clone(payload)
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: ws.NewMask()}
	ws.Cipher(p, h.Mask, 0)
	var b bytes.Buffer
	if err := ws.WriteHeader(&b, h); err != nil {
		t.Fatal(err)
	}
	b.Write(p)
	return b.Bytes()
}

// expectBig reads one frame and compares it without printing it.
func expectBig(t *testing.T, c *wstest.Conn, payload []byte) {
	t.Helper()
	f, err := c.Read(wstest.Timeout)
	if err != nil {
		t.Fatalf("want a %d-byte frame: %v (close code %d)", len(payload), err, c.Code)
	}
	if f.Op != ws.OpBinary || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("got a %v frame of %d bytes, want the binary %d bytes sent", f.Op, len(f.Payload), len(payload))
	}
}

func TestSocketFrameAcrossReads(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.MaxMessageBytes = 512 << 10 })
	recv := rawDial(t, srv, "lobby", srv.LobbySecret)
	send := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(srv.LobbySecret))

	// A small frame in three pieces, the first cutting its header.
	small := []byte("pieces of one message")
	f := maskedFrame(t, ws.OpBinary, small)
	for _, piece := range [][]byte{f[:1], f[1:9], f[9:]} {
		if _, err := send.c.Write(piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rawExpectFrame(t, recv, ws.OpBinary, small)

	// A message far larger than a read buffer, in one write and then in
	// uneven pieces with pauses.
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	f = maskedFrame(t, ws.OpBinary, big)
	if _, err := send.c.Write(f); err != nil {
		t.Fatal(err)
	}
	expectBig(t, recv, big)
	for off, n := 0, 1; off < len(f); off, n = off+n, n*5 {
		end := min(off+n, len(f))
		if _, err := send.c.Write(f[off:end]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	expectBig(t, recv, big)
}

func TestSocketStalledFrame(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.HandshakeTimeout = config.Duration(300 * time.Millisecond) })
	send := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(srv.LobbySecret))
	f := maskedFrame(t, ws.OpText, []byte("this frame never ends"))
	if _, err := send.c.Write(f[:10]); err != nil {
		t.Fatal(err)
	}
	// The server gives a frame that has begun the handshake timeout to
	// finish, then drops the connection.
	start := time.Now()
	_ = send.c.SetReadDeadline(start.Add(wstest.Timeout))
	_, err := io.ReadAll(send.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a stalled frame held the socket open for %v", wstest.Timeout)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("dropped after %v, before the 300ms handshake timeout", d)
	}
}

func TestSocketReceiverCatchesUp(t *testing.T) {
	const (
		msgSize = 60 << 10
		count   = 80 // 4.7 MiB: far more than the kernel buffers, less than the queue bound
	)
	srv := testserver.Start(t, func(c *config.Config) { c.MaxQueueBytes = 16 << 20 })
	sender := rawDial(t, srv, "lobby", srv.LobbySecret)
	slow := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(srv.LobbySecret))
	payload := make([]byte, msgSize)
	for i := range count {
		binary.BigEndian.PutUint64(payload, uint64(i))
		rawWrite(t, sender, ws.OpBinary, payload)
	}
	time.Sleep(300 * time.Millisecond) // the server's writer waits for room meanwhile
	for i := range count {
		h, p, err := slow.read(wstest.Timeout)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if h.OpCode != ws.OpBinary || len(p) != msgSize {
			t.Fatalf("message %d: op %v, %d bytes", i, h.OpCode, len(p))
		}
		if seq := binary.BigEndian.Uint64(p); seq != uint64(i) {
			t.Fatalf("message %d arrived as %d", i, seq)
		}
	}
}

func TestSocketWriteTimeout(t *testing.T) {
	const msgSize = 64 << 10
	srv := testserver.Start(t, func(c *config.Config) {
		c.WriteTimeout = config.Duration(300 * time.Millisecond)
		c.MaxQueueBytes = 64 << 20 // the write timeout, not the queue bound, ends it
	})
	sendTok, deadTok := srv.TokenFor("lobby"), srv.TokenFor("lobby")
	sender := rawDial(t, srv, "lobby", sendTok.Secret)
	dead := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(deadTok.Secret))
	if tc, ok := dead.c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(16 << 10)
	}
	deadID := rawSocketOf(t, srv, "lobby", deadTok.ID)
	payload := make([]byte, msgSize)
	for range 64 { // 4 MiB: far more than the kernel holds for a reader that never reads
		rawWrite(t, sender, ws.OpBinary, payload)
	}
	rawPoll(t, wstest.Timeout, "the server drops a receiver whose writes time out", func() bool {
		return !rawHasSocket(t, srv, "lobby", deadID)
	})
}
