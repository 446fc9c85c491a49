package e2e

// Cookie-bound API calls from other sites, one account reaching into
// another's things, and secrets in the logs.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// lvLogin logs in with a password and returns the session cookie's value.
func lvLogin(t *testing.T, srv *testserver.Server, user, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
	req, err := http.NewRequest("POST", srv.URL+"/api/v1/login", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "porthouse_session" && c.Value != "" {
			if !c.HttpOnly {
				t.Fatalf("session cookie is not HttpOnly: %v", c)
			}
			return c.Value
		}
	}
	t.Fatalf("login %s: no porthouse_session cookie", user)
	return ""
}

// lvCookie is a header set with the session cookie plus name/value pairs.
func lvCookie(session string, kv ...string) http.Header {
	h := http.Header{"Cookie": {"porthouse_session=" + session}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// lvKeyHeader is a header set with the API key plus name/value pairs.
func lvKeyHeader(key string, kv ...string) http.Header {
	h := http.Header{"Authorization": {"Bearer " + key}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// lvRoomExists reports whether the admin has the room.
func lvRoomExists(t *testing.T, srv *testserver.Server, name string) bool {
	t.Helper()
	st, b := srv.API("GET", "/api/v1/rooms/"+name, nil)
	switch st {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	}
	t.Fatalf("GET room %s: %d %s", name, st, b)
	return false
}

// TestSecurityCrossSite: a state change carried only by the session cookie
// is refused (403, nothing changes) when the browser marks the request
// cross-site; the same request with an API key, or from the server's own
// origin, goes through.
func TestSecurityCrossSite(t *testing.T) {
	srv := testserver.Start(t)
	session := lvLogin(t, srv, "admin", testserver.AdminPassword)
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("lobby", true, true))})
	sock, _ := lvDial(t, srv, tok.Secret)

	crossSite := [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Origin", "http://127.0.0.1:1"}, // same host name, another origin
	}
	// A form post, a text/plain "form" carrying JSON, and a JSON body.
	bodies := []struct{ ctype, body string }{
		{"application/x-www-form-urlencoded", "name=evil-form"},
		{"text/plain", `{"name":"evil-text"}`},
		{"application/json", `{"name":"evil-json"}`},
	}
	for _, cs := range crossSite {
		for _, b := range bodies {
			h := lvCookie(session, append([]string{"Content-Type", b.ctype}, cs...)...)
			st, out := lvHTTP(t, srv, "POST", "/api/v1/rooms", h, b.body)
			lvWant(t, fmt.Sprintf("cookie POST /rooms %s %v", b.ctype, cs), st, out, http.StatusForbidden, "forbidden")
		}
		// Other state changes are refused just as well, and change nothing.
		for _, r := range []struct{ method, path, body string }{
			{"DELETE", "/api/v1/tokens/" + tok.ID, ""},
			{"POST", "/api/v1/tokens/" + tok.ID + "/regenerate", ""},
			{"DELETE", "/api/v1/tokens/" + tok.ID + "/subscriptions/lobby", ""},
			{"PATCH", "/api/v1/rooms/lobby", `{"echo":true}`},
			{"POST", "/api/v1/api-keys", `{"name":"stolen"}`},
			{"POST", "/api/v1/tokens", `{"name":"stolen"}`},
			{"POST", "/api/v1/rooms/lobby/messages", `"csrf"`},
			{"PUT", "/api/v1/settings/open-signup", `{"open":true}`},
			{"DELETE", "/api/v1/me", ""},
		} {
			h := lvCookie(session, append([]string{"Content-Type", "application/json"}, cs...)...)
			st, out := lvHTTP(t, srv, r.method, r.path, h, r.body)
			lvWant(t, fmt.Sprintf("cookie %s %s %v", r.method, r.path, cs), st, out, http.StatusForbidden, "forbidden")
		}
	}
	for _, b := range bodies {
		name := strings.TrimPrefix(strings.TrimPrefix(b.body, "name="), `{"name":"`)
		name = strings.TrimSuffix(name, `"}`)
		if lvRoomExists(t, srv, name) {
			t.Fatalf("a refused cross-site post created room %s", name)
		}
	}
	lvSilent(t, sock) // no live change reached the token's socket
	lvPing(t, sock)
	var keys []map[string]any
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/api-keys", nil, &keys)
	for _, k := range keys {
		if k["name"] == "stolen" {
			t.Fatalf("a refused cross-site post created an API key: %v", keys)
		}
	}
	var open map[string]bool
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/settings/open-signup", nil, &open)
	if open["open"] {
		t.Fatal("a refused cross-site post opened sign-up")
	}

	// An API key carries no ambient credential: cross-site headers or not,
	// it works.
	for i, cs := range crossSite {
		name := fmt.Sprintf("key-room-%d", i)
		h := lvKeyHeader(srv.APIKey, append([]string{"Content-Type", "application/json"}, cs...)...)
		st, out := lvHTTP(t, srv, "POST", "/api/v1/rooms", h, fmt.Sprintf(`{"name":%q}`, name))
		lvWant(t, fmt.Sprintf("API key POST /rooms %v", cs), st, out, http.StatusCreated, "")
		if !lvRoomExists(t, srv, name) {
			t.Fatalf("room %s not created", name)
		}
	}
	// The cookie itself works from the server's own origin, and from a
	// client that sends neither header.
	for i, same := range [][]string{
		{"Origin", srv.URL},
		{"Sec-Fetch-Site", "same-origin"},
		{"Sec-Fetch-Site", "none"},
		nil,
	} {
		name := fmt.Sprintf("cookie-room-%d", i)
		h := lvCookie(session, append([]string{"Content-Type", "application/json"}, same...)...)
		st, out := lvHTTP(t, srv, "POST", "/api/v1/rooms", h, fmt.Sprintf(`{"name":%q}`, name))
		lvWant(t, fmt.Sprintf("cookie POST /rooms %v", same), st, out, http.StatusCreated, "")
	}
	// Reads change nothing and are let through (as CrossOriginProtection
	// does for GET).
	st, out := lvHTTP(t, srv, "GET", "/api/v1/rooms", lvCookie(session, "Sec-Fetch-Site", "cross-site"), nil)
	lvWant(t, "cross-site cookie GET /rooms", st, out, http.StatusOK, "")
}

// TestSecurityOwnership: a second account's session cookie (and API key)
// can neither read nor change the first account's rooms, tokens, keys or
// sockets; nothing changes and no live socket hears of it.
func TestSecurityOwnership(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("sec-room", map[string]any{"echo": false})
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(
		testserver.Sub("sec-room", true, true), testserver.Sub("lobby", true, true))})
	sock, sockID := lvDial(t, srv, tok.Secret)
	var keys []struct{ ID string }
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/api-keys", nil, &keys)
	if len(keys) == 0 {
		t.Fatal("admin has no API keys")
	}
	adminKeyID := keys[0].ID

	bob := lvName("bob")
	bobKey := srv.NewAccount(bob)
	bobSession := lvLogin(t, srv, bob, "password-"+bob)
	tokID := tok.ID
	slot := strings.TrimPrefix(sockID, tokID+"/")

	routes := []struct{ method, path, body string }{
		{"GET", "/api/v1/rooms/sec-room", ""},
		{"PATCH", "/api/v1/rooms/sec-room", `{"echo":true}`},
		{"DELETE", "/api/v1/rooms/sec-room", ""},
		{"GET", "/api/v1/rooms/sec-room/sockets", ""},
		{"POST", "/api/v1/rooms/sec-room/messages", `"intruder"`},
		{"GET", "/api/v1/tokens/" + tokID, ""},
		{"PATCH", "/api/v1/tokens/" + tokID, `{"name":"owned"}`},
		{"DELETE", "/api/v1/tokens/" + tokID, ""},
		{"POST", "/api/v1/tokens/" + tokID + "/regenerate", ""},
		{"PUT", "/api/v1/tokens/" + tokID + "/subscriptions/sec-room", `{"receive":false}`},
		{"DELETE", "/api/v1/tokens/" + tokID + "/subscriptions/sec-room", ""},
		{"DELETE", "/api/v1/api-keys/" + adminKeyID, ""},
		{"DELETE", "/api/v1/sockets/" + tokID + "/" + slot, ""},
	}
	creds := []struct {
		name string
		hdr  func(kv ...string) http.Header
	}{
		{"cookie", func(kv ...string) http.Header { return lvCookie(bobSession, kv...) }},
		{"api key", func(kv ...string) http.Header { return lvKeyHeader(bobKey, kv...) }},
	}
	for _, c := range creds {
		for _, r := range routes {
			var body any
			if r.body != "" {
				body = r.body
			}
			st, out := lvHTTP(t, srv, r.method, r.path, c.hdr("Content-Type", "application/json"), body)
			lvWant(t, fmt.Sprintf("bob (%s) %s %s", c.name, r.method, r.path), st, out, http.StatusNotFound, "not_found")
		}
		// Naming the room as admin/sec-room is refused outright.
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/api/v1/rooms/admin%2Fsec-room", ""},
			{"PATCH", "/api/v1/rooms/admin%2Fsec-room", `{"echo":true}`},
			{"DELETE", "/api/v1/rooms/admin%2Fsec-room", ""},
			{"GET", "/api/v1/rooms/admin%2Fsec-room/sockets", ""},
			{"POST", "/api/v1/rooms/admin%2Fsec-room/messages", `"intruder"`},
		} {
			var body any
			if r.body != "" {
				body = r.body
			}
			st, out := lvHTTP(t, srv, r.method, r.path, c.hdr("Content-Type", "application/json"), body)
			lvWant(t, fmt.Sprintf("bob (%s) %s %s", c.name, r.method, r.path), st, out, http.StatusForbidden, "forbidden")
		}
		// Bob's own lists show none of admin's things.
		for _, p := range []string{"/api/v1/rooms", "/api/v1/tokens", "/api/v1/api-keys"} {
			st, out := lvHTTP(t, srv, "GET", p, c.hdr(), nil)
			if st != http.StatusOK || strings.Contains(string(out), "sec-room") || strings.Contains(string(out), tokID) ||
				strings.Contains(string(out), adminKeyID) {
				t.Fatalf("bob (%s) GET %s: %d %s", c.name, p, st, out)
			}
		}
		// Bob cannot give his token a subscription to admin's room.
		st, out := lvHTTP(t, srv, "POST", "/api/v1/tokens", c.hdr("Content-Type", "application/json"),
			`{"name":"sneaky","subscriptions":[{"room":"admin/sec-room"}]}`)
		lvWant(t, fmt.Sprintf("bob (%s) subscribes to admin/sec-room", c.name), st, out, http.StatusForbidden, "forbidden")
	}

	// Nothing of admin's changed, and the live socket heard nothing.
	lvSilent(t, sock)
	lvPing(t, sock)
	var room map[string]any
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/rooms/sec-room", nil, &room)
	if room["echo"] != false {
		t.Fatalf("room changed: %v", room)
	}
	var got struct {
		Name          string           `json:"name"`
		Subscriptions []map[string]any `json:"subscriptions"`
	}
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/tokens/"+tokID, nil, &got)
	if got.Name == "owned" || len(got.Subscriptions) != 2 {
		t.Fatalf("token changed: %+v", got)
	}
	for _, s := range got.Subscriptions {
		if s["receive"] != true {
			t.Fatalf("token changed: %+v", got)
		}
	}
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/me", nil, nil) // the admin key still works
	o, _ := lvDial(t, srv, srv.LobbySecret)
	lvSend(t, o, "lobby", "still mine")
	lvMessage(t, sock, "lobby", "still mine")
}

