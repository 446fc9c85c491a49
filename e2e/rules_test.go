package e2e

// Room rules set through the API, transient rooms made over the socket, and
// the slots of shared tokens.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

func TestRulesFormat(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("txt", map[string]any{"format": "text"})
	srv.CreateRoom("bin", map[string]any{"format": "binary"})
	srv.CreateRoom("js", map[string]any{"format": "json"})
	tok := srv.TokenFor("txt", "bin", "js")
	a, _ := rawEnvelope(t, srv, tok.Secret)
	b, _ := rawEnvelope(t, srv, tok.Secret)

	rawSendBinary(t, a, map[string]any{"type": "send", "room": "txt", "ref": "t1"}, []byte{1})
	rawExpectError(t, a, "format", "t1")
	a.WriteJSON(map[string]any{"type": "send", "room": "txt", "data": "words", "ref": "t2"})
	rawExpectType(t, a, "receipt", "t2")
	if m := rawExpectMessage(t, b); m.Str("room") != "txt" || m.Str("data") != "words" {
		t.Fatalf("got %v", m)
	}

	a.WriteJSON(map[string]any{"type": "send", "room": "bin", "data": "words", "ref": "b1"})
	rawExpectError(t, a, "format", "b1")
	rawSendBinary(t, a, map[string]any{"type": "send", "room": "bin", "ref": "b2"}, []byte{1, 2})
	rawExpectType(t, a, "receipt", "b2")
	if hdr, body := rawExpectBinaryMessage(t, b); hdr.Str("room") != "bin" || !bytes.Equal(body, []byte{1, 2}) {
		t.Fatalf("got %v %q", hdr, body)
	}

	rawSendBinary(t, a, map[string]any{"type": "send", "room": "js", "ref": "j1"}, []byte("{}"))
	rawExpectError(t, a, "format", "j1")
	a.WriteJSON(map[string]any{"type": "send", "room": "js", "data": map[string]any{"k": "v"}, "ref": "j2"})
	rawExpectType(t, a, "receipt", "j2")
	if m := rawExpectMessage(t, b); m.Str("room") != "js" || fmt.Sprint(m["data"]) != "map[k:v]" {
		t.Fatalf("got %v", m)
	}
	b.ExpectSilence(rawSilence)
}

func TestRulesMaxMembers(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("duo", map[string]any{"max_members": 2})
	tok := rawToken(t, srv, srv.APIKey, map[string]any{"auto_join": false, "subscriptions": rawSubs(testserver.Sub("duo", true, true))})
	var socks []*wstest.Conn
	for range 3 {
		c, _ := rawEnvelope(t, srv, tok.Secret)
		socks = append(socks, c)
	}
	for i, c := range socks[:2] {
		c.WriteJSON(map[string]any{"type": "join", "room": "duo", "ref": i})
		if j := rawExpectType(t, c, "joined", ""); j.Str("room") != "duo" {
			t.Fatalf("got %v", j)
		}
	}
	socks[2].WriteJSON(map[string]any{"type": "join", "room": "duo", "ref": "third"})
	rawExpectError(t, socks[2], "room_full", "third")
	rawRefused(t, srv, "duo", tok.Secret, http.StatusTooManyRequests, "room_full")

	// A place freed is a place taken.
	socks[0].WriteJSON(map[string]any{"type": "leave", "room": "duo", "ref": "l"})
	rawExpectType(t, socks[0], "left", "l")
	socks[2].WriteJSON(map[string]any{"type": "join", "room": "duo", "ref": "again"})
	rawExpectType(t, socks[2], "joined", "again")
	rawRefused(t, srv, "duo", tok.Secret, http.StatusTooManyRequests, "room_full")
}

