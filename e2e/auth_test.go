package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// TestAuth covers the handshake contract of PROTOCOL.md: where the token
// comes from, every refusal as an HTTP error with a JSON body before any
// upgrade, origins, first-message authentication, and secrets kept out of
// the logs.
func TestAuth(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, func(c *config.Config) {
		c.AllowedOrigins = []string{"https://app.example"}
		c.AuthTimeout = config.Duration(300 * time.Millisecond)
	})
	srv.CreateRoom("closed", nil)
	// secrets collects every secret the test uses, for the log check.
	secrets := []string{srv.LobbySecret, srv.APIKey}
	newToken := func(body map[string]any) testserver.Token {
		tok := envToken(t, srv, srv.APIKey, body)
		secrets = append(secrets, tok.Secret)
		return tok
	}
	lobby := newToken(map[string]any{"subscriptions": envSubs(testserver.Sub("lobby", true, true))})
	const bogus = "ph_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	secrets = append(secrets, bogus)

	t.Run("sources", func(t *testing.T) {
		cases := []struct {
			name   string
			target string
			header http.Header
		}{
			{"header", "/ws", wstest.Bearer(lobby.Secret)},
			{"query", "/ws?token=" + url.QueryEscape(lobby.Secret), nil},
			{"header beats query", "/ws?token=" + bogus, wstest.Bearer(lobby.Secret)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := wstest.MustDial(t, srv.WSURL+tc.target, tc.header)
				w := envNext(t, c, "welcome")
				if !strings.HasPrefix(w.Str("socket"), lobby.ID+"/") {
					t.Fatalf("welcome socket %q, want %s/N", w.Str("socket"), lobby.ID)
				}
			})
		}
		t.Run("first message", func(t *testing.T) {
			c := wstest.MustDial(t, srv.WSURL+"/ws", nil)
			c.WriteJSON(map[string]any{"type": "auth", "token": lobby.Secret, "ref": "a1"})
			w := envNext(t, c, "welcome")
			if !strings.HasPrefix(w.Str("socket"), lobby.ID+"/") {
				t.Fatalf("welcome %v", w)
			}
			// The socket is fully live: it can send.
			c.WriteJSON(map[string]any{"type": "send", "room": "lobby", "data": 1, "ref": "s1"})
			if r := envNext(t, c, "receipt"); r.Str("ref") != "s1" {
				t.Fatalf("receipt %v (welcome %v)", r, w)
			}
		})
	})

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name   string
			target string
			header http.Header
			status int
			code   string
		}{
			{"unknown token header", "/ws", wstest.Bearer(bogus), 401, "unauthorized"},
			{"unknown token query", "/ws?token=" + bogus, nil, 401, "unauthorized"},
			{"not a token", "/ws?token=hello", nil, 401, "unauthorized"},
			{"raw unknown token", "/ws/rooms/lobby", wstest.Bearer(bogus), 401, "unauthorized"},
			{"raw unknown token query", "/ws/rooms/lobby?token=" + bogus, nil, 401, "unauthorized"},
			{"raw without token", "/ws/rooms/lobby", nil, 401, "unauthorized"},
			{"unknown path", "/ws/nope", wstest.Bearer(lobby.Secret), 404, "not_found"},
			{"raw unknown room", "/ws/rooms/nope", wstest.Bearer(lobby.Secret), 404, "not_found"},
			{"raw room not allowed", "/ws/rooms/closed", wstest.Bearer(lobby.Secret), 403, "forbidden"},
			{"cross-site origin", "/ws", http.Header{"Authorization": {"Bearer " + lobby.Secret}, "Origin": {"https://evil.example"}}, 403, "forbidden"},
			{"cross-site origin raw", "/ws/rooms/lobby", http.Header{"Authorization": {"Bearer " + lobby.Secret}, "Origin": {"https://evil.example"}}, 403, "forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				envRefused(t, srv, tc.target, tc.header, tc.status, tc.code)
			})
		}
	})

	t.Run("origins", func(t *testing.T) {
		for _, origin := range []string{"", "http://" + srv.Addr, "https://app.example"} {
			h := wstest.Bearer(lobby.Secret)
			if origin != "" {
				h.Set("Origin", origin)
			}
			c := wstest.MustDial(t, srv.WSURL+"/ws", h)
			envNext(t, c, "welcome")
			c.Close()
		}
	})

	t.Run("expired", func(t *testing.T) {
		past := newToken(map[string]any{
			"expires_at":    time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			"subscriptions": envSubs(testserver.Sub("lobby", true, true)),
		})
		envRefused(t, srv, "/ws", wstest.Bearer(past.Secret), 401, "unauthorized")
		envRefused(t, srv, "/ws/rooms/lobby", wstest.Bearer(past.Secret), 401, "unauthorized")

		soon := newToken(map[string]any{
			"expires_at":    time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano),
			"subscriptions": envSubs(testserver.Sub("lobby", true, true)),
		})
		c, _ := envDial(t, srv, soon.Secret)
		// The live socket closes when the token expires; from then on the
		// handshake is refused.
		if code := c.ExpectClose(); code != 4001 {
			t.Fatalf("expired token's socket closed with %d, want 4001", code)
		}
		envRefused(t, srv, "/ws", wstest.Bearer(soon.Secret), 401, "unauthorized")
	})

	t.Run("deleted", func(t *testing.T) {
		tok := newToken(map[string]any{"subscriptions": envSubs(testserver.Sub("lobby", true, true))})
		c, _ := envDial(t, srv, tok.Secret)
		srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil)
		if code := c.ExpectClose(); code != 4001 {
			t.Fatalf("deleted token's socket closed with %d, want 4001", code)
		}
		envRefused(t, srv, "/ws", wstest.Bearer(tok.Secret), 401, "unauthorized")
		envRefused(t, srv, "/ws?token="+tok.Secret, nil, 401, "unauthorized")
	})

	t.Run("regenerated", func(t *testing.T) {
		old := newToken(map[string]any{"subscriptions": envSubs(testserver.Sub("lobby", true, true))})
		c, _ := envDial(t, srv, old.Secret)
		var fresh testserver.Token
		srv.MustAPI(http.StatusOK, "POST", "/api/v1/tokens/"+old.ID+"/regenerate", nil, &fresh)
		secrets = append(secrets, fresh.Secret)
		if fresh.ID != old.ID || !strings.HasPrefix(fresh.Secret, "ph_") || fresh.Secret == old.Secret {
			t.Fatalf("regenerate answered %+v", fresh)
		}
		if code := c.ExpectClose(); code != 4001 {
			t.Fatalf("regenerated token's socket closed with %d, want 4001", code)
		}
		envRefused(t, srv, "/ws", wstest.Bearer(old.Secret), 401, "unauthorized")
		c2, w := envDial(t, srv, fresh.Secret)
		if !strings.HasPrefix(w.Str("socket"), old.ID+"/") {
			t.Fatalf("welcome %v", w)
		}
		envPing(t, c2, "p")
	})

	t.Run("max connections", func(t *testing.T) {
		tok := newToken(map[string]any{"max_connections": 2, "subscriptions": envSubs(testserver.Sub("lobby", true, true))})
		envDial(t, srv, tok.Secret)
		envDial(t, srv, tok.Secret)
		envRefused(t, srv, "/ws", wstest.Bearer(tok.Secret), 429, "rate_limited")
		envRefused(t, srv, "/ws/rooms/lobby", wstest.Bearer(tok.Secret), 429, "rate_limited")
	})

	t.Run("first message refused", func(t *testing.T) {
		cases := []struct {
			name  string
			first map[string]any
			code  string
		}{
			{"unknown token", map[string]any{"type": "auth", "token": bogus, "ref": "a"}, "unauthorized"},
			{"empty token", map[string]any{"type": "auth", "token": "", "ref": "a"}, "unauthorized"},
			{"not an auth", map[string]any{"type": "ping", "ref": "a"}, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := wstest.MustDial(t, srv.WSURL+"/ws", nil)
				c.WriteJSON(tc.first)
				m := envNext(t, c, "error")
				if tc.code != "" && m.Str("code") != tc.code || m.Str("code") == "" || m.Str("ref") != "a" {
					t.Fatalf("error %v, want code %q and ref a", m, tc.code)
				}
				if code := c.ExpectClose(); code != 4001 {
					t.Fatalf("closed with %d, want 4001", code)
				}
			})
		}
		t.Run("timeout", func(t *testing.T) {
			c := wstest.MustDial(t, srv.WSURL+"/ws", nil)
			start := time.Now()
			if code := c.ExpectClose(); code != 4001 {
				t.Fatalf("closed with %d, want 4001", code)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("auth timeout of 300ms took %v", d)
			}
		})
		t.Run("raw mode has no first-message auth", func(t *testing.T) {
			envRefused(t, srv, "/ws/rooms/lobby", nil, 401, "unauthorized")
		})
	})

	t.Run("no secrets in logs", func(t *testing.T) {
		logs := srv.LogText()
		if !strings.Contains(logs, "handshake refused") {
			t.Fatalf("debug logs were not captured; got %q", logs)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(logs, s) {
				t.Fatalf("a secret (%.6s...) appears in the logs", s)
			}
		}
	})
}