// TestSecuritySecretsNotLogged: after a session of logins, token and key
// use (good and bad), regeneration, room passwords, the backpipe and
// kicks, no secret appears in the server's log (in supervise mode this
// includes the workers' forwarded logs).
func TestSecuritySecretsNotLogged(t *testing.T) {
	srv := testserver.Start(t)
	secrets := []string{testserver.AdminPassword, srv.APIKey, srv.LobbySecret}

	// Accounts and sessions.
	bob := lvName("bob")
	bobKey := srv.NewAccount(bob)
	secrets = append(secrets, bobKey, "password-"+bob)
	adminSession := lvLogin(t, srv, "admin", testserver.AdminPassword)
	bobSession := lvLogin(t, srv, bob, "password-"+bob)
	secrets = append(secrets, adminSession, bobSession)
	wrongPassword := "typo-" + testserver.AdminPassword
	secrets = append(secrets, wrongPassword)
	if st, out := lvHTTP(t, srv, "POST", "/api/v1/login", http.Header{"Content-Type": {"application/json"}},
		fmt.Sprintf(`{"username":"admin","password":%q}`, wrongPassword)); st != http.StatusUnauthorized {
		t.Fatalf("wrong password login: %d %s", st, out)
	}
	// A password typed into the username field.
	if st, out := lvHTTP(t, srv, "POST", "/api/v1/login", http.Header{"Content-Type": {"application/json"}},
		fmt.Sprintf(`{"username":%q,"password":"x"}`, wrongPassword)); st != http.StatusUnauthorized {
		t.Fatalf("password as username: %d %s", st, out)
	}
	var newPW = "new-" + lvName("pw")
	secrets = append(secrets, newPW)
	if st, out := lvHTTP(t, srv, "PUT", "/api/v1/me/password", lvKeyHeader(bobKey, "Content-Type", "application/json"),
		fmt.Sprintf(`{"old_password":%q,"new_password":%q}`, "password-"+bob, newPW)); st != http.StatusOK {
		t.Fatalf("change password: %d %s", st, out)
	}
	var k2 struct{ ID, Secret string }
	srv.MustAPI(http.StatusCreated, "POST", "/api/v1/api-keys", map[string]string{"name": "second"}, &k2)
	secrets = append(secrets, k2.Secret)
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/api-keys/"+k2.ID, nil, nil)
	if st, _ := srv.APIAs(k2.Secret, "GET", "/api/v1/me", nil); st != http.StatusUnauthorized {
		t.Fatalf("deleted key: %d", st)
	}
	badKey := "pk_" + strings.Repeat("Q", 43)
	secrets = append(secrets, badKey)
	if st, _ := srv.APIAs(badKey, "GET", "/api/v1/me", nil); st != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", st)
	}
	lvHTTP(t, srv, "GET", "/api/v1/me", http.Header{"Cookie": {"porthouse_session=forged-" + adminSession}}, nil)

	// Tokens: header, query and first-message auth; bad secrets; a
	// password room; regeneration; deletion.
	roomPW := "room-" + lvName("pw")
	secrets = append(secrets, roomPW)
	srv.CreateRoom("sec-pw", map[string]any{"password": roomPW, "public": true})
	srv.MustAPI(http.StatusOK, "PATCH", "/api/v1/rooms/sec-pw", map[string]any{"password": roomPW + "-2"}, nil)
	secrets = append(secrets, roomPW+"-2")
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(
		testserver.Sub("lobby", true, true), testserver.Sub("sec-pw", true, true))})
	bobTok := lvToken(t, srv, bobKey, nil)
	secrets = append(secrets, tok.Secret, bobTok.Secret)
	a, _ := lvDial(t, srv, tok.Secret)
	q := wstest.MustDial(t, srv.WSURL+"/ws?token="+tok.Secret, nil)
	if m := lvRead(t, q, wstest.Timeout); m.Type() != "welcome" {
		t.Fatalf("query-token dial: %v", m)
	}
	fm := wstest.MustDial(t, srv.WSURL+"/ws", nil)
	fm.WriteJSON(map[string]any{"type": "auth", "token": tok.Secret})
	if m := lvRead(t, fm, wstest.Timeout); m.Type() != "welcome" {
		t.Fatalf("first-message auth: %v", m)
	}
	badTok := "ph_" + strings.Repeat("Z", 43)
	secrets = append(secrets, badTok)
	lvRefused(t, srv.WSURL+"/ws?token="+badTok, "", http.StatusUnauthorized)
	lvRefused(t, srv.WSURL+"/ws/rooms/lobby", badTok, http.StatusUnauthorized)
	fb := wstest.MustDial(t, srv.WSURL+"/ws", nil)
	fb.WriteJSON(map[string]any{"type": "auth", "token": badTok})
	if code := fb.ExpectClose(); code != 4001 {
		t.Fatalf("bad first-message auth closed with %d", code)
	}
	bobSock, _ := lvDial(t, srv, bobTok.Secret)
	bobSock.WriteJSON(map[string]any{"type": "join", "room": "admin/sec-pw", "password": roomPW})
	if m := lvRead(t, bobSock, wstest.Timeout); m.Type() != "error" {
		t.Fatalf("join with the old password: %v", m)
	}
	bobSock.WriteJSON(map[string]any{"type": "join", "room": "admin/sec-pw", "password": roomPW + "-2"})
	if m := lvRead(t, bobSock, wstest.Timeout); m.Type() != "joined" {
		t.Fatalf("join with the password: %v", m)
	}
	lvRefused(t, srv.WSURL+"/ws/rooms/admin%2Fsec-pw?password="+roomPW, bobTok.Secret, http.StatusForbidden)
	pr := lvRaw(t, srv, "admin%2Fsec-pw?password="+roomPW+"-2", bobTok.Secret)
	lvSend(t, a, "lobby", map[string]any{"note": "traffic"})
	lvPublishOK(t, srv, "lobby", "application/json", []byte(`{"backpipe":true}`))
	lvPublish(t, srv, badKey, "lobby", "text/plain", []byte("x"))

	var fresh testserver.Token
	srv.MustAPI(http.StatusOK, "POST", "/api/v1/tokens/"+tok.ID+"/regenerate", nil, &fresh)
	secrets = append(secrets, fresh.Secret)
	lvClosed(t, a, 4001, lvWithin)
	lvClosed(t, q, 4001, lvWithin)
	lvClosed(t, fm, 4001, lvWithin)
	b, bID := lvDial(t, srv, fresh.Secret)
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/sockets/"+bID, nil, nil)
	lvClosed(t, b, 4010, lvWithin)
	srv.MustAPIAs(bobKey, http.StatusNoContent, "DELETE", "/api/v1/tokens/"+bobTok.ID, nil, nil)
	lvClosed(t, bobSock, 4001, lvWithin)
	lvClosed(t, pr, 4001, lvWithin)
	srv.MustAPIAs(bobKey, http.StatusNoContent, "DELETE", "/api/v1/me", nil, nil)
	lvHTTP(t, srv, "POST", "/api/v1/logout", lvCookie(adminSession), nil)

	log := srv.LogText()
	// The log must hold what this test did, sockets included (in supervise
	// mode only the workers log socket lines).
	for _, want := range []string{"login", "token created", "token regenerated", "socket kicked", "socket open", "handshake refused"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the log lacks %q, so this test sees too little of it:\n%s", want, log)
		}
	}
	for _, s := range secrets {
		for _, form := range lvSecretForms(s) {
			if strings.Contains(log, form) {
				t.Errorf("the log contains the secret %q (as %q)", s, form)
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}

// lvSecretForms is a secret as it might be written: whole, without its
// prefix, and JSON- or URL-escaped.
func lvSecretForms(s string) []string {
	forms := []string{s}
	for _, p := range []string{"ph_", "pk_"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			forms = append(forms, rest)
		}
	}
	if j, err := json.Marshal(s); err == nil {
		forms = append(forms, strings.Trim(string(j), `"`))
	}
	return forms
}