func TestRulesMaxMessageBytes(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("small", map[string]any{"max_message_bytes": 100})
	tok := srv.TokenFor("small")
	a, w := rawEnvelope(t, srv, tok.Secret)
	b, _ := rawEnvelope(t, srv, tok.Secret)
	if lim, _ := w["limits"].(map[string]any); lim["max_message_bytes"] != 65536.0 {
		t.Fatalf("welcome limits %v, want max_message_bytes 65536", w["limits"])
	}

	a.WriteJSON(map[string]any{"type": "send", "room": "small", "data": strings.Repeat("x", 200), "ref": "big"})
	rawExpectError(t, a, "too_large", "big")
	a.WriteJSON(map[string]any{"type": "send", "room": "small", "data": strings.Repeat("y", 50), "ref": "ok"})
	rawExpectType(t, a, "receipt", "ok")
	if m := rawExpectMessage(t, b); m.Str("data") != strings.Repeat("y", 50) {
		t.Fatalf("got %v", m)
	}
	rawSendBinary(t, a, map[string]any{"type": "send", "room": "small", "ref": "bigbin"}, make([]byte, 101))
	rawExpectError(t, a, "too_large", "bigbin")
	rawSendBinary(t, a, map[string]any{"type": "send", "room": "small", "ref": "bin"}, make([]byte, 100))
	rawExpectType(t, a, "receipt", "bin")
	if _, body := rawExpectBinaryMessage(t, b); len(body) != 100 {
		t.Fatalf("got %d bytes", len(body))
	}
	b.ExpectSilence(rawSilence)
}

func TestRulesEcho(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("echo", map[string]any{"echo": true})
	tok := srv.TokenFor("echo", "lobby")
	a, w := rawEnvelope(t, srv, tok.Secret)
	b, _ := rawEnvelope(t, srv, tok.Secret)

	a.WriteJSON(map[string]any{"type": "send", "room": "echo", "data": "me too", "ref": "e"})
	var receipt, own wstest.Msg
	for receipt == nil || own == nil {
		switch m := a.Next(); m.Type() {
		case "receipt":
			receipt = m
		case "message":
			own = m
		default:
			t.Fatalf("got %v", m)
		}
	}
	if receipt.Str("ref") != "e" || own.Str("id") != receipt.Str("id") || own.Str("from") != w.Str("socket") || own.Str("data") != "me too" {
		t.Fatalf("receipt %v, own message %v", receipt, own)
	}
	if m := rawExpectMessage(t, b); m.Str("id") != receipt.Str("id") {
		t.Fatalf("got %v", m)
	}

	// Without echo the sender gets its receipt only.
	a.WriteJSON(map[string]any{"type": "send", "room": "lobby", "data": "not me", "ref": "n"})
	rawExpectType(t, a, "receipt", "n")
	rawExpectMessage(t, b)
	a.ExpectSilence(rawSilence)
}

func TestRulesPresence(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("pres", map[string]any{"presence": true})
	tok := srv.TokenFor("pres", "lobby")
	a, _ := rawEnvelope(t, srv, tok.Secret)

	b, wb := rawEnvelope(t, srv, tok.Secret) // auto_join
	bID := wb.Str("socket")
	rawExpectPresence(t, a, "member.joined", "pres", bID)

	rtok := srv.TokenFor("pres")
	r := rawDial(t, srv, "pres", rtok.Secret)
	rID := rawSocketOf(t, srv, "pres", rtok.ID)
	rawExpectPresence(t, a, "member.joined", "pres", rID)
	rawExpectPresence(t, b, "member.joined", "pres", rID)

	b.WriteJSON(map[string]any{"type": "leave", "room": "pres", "ref": "l"})
	rawExpectType(t, b, "left", "l")
	rawExpectPresence(t, a, "member.left", "pres", bID)
	b.WriteJSON(map[string]any{"type": "join", "room": "pres", "ref": "j"})
	rawExpectType(t, b, "joined", "j")
	rawExpectPresence(t, a, "member.joined", "pres", bID)
	b.Close()
	rawExpectPresence(t, a, "member.left", "pres", bID)

	r.Close()
	rawExpectPresence(t, a, "member.left", "pres", rID)

	// Raw members get no events.
	r2 := rawDial(t, srv, "pres", rtok.Secret)
	c, wc := rawEnvelope(t, srv, tok.Secret)
	// A raw socket is announced once its upgrade answer is out, so c's
	// auto-join may be told first: both joins, in either order.
	want := map[string]bool{rawSocketOf(t, srv, "pres", rtok.ID): true, wc.Str("socket"): true}
	for range 2 {
		m := a.Next()
		if m.Type() != "member.joined" || m.Str("room") != "pres" || !want[m.Str("socket")] {
			t.Fatalf("got %v, want member.joined in pres for one of %v", m, want)
		}
		delete(want, m.Str("socket"))
	}
	c.Close()
	rawExpectPresence(t, a, "member.left", "pres", wc.Str("socket"))
	r2.ExpectSilence(rawSilence)

	// A room without presence (lobby) announces nothing.
	d, _ := rawEnvelope(t, srv, srv.LobbySecret)
	d.Close()
	a.ExpectSilence(rawSilence)
}

