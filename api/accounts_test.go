package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/wire"
)

func signUpBody(name string) map[string]string {
	return map[string]string{"username": name, "password": "pw " + name + " Long-Enough-1"}
}

func TestSignUpClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	e.do("POST", "/api/v1/accounts", cred{}, signUpBody("carol")).wantErr(t, 403, wire.CodeForbidden)
	e.do("POST", "/api/v1/accounts", alice.session, signUpBody("carol")).wantErr(t, 403, wire.CodeForbidden)
	e.do("POST", "/api/v1/accounts", alice.apiKey, signUpBody("carol")).wantErr(t, 403, wire.CodeForbidden)
	e.do("POST", "/api/v1/accounts", cred{key: "pk_nope"}, signUpBody("carol")).wantErr(t, 401, wire.CodeUnauthorized)
}

func TestSignUpOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.OpenSignup = true })
	body := signUpBody("carol")
	e.remember(body["password"])
	res := e.do("POST", "/api/v1/accounts", cred{}, body).want(t, 201)
	obj := res.obj(t)
	wantKeys(t, "account", obj, accountKeys...)
	if obj["username"] != "carol" || obj["is_admin"] != false {
		t.Fatalf("account %v", obj)
	}
	// The new account can log in.
	e.do("POST", "/api/v1/login", cred{}, body).want(t, 200)
	// Taken name, bad name, short password, admin flag without being admin.
	e.do("POST", "/api/v1/accounts", cred{}, signUpBody("carol")).wantErr(t, 409, wire.CodeConflict)
	e.do("POST", "/api/v1/accounts", cred{}, signUpBody("Bad Name")).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/accounts", cred{}, map[string]string{"username": "dave", "password": "x"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/accounts", cred{}, map[string]any{"username": "dave", "password": "long enough pw", "is_admin": true}).wantErr(t, 403, wire.CodeForbidden)

	// Switching open sign-up off closes the door.
	e.api.SetOpenSignup(false)
	e.do("POST", "/api/v1/accounts", cred{}, signUpBody("erin")).wantErr(t, 403, wire.CodeForbidden)
}

func TestSignUpByAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin := e.newUser("admin", true)
	res := e.do("POST", "/api/v1/accounts", admin.session, signUpBody("carol")).want(t, 201)
	wantKeys(t, "account", res.obj(t), accountKeys...)
	e.do("POST", "/api/v1/accounts", admin.apiKey, signUpBody("dave")).want(t, 201)
	body := map[string]any{"username": "root2", "password": "long enough pw", "is_admin": true}
	if got := e.do("POST", "/api/v1/accounts", admin.apiKey, body).want(t, 201).obj(t); got["is_admin"] != true {
		t.Fatalf("admin-made admin %v", got)
	}

	list := e.do("GET", "/api/v1/accounts", admin.session, nil).want(t, 200).arr(t)
	if len(list) != 4 {
		t.Fatalf("accounts %v", list)
	}
	for _, a := range list {
		wantKeys(t, "account", a, accountKeys...)
	}
}

func TestOpenSignupSetting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin := e.newUser("admin", true)
	alice := e.newUser("alice", false)
	if got := e.do("GET", "/api/v1/settings/open-signup", alice.session, nil).want(t, 200).obj(t); got["open"] != false {
		t.Fatalf("open-signup %v", got)
	}
	e.do("PUT", "/api/v1/settings/open-signup", alice.session, map[string]bool{"open": true}).wantErr(t, 403, wire.CodeForbidden)
	e.do("PUT", "/api/v1/settings/open-signup", admin.session, map[string]any{}).wantErr(t, 400, wire.CodeBadRequest)
	if got := e.do("PUT", "/api/v1/settings/open-signup", admin.session, map[string]bool{"open": true}).want(t, 200).obj(t); got["open"] != true {
		t.Fatalf("open-signup %v", got)
	}
	if !e.api.OpenSignup() {
		t.Fatal("OpenSignup() still false")
	}
	v, ok, err := e.st.Setting(context.Background(), api.SettingOpenSignup)
	if err != nil || !ok || v != "true" {
		t.Fatalf("stored setting %q %v %v", v, ok, err)
	}
	e.do("POST", "/api/v1/accounts", cred{}, signUpBody("carol")).want(t, 201)
	e.do("GET", "/api/v1/accounts", alice.session, nil).wantErr(t, 403, wire.CodeForbidden)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		e := newEnv(t, func(c *api.Config) { c.Secure = secure })
		alice := e.newUser("alice", false)
		res := e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": alice.password}).want(t, 200)
		obj := res.obj(t)
		wantKeys(t, "account", obj, accountKeys...)
		if obj["username"] != "alice" {
			t.Fatalf("login answer %v", obj)
		}
		c := res.cookie(t)
		e.remember(c.Value)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure || c.MaxAge <= 0 {
			t.Fatalf("cookie %+v (secure %v)", c, secure)
		}
		raw := res.header.Get("Set-Cookie")
		if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Lax") || strings.Contains(raw, "Secure") != secure {
			t.Fatalf("Set-Cookie %q", raw)
		}
		me := e.do("GET", "/api/v1/me", cred{cookie: c.Value}, nil).want(t, 200).obj(t)
		if me["username"] != "alice" {
			t.Fatalf("me %v", me)
		}
	}
}

