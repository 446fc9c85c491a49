package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

var envSocketID = regexp.MustCompile(`^tk_[a-z0-9]+/[1-9][0-9]*$`)

// TestEnvelope covers envelope mode (/ws) as PROTOCOL.md describes it:
// welcome, send and receipts, routing, direct messages, ping, join and leave,
// other owners' public rooms and a token's permissions and formats.
func TestEnvelope(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	admin := srv.APIKey
	sub := testserver.Sub

	t.Run("welcome", func(t *testing.T) {
		srv.CreateRoom("wel", nil)
		tok := envToken(t, srv, admin, map[string]any{"subscriptions": envSubs(sub("lobby", true, true), sub("wel", false, true, "text"))})
		_, w1 := envDial(t, srv, tok.Secret)
		_, w2 := envDial(t, srv, tok.Secret)
		for _, w := range []wstest.Msg{w1, w2} {
			if id := w.Str("socket"); !envSocketID.MatchString(id) || !strings.HasPrefix(id, tok.ID+"/") {
				t.Fatalf("welcome socket %q, want %s/N", id, tok.ID)
			}
		}
		if w1.Str("socket") == w2.Str("socket") {
			t.Fatalf("two live sockets share id %s", w1.Str("socket"))
		}
		rooms, _ := w1["rooms"].([]any)
		byName := map[string]map[string]any{}
		for _, r := range rooms {
			g, _ := r.(map[string]any)
			byName[fmt.Sprint(g["room"])] = g
		}
		if len(byName) != 2 || byName["lobby"] == nil || byName["wel"] == nil {
			t.Fatalf("welcome rooms %v, want lobby and wel", w1["rooms"])
		}
		envGrant(t, byName["lobby"], "lobby", true, true, "text", "binary")
		envGrant(t, byName["wel"], "wel", false, true, "text")
		limits, _ := w1["limits"].(map[string]any)
		if limits["max_message_bytes"] != float64(65536) {
			t.Fatalf("welcome limits %v, want max_message_bytes 65536", w1["limits"])
		}
	})

	t.Run("send", func(t *testing.T) {
		srv.CreateRoom("chat", nil)
		s, r1, r2 := envTrio(t, srv, "chat")
		sid := s.w.Str("socket")
		refs := []struct {
			name string
			ref  any
		}{
			{"string", "r-1"},
			{"number", 42},
			{"object", map[string]any{"k": []any{1, "x", nil}, "n": map[string]any{}}},
			{"none", nil},
		}
		for _, tc := range refs {
			cmd := map[string]any{"type": "send", "room": "chat", "data": "hi " + tc.name}
			if tc.ref != nil {
				cmd["ref"] = tc.ref
			}
			s.c.WriteJSON(cmd)
			// The receipt is the sender's very next frame: no echo of its
			// own message comes first (echo is off by default).
			rc := envNext(t, s.c, "receipt")
			if rc.Str("id") == "" || rc.Str("room") != "chat" || !reflect.DeepEqual(rc["ref"], envJSON(t, tc.ref)) {
				t.Fatalf("%s: receipt %v, want ref %v", tc.name, rc, tc.ref)
			}
			for _, r := range []*envSock{r1, r2} {
				m := envNext(t, r.c, "message")
				if m.Str("id") != rc.Str("id") || m.Str("room") != "chat" || m.Str("from") != sid || m.Str("data") != "hi "+tc.name {
					t.Fatalf("%s: message %v, want id %s from %s", tc.name, m, rc.Str("id"), sid)
				}
			}
		}
		// A ref is echoed byte for byte, beyond what a float64 holds.
		if err := s.c.Write(ws.OpText, []byte(`{"type":"send","room":"chat","data":0,"ref":9007199254740993}`)); err != nil {
			t.Fatal(err)
		}
		if f := envRead(t, s.c); !bytes.Contains(f.Payload, []byte(`"ref":9007199254740993`)) {
			t.Fatalf("receipt %q does not echo the ref exactly", f.Payload)
		}
		envNext(t, r1.c, "message")
		envNext(t, r2.c, "message")
		envPing(t, s.c, "no-echo")
	})

	t.Run("data types", func(t *testing.T) {
		srv.CreateRoom("types", nil)
		s, r1, r2 := envTrio(t, srv, "types")
		values := []string{
			`"text"`, `""`, `"ünïcødé ✓ \u0000 \"quoted\" \n"`,
			`0`, `-3`, `12.5`, `1e-7`,
			`{}`, `{"a":{"b":[1,2,{"c":null}]},"d":"e"}`,
			`[]`, `[1,"two",false,null,{"x":[]}]`,
			`true`, `false`, `null`,
		}
		for _, v := range values {
			if err := s.c.Write(ws.OpText, []byte(`{"type":"send","room":"types","data":`+v+`}`)); err != nil {
				t.Fatal(err)
			}
			envNext(t, s.c, "receipt")
			want := envJSON(t, json.RawMessage(v))
			for _, r := range []*envSock{r1, r2} {
				m := envNext(t, r.c, "message")
				got, ok := m["data"]
				if !ok || !reflect.DeepEqual(got, want) {
					t.Fatalf("data %s arrived as %v (present %v)", v, got, ok)
				}
			}
		}
	})

	t.Run("ids and order", func(t *testing.T) {
		srv.CreateRoom("order", nil)
		s, r1, r2 := envTrio(t, srv, "order")
		const n = 200
		for i := range n {
			s.c.WriteJSON(map[string]any{"type": "send", "room": "order", "data": i, "ref": i})
		}
		ids := make([]string, n)
		seen := map[string]bool{}
		for i := range n {
			rc := envNext(t, s.c, "receipt")
			if rc["ref"] != float64(i) {
				t.Fatalf("receipt %d: %v", i, rc)
			}
			ids[i] = rc.Str("id")
			if ids[i] == "" || seen[ids[i]] {
				t.Fatalf("receipt %d: id %q missing or reused", i, ids[i])
			}
			seen[ids[i]] = true
			if i > 0 && ids[i] <= ids[i-1] {
				t.Fatalf("ids do not increase: %q then %q", ids[i-1], ids[i])
			}
		}
		for _, r := range []*envSock{r1, r2} {
			for i := range n {
				m := envNext(t, r.c, "message")
				if m["data"] != float64(i) || m.Str("id") != ids[i] {
					t.Fatalf("message %d arrived as %v (want id %s)", i, m, ids[i])
				}
			}
		}
	})

	t.Run("binary", func(t *testing.T) {
		srv.CreateRoom("bin", nil)
		s, r1, r2 := envTrio(t, srv, "bin")
		big := make([]byte, 3000)
		for i := range big {
			big[i] = byte(i * 7)
		}
		payloads := [][]byte{
			{0, 1, 2, '\n', 0xff, 0xfe, 0, '{', '}', '\n'},
			{},
			{0xff},
			big,
		}
		for i, p := range payloads {
			ref := fmt.Sprintf("b%d", i)
			frame := append([]byte(`{"type":"send","room":"bin","ref":"`+ref+`"}`+"\n"), p...)
			if err := s.c.Write(ws.OpBinary, frame); err != nil {
				t.Fatal(err)
			}
			rc := envNext(t, s.c, "receipt")
			if rc.Str("ref") != ref || rc.Str("room") != "bin" || rc.Str("id") == "" {
				t.Fatalf("receipt %v", rc)
			}
			for _, r := range []*envSock{r1, r2} {
				hdr, got := envBinary(t, envRead(t, r.c))
				if hdr.Type() != "message" || hdr.Str("id") != rc.Str("id") || hdr.Str("room") != "bin" || hdr.Str("from") != s.w.Str("socket") {
					t.Fatalf("binary header %v", hdr)
				}
				if _, ok := hdr["data"]; ok {
					t.Fatalf("binary header carries data: %v", hdr)
				}
				if !bytes.Equal(got, p) {
					t.Fatalf("payload %d: got %d bytes %x, want %d bytes", i, len(got), got[:min(len(got), 16)], len(p))
				}
			}
		}
	})

	bobKey := srv.NewAccount("bob")

	t.Run("direct", func(t *testing.T) {
		a := envOpen(t, srv, envToken(t, srv, admin, map[string]any{}).Secret)
		b := envOpen(t, srv, envToken(t, srv, admin, map[string]any{}).Secret)
		x := envOpen(t, srv, envToken(t, srv, bobKey, map[string]any{}).Secret)
		a.c.WriteJSON(map[string]any{"type": "send", "to": b.id(), "data": map[string]any{"hi": 1}, "ref": "d1"})
		rc := envNext(t, a.c, "receipt")
		if rc.Str("to") != b.id() || rc.Str("ref") != "d1" || rc.Str("id") == "" {
			t.Fatalf("receipt %v", rc)
		}
		if _, ok := rc["room"]; ok {
			t.Fatalf("direct receipt names a room: %v", rc)
		}
		m := envNext(t, b.c, "message")
		if _, ok := m["room"]; ok || m.Str("from") != a.id() || m.Str("id") != rc.Str("id") || !reflect.DeepEqual(m["data"], map[string]any{"hi": float64(1)}) {
			t.Fatalf("direct message %v", m)
		}
		// Binary direct messages keep their bytes.
		if err := b.c.Write(ws.OpBinary, append([]byte(`{"type":"send","to":"`+a.id()+`"}`+"\n"), 0, 0xff)); err != nil {
			t.Fatal(err)
		}
		envNext(t, b.c, "receipt")
		hdr, p := envBinary(t, envRead(t, a.c))
		if _, ok := hdr["room"]; ok || hdr.Str("from") != b.id() || !bytes.Equal(p, []byte{0, 0xff}) {
			t.Fatalf("binary direct message %v %x", hdr, p)
		}
		for _, tc := range []struct {
			name     string
			from, to *envSock
			target   string
		}{
			{"other owner", a, x, x.id()},
			{"other owner back", x, a, a.id()},
			{"unknown socket", a, nil, "tk_aaaaaaaaaaaaaaaa/1"},
			{"not a socket id", a, nil, "nobody"},
		} {
			tc.from.c.WriteJSON(map[string]any{"type": "send", "to": tc.target, "data": "psst", "ref": tc.name})
			envError(t, tc.from.c, "not_found", tc.name)
			if tc.to != nil {
				envPing(t, tc.to.c, "nothing-arrived")
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		c := envOpen(t, srv, envToken(t, srv, admin, map[string]any{}).Secret).c
		for _, ref := range []any{9, "p", map[string]any{"seq": 1}, nil} {
			cmd := map[string]any{"type": "ping"}
			if ref != nil {
				cmd["ref"] = ref
			}
			c.WriteJSON(cmd)
			m := envNext(t, c, "pong")
			if !reflect.DeepEqual(m["ref"], envJSON(t, ref)) {
				t.Fatalf("pong %v, want ref %v", m, ref)
			}
		}
	})

	t.Run("join and leave", func(t *testing.T) {
		srv.CreateRoom("jl", nil)
		srv.CreateRoom("closed", nil)
		srv.CreateRoomAs(bobKey, "private", nil)
		jt := envToken(t, srv, admin, map[string]any{"auto_join": false, "subscriptions": envSubs(sub("jl", true, true))})
		j := envOpen(t, srv, jt.Secret)
		s := envOpen(t, srv, envToken(t, srv, admin, map[string]any{"subscriptions": envSubs(sub("jl", true, true))}).Secret)
		rooms, _ := j.w["rooms"].([]any)
		if len(rooms) != 1 {
			t.Fatalf("welcome rooms %v, want jl listed", j.w["rooms"])
		}
		envGrant(t, rooms[0].(map[string]any), "jl", true, true, "text", "binary")

		// Not joined yet (auto_join false): nothing arrives, sending is refused.
		envSay(t, s, "jl", "before")
		envBarrier(t, s, j, "barrier-1")
		j.c.WriteJSON(map[string]any{"type": "send", "room": "jl", "data": 1, "ref": "early"})
		envError(t, j.c, "forbidden", "early")

		j.c.WriteJSON(map[string]any{"type": "join", "room": "jl", "ref": "j1"})
		g := envNext(t, j.c, "joined")
		envGrant(t, g, "jl", true, true, "text", "binary")
		if g.Str("ref") != "j1" {
			t.Fatalf("joined %v, want ref j1", g)
		}
		id := envSay(t, s, "jl", "during")
		if m := envNext(t, j.c, "message"); m.Str("id") != id || m.Str("room") != "jl" || m.Str("data") != "during" {
			t.Fatalf("message %v", m)
		}
		id = envSay(t, j, "jl", "from joiner")
		if m := envNext(t, s.c, "message"); m.Str("id") != id || m.Str("from") != j.id() {
			t.Fatalf("message %v", m)
		}

		j.c.WriteJSON(map[string]any{"type": "leave", "room": "jl", "ref": "l1"})
		g = envNext(t, j.c, "left")
		envGrant(t, g, "jl", true, true, "text", "binary")
		if g.Str("ref") != "l1" {
			t.Fatalf("left %v", g)
		}
		envSay(t, s, "jl", "after")
		envBarrier(t, s, j, "barrier-2")
		j.c.WriteJSON(map[string]any{"type": "send", "room": "jl", "data": 1, "ref": "late"})
		envError(t, j.c, "forbidden", "late")

		for _, tc := range []struct {
			name string
			cmd  map[string]any
			code string
		}{
			{"no permission", map[string]any{"room": "closed"}, "forbidden"},
			{"unknown room", map[string]any{"room": "nope"}, "not_found"},
			{"other owner private", map[string]any{"room": "bob/private"}, "forbidden"},
			{"other owner unknown", map[string]any{"room": "bob/nope"}, "not_found"},
			{"invalid name", map[string]any{"room": "Bad Name!"}, "bad_request"},
			{"no room", map[string]any{}, "bad_request"},
		} {
			tc.cmd["type"], tc.cmd["ref"] = "join", tc.name
			j.c.WriteJSON(tc.cmd)
			envError(t, j.c, tc.code, tc.name)
		}
	})

	t.Run("other owner's public room", func(t *testing.T) {
		srv.CreateRoomAs(bobKey, "town", map[string]any{"public": true, "public_send": true})
		srv.CreateRoomAs(bobKey, "stage", map[string]any{"public": true, "public_send": false})
		bob := envOpen(t, srv, envToken(t, srv, bobKey, map[string]any{"subscriptions": envSubs(sub("town", true, true), sub("stage", true, true))}).Secret)
		a := envOpen(t, srv, envToken(t, srv, admin, map[string]any{}).Secret)

		a.c.WriteJSON(map[string]any{"type": "join", "room": "bob/town", "ref": 1})
		envGrant(t, envNext(t, a.c, "joined"), "bob/town", true, true, "text", "binary")
		a.c.WriteJSON(map[string]any{"type": "send", "room": "bob/town", "data": "hello bob"})
		rc := envNext(t, a.c, "receipt")
		if rc.Str("room") != "bob/town" {
			t.Fatalf("receipt %v, want room bob/town", rc)
		}
		if m := envNext(t, bob.c, "message"); m.Str("room") != "town" || m.Str("from") != a.id() || m.Str("id") != rc.Str("id") {
			t.Fatalf("owner's socket got %v, want room town", m)
		}
		id := envSay(t, bob, "town", "hello visitor")
		if m := envNext(t, a.c, "message"); m.Str("room") != "bob/town" || m.Str("from") != bob.id() || m.Str("id") != id {
			t.Fatalf("visitor got %v, want room bob/town", m)
		}

		a.c.WriteJSON(map[string]any{"type": "join", "room": "bob/stage", "ref": 2})
		envGrant(t, envNext(t, a.c, "joined"), "bob/stage", false, true, "text", "binary")
		a.c.WriteJSON(map[string]any{"type": "send", "room": "bob/stage", "data": "heckle", "ref": "h"})
		envError(t, a.c, "forbidden", "h")
		id = envSay(t, bob, "stage", "show")
		if m := envNext(t, a.c, "message"); m.Str("room") != "bob/stage" || m.Str("id") != id {
			t.Fatalf("visitor got %v, want room bob/stage", m)
		}
	})

	t.Run("permissions and formats", func(t *testing.T) {
		srv.CreateRoom("perm", nil)
		open := func(s map[string]any) *envSock {
			return envOpen(t, srv, envToken(t, srv, admin, map[string]any{"subscriptions": envSubs(s)}).Secret)
		}
		full := open(sub("perm", true, true))
		textOnly := open(sub("perm", true, true, "text"))
		noRecv := open(sub("perm", true, false))
		noSend := open(sub("perm", false, true))

		if err := textOnly.c.Write(ws.OpBinary, []byte(`{"type":"send","room":"perm","ref":"tb"}`+"\n\x00\x01")); err != nil {
			t.Fatal(err)
		}
		envError(t, textOnly.c, "forbidden", "tb")
		noSend.c.WriteJSON(map[string]any{"type": "send", "room": "perm", "data": "x", "ref": "ns"})
		envError(t, noSend.c, "forbidden", "ns")
		if err := noSend.c.Write(ws.OpBinary, []byte(`{"type":"send","room":"perm","ref":"nsb"}`+"\n\x00")); err != nil {
			t.Fatal(err)
		}
		envError(t, noSend.c, "forbidden", "nsb")

		// A binary message reaches only binary receivers; the text one after
		// it reaches every receiver, so textOnly's next frame is the text.
		if err := full.c.Write(ws.OpBinary, []byte(`{"type":"send","room":"perm"}`+"\n\x00\xff")); err != nil {
			t.Fatal(err)
		}
		envNext(t, full.c, "receipt")
		if hdr, p := envBinary(t, envRead(t, noSend.c)); hdr.Str("room") != "perm" || !bytes.Equal(p, []byte{0, 0xff}) {
			t.Fatalf("binary %v %x", hdr, p)
		}
		id := envSay(t, full, "perm", "text")
		for _, r := range []*envSock{textOnly, noSend} {
			if m := envNext(t, r.c, "message"); m.Str("id") != id {
				t.Fatalf("want the text message %s, got %v", id, m)
			}
		}
		// receive false: the socket sends but gets nothing.
		id = envSay(t, noRecv, "perm", "from noRecv")
		if m := envNext(t, full.c, "message"); m.Str("id") != id {
			t.Fatalf("message %v", m)
		}
		envNext(t, textOnly.c, "message")
		envNext(t, noSend.c, "message")
		envBarrier(t, full, noRecv, "barrier")
		// textOnly may still send text.
		id = envSay(t, textOnly, "perm", "t")
		if m := envNext(t, full.c, "message"); m.Str("id") != id {
			t.Fatalf("message %v", m)
		}
	})
}

// envSock is an open envelope socket and its welcome.
type envSock struct {
	c *wstest.Conn
	w wstest.Msg
}

func (s *envSock) id() string { return s.w.Str("socket") }

func envOpen(t *testing.T, srv *testserver.Server, secret string) *envSock {
	t.Helper()
	c, w := envDial(t, srv, secret)
	return &envSock{c: c, w: w}
}

// envTrio opens a sender and two receivers, each on its own token
// subscribed to room.
func envTrio(t *testing.T, srv *testserver.Server, room string) (s, r1, r2 *envSock) {
	t.Helper()
	open := func() *envSock {
		tok := envToken(t, srv, srv.APIKey, map[string]any{"subscriptions": envSubs(testserver.Sub(room, true, true))})
		return envOpen(t, srv, tok.Secret)
	}
	return open(), open(), open()
}

// envSay sends data to room and returns the receipt's id.
func envSay(t *testing.T, s *envSock, room string, data any) string {
	t.Helper()
	s.c.WriteJSON(map[string]any{"type": "send", "room": room, "data": data})
	rc := envNext(t, s.c, "receipt")
	if rc.Str("room") != room || rc.Str("id") == "" {
		t.Fatalf("receipt %v, want room %s", rc, room)
	}
	return rc.Str("id")
}

// envBarrier sends a direct message from s to r and requires it to be r's
// very next frame: anything routed to r before it would arrive first.
func envBarrier(t *testing.T, s, r *envSock, data string) {
	t.Helper()
	s.c.WriteJSON(map[string]any{"type": "send", "to": r.id(), "data": data})
	envNext(t, s.c, "receipt")
	m := envNext(t, r.c, "message")
	if _, ok := m["room"]; ok || m.Str("data") != data {
		t.Fatalf("want the direct message %q first, got %v", data, m)
	}
}

// envJSON is v as decoded JSON, for comparing with received fields.
func envJSON(t *testing.T, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEnvelopeBadInput covers refused commands (an error, the socket stays
// open), size limits and protocol violations that close the socket.
func TestEnvelopeBadInput(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv := testserver.Start(t, func(c *config.Config) { c.MaxMessageBytes = limit })
	tok := envToken(t, srv, srv.APIKey, map[string]any{"subscriptions": envSubs(testserver.Sub("lobby", true, true))})
	s := envOpen(t, srv, tok.Secret)
	r := envOpen(t, srv, tok.Secret)
	if l, _ := s.w["limits"].(map[string]any); l["max_message_bytes"] != float64(limit) {
		t.Fatalf("welcome limits %v, want max_message_bytes %d", s.w["limits"], limit)
	}

	t.Run("refused commands", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			op      ws.OpCode
			payload string
			ref     any
		}{
			{"malformed JSON", ws.OpText, `{"type":"send",`, nil},
			{"not an object", ws.OpText, `[1,2,3]`, nil},
			{"a bare string", ws.OpText, `"ping"`, nil},
			{"unknown type", ws.OpText, `{"type":"shout","ref":1}`, 1.0},
			{"missing type", ws.OpText, `{"ref":2}`, 2.0},
			{"send without data", ws.OpText, `{"type":"send","room":"lobby","ref":"nd"}`, "nd"},
			{"send to room and socket", ws.OpText, `{"type":"send","room":"lobby","to":"` + r.id() + `","data":1,"ref":"rt"}`, "rt"},
			{"send to nowhere", ws.OpText, `{"type":"send","data":1,"ref":"nw"}`, "nw"},
			{"binary without newline", ws.OpBinary, `{"type":"send","room":"lobby"}`, nil},
			{"binary with malformed header", ws.OpBinary, "{\"type\":\"send\",\nxyz", nil},
		} {
			if err := s.c.Write(tc.op, []byte(tc.payload)); err != nil {
				t.Fatal(err)
			}
			envError(t, s.c, "bad_request", tc.ref)
			envPing(t, s.c, "after "+tc.name)
		}
		envPing(t, r.c, "nothing routed")
	})

	t.Run("too large", func(t *testing.T) {
		send := func(op ws.OpCode, frame string) {
			t.Helper()
			if err := s.c.Write(op, []byte(frame)); err != nil {
				t.Fatal(err)
			}
		}
		// data counts its JSON text; the command around it does not.
		send(ws.OpText, `{"type":"send","room":"lobby","ref":"big","data":"`+strings.Repeat("a", limit)+`"}`)
		envError(t, s.c, "too_large", "big")
		fits := strings.Repeat("b", limit-2)
		send(ws.OpText, `{"type":"send","room":"lobby","ref":"fits","data":"`+fits+`"}`)
		if rc := envNext(t, s.c, "receipt"); rc.Str("ref") != "fits" {
			t.Fatalf("receipt %v", rc)
		}
		hdr := `{"type":"send","room":"lobby","ref":"bigbin"}` + "\n"
		send(ws.OpBinary, hdr+strings.Repeat("\xff", limit+1))
		envError(t, s.c, "too_large", "bigbin")
		send(ws.OpBinary, `{"type":"send","room":"lobby","ref":"binfits"}`+"\n"+strings.Repeat("\xff", limit))
		if rc := envNext(t, s.c, "receipt"); rc.Str("ref") != "binfits" {
			t.Fatalf("receipt %v", rc)
		}
		envPing(t, s.c, "still open")
		// Only the accepted messages were routed, in order.
		if m := envNext(t, r.c, "message"); m.Str("data") != fits {
			t.Fatalf("want the fitting text message, got %.80v", m)
		}
		if _, p := envBinary(t, envRead(t, r.c)); len(p) != limit {
			t.Fatalf("want the fitting binary message, got %d bytes", len(p))
		}
	})

	t.Run("fragmented", func(t *testing.T) {
		// Three fragments with a ping between them and a UTF-8 character
		// split across frames: reassembled into one command and routed.
		whole := []byte(`{"type":"send","room":"lobby","ref":"fr","data":"frag-é-mented"}`)
		cut := bytes.Index(whole, []byte("é")) + 1
		envWriteFrame(t, s.c, ws.OpText, false, whole[:20], false)
		envWriteFrame(t, s.c, ws.OpPing, true, []byte("mid"), false)
		envWriteFrame(t, s.c, ws.OpContinuation, false, whole[20:cut], false)
		envWriteFrame(t, s.c, ws.OpContinuation, true, whole[cut:], false)
		if rc := envNext(t, s.c, "receipt"); rc.Str("ref") != "fr" {
			t.Fatalf("receipt %v", rc)
		}
		if m := envNext(t, r.c, "message"); m.Str("data") != "frag-é-mented" {
			t.Fatalf("message %v", m)
		}
	})

	t.Run("closing", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			write func(c *wstest.Conn)
			code  int
		}{
			{"frame far over the limit", func(c *wstest.Conn) {
				h := ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: ws.NewMask(), Length: 1 << 20}
				if err := ws.WriteHeader(c.NetConn(), h); err != nil {
					t.Fatal(err)
				}
			}, 1009},
			{"whole frame over the limit", func(c *wstest.Conn) {
				_ = c.Write(ws.OpText, bytes.Repeat([]byte("x"), 2*(limit+4096)))
			}, 1009},
			{"fragments over the limit", func(c *wstest.Conn) {
				part := bytes.Repeat([]byte("y"), limit)
				envWriteFrame(t, c, ws.OpText, false, part, false)
				for range 5 {
					envWriteFrame(t, c, ws.OpContinuation, false, part, false)
				}
			}, 1009},
			{"invalid UTF-8", func(c *wstest.Conn) {
				_ = c.Write(ws.OpText, []byte("{\"type\":\"ping\",\"ref\":\"\xff\xfe\"}"))
			}, 1007},
			{"unmasked frame", func(c *wstest.Conn) {
				envWriteFrame(t, c, ws.OpText, true, []byte(`{"type":"ping"}`), true)
			}, 1002},
			{"client close", func(c *wstest.Conn) {
				_ = c.Write(ws.OpClose, ws.NewCloseFrameBody(1000, "bye"))
			}, 1000},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := envOpen(t, srv, tok.Secret).c
				tc.write(c)
				if code := c.ExpectClose(); code != tc.code {
					t.Fatalf("closed with %d, want %d", code, tc.code)
				}
			})
		}
	})
}