// rawExpectPresence wants a presence event about socket in room.
func rawExpectPresence(t *testing.T, c *wstest.Conn, typ, room, socket string) {
	t.Helper()
	m := c.Next()
	if m.Type() != typ || m.Str("room") != room || m.Str("socket") != socket {
		t.Fatalf("got %v, want %s {room %s, socket %s}", m, typ, room, socket)
	}
}

func TestRulesPublicRoom(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("pub", map[string]any{"public": true})
	srv.CreateRoom("pubsend", map[string]any{"public": true, "public_send": true})
	srv.CreateRoom("private", nil)
	a, wa := rawEnvelope(t, srv, srv.TokenFor("pub", "pubsend").Secret)
	bob := srv.NewAccount(rawName("bob"))
	b, wb := rawEnvelope(t, srv, rawToken(t, srv, bob, nil).Secret)

	b.WriteJSON(map[string]any{"type": "join", "room": "admin/pub", "ref": "p"})
	j := rawExpectType(t, b, "joined", "p")
	if j.Str("room") != "admin/pub" || j["send"] != false || j["receive"] != true {
		t.Fatalf("joined %v, want admin/pub receive only", j)
	}
	a.WriteJSON(map[string]any{"type": "send", "room": "pub", "data": "hello public", "ref": 1})
	rawExpectType(t, a, "receipt", "")
	if m := rawExpectMessage(t, b); m.Str("room") != "admin/pub" || m.Str("data") != "hello public" || m.Str("from") != wa.Str("socket") {
		t.Fatalf("got %v", m)
	}
	b.WriteJSON(map[string]any{"type": "send", "room": "admin/pub", "data": "x", "ref": "no"})
	rawExpectError(t, b, "forbidden", "no")

	b.WriteJSON(map[string]any{"type": "join", "room": "admin/pubsend", "ref": "ps"})
	if j := rawExpectType(t, b, "joined", "ps"); j["send"] != true || j["receive"] != true {
		t.Fatalf("joined %v, want send and receive", j)
	}
	b.WriteJSON(map[string]any{"type": "send", "room": "admin/pubsend", "data": "from bob", "ref": "yes"})
	if r := rawExpectType(t, b, "receipt", "yes"); r.Str("room") != "admin/pubsend" {
		t.Fatalf("receipt %v", r)
	}
	if m := rawExpectMessage(t, a); m.Str("room") != "pubsend" || m.Str("from") != wb.Str("socket") || m.Str("data") != "from bob" {
		t.Fatalf("got %v", m)
	}

	b.WriteJSON(map[string]any{"type": "join", "room": "admin/private", "ref": "x"})
	rawExpectError(t, b, "forbidden", "x")
	b.WriteJSON(map[string]any{"type": "join", "room": "admin/nope", "ref": "y"})
	rawExpectError(t, b, "not_found", "y")
}

