package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/ui"
	"github.com/porthouse/porthouse/wire"
)

// fakeLive is a hand-written api.Live: fixed room members, recorded
// revocations.
type fakeLive struct {
	mu      sync.Mutex
	members map[string][]api.SocketInfo // "owner/room" → sockets
	revoked []string
}

var _ api.Live = (*fakeLive)(nil)

func (f *fakeLive) TokenUpdated(store.Token) {}
func (f *fakeLive) TokenRevoked(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
}
func (f *fakeLive) RoomUpdated(store.Room)         {}
func (f *fakeLive) RoomDeleted(owner, name string) {}
func (f *fakeLive) Publish(context.Context, string, string, api.Publication) (string, error) {
	return "", wire.Errorf(wire.CodeNotFound, "no")
}
func (f *fakeLive) RoomSockets(owner, room string) []api.SocketInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members[owner+"/"+room])
}
func (f *fakeLive) Kick(string, string) error { return wire.Errorf(wire.CodeNotFound, "no") }

func (f *fakeLive) TransientRoom(string, string) bool { return false }

func (f *fakeLive) setMembers(key string, socks ...api.SocketInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.members == nil {
		f.members = map[string][]api.SocketInfo{}
	}
	f.members[key] = socks
}

func (f *fakeLive) revokedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.revoked)
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is the UI and the JSON API on one httptest server, with a real store.
type env struct {
	t     *testing.T
	store *store.Store
	api   *api.Server
	live  *fakeLive
	srv   *httptest.Server
	logs  *lockedBuffer
}

const adminPassword = "admin-password"

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvMetrics(t, nil)
}

// newEnvMetrics is newEnv with the UI reading metrics from g.
func newEnvMetrics(t *testing.T, g prometheus.Gatherer) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "ui.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.CreateAccount(ctx, "admin", adminPassword, true); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: logs})
	live := &fakeLive{}
	apiSrv := api.New(api.Config{Store: st, Live: live, Logger: log.Named("api"), LoginRate: -1})
	t.Cleanup(apiSrv.Close)
	h := ui.New(ui.Config{Store: st, Live: live, API: apiSrv, Logger: log.Named("ui"), Metrics: g})
	mux := http.NewServeMux()
	mux.Handle("/api/", apiSrv.Handler())
	mux.Handle("/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, store: st, api: apiSrv, live: live, srv: srv, logs: logs}
}

// client is a browser-like HTTP client: a cookie jar and no redirects.
type client struct {
	e *env
	c *http.Client
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login returns a client logged in as user, with a session made in the
// store (bcrypt under -race is slow; the login API has its own tests, and
// TestUILoginAndSignupPages goes through it once).
func (e *env) login(user string) *client {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.store.AccountByName(ctx, user)
	if err != nil {
		e.t.Fatalf("account %s: %v", user, err)
	}
	secret, err := e.store.CreateSession(ctx, a.ID, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.anon()
	c.c.Jar.SetCookies(mustURL(e.t, e.srv.URL), []*http.Cookie{{Name: api.SessionCookie, Value: secret, Path: "/"}})
	return c
}

// addAccount creates another, non-admin account.
func (e *env) addAccount(user string) {
	e.t.Helper()
	if _, err := e.store.CreateAccount(context.Background(), user, user+"-password", false); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, body any, header http.Header) result {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(path string) result {
	c.e.t.Helper()
	return c.do("GET", path, nil, nil)
}

// must calls the API and decodes the answer, failing unless status is want.
func (c *client) must(want int, method, path string, body, out any) {
	c.e.t.Helper()
	res := c.do(method, path, body, nil)
	if res.status != want {
		c.e.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.status, want, res.body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(res.body), out); err != nil {
			c.e.t.Fatalf("%s %s: %v in %q", method, path, err, res.body)
		}
	}
}

func TestUIRedirectsToLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.anon()
	for _, tc := range []struct{ path, location string }{
		{"/", "/login?next=%2F"},
		{"/rooms", "/login?next=%2Frooms"},
		{"/rooms/lobby/console", "/login?next=%2Frooms%2Flobby%2Fconsole"},
		{"/tokens?x=1", "/login?next=%2Ftokens%3Fx%3D1"},
		{"/keys", "/login?next=%2Fkeys"},
		{"/account", "/login?next=%2Faccount"},
		{"/admin", "/login?next=%2Fadmin"},
	} {
		res := c.get(tc.path)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != tc.location {
			t.Errorf("GET %s: %d %q, want 303 %q", tc.path, res.status, res.header.Get("Location"), tc.location)
		}
	}
	// A stale cookie is no session either.
	u := e.srv.URL
	req, _ := http.NewRequest("GET", u+"/", nil)
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: "bm90LWEtc2Vzc2lvbg"})
	res, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("stale cookie: %d, want 303", res.StatusCode)
	}
	if res := c.get("/ui/stats"); res.status != http.StatusUnauthorized || !strings.Contains(res.body, `"unauthorized"`) {
		t.Errorf("GET /ui/stats anonymous: %d %s", res.status, res.body)
	}
	if res := c.do("POST", "/ui/console/lobby", nil, nil); res.status != http.StatusUnauthorized {
		t.Errorf("POST /ui/console anonymous: %d %s", res.status, res.body)
	}
}

func TestUILoginAndSignupPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.anon()
	c.must(http.StatusOK, "POST", "/api/v1/login", map[string]string{"username": "admin", "password": adminPassword}, nil)
	if res := c.get("/login?next=%2Frooms"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/rooms" {
		t.Fatalf("logged-in /login: %d %q", res.status, res.header.Get("Location"))
	}
	c.must(http.StatusNoContent, "POST", "/api/v1/logout", nil, nil)
	res := c.get("/login?next=%2Frooms")
	if res.status != http.StatusOK || !strings.Contains(res.body, `data-form="login"`) || !strings.Contains(res.body, `data-next="/rooms"`) {
		t.Fatalf("login page: %d %s", res.status, res.body)
	}
	if strings.Contains(res.body, `href="/signup"`) {
		t.Error("login page offers sign-up while it is closed")
	}
	if res := c.get("/signup"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/login" {
		t.Errorf("closed /signup: %d %q", res.status, res.header.Get("Location"))
	}
	// An open redirect through next is refused.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		res := c.get("/login?next=" + strings.NewReplacer("/", "%2F", ":", "%3A", "\\", "%5C").Replace(next))
		if !strings.Contains(res.body, `data-next="/"`) {
			t.Errorf("next=%q not reset to /", next)
		}
	}

	e.api.SetOpenSignup(true)
	if res := c.get("/login"); !strings.Contains(res.body, `href="/signup"`) {
		t.Error("login page hides sign-up while it is open")
	}
	res = c.get("/signup")
	if res.status != http.StatusOK || !strings.Contains(res.body, `data-form="signup"`) {
		t.Fatalf("open /signup: %d", res.status)
	}
	// Sign up through the API as the page does, then the pages are ours.
	c.must(http.StatusCreated, "POST", "/api/v1/accounts", map[string]string{"username": "carol", "password": "carol-password"}, nil)
	c.must(http.StatusOK, "POST", "/api/v1/login", map[string]string{"username": "carol", "password": "carol-password"}, nil)
	res = c.get("/")
	if res.status != http.StatusOK || !strings.Contains(res.body, "carol") {
		t.Fatalf("dashboard after sign-up: %d", res.status)
	}
	if res := c.get("/login?next=%2Ftokens"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/tokens" {
		t.Errorf("logged-in /login: %d %q", res.status, res.header.Get("Location"))
	}
	if res := c.get("/signup"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/" {
		t.Errorf("logged-in /signup: %d %q", res.status, res.header.Get("Location"))
	}
}

