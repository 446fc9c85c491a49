package e2e

// Raw mode, /ws/rooms/{room}: frames as is, the text rules between modes,
// membership from the 101 answer, and the close codes of a raw socket that
// breaks its room's rules.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
)

func TestRawFramesAsIs(t *testing.T) {
	srv := testserver.Start(t)
	env, _ := rawEnvelope(t, srv, srv.LobbySecret)
	ta, tb := srv.TokenFor("lobby"), srv.TokenFor("lobby")
	a := rawDial(t, srv, "lobby", ta.Secret)
	b := rawDial(t, srv, "lobby", tb.Secret)
	aID := rawSocketOf(t, srv, "lobby", ta.ID)

	text := []byte("hello raw \"quoted\" \\ ✓\n{not json")
	rawWrite(t, a, ws.OpText, text)
	// The first frame b reads is a's message: no welcome, no events.
	rawExpectFrame(t, b, ws.OpText, text)
	m := rawExpectMessage(t, env)
	if m.Str("data") != string(text) || m.Str("room") != "lobby" || m.Str("from") != aID || m.Str("id") == "" {
		t.Fatalf("envelope receiver got %v, want data %q from %s", m, text, aID)
	}

	bin := []byte{0, 1, 2, '\n', 0xff, 0xfe, '{'}
	rawWrite(t, a, ws.OpBinary, bin)
	rawExpectFrame(t, b, ws.OpBinary, bin)
	hdr, body := rawExpectBinaryMessage(t, env)
	if !bytes.Equal(body, bin) || hdr.Str("room") != "lobby" || hdr.Str("from") != aID || hdr.Str("id") == "" {
		t.Fatalf("envelope receiver got %v %q, want %q from %s", hdr, body, bin, aID)
	}

	// Empty frames and a message bigger than one read buffer pass as is too.
	rawWrite(t, b, ws.OpText, nil)
	rawExpectFrame(t, a, ws.OpText, []byte{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 4000)
	rawWrite(t, b, ws.OpBinary, big)
	rawExpectFrame(t, a, ws.OpBinary, big)

	// The sender gets nothing back: no echo, no receipt.
	a.ExpectSilence(rawSilence)
}

func TestRawReceivesEnvelopeSends(t *testing.T) {
	srv := testserver.Start(t)
	env, _ := rawEnvelope(t, srv, srv.LobbySecret)
	r := rawDial(t, srv, "lobby", srv.TokenFor("lobby").Secret)

	for _, tc := range []struct {
		data any
		want string
	}{
		{"hi", "hi"},
		{map[string]any{"a": 1}, `{"a":1}`},
		{[]any{1, "x", nil}, `[1,"x",null]`},
		{42, "42"},
		{true, "true"},
		{`say "hi"` + "\n", "say \"hi\"\n"},
		{"", ""},
	} {
		env.WriteJSON(map[string]any{"type": "send", "room": "lobby", "data": tc.data, "ref": "s"})
		rawExpectType(t, env, "receipt", "s")
		rawExpectFrame(t, r, ws.OpText, []byte(tc.want))
	}
	// Binary is never transformed.
	payload := []byte("\x00\x01{\"type\":\"x\"}\n\xff")
	rawSendBinary(t, env, map[string]any{"type": "send", "room": "lobby", "ref": "b"}, payload)
	rawExpectType(t, env, "receipt", "b")
	rawExpectFrame(t, r, ws.OpBinary, payload)
	// No receipts, no events for the raw socket.
	r.ExpectSilence(rawSilence)
}

func TestRawMemberFromUpgrade(t *testing.T) {
	srv := testserver.Start(t)
	tok := srv.TokenFor("lobby")
	// Repeat: a socket joined only after the 101 would lose some of these.
	for i := range 10 {
		r := rawDial(t, srv, "lobby", tok.Secret)
		body := []byte("first " + strings.Repeat("!", i))
		rawPublish(t, srv, "lobby", "text/plain", body)
		rawExpectFrame(t, r, ws.OpText, body)
		r.Close()
	}
	r := rawDial(t, srv, "lobby", tok.Secret)
	rawPublish(t, srv, "lobby", "application/json", []byte(`{"x":[1,2]}`))
	rawExpectFrame(t, r, ws.OpText, []byte(`{"x":[1,2]}`))
	rawPublish(t, srv, "lobby", "application/json", []byte(`"a string"`))
	rawExpectFrame(t, r, ws.OpText, []byte(`a string`))
	rawPublish(t, srv, "lobby", "text/plain; charset=utf-8", []byte(`{"not":"parsed"}`))
	rawExpectFrame(t, r, ws.OpText, []byte(`{"not":"parsed"}`))
	rawPublish(t, srv, "lobby", "application/octet-stream", []byte{9, 8, 7})
	rawExpectFrame(t, r, ws.OpBinary, []byte{9, 8, 7})
}

func TestRawPasswordRoom(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("vault", map[string]any{"public": true, "password": "s3cret pw"})
	tok := rawToken(t, srv, srv.APIKey, nil) // not subscribed: in through public
	bob := srv.NewAccount(rawName("bob"))
	btok := rawToken(t, srv, bob, nil)

	rawRefused(t, srv, "vault", tok.Secret, http.StatusForbidden, "forbidden")
	rawRefused(t, srv, "vault", tok.Secret, http.StatusForbidden, "forbidden", "password=wrong")
	rawRefused(t, srv, "vault", tok.Secret, http.StatusForbidden, "forbidden", "password=")
	rawRefused(t, srv, "admin%2Fvault", btok.Secret, http.StatusForbidden, "forbidden", "password=s3cret")
	rawRefused(t, srv, "admin%2Fvault", btok.Secret, http.StatusForbidden, "forbidden")

	r := rawDial(t, srv, "vault", tok.Secret, "password=s3cret+pw")
	rb := rawDial(t, srv, "admin%2Fvault", btok.Secret, "password=s3cret%20pw")
	rawPublish(t, srv, "vault", "text/plain", []byte("inside"))
	rawExpectFrame(t, r, ws.OpText, []byte("inside"))
	rawExpectFrame(t, rb, ws.OpText, []byte("inside"))
}

func TestRawOtherOwnersPublicRoom(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("pub", map[string]any{"public": true})
	srv.CreateRoom("pubsend", map[string]any{"public": true, "public_send": true})
	bob := srv.NewAccount(rawName("bob"))
	btok := rawToken(t, srv, bob, nil)
	env, _ := rawEnvelope(t, srv, srv.TokenFor("pub", "pubsend").Secret)

	rawRefused(t, srv, "admin%2Flobby", btok.Secret, http.StatusForbidden, "forbidden")
	rawRefused(t, srv, "admin%2Fnope", btok.Secret, http.StatusNotFound, "not_found")
	rawRefused(t, srv, "pub", btok.Secret, http.StatusNotFound, "not_found") // bob has no room pub

	r := rawDial(t, srv, "admin%2Fpub", btok.Secret)
	rawPublish(t, srv, "pub", "text/plain", []byte("to the public"))
	rawExpectFrame(t, r, ws.OpText, []byte("to the public"))
	if m := rawExpectMessage(t, env); m.Str("data") != "to the public" {
		t.Fatalf("got %v", m)
	}
	env.WriteJSON(map[string]any{"type": "send", "room": "pub", "data": map[string]any{"n": 1}, "ref": 1})
	rawExpectType(t, env, "receipt", "")
	rawExpectFrame(t, r, ws.OpText, []byte(`{"n":1}`))

	rs := rawDial(t, srv, "admin%2Fpubsend", btok.Secret)
	rawWrite(t, rs, ws.OpText, []byte("from bob"))
	m := rawExpectMessage(t, env)
	if m.Str("room") != "pubsend" || m.Str("data") != "from bob" || !strings.HasPrefix(m.Str("from"), btok.ID+"/") {
		t.Fatalf("got %v, want bob's message in pubsend", m)
	}

	// Without public_send the public may only receive.
	rawWrite(t, r, ws.OpText, []byte("may not"))
	rawExpectClose(t, r, 1008)
}

func TestRawSendPermissions(t *testing.T) {
	srv := testserver.Start(t)
	other := rawDial(t, srv, "lobby", srv.LobbySecret)

	recvOnly := rawToken(t, srv, srv.APIKey, map[string]any{"subscriptions": rawSubs(testserver.Sub("lobby", false, true))})
	ro := rawDial(t, srv, "lobby", recvOnly.Secret)
	rawPublish(t, srv, "lobby", "text/plain", []byte("you may read"))
	rawExpectFrame(t, ro, ws.OpText, []byte("you may read"))
	rawExpectFrame(t, other, ws.OpText, []byte("you may read"))
	rawWrite(t, ro, ws.OpText, []byte("but not write"))
	rawExpectClose(t, ro, 1008)

	textOnly := rawToken(t, srv, srv.APIKey, map[string]any{"subscriptions": rawSubs(testserver.Sub("lobby", true, true, "text"))})
	to := rawDial(t, srv, "lobby", textOnly.Secret)
	// A text-only subscription receives no binary.
	rawPublish(t, srv, "lobby", "application/octet-stream", []byte{1, 2, 3})
	rawPublish(t, srv, "lobby", "text/plain", []byte("text after binary"))
	rawExpectFrame(t, to, ws.OpText, []byte("text after binary"))
	rawExpectFrame(t, other, ws.OpBinary, []byte{1, 2, 3})
	rawExpectFrame(t, other, ws.OpText, []byte("text after binary"))
	rawWrite(t, to, ws.OpText, []byte("text is fine"))
	rawExpectFrame(t, other, ws.OpText, []byte("text is fine"))
	rawWrite(t, to, ws.OpBinary, []byte{4, 5, 6})
	rawExpectClose(t, to, 1008)
	other.ExpectSilence(rawSilence)

	// A token that may neither send nor receive in the room is refused.
	none := rawToken(t, srv, srv.APIKey, map[string]any{"subscriptions": rawSubs(testserver.Sub("lobby", false, false))})
	rawRefused(t, srv, "lobby", none.Secret, http.StatusForbidden, "forbidden")
}

func TestRawJSONRoom(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("js", map[string]any{"format": "json"})
	env, _ := rawEnvelope(t, srv, srv.TokenFor("js").Secret)
	tok := srv.TokenFor("js")
	r := rawDial(t, srv, "js", tok.Secret)
	peer := rawDial(t, srv, "js", srv.TokenFor("js").Secret)

	rawWrite(t, r, ws.OpText, []byte(` {"a": [1, 2]} `))
	m := rawExpectMessage(t, env)
	obj, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("data %#v, want the parsed object", m["data"])
	}
	if arr, _ := obj["a"].([]any); len(arr) != 2 || arr[0] != 1.0 || arr[1] != 2.0 {
		t.Fatalf("data %v, want {\"a\":[1,2]}", obj)
	}
	rawExpectFrame(t, peer, ws.OpText, []byte(` {"a": [1, 2]} `))
	rawWrite(t, r, ws.OpText, []byte(`"a JSON string"`))
	if m := rawExpectMessage(t, env); m["data"] != "a JSON string" {
		t.Fatalf("data %#v, want the string", m["data"])
	}
	rawExpectFrame(t, peer, ws.OpText, []byte(`"a JSON string"`))

	rawWrite(t, r, ws.OpText, []byte(`{"a": not json`))
	rawExpectClose(t, r, 1008)
	env.ExpectSilence(rawSilence)

	// Binary breaks the json format too.
	rawWrite(t, peer, ws.OpBinary, []byte(`{}`))
	rawExpectClose(t, peer, 1008)
}

