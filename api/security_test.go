package api_test

import (
	"strings"
	"testing"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/wire"
)

// TestOwnership: a second account, by cookie or API key, sees none of the
// first account's rooms, tokens or keys: every route naming one is 404.
func TestOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	bob := e.newUser("bob", false)
	e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "secret-room"}).want(t, 201)
	tok := e.createToken(alice.apiKey, map[string]any{"subscriptions": []any{map[string]any{"room": "secret-room"}}})
	e.live.takeCalls()

	routes := []struct {
		method, path string
		body         any
		hdr          []string
	}{
		{"GET", "/api/v1/rooms/secret-room", nil, nil},
		{"PATCH", "/api/v1/rooms/secret-room", map[string]any{"echo": true}, nil},
		{"DELETE", "/api/v1/rooms/secret-room", nil, nil},
		{"GET", "/api/v1/rooms/secret-room/sockets", nil, nil},
		{"GET", "/api/v1/tokens/" + tok, nil, nil},
		{"PATCH", "/api/v1/tokens/" + tok, map[string]any{"name": "x"}, nil},
		{"DELETE", "/api/v1/tokens/" + tok, nil, nil},
		{"POST", "/api/v1/tokens/" + tok + "/regenerate", nil, nil},
		{"PUT", "/api/v1/tokens/" + tok + "/subscriptions/secret-room", map[string]any{}, nil},
		{"DELETE", "/api/v1/tokens/" + tok + "/subscriptions/secret-room", nil, nil},
		{"DELETE", "/api/v1/api-keys/" + alice.keyID, nil, nil},
	}
	for _, c := range []struct {
		name string
		cred cred
	}{{"cookie", bob.session}, {"api key", bob.apiKey}} {
		for _, r := range routes {
			t.Run(c.name+" "+r.method+" "+r.path, func(t *testing.T) {
				e.do(r.method, r.path, c.cred, r.body, r.hdr...).wantErr(t, 404, wire.CodeNotFound)
			})
		}
	}
	// Bob's own lists do not show Alice's things.
	for _, p := range []string{"/api/v1/rooms", "/api/v1/tokens"} {
		if got := e.do("GET", p, bob.apiKey, nil).want(t, 200).arr(t); len(got) != 0 {
			t.Fatalf("%s for bob: %v", p, got)
		}
	}
	if got := e.do("GET", "/api/v1/api-keys", bob.apiKey, nil).want(t, 200).arr(t); len(got) != 1 {
		t.Fatalf("bob's keys: %v", got)
	}
	// Nothing of Alice's changed, and Live heard nothing.
	e.wantCalls()
	e.do("GET", "/api/v1/rooms/secret-room", alice.apiKey, nil).want(t, 200)
	if tk := e.do("GET", "/api/v1/tokens/"+tok, alice.apiKey, nil).want(t, 200).obj(t); len(tk["subscriptions"].([]any)) != 1 {
		t.Fatalf("alice's token changed: %v", tk)
	}
	e.do("GET", "/api/v1/me", alice.apiKey, nil).want(t, 200)
}

