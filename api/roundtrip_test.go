package api_test

import (
	"testing"
)

// A resource read from the API can be sent back as it is: read-only fields
// (id, created_at, has_password) are accepted and ignored, not refused.
func TestReadOnlyFieldsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	room := e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "r1", "password": "pw"}).want(t, 201).obj(t)
	room["echo"] = true
	got := e.do("PATCH", "/api/v1/rooms/r1", alice.apiKey, room).want(t, 200).obj(t)
	if got["echo"] != true || got["has_password"] != true || got["created_at"] != room["created_at"] {
		t.Fatalf("PATCH with the room as read: %v", got)
	}
	tok := e.do("POST", "/api/v1/tokens", alice.apiKey, map[string]any{"name": "t"}).want(t, 201).obj(t)
	delete(tok, "secret")
	tok["name"] = "renamed"
	got = e.do("PATCH", "/api/v1/tokens/"+tok["id"].(string), alice.apiKey, tok).want(t, 200).obj(t)
	if got["name"] != "renamed" || got["id"] != tok["id"] || got["created_at"] != tok["created_at"] {
		t.Fatalf("PATCH with the token as read: %v", got)
	}
	// POST takes any of the token's fields; the id is the server's choice.
	created := e.do("POST", "/api/v1/tokens", alice.apiKey, map[string]any{"id": "tk_mine", "name": "u", "created_at": "2020-01-01T00:00:00Z"}).want(t, 201).obj(t)
	if created["id"] == "tk_mine" || created["created_at"] == "2020-01-01T00:00:00Z" {
		t.Fatalf("a read-only field was written: %v", created)
	}
}