func TestRawTooBig(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.MaxMessageBytes = 1024 })
	srv.CreateRoom("small", map[string]any{"max_message_bytes": 100})
	tok := srv.TokenFor("lobby", "small")
	recv := rawDial(t, srv, "lobby", tok.Secret)

	a := rawDial(t, srv, "lobby", tok.Secret)
	rawWrite(t, a, ws.OpBinary, bytes.Repeat([]byte{'b'}, 1024))
	rawExpectFrame(t, recv, ws.OpBinary, bytes.Repeat([]byte{'b'}, 1024))
	rawWrite(t, a, ws.OpText, bytes.Repeat([]byte{'t'}, 1025))
	rawExpectClose(t, a, 1009)

	// The room's own, smaller limit.
	sr := rawDial(t, srv, "small", tok.Secret)
	s := rawDial(t, srv, "small", tok.Secret)
	rawWrite(t, s, ws.OpText, bytes.Repeat([]byte{'x'}, 100))
	rawExpectFrame(t, sr, ws.OpText, bytes.Repeat([]byte{'x'}, 100))
	rawWrite(t, s, ws.OpBinary, bytes.Repeat([]byte{'x'}, 101))
	rawExpectClose(t, s, 1009)
	sr.ExpectSilence(rawSilence)
	recv.ExpectSilence(rawSilence)
}
