package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// fakeLive records every call the API makes to the running server.
type fakeLive struct {
	mu      sync.Mutex
	calls   []string
	updated []store.Token
	pubs    []publishCall
	// sockets answers RoomSockets, keyed "owner/room".
	sockets map[string][]api.SocketInfo
	// live is the set of kickable sockets, keyed "owner socketID".
	live map[string]bool
	// publishErr, when set, is what Publish returns.
	publishErr error
}

type publishCall struct {
	Owner, Room string
	Pub         api.Publication
}

var _ api.Live = (*fakeLive)(nil)

func newFakeLive() *fakeLive {
	return &fakeLive{sockets: map[string][]api.SocketInfo{}, live: map[string]bool{}}
}

func (f *fakeLive) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeLive) TokenUpdated(t store.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TokenUpdated %s", t.ID)
	f.updated = append(f.updated, t)
}

func (f *fakeLive) TokenRevoked(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TokenRevoked %s", id)
}

func (f *fakeLive) RoomUpdated(r store.Room) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RoomUpdated %s/%s", r.Owner, r.Name)
}

func (f *fakeLive) RoomDeleted(owner, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RoomDeleted %s/%s", owner, name)
}

func (f *fakeLive) Publish(_ context.Context, owner, room string, p api.Publication) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Publish %s/%s", owner, room)
	if f.publishErr != nil {
		return "", f.publishErr
	}
	f.pubs = append(f.pubs, publishCall{Owner: owner, Room: room, Pub: p})
	return fmt.Sprintf("m%d", len(f.pubs)), nil
}

func (f *fakeLive) RoomSockets(owner, room string) []api.SocketInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sockets[owner+"/"+room])
}

func (f *fakeLive) TransientRoom(string, string) bool { return false }

func (f *fakeLive) Kick(owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Kick %s %s", owner, id)
	if !f.live[owner+" "+id] {
		return wire.Errorf(wire.CodeNotFound, "no socket %s", id)
	}
	delete(f.live, owner+" "+id)
	return nil
}

// takeCalls returns the calls so far and forgets them.
func (f *fakeLive) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeLive) lastUpdated(t *testing.T) store.Token {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.updated) == 0 {
		t.Fatal("no TokenUpdated call")
	}
	return f.updated[len(f.updated)-1]
}

// syncBuffer is a log sink safe to read while handlers write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one API server on a fresh store.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	st      *store.Store
	live    *fakeLive
	api     *api.Server
	logs    *syncBuffer
	mu      sync.Mutex
	secrets []string // every secret the test saw; the logs must hold none
}

// newEnv starts a server; mod may adjust the config. On cleanup it checks
// that no secret the test saw reached the logs.
func newEnv(t *testing.T, mod func(*api.Config)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, live: newFakeLive(), logs: &syncBuffer{}}
	cfg := api.Config{
		Store:  st,
		Live:   e.live,
		Logger: hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Trace}),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.api = api.New(cfg)
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		e.api.Close()
		e.api.Close() // twice is fine
		st.Close()
		logs := e.logs.String()
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, s := range e.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("logs contain a secret %.6s...", s)
			}
		}
	})
	return e
}

// remember notes a secret that must never reach the logs.
func (e *env) remember(s string) {
	if s == "" {
		e.t.Fatal("empty secret")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, s)
}

// cred is how a request authenticates.
type cred struct {
	cookie string // session cookie value
	key    string // API key secret
}

// user is an account with a session and an API key.
type user struct {
	name, password string
	id             float64
	session        cred
	apiKey         cred
	keyID          string
}

