package api_test

import (
	"strings"
	"testing"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/wire"
)

func TestBackpipeKinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	cases := []struct {
		ctype, body string
		kind        api.PublicationKind
	}{
		{"application/json", `{"temp":21.5}`, api.PublishJSON},
		{"application/json; charset=utf-8", `"hi"`, api.PublishJSON},
		{"text/plain", "héllo", api.PublishText},
		{"text/plain; charset=UTF-8", "plain", api.PublishText},
		{"application/octet-stream", "\x00\xff\xfe", api.PublishBinary},
	}
	for i, c := range cases {
		res := e.do("POST", "/api/v1/rooms/lobby/messages", alice.apiKey, c.body, "Content-Type", c.ctype).want(t, 202)
		obj := res.obj(t)
		wantKeys(t, "publish answer", obj, "id")
		e.live.mu.Lock()
		p := e.live.pubs[len(e.live.pubs)-1]
		e.live.mu.Unlock()
		if obj["id"] != "m"+string(rune('1'+i)) || p.Owner != "alice" || p.Room != "lobby" || p.Pub.Kind != c.kind ||
			string(p.Pub.Body) != c.body || p.Pub.From != "api:"+alice.keyID {
			t.Fatalf("%s: answer %v, published %+v", c.ctype, obj, p)
		}
	}
	// A session publishes as "session"; "alice/lobby" is the same room.
	e.do("POST", "/api/v1/rooms/alice%2Flobby/messages", alice.session, "x", "Content-Type", "text/plain").want(t, 202)
	e.live.mu.Lock()
	p := e.live.pubs[len(e.live.pubs)-1]
	e.live.mu.Unlock()
	if p.Pub.From != "session" || p.Room != "lobby" {
		t.Fatalf("session publish %+v", p)
	}
}

func TestBackpipeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.MaxBodyBytes = 16 })
	alice := e.newUser("alice", false)
	post := func(c cred, path, ctype, body string) *resp {
		return e.do("POST", path, c, body, "Content-Type", ctype)
	}
	const path = "/api/v1/rooms/lobby/messages"
	for _, ct := range []string{"", "text/html", "application/x-www-form-urlencoded", "text/plain; charset=latin1", "nonsense/"} {
		post(alice.apiKey, path, ct, "x").wantErr(t, 415, wire.CodeBadRequest)
	}
	post(alice.apiKey, path, "application/json", `{"a":`).wantErr(t, 400, wire.CodeBadRequest)
	post(alice.apiKey, path, "text/plain", "\xff\xfe").wantErr(t, 400, wire.CodeBadRequest)
	post(alice.apiKey, path, "application/octet-stream", strings.Repeat("x", 17)).wantErr(t, 413, wire.CodeTooLarge)
	post(alice.apiKey, path, "application/octet-stream", strings.Repeat("x", 16)).want(t, 202)
	post(cred{key: "pk_wrong"}, path, "text/plain", "x").wantErr(t, 401, wire.CodeUnauthorized)
	post(cred{}, path, "text/plain", "x").wantErr(t, 401, wire.CodeUnauthorized)
	post(alice.apiKey, "/api/v1/rooms/bob%2Flobby/messages", "text/plain", "x").wantErr(t, 403, wire.CodeForbidden)

	// Live's coded refusals keep their status.
	for _, c := range []struct {
		err    *wire.Error
		status int
	}{
		{wire.Errorf(wire.CodeNotFound, "no room"), 404},
		{wire.Errorf(wire.CodeFormat, "binary room"), 400},
		{wire.Errorf(wire.CodeTooLarge, "room limit"), 413},
		{wire.Errorf(wire.CodeForbidden, "no"), 403},
	} {
		e.live.mu.Lock()
		e.live.publishErr = c.err
		e.live.mu.Unlock()
		post(alice.apiKey, path, "text/plain", "x").wantErr(t, c.status, c.err.Code)
	}
}

func TestBackpipeRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.BackpipeRate = 0.001; c.BackpipeBurst = 3 })
	alice := e.newUser("alice", false)
	const path = "/api/v1/rooms/lobby/messages"
	for range 3 {
		e.do("POST", path, alice.apiKey, "x", "Content-Type", "text/plain").want(t, 202)
	}
	e.do("POST", path, alice.apiKey, "x", "Content-Type", "text/plain").wantErr(t, 429, wire.CodeRateLimited)
	// The session has its own bucket.
	e.do("POST", path, alice.session, "x", "Content-Type", "text/plain").want(t, 202)
}

func TestRoomSocketsAndKick(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	bob := e.newUser("bob", false)
	e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "lobby"}).want(t, 201)
	e.live.mu.Lock()
	e.live.sockets["alice/temp"] = []api.SocketInfo{{ID: "tk_a/1", Token: "tk_a", Mode: "envelope"}, {ID: "tk_a/2", Token: "tk_a", Mode: "raw"}}
	e.live.live["alice tk_a/1"] = true
	e.live.mu.Unlock()

	// A persistent room without members; a transient room with members.
	if res := e.do("GET", "/api/v1/rooms/lobby/sockets", alice.apiKey, nil).want(t, 200); string(res.raw) != "[]\n" {
		t.Fatalf("empty sockets %q", res.raw)
	}
	socks := e.do("GET", "/api/v1/rooms/temp/sockets", alice.session, nil).want(t, 200).arr(t)
	if len(socks) != 2 {
		t.Fatalf("sockets %v", socks)
	}
	wantKeys(t, "socket", socks[0], "id", "token", "mode", "worker")
	if m := socks[1].(map[string]any); m["id"] != "tk_a/2" || m["mode"] != "raw" {
		t.Fatalf("socket %v", m)
	}
	e.do("GET", "/api/v1/rooms/nope/sockets", alice.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("GET", "/api/v1/rooms/temp/sockets", bob.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)

	e.do("DELETE", "/api/v1/sockets/tk_a/1", bob.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("DELETE", "/api/v1/sockets/tk_a/1", alice.apiKey, nil).want(t, 204)
	e.do("DELETE", "/api/v1/sockets/tk_a/1", alice.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls("Kick bob tk_a/1", "Kick alice tk_a/1", "Kick alice tk_a/1")
}
