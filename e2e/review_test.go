package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// A plain GET of a raw-mode URL (no WebSocket headers: a browser address
// bar, curl) is refused by the upgrade after admission. It must leave no
// trace: no presence event, no member in the room, its slot free for the
// next socket, and no second release later that would free a live socket's
// slot.
func TestFailedRawUpgradeLeavesNoGhost(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("pres", map[string]any{"presence": true})
	tok := srv.CreateToken(map[string]any{"name": "g", "max_connections": 2,
		"subscriptions": []any{testserver.Sub("pres", true, true)}})
	watcher := srv.TokenFor("pres")
	w := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(watcher.Secret))
	w.Expect("welcome")

	resp, err := http.Get(srv.URL + "/ws/rooms/pres?token=" + tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.Fatal("a plain GET was upgraded")
	}
	// The two slots are both free: two real raw sockets get /1 and /2.
	a := wstest.MustDial(t, srv.WSURL+"/ws/rooms/pres", wstest.Bearer(tok.Secret))
	b := wstest.MustDial(t, srv.WSURL+"/ws/rooms/pres", wstest.Bearer(tok.Secret))
	// The watcher hears exactly the two real sockets join, nothing else.
	seen := map[string]bool{}
	for len(seen) < 2 {
		m := w.Next()
		if m.Type() != "member.joined" {
			t.Fatalf("watcher got %v, want member.joined", m)
		}
		seen[m.Str("socket")] = true
	}
	for _, slot := range []string{"/1", "/2"} {
		if !seen[tok.ID+slot] {
			t.Fatalf("joined %v, want %s/1 and %s/2", seen, tok.ID, tok.ID)
		}
	}
	// Traffic reaches both, and the room has exactly three members.
	if err := a.Write(ws.OpText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if f, err := b.Read(wstest.Timeout); err != nil || string(f.Payload) != "x" {
		t.Fatalf("b read %q, %v", f.Payload, err)
	}
	var socks []map[string]any
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/rooms/pres/sockets", nil, &socks)
	if len(socks) != 3 {
		t.Fatalf("room has %d members, want 3: %v", len(socks), socks)
	}
}

// Frames a client writes in the same segment as its handshake (more than a
// read buffer's worth) all arrive, in order.
func TestFramesPipelinedWithHandshake(t *testing.T) {
	srv := testserver.Start(t)
	recv := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(srv.LobbySecret))
	recv.Expect("welcome")

	var req bytes.Buffer
	fmt.Fprintf(&req, "GET /ws/rooms/lobby?token=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", srv.LobbySecret, srv.Addr)
	const frames = 40
	for i := 0; i < frames; i++ {
		payload := []byte(fmt.Sprintf("%03d:%s", i, strings.Repeat("p", 120)))
		f := ws.MaskFrame(ws.NewTextFrame(payload))
		if err := ws.WriteFrame(&req, f); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req.Bytes()); err != nil { // handshake and frames in one write
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("handshake answer %q, %v", status, err)
	}
	for i := 0; i < frames; i++ {
		m := recv.Expect("message")
		if got := m.Str("data"); !strings.HasPrefix(got, fmt.Sprintf("%03d:", i)) {
			t.Fatalf("message %d: %q", i, got)
		}
	}
}