func TestRulesPasswordRoom(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("locked", map[string]any{"public": true, "public_send": true, "password": "open sesame"})
	bob := srv.NewAccount(rawName("bob"))
	b, _ := rawEnvelope(t, srv, rawToken(t, srv, bob, nil).Secret)
	own, _ := rawEnvelope(t, srv, rawToken(t, srv, srv.APIKey, nil).Secret)

	for _, c := range []struct {
		conn *wstest.Conn
		room string
	}{{b, "admin/locked"}, {own, "locked"}} {
		c.conn.WriteJSON(map[string]any{"type": "join", "room": c.room, "ref": "none"})
		rawExpectError(t, c.conn, "forbidden", "none")
		c.conn.WriteJSON(map[string]any{"type": "join", "room": c.room, "password": "open", "ref": "wrong"})
		rawExpectError(t, c.conn, "forbidden", "wrong")
		c.conn.WriteJSON(map[string]any{"type": "send", "room": c.room, "data": "x", "ref": "out"})
		rawExpectError(t, c.conn, "forbidden", "out")
		c.conn.WriteJSON(map[string]any{"type": "join", "room": c.room, "password": "open sesame", "ref": "right"})
		if j := rawExpectType(t, c.conn, "joined", "right"); j.Str("room") != c.room {
			t.Fatalf("joined %v", j)
		}
	}
	b.WriteJSON(map[string]any{"type": "send", "room": "admin/locked", "data": "in", "ref": "in"})
	rawExpectType(t, b, "receipt", "in")
	if m := rawExpectMessage(t, own); m.Str("data") != "in" || m.Str("room") != "locked" {
		t.Fatalf("got %v", m)
	}
}