func TestLoginBad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.newUser("alice", false)
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": "wrong password"}).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "nobody", "password": "wrong password"}).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "NOT valid", "password": "x"}).wantErr(t, 401, wire.CodeUnauthorized)
	res := e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": "wrong password"})
	if len(res.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("failed login set a cookie: %v", res.header.Values("Set-Cookie"))
	}
	e.do("GET", "/api/v1/me", cred{}, nil).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("GET", "/api/v1/me", cred{cookie: "not-a-session"}, nil).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("GET", "/api/v1/me", cred{key: "pk_not-a-key"}, nil).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("GET", "/api/v1/me", cred{key: "ph_a-token-secret"}, nil).wantErr(t, 401, wire.CodeUnauthorized)
}

func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.LoginRate = 3 })
	alice := user{name: "alice", password: "alice password 1"}
	e.remember(alice.password)
	if _, err := e.st.CreateAccount(context.Background(), "alice", alice.password, false); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{"username": "alice", "password": "wrong password"}
	for range 3 {
		e.do("POST", "/api/v1/login", cred{}, bad).wantErr(t, 401, wire.CodeUnauthorized)
	}
	// Even the right password is refused now: the bucket is per username.
	good := map[string]string{"username": "alice", "password": alice.password}
	e.do("POST", "/api/v1/login", cred{}, good).wantErr(t, 429, wire.CodeRateLimited)

	// Per IP: five times the per-username rate across names.
	e2 := newEnv(t, func(c *api.Config) { c.LoginRate = 1 })
	for i := range 5 {
		e2.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "u" + string(rune('a'+i)), "password": "wrong password"}).wantErr(t, 401, wire.CodeUnauthorized)
	}
	e2.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "zed", "password": "wrong password"}).wantErr(t, 429, wire.CodeRateLimited)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	res := e.do("POST", "/api/v1/logout", alice.session, nil).want(t, 204)
	c := res.cookie(t)
	if c.Value != "" || c.MaxAge >= 0 {
		t.Fatalf("logout cookie %+v, want cleared", c)
	}
	e.do("GET", "/api/v1/me", alice.session, nil).wantErr(t, 401, wire.CodeUnauthorized)
	// Logging out twice, or without a session, is fine.
	e.do("POST", "/api/v1/logout", alice.session, nil).want(t, 204)
	e.do("POST", "/api/v1/logout", cred{}, nil).want(t, 204)
	// The API key still works.
	e.do("GET", "/api/v1/me", alice.apiKey, nil).want(t, 200)
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	newPW := "a brand new password"
	e.remember(newPW)
	e.do("PUT", "/api/v1/me/password", alice.session, map[string]string{"old_password": "wrong password", "new_password": newPW}).wantErr(t, 403, wire.CodeForbidden)
	e.do("PUT", "/api/v1/me/password", alice.session, map[string]string{"old_password": alice.password, "new_password": "short"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("PUT", "/api/v1/me/password", alice.session, map[string]string{"old_password": alice.password, "new_password": newPW}).want(t, 200)
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": alice.password}).wantErr(t, 401, wire.CodeUnauthorized)
	c := e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": newPW}).want(t, 200).cookie(t)
	e.remember(c.Value)
}

func TestDeleteMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin := e.newUser("admin", true)
	alice := e.newUser("alice", false)
	e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": "lobby"}).want(t, 201)
	t1 := e.createToken(alice.apiKey, map[string]any{"name": "a"})
	t2 := e.createToken(alice.apiKey, map[string]any{"name": "b"})
	e.live.takeCalls()

	res := e.do("DELETE", "/api/v1/me", alice.session, nil).want(t, 204)
	if c := res.cookie(t); c.MaxAge >= 0 {
		t.Fatalf("cookie not cleared: %+v", c)
	}
	calls := e.live.takeCalls()
	if len(calls) != 3 || !containsAll(calls, "TokenRevoked "+t1, "TokenRevoked "+t2, "RoomDeleted alice/lobby") ||
		calls[2] != "RoomDeleted alice/lobby" {
		t.Fatalf("Live calls %q", calls)
	}
	e.do("GET", "/api/v1/me", alice.apiKey, nil).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": "alice", "password": alice.password}).wantErr(t, 401, wire.CodeUnauthorized)

	// The last admin stays.
	e.do("DELETE", "/api/v1/me", admin.apiKey, nil).wantErr(t, 409, wire.CodeConflict)
	e.do("GET", "/api/v1/me", admin.apiKey, nil).want(t, 200)
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
