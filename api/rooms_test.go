package api_test

import (
	"testing"

	"github.com/porthouse/porthouse/wire"
)

func TestRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)

	if got := e.do("GET", "/api/v1/rooms", alice.session, nil).want(t, 200); string(got.raw) != "[]\n" {
		t.Fatalf("empty list %q", got.raw)
	}
	roomPW := "room pass word 7"
	e.remember(roomPW)
	res := e.do("POST", "/api/v1/rooms", alice.session, map[string]any{
		"name": "lobby", "public": true, "password": roomPW, "format": "text", "max_members": 5, "echo": true,
	}).want(t, 201)
	room := res.obj(t)
	wantKeys(t, "room", room, roomKeys...)
	if room["name"] != "lobby" || room["owner"] != "alice" || room["public"] != true || room["has_password"] != true ||
		room["format"] != "text" || room["max_members"] != 5.0 || room["echo"] != true || room["presence"] != false ||
		room["public_send"] != false {
		t.Fatalf("room %v", room)
	}
	// Defaults.
	plain := e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "plain"}).want(t, 201).obj(t)
	if plain["format"] != "any" || plain["public"] != false || plain["has_password"] != false || plain["max_members"] != 0.0 {
		t.Fatalf("default room %v", plain)
	}

	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "lobby"}).wantErr(t, 409, wire.CodeConflict)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "Lobby!"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"public": true}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "x", "format": "xml"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "x", "owner": "bob"}).wantErr(t, 403, wire.CodeForbidden)
	e.wantCalls()

	list := e.do("GET", "/api/v1/rooms", alice.session, nil).want(t, 200).arr(t)
	if len(list) != 2 {
		t.Fatalf("rooms %v", list)
	}
	for _, r := range list {
		wantKeys(t, "listed room", r, roomKeys...)
	}
	got := e.do("GET", "/api/v1/rooms/lobby", alice.apiKey, nil).want(t, 200).obj(t)
	wantKeys(t, "room", got, roomKeys...)
	e.do("GET", "/api/v1/rooms/alice%2Flobby", alice.apiKey, nil).want(t, 200)
	e.do("GET", "/api/v1/rooms/nope", alice.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("GET", "/api/v1/rooms/bob%2Flobby", alice.apiKey, nil).wantErr(t, 403, wire.CodeForbidden)

	// PATCH: any rules; "" removes the password; renaming is refused.
	patched := e.do("PATCH", "/api/v1/rooms/lobby", alice.session, map[string]any{"password": "", "presence": true, "format": "json"}).want(t, 200).obj(t)
	wantKeys(t, "patched room", patched, roomKeys...)
	if patched["has_password"] != false || patched["presence"] != true || patched["format"] != "json" || patched["public"] != true {
		t.Fatalf("patched %v", patched)
	}
	e.wantCalls("RoomUpdated alice/lobby")
	e.do("PATCH", "/api/v1/rooms/lobby", alice.session, map[string]any{"name": "other"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("PATCH", "/api/v1/rooms/lobby", alice.session, map[string]any{"max_members": -1}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("PATCH", "/api/v1/rooms/nope", alice.session, map[string]any{"echo": true}).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()

	// DELETE: the room goes, and tokens subscribed to it are pushed again.
	subbed := e.createToken(alice.apiKey, map[string]any{"subscriptions": []any{map[string]any{"room": "lobby"}, map[string]any{"room": "plain"}}})
	e.createToken(alice.apiKey, map[string]any{"subscriptions": []any{map[string]any{"room": "plain"}}})
	e.do("DELETE", "/api/v1/rooms/lobby", alice.session, nil).want(t, 204)
	e.wantCalls("RoomDeleted alice/lobby", "TokenUpdated "+subbed)
	if subs := e.live.lastUpdated(t).Subscriptions; len(subs) != 1 || subs[0].Room != "plain" {
		t.Fatalf("pushed subscriptions %v", subs)
	}
	e.do("GET", "/api/v1/rooms/lobby", alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("DELETE", "/api/v1/rooms/lobby", alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()
}
