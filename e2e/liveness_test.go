package e2e

// Limits and liveness: slow consumers, server pings and pong timeouts, the
// handshake timeout, close handshakes, graceful shutdown and health checks.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

func TestLivenessSlowConsumer(t *testing.T) {
	const (
		queue   = 64 << 10
		msgSize = 16 << 10
		window  = 2 // messages in flight: the reading receiver's queue stays under the bound
		maxSent = 64 << 20
	)
	srv := testserver.Start(t, func(c *config.Config) { c.MaxQueueBytes = queue })
	sendTok, readTok, slowTok := srv.TokenFor("lobby"), srv.TokenFor("lobby"), srv.TokenFor("lobby")
	sender := rawDial(t, srv, "lobby", sendTok.Secret)
	reader := rawDial(t, srv, "lobby", readTok.Secret)
	// The slow receiver reads nothing until the server gave up on it.
	slow := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(slowTok.Secret))
	slowID := rawSocketOf(t, srv, "lobby", slowTok.ID)
	readID := rawSocketOf(t, srv, "lobby", readTok.ID)

	// The reader checks that every message arrives, in order.
	got := make(chan uint64, window+1)
	readErr := make(chan error, 1)
	go func() {
		for want := uint64(0); ; want++ {
			f, err := reader.Read(wstest.Timeout)
			if err != nil {
				readErr <- err
				return
			}
			if f.Op != ws.OpBinary || len(f.Payload) != msgSize {
				readErr <- errors.New("reader: unexpected frame")
				return
			}
			if seq := binary.BigEndian.Uint64(f.Payload); seq != want {
				readErr <- errors.New("reader: message out of order or lost")
				return
			}
			got <- want
		}
	}()
	waitRead := func(seq uint64) {
		t.Helper()
		select {
		case n := <-got:
			if n != seq {
				t.Fatalf("reader got %d, want %d", n, seq)
			}
		case err := <-readErr:
			t.Fatalf("reader: %v (close code %d)", err, reader.Code)
		case <-time.After(wstest.Timeout):
			t.Fatalf("reader: message %d not within %v", seq, wstest.Timeout)
		}
	}
	// The server counts the sockets it closed by code (and, in supervise
	// mode, by worker) on /metrics.
	slowClosed := func() bool {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "porthouse_socket_closes_total{") && strings.Contains(line, `code="4009"`) && !strings.HasSuffix(line, "} 0") {
				return true
			}
		}
		return false
	}

	payload := make([]byte, msgSize)
	var sent uint64
	for !slowClosed() {
		if sent*msgSize > maxSent {
			t.Fatalf("sent %d MiB and the slow receiver is still open", maxSent>>20)
		}
		for range 16 {
			if sent >= window {
				waitRead(sent - window)
			}
			binary.BigEndian.PutUint64(payload, sent)
			rawWrite(t, sender, ws.OpBinary, payload)
			sent++
		}
	}
	for seq := max(sent, window) - window; seq < sent; seq++ {
		waitRead(seq)
	}
	t.Logf("slow receiver closed after %d messages (%d KiB)", sent, sent*msgSize>>10)

	// The slow receiver gets what the kernel held, in order, then 4009.
	var n uint64
	for {
		h, p, err := slow.read(wstest.Timeout)
		if err != nil {
			t.Fatalf("slow receiver after %d messages: %v, want close 4009", n, err)
		}
		if h.OpCode == ws.OpClose {
			if code := rawCloseCode(p); code != 4009 {
				t.Fatalf("slow receiver closed with %d, want 4009", code)
			}
			_ = slow.write(ws.OpClose, p[:2])
			break
		}
		if h.OpCode == ws.OpBinary {
			if seq := binary.BigEndian.Uint64(p); seq != n {
				t.Fatalf("slow receiver got message %d, want %d", seq, n)
			}
			n++
		}
	}
	if n >= sent {
		t.Fatalf("slow receiver got all %d messages", n)
	}
	rawPoll(t, wstest.Timeout, "slow receiver leaves the room", func() bool { return !rawHasSocket(t, srv, "lobby", slowID) })

	// The reading receiver is still there and still gets everything.
	if !rawHasSocket(t, srv, "lobby", readID) {
		t.Fatalf("reading receiver %s is gone", readID)
	}
	binary.BigEndian.PutUint64(payload, sent)
	rawWrite(t, sender, ws.OpBinary, payload)
	waitRead(sent)
}

// rawPings reads from l for d, answering pings when answer is set, and
// returns how many pings arrived and the error that ended reading (nil when
// d passed).
func rawPings(t *testing.T, l *rawLowConn, d time.Duration, answer bool) (int, error) {
	t.Helper()
	deadline := time.Now().Add(d)
	pings := 0
	for {
		h, p, err := l.read(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline) {
			return pings, nil
		}
		if err != nil {
			return pings, err
		}
		switch h.OpCode {
		case ws.OpPing:
			pings++
			if answer {
				if err := l.write(ws.OpPong, p); err != nil {
					return pings, err
				}
			}
		case ws.OpClose:
			return pings, errors.New("close frame " + string(rune('0'+rawCloseCode(p)%10)))
		}
	}
}