// newUser creates an account in the store, logs it in and makes an API key.
func (e *env) newUser(name string, admin bool) user {
	e.t.Helper()
	u := user{name: name, password: "pw " + name + " Correct-Horse-42"}
	e.remember(u.password)
	acct, err := e.st.CreateAccount(context.Background(), name, u.password, admin)
	if err != nil {
		e.t.Fatal(err)
	}
	u.id = float64(acct.ID)
	res := e.do("POST", "/api/v1/login", cred{}, map[string]string{"username": name, "password": u.password})
	res.want(e.t, 200)
	u.session = cred{cookie: res.cookie(e.t).Value}
	e.remember(u.session.cookie)
	k := e.do("POST", "/api/v1/api-keys", u.session, map[string]string{"name": "svc"})
	k.want(e.t, 201)
	obj := k.obj(e.t)
	u.apiKey = cred{key: obj["secret"].(string)}
	u.keyID = obj["id"].(string)
	e.remember(u.apiKey.key)
	return u
}

// resp is an answer, read whole.
type resp struct {
	status int
	header http.Header
	raw    []byte
	req    string
}

// do sends a request. body: nil (none), string or []byte (as is), else JSON.
func (e *env) do(method, path string, c cred, body any, hdr ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: c.cookie})
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, header: res.Header, raw: raw, req: method + " " + path}
}

// want checks the status; for errors also the JSON error shape.
func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", r.req, r.status, status, r.raw)
	}
	if status >= 400 {
		r.errCode(t)
	}
	return r
}

// errCode checks the body is {"error":{"code","message"}} and returns code.
func (r *resp) errCode(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: error Content-Type %q", r.req, ct)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(r.raw, &body); err != nil {
		t.Fatalf("%s: error body %s: %v", r.req, r.raw, err)
	}
	e := body["error"]
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if len(body) != 1 || len(e) != 2 || code == "" || msg == "" {
		t.Fatalf("%s: error body %s", r.req, r.raw)
	}
	return code
}

// wantErr checks the status and the error code.
func (r *resp) wantErr(t *testing.T, status int, code wire.Code) string {
	t.Helper()
	r.want(t, status)
	if got := r.errCode(t); got != string(code) {
		t.Fatalf("%s: code %q, want %q; body %s", r.req, got, code, r.raw)
	}
	var body wire.ErrorBody
	_ = json.Unmarshal(r.raw, &body)
	return body.Error.Message
}

func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil || m == nil {
		t.Fatalf("%s: want a JSON object, got %s (%v)", r.req, r.raw, err)
	}
	return m
}

func (r *resp) arr(t *testing.T) []any {
	t.Helper()
	var a []any
	if err := json.Unmarshal(r.raw, &a); err != nil || a == nil {
		t.Fatalf("%s: want a JSON array, got %s (%v)", r.req, r.raw, err)
	}
	return a
}

func (r *resp) cookie(t *testing.T) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("%s: no %s cookie", r.req, api.SessionCookie)
	return nil
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// wantKeys checks a JSON object has exactly the keys given.
func wantKeys(t *testing.T, what string, v any, keys ...string) {
	t.Helper()
	sort.Strings(keys)
	if got := keysOf(v); !slices.Equal(got, keys) {
		t.Fatalf("%s keys %v, want %v", what, got, keys)
	}
}

var (
	roomKeys    = []string{"name", "owner", "public", "public_send", "has_password", "format", "max_members", "max_message_bytes", "echo", "presence", "created_at"}
	tokenKeys   = []string{"id", "name", "owner", "max_connections", "auto_join", "can_create_rooms", "expires_at", "created_at", "subscriptions"}
	keyKeys     = []string{"id", "name", "created_at"}
	accountKeys = []string{"id", "username", "is_admin", "created_at"}
	subKeys     = []string{"room", "send", "receive", "formats"}
)

func plus(keys []string, more ...string) []string {
	return append(slices.Clone(keys), more...)
}

// wantCalls checks the Live calls since the last check.
func (e *env) wantCalls(want ...string) {
	e.t.Helper()
	got := e.live.takeCalls()
	if !slices.Equal(got, want) {
		e.t.Fatalf("Live calls %q, want %q", got, want)
	}
}