func TestUIPagesRender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.login("admin")
	admin.must(http.StatusCreated, "POST", "/api/v1/rooms", map[string]any{"name": "lobby", "echo": true, "format": "json", "password": "pw-secret-1"}, nil)
	admin.must(http.StatusCreated, "POST", "/api/v1/rooms", map[string]any{"name": "sensors.kitchen", "public": true, "max_members": 5}, nil)
	var tok struct{ ID string }
	admin.must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{
		"name": "kitchen <sensor>", "subscriptions": []any{map[string]any{"room": "sensors.kitchen", "send": false, "formats": []string{"binary"}}},
	}, &tok)
	admin.must(http.StatusCreated, "POST", "/api/v1/api-keys", map[string]string{"name": "billing"}, nil)
	e.live.setMembers("admin/sensors.kitchen", api.SocketInfo{ID: tok.ID + "/1", Token: tok.ID, Mode: "raw"})

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{`data-page="dashboard"`, `data-stat="sockets">1<`, `data-stat="rooms">2<`, `data-stat="tokens">1<`, "sensors.kitchen", `aria-current="page">Dashboard`}},
		{"/rooms", []string{`data-room-row="lobby"`, `data-room-row="sensors.kitchen"`, ">json<", ">echo<", ">password<", "public", "≤ 5 members", `data-members="sensors.kitchen">1<`}},
		{"/rooms/sensors.kitchen", []string{`data-form="room-edit"`, tok.ID + "/1", "kitchen &lt;sensor&gt;", `data-members-of="sensors.kitchen"`}},
		{"/rooms/lobby/console", []string{`id="console"`, `data-room="lobby"`, `id="console-log"`}},
		{"/tokens", []string{`data-token-row="` + tok.ID + `"`, "kitchen &lt;sensor&gt;", `data-token-online="` + tok.ID + `">1<`, `data-form="token-create"`, `id="secret-panel"`, `value="lobby"`}},
		{"/tokens/" + tok.ID, []string{`data-token-subs="` + tok.ID + `"`, `data-sub-room="lobby"`, `data-sub-room="sensors.kitchen"`}},
		{"/keys", []string{"billing", `data-form="key-create"`}},
		{"/account", []string{`data-form="password"`, `data-form="account-delete"`}},
		{"/admin", []string{`data-account-row="admin"`, `data-open-signup`}},
	} {
		res := admin.get(tc.path)
		if res.status != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, res.status)
			continue
		}
		if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("GET %s: no %q in the page", tc.path, w)
			}
		}
		if strings.Contains(res.body, "pw-secret-1") {
			t.Errorf("GET %s shows a room password", tc.path)
		}
	}

	// Bob sees his own empty world, not the admin page, and not admin's rooms.
	e.addAccount("bob")
	bob := e.login("bob")
	if res := bob.get("/admin"); res.status != http.StatusForbidden || !strings.Contains(res.body, "Admins only") {
		t.Errorf("bob /admin: %d", res.status)
	}
	if res := bob.get("/"); strings.Contains(res.body, `href="/admin"`) || strings.Contains(res.body, "sensors.kitchen") {
		t.Error("bob's dashboard shows admin things")
	}
	for _, p := range []string{"/rooms/lobby", "/rooms/lobby/console", "/tokens/" + tok.ID, "/rooms/NOT_A_NAME", "/nope"} {
		if res := bob.get(p); res.status != http.StatusNotFound || !strings.Contains(res.body, "Not found") {
			t.Errorf("bob GET %s: %d, want the 404 page", p, res.status)
		}
	}
	if res := e.anon().get("/nope"); res.status != http.StatusNotFound {
		t.Errorf("anonymous unknown page: %d", res.status)
	}
	if res := bob.get("/ui/nope"); res.status != http.StatusNotFound || !strings.Contains(res.body, `"not_found"`) {
		t.Errorf("unknown /ui/ endpoint: %d %s", res.status, res.body)
	}
}

func TestUIHeadersAndAssets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login("admin")
	res := c.get("/")
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	csp := res.header.Get("Content-Security-Policy")
	for _, w := range []string{"script-src 'self'", "frame-ancestors 'none'", "connect-src 'self' ws://" + strings.TrimPrefix(e.srv.URL, "http://")} {
		if !strings.Contains(csp, w) {
			t.Errorf("CSP %q lacks %q", csp, w)
		}
	}
	if res.header.Get("X-Frame-Options") != "DENY" || res.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers: %v", res.header)
	}
	if strings.Contains(res.body, "<script>") || strings.Contains(res.body, " onclick=") {
		t.Error("inline script in a page")
	}
	for _, a := range []struct{ name, ctype string }{
		{"app.css", "text/css; charset=utf-8"},
		{"app.js", "text/javascript; charset=utf-8"},
		{"favicon.svg", "image/svg+xml"},
	} {
		i := strings.Index(res.body, "/ui/assets/"+a.name+"?v=")
		if i < 0 {
			t.Errorf("page does not link %s with a version", a.name)
			continue
		}
		url := res.body[i:]
		url = url[:strings.IndexByte(url, '"')]
		got := e.anon().get(url)
		if got.status != http.StatusOK || got.header.Get("Content-Type") != a.ctype || !strings.Contains(got.header.Get("Cache-Control"), "immutable") || len(got.body) == 0 {
			t.Errorf("GET %s: %d %q %q", url, got.status, got.header.Get("Content-Type"), got.header.Get("Cache-Control"))
		}
		if unversioned := e.anon().get("/ui/assets/" + a.name); unversioned.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("unversioned %s cached: %q", a.name, unversioned.header.Get("Cache-Control"))
		}
	}
	if res := e.anon().get("/ui/assets/nope.js"); res.status != http.StatusNotFound {
		t.Errorf("missing asset: %d", res.status)
	}
}