func TestRulesTransientRooms(t *testing.T) {
	srv := testserver.Start(t)
	creator := rawToken(t, srv, srv.APIKey, map[string]any{"can_create_rooms": true})
	c, _ := rawEnvelope(t, srv, creator.Secret)
	o, _ := rawEnvelope(t, srv, srv.TokenFor().Secret) // same owner, may not create
	bob := srv.NewAccount(rawName("bob"))
	b, _ := rawEnvelope(t, srv, rawToken(t, srv, bob, map[string]any{"can_create_rooms": true}).Secret)

	c.WriteJSON(map[string]any{"type": "create", "room": "tmp1", "ref": "c1"})
	if j := rawExpectType(t, c, "joined", "c1"); j.Str("room") != "tmp1" || j["send"] != true || j["receive"] != true {
		t.Fatalf("joined %v", j)
	}
	o.WriteJSON(map[string]any{"type": "join", "room": "tmp1", "ref": "o1"})
	rawExpectType(t, o, "joined", "o1")
	c.WriteJSON(map[string]any{"type": "send", "room": "tmp1", "data": "t", "ref": "s"})
	rawExpectType(t, c, "receipt", "s")
	if m := rawExpectMessage(t, o); m.Str("room") != "tmp1" || m.Str("data") != "t" {
		t.Fatalf("got %v", m)
	}

	// Another owner may not join a transient room that is not public.
	b.WriteJSON(map[string]any{"type": "join", "room": "admin/tmp1", "ref": "b1"})
	if e := rawExpectType(t, b, "error", "b1"); e.Str("code") != "forbidden" && e.Str("code") != "not_found" {
		t.Fatalf("got %v, want forbidden or not_found", e)
	}
	// bob's own room of the same name is another room.
	b.WriteJSON(map[string]any{"type": "create", "room": "tmp1", "ref": "b2"})
	rawExpectType(t, b, "joined", "b2")

	c.WriteJSON(map[string]any{"type": "create", "room": "tmp1", "ref": "dup"})
	rawExpectError(t, c, "conflict", "dup")
	c.WriteJSON(map[string]any{"type": "create", "room": "lobby", "ref": "persistent"})
	rawExpectError(t, c, "conflict", "persistent")
	o.WriteJSON(map[string]any{"type": "create", "room": "mine", "ref": "nocreate"})
	rawExpectError(t, o, "forbidden", "nocreate")

	c.WriteJSON(map[string]any{"type": "create", "room": "tmp2", "public": true, "ref": "c2"})
	rawExpectType(t, c, "joined", "c2")
	b.WriteJSON(map[string]any{"type": "join", "room": "admin/tmp2", "ref": "b3"})
	if j := rawExpectType(t, b, "joined", "b3"); j.Str("room") != "admin/tmp2" || j["receive"] != true || j["send"] != false {
		t.Fatalf("joined %v", j)
	}
	c.WriteJSON(map[string]any{"type": "send", "room": "tmp2", "data": "to all", "ref": "s2"})
	rawExpectType(t, c, "receipt", "s2")
	if m := rawExpectMessage(t, b); m.Str("room") != "admin/tmp2" || m.Str("data") != "to all" {
		t.Fatalf("got %v", m)
	}

	// The room vanishes with its last member.
	c.WriteJSON(map[string]any{"type": "leave", "room": "tmp1", "ref": "l1"})
	rawExpectType(t, c, "left", "l1")
	o.WriteJSON(map[string]any{"type": "leave", "room": "tmp1", "ref": "l2"})
	rawExpectType(t, o, "left", "l2")
	o.WriteJSON(map[string]any{"type": "join", "room": "tmp1", "ref": "gone"})
	rawExpectError(t, o, "not_found", "gone")
	c.WriteJSON(map[string]any{"type": "create", "room": "tmp1", "ref": "again"})
	rawExpectType(t, c, "joined", "again")

	// ... also when the last member disconnects.
	c2, _ := rawEnvelope(t, srv, creator.Secret)
	c2.WriteJSON(map[string]any{"type": "create", "room": "tmp3", "ref": "c3"})
	rawExpectType(t, c2, "joined", "c3")
	c2.Close()
	rawPoll(t, wstest.Timeout, "tmp3 vanishes after its creator disconnected", func() bool {
		o.WriteJSON(map[string]any{"type": "join", "room": "tmp3", "ref": "poll"})
		m := o.Next()
		switch {
		case m.Type() == "error" && m.Str("code") == "not_found":
			return true
		case m.Type() == "joined":
			o.WriteJSON(map[string]any{"type": "leave", "room": "tmp3", "ref": "unpoll"})
			rawExpectType(t, o, "left", "unpoll")
			return false
		}
		t.Fatalf("got %v", m)
		return false
	})
	c.WriteJSON(map[string]any{"type": "create", "room": "tmp3", "ref": "c4"})
	rawExpectType(t, c, "joined", "c4")
}