func TestLivenessServerPing(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) {
		c.PingInterval = config.Duration(200 * time.Millisecond)
		c.PongTimeout = config.Duration(500 * time.Millisecond) // room for a loaded machine
	})
	tokAlive, tokDead := srv.TokenFor("lobby"), srv.TokenFor("lobby")
	alive := rawLowDial(t, rawURL(srv, "lobby"), wstest.Bearer(tokAlive.Secret))
	dead := rawLowDial(t, srv.WSURL+"/ws", wstest.Bearer(tokDead.Secret))
	h, welcome, err := dead.read(wstest.Timeout)
	if err != nil || h.OpCode != ws.OpText {
		t.Fatalf("want the welcome: %v %q", err, welcome)
	}
	deadID := rawWelcomeSocket(t, welcome)

	// A client that answers pings and sends nothing else stays.
	var (
		wg     sync.WaitGroup
		pings  int
		pinErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		pings, pinErr = rawPings(t, alive, 1500*time.Millisecond, true)
	}()
	// A client that stops reading (and so never answers) is dropped.
	rawPoll(t, wstest.Timeout, "silent client dropped", func() bool { return !rawHasSocket(t, srv, "lobby", deadID) })
	wg.Wait()
	if pinErr != nil {
		t.Fatalf("answering client: %v after %d pings", pinErr, pings)
	}
	if pings < 3 {
		t.Fatalf("answering client saw %d pings in 1.5 s, want at least 3", pings)
	}
	if !rawHasSocket(t, srv, "lobby", rawSocketOf(t, srv, "lobby", tokAlive.ID)) {
		t.Fatal("answering client was dropped")
	}
	// The dropped client's connection is closed: after what was queued
	// (pings) comes the end of the stream.
	for {
		h, _, err := dead.read(wstest.Timeout)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				break
			}
			t.Fatalf("dropped client: %v, want the connection closed", err)
		}
		if h.OpCode != ws.OpPing && h.OpCode != ws.OpClose {
			t.Fatalf("dropped client got opcode %v", h.OpCode)
		}
	}
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(oe.Err.Error(), "reset")
}

func TestLivenessHandshakeTimeout(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.HandshakeTimeout = config.Duration(300 * time.Millisecond) })
	for _, head := range []string{
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
		"GET /ws/rooms/lobby?token=" + srv.LobbySecret + " HTTP/1.1\r\nHost: x\r\n",
		"GET /w",
	} {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(wstest.Timeout))
		_, err = io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%q: still open after %v", head, wstest.Timeout)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 4*time.Second {
			t.Fatalf("%q: closed after %v, want about 300ms", head, d)
		}
	}
}

func TestLivenessCloseHandshake(t *testing.T) {
	srv := testserver.Start(t)
	env, _ := rawEnvelope(t, srv, srv.LobbySecret)
	raw := rawDial(t, srv, "lobby", srv.LobbySecret)
	for _, c := range []*wstest.Conn{env, raw} {
		rawWrite(t, c, ws.OpClose, append(rawClosePayload(1000), "bye"...))
		rawExpectClose(t, c, 1000)
	}
	// A close without a code is answered too.
	env2, _ := rawEnvelope(t, srv, srv.LobbySecret)
	rawWrite(t, env2, ws.OpClose, nil)
	if code := env2.ExpectClose(); code != 1000 && code != 1005 {
		t.Fatalf("closed with %d, want 1000 or no code", code)
	}
	raw2 := rawDial(t, srv, "lobby", srv.LobbySecret)
	rawWrite(t, raw2, ws.OpClose, rawClosePayload(1001))
	if code := raw2.ExpectClose(); code != 1000 && code != 1001 {
		t.Fatalf("closed with %d, want 1000 or 1001", code)
	}
	// After the close handshake the server ends the connection.
	_ = raw2.NetConn().SetReadDeadline(time.Now().Add(wstest.Timeout))
	if _, err := bufio.NewReader(raw2.NetConn()).ReadByte(); err == nil {
		t.Fatal("data after the close handshake")
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open after the close handshake")
	}
	rawPoll(t, wstest.Timeout, "closed sockets leave", func() bool { return len(rawSockets(t, srv, "lobby")) == 0 })
}

func TestLivenessShutdown(t *testing.T) {
	srv := testserver.Start(t)
	env, _ := rawEnvelope(t, srv, srv.LobbySecret)
	raw := rawDial(t, srv, "lobby", srv.LobbySecret)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Stop()
	}()
	rawExpectClose(t, env, 1001)
	rawExpectClose(t, raw, 1001)
	select {
	case <-done:
	case <-time.After(wstest.Timeout):
		t.Fatal("Stop did not return after the sockets closed")
	}
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after Stop")
	}
}

func TestLivenessHealth(t *testing.T) {
	srv := testserver.Start(t)
	for _, tc := range []struct{ path, status string }{{"/healthz", "ok"}, {"/readyz", "ready"}} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || body.Status != tc.status {
			t.Fatalf("GET %s: %d %+v %v, want 200 {status: %s}", tc.path, resp.StatusCode, body, err, tc.status)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("GET %s: Content-Type %q", tc.path, ct)
		}
	}
}