// TestUISecretsNeverRendered creates every kind of secret the UI hands out
// and then reads every page: no secret is in any of them, nor in the log.
func TestUISecretsNeverRendered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login("admin")
	c.must(http.StatusCreated, "POST", "/api/v1/rooms", map[string]any{"name": "lobby"}, nil)
	var tok, regen struct{ ID, Secret string }
	c.must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "t1", "subscriptions": []any{map[string]any{"room": "lobby"}}}, &tok)
	var tok2 struct{ ID, Secret string }
	c.must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "t2"}, &tok2)
	c.must(http.StatusOK, "POST", "/api/v1/tokens/"+tok2.ID+"/regenerate", nil, &regen)
	var key struct{ ID, Secret string }
	c.must(http.StatusCreated, "POST", "/api/v1/api-keys", map[string]string{"name": "k"}, &key)
	var console struct{ ID, Secret string }
	c.must(http.StatusCreated, "POST", "/ui/console/lobby", nil, &console)

	secrets := map[string]string{"token": tok.Secret, "token (old)": tok2.Secret, "regenerated": regen.Secret, "api key": key.Secret, "console": console.Secret}
	for what, s := range secrets {
		if len(s) < 20 {
			t.Fatalf("%s secret %q", what, s)
		}
	}
	cookie := ""
	for _, ck := range c.c.Jar.Cookies(mustURL(t, e.srv.URL)) {
		if ck.Name == api.SessionCookie {
			cookie = ck.Value
		}
	}
	secrets["session"] = cookie
	pages := []string{"/", "/rooms", "/rooms/lobby", "/rooms/lobby/console", "/tokens", "/tokens/" + tok.ID, "/tokens/" + tok2.ID, "/tokens/" + console.ID, "/keys", "/account", "/admin", "/ui/stats", "/login", "/nope"}
	for _, p := range pages {
		res := c.get(p)
		if res.status >= 500 {
			t.Errorf("GET %s: %d", p, res.status)
		}
		for what, s := range secrets {
			if strings.Contains(res.body, s) {
				t.Errorf("GET %s shows the %s secret", p, what)
			}
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "console token created") {
		t.Errorf("no log line for the console token:\n%s", logs)
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the %s secret is in the log", what)
		}
	}
}

func TestUIConsoleToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login("admin")
	c.must(http.StatusCreated, "POST", "/api/v1/rooms", map[string]any{"name": "lobby"}, nil)

	res := c.do("POST", "/ui/console/lobby", nil, nil)
	if res.status != http.StatusCreated || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("console token: %d %q %s", res.status, res.header.Get("Cache-Control"), res.body)
	}
	var ans struct {
		ID, Secret, Room string
		ExpiresAt        time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(res.body), &ans); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ans.Secret, "ph_") || !strings.HasPrefix(ans.ID, "tk_") || ans.Room != "lobby" {
		t.Fatalf("answer %s", res.body)
	}
	if d := time.Until(ans.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v, want an hour", d)
	}
	// The token is what the console needs, and the secret really is its own.
	got, err := e.store.TokenBySecret(context.Background(), ans.Secret)
	if err != nil || got.ID != ans.ID {
		t.Fatalf("TokenBySecret: %v %+v", err, got)
	}
	want := []store.Subscription{{Room: "lobby", Send: true, Receive: true, Formats: []string{"text", "binary"}}}
	if got.Name != "console:lobby" || got.MaxConnections != 1 || !got.AutoJoin || got.ExpiresAt == nil || !equalSubs(got.Subscriptions, want) {
		t.Errorf("console token %+v", got)
	}

	// Cross-site requests are refused; nothing is created.
	adminID := e.adminID()
	n, _ := e.store.CountTokens(context.Background(), adminID)
	for name, h := range map[string]http.Header{
		"sec-fetch-site": {"Sec-Fetch-Site": {"cross-site"}},
		"origin":         {"Origin": {"https://evil.example"}},
	} {
		if res := c.do("POST", "/ui/console/lobby", nil, h); res.status != http.StatusForbidden {
			t.Errorf("%s cross-site console token: %d", name, res.status)
		}
	}
	if res := c.do("POST", "/ui/console/lobby", nil, http.Header{"Sec-Fetch-Site": {"same-origin"}}); res.status != http.StatusCreated {
		t.Errorf("same-origin console token: %d", res.status)
	}
	if m, _ := e.store.CountTokens(context.Background(), adminID); m != n+1 {
		t.Errorf("tokens %d → %d, want one more", n, m)
	}
	for _, room := range []string{"nope", "BAD"} {
		if res := c.do("POST", "/ui/console/"+room, nil, nil); res.status != http.StatusNotFound {
			t.Errorf("console for %s: %d", room, res.status)
		}
	}

	// An expired console token is swept (and revoked) by the next console.
	past := time.Now().Add(-time.Minute)
	pastPtr := &past
	name := "console:lobby"
	old, _, err := e.store.CreateToken(context.Background(), adminID, store.TokenPatch{Name: &name, ExpiresAt: &pastPtr})
	if err != nil {
		t.Fatal(err)
	}
	keepName := "console-like but mine"
	keep, _, err := e.store.CreateToken(context.Background(), adminID, store.TokenPatch{Name: &keepName, ExpiresAt: &pastPtr})
	if err != nil {
		t.Fatal(err)
	}
	c.must(http.StatusCreated, "POST", "/ui/console/lobby", nil, nil)
	if _, err := e.store.Token(context.Background(), adminID, old.ID); err == nil {
		t.Error("expired console token still there")
	}
	if _, err := e.store.Token(context.Background(), adminID, keep.ID); err != nil {
		t.Errorf("a token not made by the console was swept: %v", err)
	}
	if !slices.Contains(e.live.revokedIDs(), old.ID) {
		t.Errorf("swept token not revoked: %v", e.live.revokedIDs())
	}
}

func TestUIStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login("admin")
	for _, r := range []string{"a", "b", "c"} {
		c.must(http.StatusCreated, "POST", "/api/v1/rooms", map[string]any{"name": r}, nil)
	}
	c.must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "x"}, nil)
	// One socket in two rooms counts once; bob's room of the same name is
	// not admin's.
	e.live.setMembers("admin/a", api.SocketInfo{ID: "tk_1/1", Token: "tk_1"}, api.SocketInfo{ID: "tk_2/1", Token: "tk_2"})
	e.live.setMembers("admin/b", api.SocketInfo{ID: "tk_1/1", Token: "tk_1"}, api.SocketInfo{ID: "tk_1/2", Token: "tk_1"})
	e.live.setMembers("bob/c", api.SocketInfo{ID: "tk_9/1", Token: "tk_9"})
	var s struct {
		Sockets, Rooms, Tokens int
		Members                map[string]int
		TokenSockets           map[string]int `json:"token_sockets"`
	}
	c.must(http.StatusOK, "GET", "/ui/stats", nil, &s)
	if s.Sockets != 3 || s.Rooms != 3 || s.Tokens != 1 {
		t.Errorf("stats %+v", s)
	}
	if s.Members["a"] != 2 || s.Members["b"] != 2 || s.Members["c"] != 0 {
		t.Errorf("members %v", s.Members)
	}
	if s.TokenSockets["tk_1"] != 2 || s.TokenSockets["tk_2"] != 1 || s.TokenSockets["tk_9"] != 0 {
		t.Errorf("token sockets %v", s.TokenSockets)
	}
	// Without a gatherer there are no server figures, even for an admin.
	if keys := statsKeys(t, c); slices.Contains(keys, "server") {
		t.Errorf("server figures without a gatherer: %v", keys)
	}
	if res := c.get("/"); strings.Contains(res.body, "data-server-panel") {
		t.Error("server panel without a gatherer")
	}
}