func TestCrossSite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.OpenSignup = true })
	alice := e.newUser("alice", false)
	crossSite := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
	}
	for _, h := range crossSite {
		e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "r1"}, h...).wantErr(t, 403, wire.CodeForbidden)
		e.do("DELETE", "/api/v1/me", alice.session, nil, h...).wantErr(t, 403, wire.CodeForbidden)
		e.do("POST", "/api/v1/rooms/lobby/messages", alice.session, "x", append([]string{"Content-Type", "text/plain"}, h...)...).wantErr(t, 403, wire.CodeForbidden)
		e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": alice.password}, h...).wantErr(t, 403, wire.CodeForbidden)
		e.do("POST", "/api/v1/logout", alice.session, nil, h...).wantErr(t, 403, wire.CodeForbidden)
		e.do("POST", "/api/v1/accounts", cred{}, signUpBody("mallory"), h...).wantErr(t, 403, wire.CodeForbidden)
		// Reads are safe; API-key calls carry no ambient credential.
		e.do("GET", "/api/v1/me", alice.session, nil, h...).want(t, 200)
		e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "k-" + strings.ToLower(h[1][:4])}, h...).want(t, 201)
	}
	e.wantCalls() // the cookie publish was refused
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "r1"}, "Sec-Fetch-Site", "same-origin").want(t, 201)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "r2"}, "Origin", e.srv.URL).want(t, 201)
	e.do("POST", "/api/v1/rooms", alice.session, map[string]any{"name": "r3"}).want(t, 201)
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	msg := e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "r", "colour": "red"}).wantErr(t, 400, wire.CodeBadRequest)
	if !strings.Contains(msg, `"colour"`) {
		t.Fatalf("unknown field message %q", msg)
	}
	msg = e.do("POST", "/api/v1/tokens", alice.apiKey, map[string]any{"subscriptions": []any{map[string]any{"room": "r", "admin": true}}}).wantErr(t, 400, wire.CodeBadRequest)
	if !strings.Contains(msg, `"admin"`) {
		t.Fatalf("unknown nested field message %q", msg)
	}
	e.do("PATCH", "/api/v1/tokens/tk_x", alice.apiKey, map[string]any{"secret": "x"}).wantErr(t, 400, wire.CodeBadRequest)
	for _, body := range []string{`{"name":`, `{name: "r"}`, `[1,2]`, `"r"`, `{"name":"r"} {}`, `{"name": 5}`, `{"max_members": "many"}`, ``} {
		e.do("POST", "/api/v1/rooms", alice.apiKey, body).wantErr(t, 400, wire.CodeBadRequest)
	}
	msg = e.do("POST", "/api/v1/rooms", alice.apiKey, `{"name":"r","max_members":"many"}`).wantErr(t, 400, wire.CodeBadRequest)
	if !strings.Contains(msg, "max_members") {
		t.Fatalf("type error message %q", msg)
	}
	big := `{"name":"r","password":"` + strings.Repeat("p", 1<<20) + `"}`
	e.do("POST", "/api/v1/rooms", alice.apiKey, big).wantErr(t, 413, wire.CodeTooLarge)
	e.do("POST", "/api/v1/login", cred{}, big).wantErr(t, 413, wire.CodeTooLarge)
	e.wantCalls()
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	e.do("GET", "/api/v1/nothing", alice.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("GET", "/api/v1/rooms/a/b/c", alice.apiKey, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("GET", "/api/v1/nothing", cred{}, nil).wantErr(t, 404, wire.CodeNotFound)
	res := e.do("PUT", "/api/v1/rooms", alice.apiKey, map[string]any{})
	res.wantErr(t, 405, wire.CodeBadRequest)
	if allow := res.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
	e.do("DELETE", "/api/v1/login", cred{}, nil).wantErr(t, 405, wire.CodeBadRequest)
}

// TestLogsHoldNoSecrets drives every secret-bearing path, including failures,
// and checks the log (at trace level) never shows a secret. newEnv's cleanup
// does the checking for every secret remembered.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.OpenSignup = true })
	admin := e.newUser("admin", true)
	alice := e.newUser("alice", false)
	e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "lobby", "password": "the room password"}).want(t, 201)
	e.remember("the room password")
	id := e.createToken(alice.session, map[string]any{"subscriptions": []any{map[string]any{"room": "lobby"}}})
	regen := e.do("POST", "/api/v1/tokens/"+id+"/regenerate", alice.apiKey, nil).want(t, 200).obj(t)
	e.remember(regen["secret"].(string))
	// Failures that carry secrets in the request.
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": "typo-of-the-password"}).want(t, 401)
	e.remember("typo-of-the-password")
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "a-password-in-the-name", "password": "x"}).want(t, 401)
	e.remember("a-password-in-the-name")
	e.do("GET", "/api/v1/me", cred{key: "pk_guessed-key-value"}, nil).want(t, 401)
	e.remember("pk_guessed-key-value")
	e.do("GET", "/api/v1/me", cred{cookie: "guessed-session-value"}, nil).want(t, 401)
	e.remember("guessed-session-value")
	e.do("PUT", "/api/v1/me/password", alice.session, map[string]string{"old_password": "wrong-old-password", "new_password": "next-password-1"}).want(t, 403)
	e.remember("wrong-old-password")
	e.remember("next-password-1")
	e.do("POST", "/api/v1/accounts", cred{}, map[string]string{"username": "carol", "password": "carols-password"}).want(t, 201)
	e.remember("carols-password")
	e.do("POST", "/api/v1/accounts", admin.session, map[string]string{"username": "carol", "password": "carols-password-2"}).want(t, 409)
	e.remember("carols-password-2")
	e.do("DELETE", "/api/v1/api-keys/"+alice.apiKey.key, alice.session, nil).want(t, 404)
	e.do("POST", "/api/v1/logout", alice.session, nil).want(t, 204)
	if !strings.Contains(e.logs.String(), "token created") {
		t.Fatalf("expected some logging, got %q", e.logs.String())
	}
}