func TestRulesTransientRoomRules(t *testing.T) {
	srv := testserver.Start(t)
	creator := rawToken(t, srv, srv.APIKey, map[string]any{"can_create_rooms": true})
	c, wc := rawEnvelope(t, srv, creator.Secret)
	o, wo := rawEnvelope(t, srv, srv.TokenFor().Secret)

	c.WriteJSON(map[string]any{"type": "create", "room": "loud", "echo": true, "presence": true, "ref": "c"})
	rawExpectType(t, c, "joined", "c")
	o.WriteJSON(map[string]any{"type": "join", "room": "loud", "ref": "j"})
	rawExpectType(t, o, "joined", "j")
	rawExpectPresence(t, c, "member.joined", "loud", wo.Str("socket"))
	c.WriteJSON(map[string]any{"type": "send", "room": "loud", "data": "echo", "ref": "e"})
	got := map[string]bool{}
	for len(got) < 2 {
		m := c.Next()
		got[m.Type()] = true
		if m.Type() == "message" && m.Str("from") != wc.Str("socket") {
			t.Fatalf("got %v", m)
		}
	}
	if !got["receipt"] || !got["message"] {
		t.Fatalf("got %v, want a receipt and the echo", got)
	}
	rawExpectMessage(t, o)
	o.WriteJSON(map[string]any{"type": "leave", "room": "loud", "ref": "l"})
	rawExpectType(t, o, "left", "l")
	rawExpectPresence(t, c, "member.left", "loud", wo.Str("socket"))

	c.WriteJSON(map[string]any{"type": "create", "room": "bytes", "format": "binary", "ref": "b"})
	rawExpectType(t, c, "joined", "b")
	c.WriteJSON(map[string]any{"type": "send", "room": "bytes", "data": "text", "ref": "t"})
	rawExpectError(t, c, "format", "t")
	rawSendBinary(t, c, map[string]any{"type": "send", "room": "bytes", "ref": "bin"}, []byte{1})
	rawExpectType(t, c, "receipt", "bin") // no echo in this room
	c.ExpectSilence(rawSilence)

	c.WriteJSON(map[string]any{"type": "create", "room": "quiet", "format": "nonsense", "ref": "bad"})
	rawExpectError(t, c, "bad_request", "bad")
}

func TestRulesSharedTokenSlots(t *testing.T) {
	srv := testserver.Start(t)
	tok := rawToken(t, srv, srv.APIKey, map[string]any{"max_connections": 3, "subscriptions": rawSubs(testserver.Sub("lobby", true, true))})
	var socks []*wstest.Conn
	for i := 1; i <= 3; i++ {
		c, w := rawEnvelope(t, srv, tok.Secret)
		if want := fmt.Sprintf("%s/%d", tok.ID, i); w.Str("socket") != want {
			t.Fatalf("socket %q, want %q", w.Str("socket"), want)
		}
		socks = append(socks, c)
	}
	rawRefusedURL(t, srv.WSURL+"/ws", tok.Secret, http.StatusTooManyRequests, "rate_limited")
	rawRefused(t, srv, "lobby", tok.Secret, http.StatusTooManyRequests, "rate_limited")

	// Close /2 cleanly; the next socket takes /2 once it is released.
	rawWrite(t, socks[1], ws.OpClose, rawClosePayload(1000))
	rawExpectClose(t, socks[1], 1000)
	var id string
	rawPoll(t, wstest.Timeout, "slot 2 released", func() bool {
		c, err := wstest.Dial(srv.WSURL+"/ws", wstest.Bearer(tok.Secret))
		var r *wstest.Refused
		if errors.As(err, &r) && r.Status == http.StatusTooManyRequests {
			return false
		}
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(c.Close)
		f, err := c.Read(wstest.Timeout)
		if err != nil || !bytes.Contains(f.Payload, []byte(`"welcome"`)) {
			t.Fatalf("want welcome, got %q %v", f.Payload, err)
		}
		id = rawWelcomeSocket(t, f.Payload)
		return true
	})
	if want := tok.ID + "/2"; id != want {
		t.Fatalf("new socket %q, want the freed %q", id, want)
	}
	// A raw socket takes the lowest free slot too.
	socks[2].Close()
	rawPoll(t, wstest.Timeout, "slot 3 released", func() bool {
		return !rawHasSocket(t, srv, "lobby", tok.ID+"/3")
	})
	r := rawDial(t, srv, "lobby", tok.Secret)
	rawPoll(t, time.Second, "raw socket listed", func() bool { return rawHasSocket(t, srv, "lobby", tok.ID+"/3") })
	r.Close()
}

// rawWelcomeSocket returns the socket id of a welcome frame.
func rawWelcomeSocket(t *testing.T, p []byte) string {
	t.Helper()
	i := bytes.Index(p, []byte(`"socket":"`))
	if i < 0 {
		t.Fatalf("welcome without socket: %s", p)
	}
	rest := p[i+len(`"socket":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}
