// Package testserver starts a real Porthouse server on 127.0.0.1:0 for
// tests, with a temporary data directory, and offers helpers to drive its
// JSON API as the bootstrap admin.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/server"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/supervisor"
)

// AdminPassword is the bootstrap admin's password in test servers.
const AdminPassword = "test-admin-password"

// Server is a running test server.
type Server struct {
	Addr         string // host:port
	URL          string // http://host:port
	WSURL        string // ws://host:port
	APIKey       string // an API key of the admin account
	LobbyTokenID string
	LobbySecret  string // token subscribed to lobby (send, receive, both formats)
	Config       config.Config
	Srv          *server.Server         // single-process mode
	Sup          *supervisor.Supervisor // supervise mode
	Mode         string                 // "run" or "supervise"
	logs         *syncBuffer
	t            testing.TB
}

// Option changes the config before the server starts.
type Option func(*config.Config)

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return StartConfig(t, testConfig(t, opts))
}

// testConfig is the config of a test server: loopback port 0, a temporary
// data directory, the known admin password, no login or backpipe limits.
func testConfig(t testing.TB, opts []Option) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = config.Secret(AdminPassword)
	cfg.LoginRate = -1
	cfg.BackpipeRate = 0
	// Supervise-mode workers drop stale routes ten times a second, so every
	// cross-worker test also checks that a sync never drops a route in use.
	cfg.RouteSyncInterval = config.Duration(100 * time.Millisecond)
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// StartConfig starts a server with exactly cfg, in the mode Mode() says.
func StartConfig(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	return startMode(t, cfg, Mode())
}

func startMode(t testing.TB, cfg config.Config, mode string) *Server {
	t.Helper()
	logs := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: logs})
	s := &Server{Config: cfg, logs: logs, t: t, Mode: mode}
	var boot store.Bootstrap
	if s.Mode == ModeSupervise {
		if cfg.Workers == 0 {
			cfg.Workers = 2
			s.Config.Workers = 2
		}
		sup, err := supervisor.New(cfg, log, supervisor.Options{WorkerCmd: workerCmd})
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		sup.Start()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sup.WaitReady(ctx); err != nil {
			_ = sup.Shutdown(context.Background())
			t.Fatalf("testserver: workers not ready: %v\n%s", err, logs.String())
		}
		s.Sup, s.Addr, boot = sup, sup.Addr().String(), sup.Bootstrap()
	} else {
		srv, err := server.New(cfg, log)
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		srv.Start()
		s.Srv, s.Addr, boot = srv, srv.Addr().String(), srv.Bootstrap()
	}
	s.URL = "http://" + s.Addr
	s.WSURL = "ws://" + s.Addr
	t.Cleanup(func() { s.Stop() })
	s.LobbyTokenID, s.LobbySecret = boot.TokenID, boot.TokenSecret
	s.APIKey = s.loginAndKey("admin", AdminPassword)
	return s
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.Sup != nil {
		_ = s.Sup.Shutdown(ctx)
		return
	}
	_ = s.Srv.Shutdown(ctx)
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// LogText returns everything the server (and its workers) logged so far.
func (s *Server) LogText() string { return s.logs.String() }

// loginAndKey logs in with a password and creates an API key.
func (s *Server) loginAndKey(user, password string) string {
	s.t.Helper()
	jar := &cookieJar{}
	st, body := s.do(jar, "", "POST", "/api/v1/login", map[string]string{"username": user, "password": password})
	if st != http.StatusOK {
		s.t.Fatalf("testserver: login %s: %d %s", user, st, body)
	}
	st, body = s.do(jar, "", "POST", "/api/v1/api-keys", map[string]string{"name": "test"})
	if st != http.StatusCreated {
		s.t.Fatalf("testserver: api key: %d %s", st, body)
	}
	var k struct{ Secret string }
	_ = json.Unmarshal(body, &k)
	return k.Secret
}