// workerMetrics are the socket-path collectors of one fake worker, with the
// names, labels and const label worker="N" of package metrics.
type workerMetrics struct {
	reg        *prometheus.Registry
	sockets    *prometheus.GaugeVec
	handshakes *prometheus.CounterVec
	in         *prometheus.CounterVec
	closes     *prometheus.CounterVec
	deliveries prometheus.Counter
	bytesOut   prometheus.Counter
}

func newWorkerMetrics(worker string) *workerMetrics {
	reg := prometheus.NewRegistry()
	cl := prometheus.Labels{"worker": worker}
	counterVec := func(name, label string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name, ConstLabels: cl}, []string{label})
		reg.MustRegister(c)
		return c
	}
	counter := func(name string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name, ConstLabels: cl})
		reg.MustRegister(c)
		return c
	}
	w := &workerMetrics{
		reg:        reg,
		sockets:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "porthouse_sockets_open", Help: "porthouse_sockets_open", ConstLabels: cl}, []string{"mode"}),
		handshakes: counterVec("porthouse_handshakes_total", "result"),
		in:         counterVec("porthouse_messages_in_total", "mode"),
		closes:     counterVec("porthouse_socket_closes_total", "code"),
		deliveries: counter("porthouse_deliveries_total"),
		bytesOut:   counter("porthouse_bytes_out_total"),
	}
	reg.MustRegister(w.sockets)
	return w
}

// failingGatherer is a gatherer that is down (a worker restarting).
type failingGatherer struct{}

func (failingGatherer) Gather() ([]*dto.MetricFamily, error) { return nil, errors.New("worker 3 down") }

// serverFigures is the "server" object of GET /ui/stats.
type serverFigures struct {
	SampledAt          int64 `json:"sampled_at"`
	SocketsOpen        int64 `json:"sockets_open"`
	MessagesIn         int64 `json:"messages_in_total"`
	Deliveries         int64 `json:"deliveries_total"`
	BytesOut           int64 `json:"bytes_out_total"`
	SlowConsumerCloses int64 `json:"slow_consumer_closes_total"`
	HandshakesRefused  int64 `json:"handshakes_refused_total"`
	Workers            []struct {
		Worker  string
		Sockets int64
	}
	Partial bool
}

func serverStats(t *testing.T, c *client) serverFigures {
	t.Helper()
	var s struct{ Server *serverFigures }
	c.must(http.StatusOK, "GET", "/ui/stats", nil, &s)
	if s.Server == nil {
		t.Fatal("no server figures for an admin")
	}
	return *s.Server
}

