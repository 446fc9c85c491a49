package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// testGen is a generator of one raw-mode room for the reader tests.
func testGen(t *testing.T, url string, receivers int) *gen {
	t.Helper()
	g, err := newGen(share{
		URL: url, Mode: ModeRaw, Via: ViaWS, Size: 20, Nonce: 7, PubIDs: 1,
		Rooms:           []roomShare{{Name: "r", Path: "/r", Receivers: receivers}},
		DialConcurrency: 4, DialTimeout: 2 * time.Second, ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestReaderFramesAcrossReads feeds a reader server frames cut at every
// size from 1 byte up, so that frame headers, the peeked payload start and
// skipped payloads all span reads; it checks the deliveries, the foreign
// frames, the pong and that a socket keeps no more than a frame's start.
func TestReaderFramesAcrossReads(t *testing.T) {
	var stream []byte
	payload := make([]byte, 20)
	for seq := uint32(1); seq <= 3; seq++ {
		stamp(payload, time.Now().UnixNano(), 7<<16, seq)
		stream = appendFrameHeader(stream, opBinary, len(payload), false, [4]byte{})
		stream = append(stream, payload...)
	}
	stream = appendFrameHeader(stream, opBinary, 70000, false, [4]byte{}) // foreign: not -size
	stream = append(stream, bytes.Repeat([]byte{'x'}, 70000)...)
	stream = append(stream, appendFrameHeaderPayload(opPing, []byte("hi"))...)
	stamp(payload, time.Now().UnixNano(), 7<<16, 4)
	stream = appendFrameHeader(stream, opBinary, len(payload), false, [4]byte{})
	stream = append(stream, payload...)

	for _, chunk := range []int{1, 2, 3, 5, 7, 13, 21, 100, 4096, len(stream)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			g := testGen(t, "ws://127.0.0.1:1", 1)
			g.byTask = make([]atomic.Pointer[conn], 1)
			r, err := newReader(g, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.release()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[1])
			c := &conn{g: g, fd: fds[0], rd: r, room: g.rooms[0], lastSeq: make([]uint32, 1)}
			g.byTask[0].Store(c)
			defer c.shut()
			feed(t, r, c, fds[1], stream, chunk)
			r.sink.flush(g)
			if got := g.cnt.received.Load(); got != 4 {
				t.Fatalf("received %d, want 4", got)
			}
			if f, o := g.cnt.foreign.Load(), g.cnt.outOfOrder.Load(); f != 1 || o != 0 {
				t.Fatalf("foreign %d, out of order %d", f, o)
			}
			pong := make([]byte, 64)
			n, err := unix.Read(fds[1], pong)
			if err != nil || n != 2+4+2 || pong[0] != 0x80|opPong || pong[1] != 0x80|2 {
				t.Fatalf("pong % x, %v", pong[:max(n, 0)], err)
			}
		})
	}
}

// feed writes stream to the peer chunk bytes at a time, letting the reader
// read after each write, and checks what the socket keeps between reads.
func feed(t *testing.T, r *reader, c *conn, peer int, stream []byte, chunk int) {
	t.Helper()
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		if _, err := unix.Write(peer, stream[:n]); err != nil {
			t.Fatal(err)
		}
		stream = stream[n:]
		for {
			r.serve(c) // one read, as for one event
			if len(c.part) > 14+r.g.peek {
				t.Fatalf("socket keeps %d bytes", len(c.part))
			}
			if left, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ); err != nil || left == 0 {
				break
			}
		}
	}
}

// fakeServer answers every upgrade request with answer(key).
func fakeServer(t *testing.T, answer func(key string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				_, _ = nc.Write([]byte(answer(req.Header.Get("Sec-WebSocket-Key"))))
				time.Sleep(100 * time.Millisecond)
			}()
		}
	}()
	return "ws://" + ln.Addr().String()
}

func answer101(accept string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n"
}

func TestHandshakeBadAccept(t *testing.T) {
	url := fakeServer(t, func(string) string {
		return answer101(base64.StdEncoding.EncodeToString(make([]byte, 20)))
	})
	d, err := newDialer(url, "", 0, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.dial(context.Background(), "/x", 0); !errors.Is(err, ws.ErrHandshakeBadSecAccept) {
		t.Fatalf("dial: %v", err)
	}
	// The same on the generator's path, where a reader reads the answer.
	g := testGen(t, url, 3)
	rep := g.connect(context.Background())
	g.finish()
	if rep.Opened != 0 || rep.Failed != 3 || rep.Reasons[ws.ErrHandshakeBadSecAccept.Error()] != 3 {
		t.Fatalf("report %+v", rep)
	}
}

func TestHandshakeGoodAccept(t *testing.T) {
	url := fakeServer(t, func(key string) string {
		a := acceptKey([]byte(key))
		// A frame with the answer: the reader reads it with the 101.
		return answer101(string(a[:])) + string(appendFrameHeaderPayload(opBinary, bytes.Repeat([]byte{'f'}, 20)))
	})
	g := testGen(t, url, 3)
	rep := g.connect(context.Background())
	if rep.Opened != 3 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.cnt.foreign.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fin := g.finish()
	if fin.Foreign != 3 {
		t.Fatalf("final %+v", fin)
	}
}

func TestHandshakeRefused(t *testing.T) {
	body := `{"error":{"code":"bad_token","message":"unknown token"}}`
	url := fakeServer(t, func(string) string {
		return fmt.Sprintf("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	const want = "handshake refused: HTTP 401 bad_token: unknown token"
	d, err := newDialer(url, "ph_nope", 0, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.dial(context.Background(), "/x", 0); err == nil || err.Error() != want {
		t.Fatalf("dial: %v", err)
	}
	g := testGen(t, url, 2)
	rep := g.connect(context.Background())
	g.finish()
	if rep.Failed != 2 || rep.Reasons[want] != 2 {
		t.Fatalf("report %+v", rep)
	}
}

func TestCheckUpgrade(t *testing.T) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	accept := acceptKey(key)
	if string(accept[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" { // RFC 6455 1.3
		t.Fatalf("accept %s", accept)
	}
	good := answer101(string(accept[:]))
	for _, tc := range []struct {
		name   string
		in     string
		head   int
		errSub string
	}{
		{"good", good + "xy", len(good), ""},
		{"incomplete", good[:len(good)-1], 0, ""},
		{"lower case", "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-accept: " + string(accept[:]) + "\r\n\r\n", -1, ""},
		{"bad accept", strings.Replace(good, "s3pP", "s3pQ", 1), 0, "Sec-WebSocket-Accept"},
		{"no upgrade", strings.Replace(good, "Upgrade: websocket\r\n", "", 1), 0, "Upgrade"},
		{"status", "HTTP/1.1 403 Forbidden\r\n\r\n", 0, "HTTP 403"},
		{"garbage", "SSH-2.0\r\n\r\n", 0, "malformed"},
		{"extensions", strings.Replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1), 0, "extensions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head, err := checkUpgrade([]byte(tc.in), &accept)
			if tc.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("err %v, want %q", err, tc.errSub)
				}
				return
			}
			if err != nil || (tc.head >= 0 && head != tc.head) || (tc.head < 0 && head == 0) {
				t.Fatalf("head %d err %v", head, err)
			}
		})
	}
}