// NewAccount creates another account (as admin) and returns its API key.
func (s *Server) NewAccount(username string) string {
	s.t.Helper()
	pw := "password-" + username
	if st, body := s.API("POST", "/api/v1/accounts", map[string]string{"username": username, "password": pw}); st != http.StatusCreated {
		s.t.Fatalf("testserver: create account %s: %d %s", username, st, body)
	}
	return s.loginAndKey(username, pw)
}

// API calls the JSON API with the admin's API key.
func (s *Server) API(method, path string, body any) (int, []byte) {
	return s.APIAs(s.APIKey, method, path, body)
}

// APIAs calls the JSON API with the given API key.
func (s *Server) APIAs(key, method, path string, body any) (int, []byte) {
	s.t.Helper()
	return s.do(nil, key, method, path, body)
}

func (s *Server) do(jar *cookieJar, key, method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatalf("testserver: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatalf("testserver: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if jar != nil && jar.cookie != nil {
		req.AddCookie(jar.cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("testserver: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if jar != nil {
		for _, c := range resp.Cookies() {
			if c.Name == "porthouse_session" {
				jar.cookie = c
			}
		}
	}
	return resp.StatusCode, out
}

type cookieJar struct{ cookie *http.Cookie }

// MustAPI is API that fails the test unless the status is want; it decodes
// the answer into out when out is not nil.
func (s *Server) MustAPI(want int, method, path string, body, out any) {
	s.t.Helper()
	s.MustAPIAs(s.APIKey, want, method, path, body, out)
}

// MustAPIAs is MustAPI with another account's API key.
func (s *Server) MustAPIAs(key string, want int, method, path string, body, out any) {
	s.t.Helper()
	st, b := s.APIAs(key, method, path, body)
	if st != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
}

// CreateRoom creates a persistent room of the admin with the given rules.
func (s *Server) CreateRoom(name string, rules map[string]any) {
	s.t.Helper()
	s.CreateRoomAs(s.APIKey, name, rules)
}

// CreateRoomAs creates a persistent room of the key's account.
func (s *Server) CreateRoomAs(key, name string, rules map[string]any) {
	s.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range rules {
		body[k] = v
	}
	s.MustAPIAs(key, http.StatusCreated, "POST", "/api/v1/rooms", body, nil)
}

// Token is a created token.
type Token struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// CreateToken creates a token of the admin from a token body (name,
// max_connections, subscriptions, ...).
func (s *Server) CreateToken(body map[string]any) Token {
	s.t.Helper()
	return s.CreateTokenAs(s.APIKey, body)
}

// CreateTokenAs creates a token of the key's account.
func (s *Server) CreateTokenAs(key string, body map[string]any) Token {
	s.t.Helper()
	var tok Token
	s.MustAPIAs(key, http.StatusCreated, "POST", "/api/v1/tokens", body, &tok)
	if !strings.HasPrefix(tok.Secret, "ph_") {
		s.t.Fatalf("testserver: token without secret: %+v", tok)
	}
	return tok
}

// Sub is a subscription body for CreateToken.
func Sub(room string, send, receive bool, formats ...string) map[string]any {
	if len(formats) == 0 {
		formats = []string{"text", "binary"}
	}
	return map[string]any{"room": room, "send": send, "receive": receive, "formats": formats}
}

// TokenFor creates a token subscribed to the given rooms with send and
// receive in both formats.
func (s *Server) TokenFor(rooms ...string) Token {
	s.t.Helper()
	subs := make([]any, 0, len(rooms))
	for _, r := range rooms {
		subs = append(subs, Sub(r, true, true))
	}
	return s.CreateToken(map[string]any{"name": fmt.Sprintf("t-%d", time.Now().UnixNano()), "subscriptions": subs})
}

// Restart stops the server and starts it again on the same address and data
// directory, in the same mode: sockets drop (1001), the store and every
// token stay.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	cfg := s.Config
	cfg.Listen = s.Addr
	next := startMode(s.t, cfg, s.Mode)
	s.Srv, s.Sup = next.Srv, next.Sup
}