// statsKeys lists the top-level fields of the account's GET /ui/stats.
func statsKeys(t *testing.T, c *client) []string {
	t.Helper()
	var raw map[string]json.RawMessage
	c.must(http.StatusOK, "GET", "/ui/stats", nil, &raw)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestUIServerFigures: an admin's /ui/stats and dashboard carry the
// server-wide figures summed over labels and workers, gathered afresh each
// time; an owner gets none of them.
func TestUIServerFigures(t *testing.T) {
	t.Parallel()
	w1, w2 := newWorkerMetrics("1"), newWorkerMetrics("2")
	var down bool
	var mu sync.Mutex
	e := newEnvMetrics(t, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mu.Lock()
		defer mu.Unlock()
		gs := prometheus.Gatherers{w1.reg, w2.reg}
		if down {
			gs = append(gs, failingGatherer{})
		}
		return gs.Gather()
	}))
	w1.sockets.WithLabelValues("envelope").Set(3)
	w1.sockets.WithLabelValues("raw").Set(1)
	w2.sockets.WithLabelValues("envelope").Set(2)
	w1.in.WithLabelValues("envelope").Add(10)
	w1.in.WithLabelValues("raw").Add(5)
	w2.in.WithLabelValues("envelope").Add(7)
	w1.deliveries.Add(30)
	w2.deliveries.Add(12)
	w1.bytesOut.Add(1000)
	w2.bytesOut.Add(2048)
	w1.closes.WithLabelValues("4009").Add(2)
	w1.closes.WithLabelValues("1001").Add(5)
	w2.closes.WithLabelValues("4009").Add(1)
	w1.handshakes.WithLabelValues("ok").Add(9)
	w1.handshakes.WithLabelValues("unauthorized").Add(2)
	w2.handshakes.WithLabelValues("ok").Add(4)
	w2.handshakes.WithLabelValues("rate_limited").Add(1)

	admin := e.login("admin")
	before := time.Now().UnixMilli()
	f := serverStats(t, admin)
	if f.SocketsOpen != 6 || f.MessagesIn != 22 || f.Deliveries != 42 || f.BytesOut != 3048 ||
		f.SlowConsumerCloses != 3 || f.HandshakesRefused != 3 || f.Partial {
		t.Errorf("server figures %+v", f)
	}
	if len(f.Workers) != 2 || f.Workers[0].Worker != "1" || f.Workers[0].Sockets != 4 || f.Workers[1].Worker != "2" || f.Workers[1].Sockets != 2 {
		t.Errorf("per-worker sockets %+v", f.Workers)
	}
	if f.SampledAt < before || f.SampledAt > time.Now().UnixMilli() {
		t.Errorf("sampled_at %d", f.SampledAt)
	}

	// The page renders the panel with the first sample for the script.
	res := admin.get("/")
	for _, w := range []string{`data-server-panel`, `data-server="sockets_open">6<`, `data-rate="messages_in_total" data-total="22"`,
		`data-rate="deliveries_total" data-total="42"`, `data-total="3048"`, `data-server="slow_consumer_closes_total" data-warn>3<`,
		`data-server="handshakes_refused_total" data-warn>3<`, `worker 1</span><b>4</b>`, `worker 2</span><b>2</b>`} {
		if !strings.Contains(res.body, w) {
			t.Errorf("dashboard: no %q", w)
		}
	}

	// Each poll gathers afresh; a gatherer that fails leaves its share out
	// and says so.
	w2.sockets.WithLabelValues("raw").Set(5)
	w1.in.WithLabelValues("raw").Add(100)
	w2.closes.WithLabelValues("4009").Inc()
	mu.Lock()
	down = true
	mu.Unlock()
	f = serverStats(t, admin)
	if f.SocketsOpen != 11 || f.MessagesIn != 122 || f.SlowConsumerCloses != 4 || !f.Partial {
		t.Errorf("second sample %+v", f)
	}

	// An owner gets no server-wide figure, on the page or in the JSON.
	e.addAccount("bob")
	bob := e.login("bob")
	if keys := statsKeys(t, bob); !slices.Equal(keys, []string{"members", "rooms", "sockets", "token_sockets", "tokens"}) {
		t.Errorf("owner's /ui/stats fields %v", keys)
	}
	if res := bob.get("/"); res.status != http.StatusOK || strings.Contains(res.body, "data-server") || strings.Contains(res.body, "Slow consumers") {
		t.Errorf("owner's dashboard shows the server panel: %d", res.status)
	}
}

func TestUINoLive(t *testing.T) {
	t.Parallel()
	st, err := store.Open(filepath.Join(t.TempDir(), "ui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	a, err := st.CreateAccount(ctx, "solo", "solo-password", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateRoom(ctx, a.ID, "lobby", store.RoomPatch{}); err != nil {
		t.Fatal(err)
	}
	sess, err := st.CreateSession(ctx, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := ui.New(ui.Config{Store: st})
	for _, p := range []string{"/", "/rooms/lobby", "/ui/stats", "/signup"} {
		req := httptest.NewRequest("GET", p, nil)
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: sess})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusOK
		if p == "/signup" {
			want = http.StatusSeeOther
		}
		if rec.Code != want {
			t.Errorf("GET %s without Live or API: %d", p, rec.Code)
		}
	}
}

func equalSubs(a, b []store.Subscription) bool {
	return slices.EqualFunc(a, b, func(x, y store.Subscription) bool {
		return x.Room == y.Room && x.Send == y.Send && x.Receive == y.Receive && slices.Equal(x.Formats, y.Formats)
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// adminID is the id of the admin account newEnv made.
func (e *env) adminID() int64 {
	e.t.Helper()
	a, err := e.store.AccountByName(context.Background(), "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}