// A raw-mode URL with a name that cannot be a room is an unknown room: 404.
func TestRawInvalidRoomNameIs404(t *testing.T) {
	srv := testserver.Start(t)
	for _, name := range []string{"Lobby", "-x", "a%2Fb%2Fc", strings.Repeat("a", 65)} {
		_, err := wstest.Dial(srv.WSURL+"/ws/rooms/"+name, wstest.Bearer(srv.LobbySecret))
		ref, ok := err.(*wstest.Refused)
		if !ok || ref.Status != http.StatusNotFound || ref.Code != "not_found" {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// A JSON string body with whitespace around it reaches raw receivers as the
// string itself.
func TestBackpipeJSONStringWithWhitespace(t *testing.T) {
	srv := testserver.Start(t)
	raw := wstest.MustDial(t, srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
	for _, body := range []string{"\"hello\"\n", " \"hi\"", "\t\"a b\" \r\n"} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/rooms/lobby/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%q: status %d", body, resp.StatusCode)
		}
		f, err := raw.Read(wstest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Trim(strings.TrimSpace(body), `"`); string(f.Payload) != want {
			t.Fatalf("%q arrived as %q, want %q", body, f.Payload, want)
		}
	}
}

// Deleting a room tells every socket of a subscribed token, joined or not,
// exactly once.
func TestRoomDeletedReachesSubscribedSockets(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("gone1", nil)
	idle := srv.CreateToken(map[string]any{"name": "idle", "auto_join": false,
		"subscriptions": []any{testserver.Sub("gone1", true, true)}})
	joined := srv.TokenFor("gone1")
	a := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(idle.Secret))
	if w := a.Expect("welcome"); !strings.Contains(fmt.Sprint(w["rooms"]), "gone1") {
		t.Fatalf("welcome does not list gone1: %v", w)
	}
	b := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(joined.Secret))
	b.Expect("welcome")
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/rooms/gone1", nil, nil)
	for name, c := range map[string]*wstest.Conn{"not joined": a, "joined": b} {
		if m := c.Next(); m.Type() != "room.removed" || m.Str("room") != "gone1" {
			t.Fatalf("%s socket: got %v, want room.removed gone1", name, m)
		}
		c.WriteJSON(map[string]any{"type": "ping", "ref": 1})
		if m := c.Next(); m.Type() != "pong" {
			t.Fatalf("%s socket: after room.removed got %v, want only the pong", name, m)
		}
	}
}

// Room names are unique per owner across persistent and transient rooms.
func TestPersistentRoomNameTakenByTransient(t *testing.T) {
	srv := testserver.Start(t)
	tok := srv.CreateToken(map[string]any{"name": "c", "can_create_rooms": true})
	c := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(tok.Secret))
	c.Expect("welcome")
	c.WriteJSON(map[string]any{"type": "create", "room": "tr1"})
	c.Expect("joined")
	st, body := srv.API("POST", "/api/v1/rooms", map[string]any{"name": "tr1"})
	if st != http.StatusConflict || !strings.Contains(string(body), `"conflict"`) {
		t.Fatalf("POST a room named like a live transient room: %d %s", st, body)
	}
}

// An idle client that answers every ping stays connected: reading a pong
// must not leave the server waiting for a data frame (and dropping the
// socket when its partial-frame deadline passes).
func TestIdleClientAnsweringPingsStays(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) {
		c.PingInterval = config.Duration(100 * time.Millisecond)
		c.PongTimeout = config.Duration(300 * time.Millisecond)
		c.HandshakeTimeout = config.Duration(300 * time.Millisecond)
	})
	c := wstest.MustDial(t, srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
	// Read (answering pings) for well past several ping rounds and partial
	// frame deadlines: nothing arrives and the connection stays open.
	if _, err := c.Read(2 * time.Second); err == nil {
		t.Fatal("a data frame arrived on an idle socket")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("idle socket answering pings was dropped: %v (close code %d)", err, c.Code)
	}
	// Still a member: a message reaches it.
	other := wstest.MustDial(t, srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
	if err := other.Write(ws.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Read(wstest.Timeout); err != nil || string(f.Payload) != "still here" {
		t.Fatalf("after idling: %q, %v", f.Payload, err)
	}
}

// The admin's open sign-up switch survives a restart.
func TestOpenSignupSwitchPersists(t *testing.T) {
	srv := testserver.Start(t)
	signup := func() int {
		body := strings.NewReader(`{"username":"newbie","password":"long-enough-pw"}`)
		resp, err := http.Post(srv.URL+"/api/v1/accounts", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := signup(); st != http.StatusForbidden {
		t.Fatalf("sign-up while closed: %d", st)
	}
	srv.MustAPI(http.StatusOK, "PUT", "/api/v1/settings/open-signup", map[string]any{"open": true}, nil)
	srv.Restart()
	if st := signup(); st != http.StatusCreated {
		t.Fatalf("sign-up after a restart with the switch on: %d", st)
	}
}

// A process at max_connections_per_process refuses handshakes with 503 and
// a JSON body, and takes them again once a socket is gone. Under supervise
// the limit is per worker: with 2 workers at most 4 sockets fit.
func TestMaxConnectionsPerProcess(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.MaxConnectionsPerProcess = 2 })
	capacity := 2
	if srv.Mode == testserver.ModeSupervise {
		capacity = 2 * srv.Config.Workers
	}
	var open []*wstest.Conn
	var refused *wstest.Refused
	for i := 0; i <= capacity && refused == nil; i++ {
		c, err := wstest.Dial(srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
		switch e := err.(type) {
		case nil:
			open = append(open, c)
		case *wstest.Refused:
			refused = e
		default:
			t.Fatal(err)
		}
	}
	if refused == nil || refused.Status != http.StatusServiceUnavailable || refused.Code == "" {
		t.Fatalf("after %d sockets: want a 503 with a JSON error, got %+v", len(open), refused)
	}
	if len(open) > capacity || (srv.Mode == testserver.ModeRun && len(open) != capacity) {
		t.Fatalf("%d sockets fit, capacity %d", len(open), capacity)
	}
	for _, c := range open {
		c.Close()
	}
	deadline := time.Now().Add(wstest.Timeout)
	for {
		c, err := wstest.Dial(srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room again after the sockets closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
