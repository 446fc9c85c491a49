package e2e

// The service backpipe, POST /api/v1/rooms/{room}/messages, and the live
// member list, GET /api/v1/rooms/{room}/sockets, against real sockets.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// lvPublish posts body to the room with the API key and returns the status
// and answer.
func lvPublish(t *testing.T, srv *testserver.Server, key, room, contentType string, body []byte) (int, []byte) {
	t.Helper()
	hdr := http.Header{"Content-Type": {contentType}}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	return lvHTTP(t, srv, "POST", "/api/v1/rooms/"+room+"/messages", hdr, body)
}

// lvPublishOK posts and wants 202 {"id"}; it returns the id.
func lvPublishOK(t *testing.T, srv *testserver.Server, room, contentType string, body []byte) string {
	t.Helper()
	st, b := lvPublish(t, srv, srv.APIKey, room, contentType, body)
	var out map[string]any
	if st != http.StatusAccepted || json.Unmarshal(b, &out) != nil || len(out) != 1 {
		t.Fatalf("publish %s to %s: %d %s, want 202 {\"id\"}", contentType, room, st, b)
	}
	id, _ := out["id"].(string)
	if id == "" {
		t.Fatalf("publish answer %s has no id", b)
	}
	return id
}

// lvRawSpread dials raw sockets on the admin's room until there are at
// least n and, in supervise mode, raw sockets of the token on every worker.
func lvRawSpread(t *testing.T, srv *testserver.Server, tok testserver.Token, room string, n int) []*wstest.Conn {
	t.Helper()
	var conns []*wstest.Conn
	covered := func() bool {
		if srv.Mode != testserver.ModeSupervise {
			return true
		}
		seen := map[int]bool{}
		for _, s := range lvSockets(t, srv, srv.APIKey, room) {
			if s.Token == tok.ID && s.Mode == "raw" {
				seen[s.Worker] = true
			}
		}
		return len(seen) >= srv.Config.Workers
	}
	for len(conns) < n || !covered() {
		if len(conns) >= 24 {
			t.Fatalf("24 raw sockets and not every worker holds one")
		}
		conns = append(conns, lvRaw(t, srv, room, tok.Secret))
	}
	return conns
}

// lvRawFrame reads the next frame of a raw socket within lvWithin and wants
// exactly op and payload.
func lvRawFrame(t *testing.T, c *wstest.Conn, op ws.OpCode, payload []byte) {
	t.Helper()
	f, err := c.Read(lvWithin)
	if err != nil {
		t.Fatalf("want %v frame %q: %v (close code %d)", op, payload, err, c.Code)
	}
	if f.Op != op || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("got %v frame %q, want %v frame %q", f.Op, f.Payload, op, payload)
	}
}

// TestBackpipeDelivery: each body kind reaches envelope and raw receivers
// (on every worker) in its mode, in order, with the answer's id.
func TestBackpipeDelivery(t *testing.T) {
	srv := testserver.Start(t)
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("lobby", true, true))})
	envs, _ := lvSpread(t, srv, tok.Secret, "lobby", 2)
	raws := lvRawSpread(t, srv, tok, "lobby", 2)

	jsonID := lvPublishOK(t, srv, "lobby", "application/json", []byte(`{"a":1}`))
	textID := lvPublishOK(t, srv, "lobby", "text/plain", []byte("hello"))
	bin := []byte{0, 1, 2, 0xff, '\n', 0xfe}
	binID := lvPublishOK(t, srv, "lobby", "application/octet-stream", bin)
	if jsonID == textID || textID == binID || jsonID == binID {
		t.Fatalf("ids not unique: %s %s %s", jsonID, textID, binID)
	}
	// Ids sort by time.
	if !(jsonID < textID && textID < binID) {
		t.Fatalf("ids do not sort in publish order: %s %s %s", jsonID, textID, binID)
	}

	for _, c := range envs {
		m := lvNext(t, c, "message")
		if m.Str("id") != jsonID || m.Str("room") != "lobby" || !reflect.DeepEqual(m["data"], map[string]any{"a": float64(1)}) {
			t.Fatalf("json publish arrived as %v, want id %s data {\"a\":1}", m, jsonID)
		}
		m = lvNext(t, c, "message")
		if m.Str("id") != textID || m.Str("room") != "lobby" || m["data"] != "hello" {
			t.Fatalf("text publish arrived as %v, want id %s data \"hello\"", m, textID)
		}
		f, err := c.Read(lvWithin)
		if err != nil {
			t.Fatalf("binary publish: %v", err)
		}
		if f.Op != ws.OpBinary {
			t.Fatalf("binary publish arrived as %v %q", f.Op, f.Payload)
		}
		hdr, payload, _ := bytes.Cut(f.Payload, []byte("\n"))
		var h map[string]any
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatalf("binary header %q: %v", hdr, err)
		}
		if h["type"] != "message" || h["id"] != binID || h["room"] != "lobby" || h["data"] != nil || !bytes.Equal(payload, bin) {
			t.Fatalf("binary publish arrived as header %v payload %q, want id %s payload %q", h, payload, binID, bin)
		}
	}
	for _, c := range raws {
		lvRawFrame(t, c, ws.OpText, []byte(`{"a":1}`))
		lvRawFrame(t, c, ws.OpText, []byte("hello"))
		lvRawFrame(t, c, ws.OpBinary, bin)
	}

	// A JSON string body is text for raw receivers; a json-format room
	// takes JSON text as its value.
	srv.CreateRoom("bp-json", map[string]any{"format": "json"})
	jt := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("bp-json", true, true))})
	je, _ := lvDial(t, srv, jt.Secret)
	jr := lvRaw(t, srv, "bp-json", jt.Secret)
	lvPublishOK(t, srv, "bp-json", "text/plain", []byte(`[1,"x"]`))
	if m := lvNext(t, je, "message"); !reflect.DeepEqual(m["data"], []any{float64(1), "x"}) {
		t.Fatalf("json room text publish arrived as %v", m)
	}
	lvRawFrame(t, jr, ws.OpText, []byte(`[1,"x"]`))
	lvPublishOK(t, srv, "lobby", "application/json", []byte(`"just text"`))
	for _, c := range raws {
		lvRawFrame(t, c, ws.OpText, []byte("just text"))
	}
	for _, c := range envs {
		if m := lvNext(t, c, "message"); m["data"] != "just text" {
			t.Fatalf("json string publish arrived as %v", m)
		}
	}
}

// TestBackpipeRefusals: credentials, ownership, unknown rooms and room rules
// refuse a publication with the documented status, and nothing is
// delivered.
func TestBackpipeRefusals(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("bp-text", map[string]any{"format": "text"})
	srv.CreateRoom("bp-json", map[string]any{"format": "json"})
	srv.CreateRoom("bp-bin", map[string]any{"format": "binary"})
	srv.CreateRoom("bp-small", map[string]any{"max_message_bytes": 8})
	bobKey := srv.NewAccount(lvName("bob"))
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(
		testserver.Sub("lobby", true, true), testserver.Sub("bp-text", true, true), testserver.Sub("bp-json", true, true),
		testserver.Sub("bp-bin", true, true), testserver.Sub("bp-small", true, true))})
	c, _ := lvDial(t, srv, tok.Secret)

	cases := []struct {
		name, key, room, ctype, body string
		status                       int
		code                         string
	}{
		{"bad key", "pk_not-a-key", "lobby", "text/plain", "x", 401, "unauthorized"},
		{"no key", "", "lobby", "text/plain", "x", 401, "unauthorized"},
		{"token secret as key", srv.LobbySecret, "lobby", "text/plain", "x", 401, "unauthorized"},
		// bob names admin's room as owner/room: not his (the API resolves
		// the path against the caller's account first).
		{"another account's room", bobKey, "admin%2Flobby", "text/plain", "x", 403, "forbidden"},
		// bare "lobby" is bob's own lobby, which does not exist.
		{"another account's bare name", bobKey, "lobby", "text/plain", "x", 404, "not_found"},
		{"unknown room", srv.APIKey, "no-such-room", "text/plain", "x", 404, "not_found"},
		{"invalid room name", srv.APIKey, "Bad%20Name", "text/plain", "x", 404, "not_found"},
		{"binary to a text room", srv.APIKey, "bp-text", "application/octet-stream", "\x00\x01", 400, "format"},
		{"binary to a json room", srv.APIKey, "bp-json", "application/octet-stream", "\x00\x01", 400, "format"},
		{"non-JSON text to a json room", srv.APIKey, "bp-json", "text/plain", "not json", 400, "format"},
		{"text to a binary room", srv.APIKey, "bp-bin", "text/plain", "x", 400, "format"},
		{"over the room's max_message_bytes", srv.APIKey, "bp-small", "text/plain", "123456789", 413, "too_large"},
		{"invalid JSON", srv.APIKey, "lobby", "application/json", `{"a":`, 400, "bad_request"},
		{"unsupported type", srv.APIKey, "lobby", "text/html", "<p>", 415, "bad_request"},
	}
	for _, tc := range cases {
		st, b := lvPublish(t, srv, tc.key, tc.room, tc.ctype, []byte(tc.body))
		lvWant(t, tc.name, st, b, tc.status, tc.code)
	}
	lvSilent(t, c)
	// The limits are exact: at the limit, and the right format, it goes.
	lvPublishOK(t, srv, "bp-small", "text/plain", []byte("12345678"))
	lvMessage(t, c, "bp-small", "12345678")
	lvPublishOK(t, srv, "admin%2Fbp-text", "text/plain", []byte("own owner/room"))
	lvMessage(t, c, "bp-text", "own owner/room")
}

// TestBackpipeTooLarge: a body over the server's max_message_bytes is 413.
func TestBackpipeTooLarge(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.MaxMessageBytes = 1024 })
	c, _ := lvDial(t, srv, srv.LobbySecret)
	raw := lvRaw(t, srv, "lobby", srv.LobbySecret)
	for _, ct := range []string{"application/octet-stream", "text/plain"} {
		st, b := lvPublish(t, srv, srv.APIKey, "lobby", ct, bytes.Repeat([]byte("x"), 1025))
		lvWant(t, ct+" of 1025 bytes", st, b, http.StatusRequestEntityTooLarge, "too_large")
	}
	st, b := lvPublish(t, srv, srv.APIKey, "lobby", "application/json", []byte(`"`+strings.Repeat("x", 1100)+`"`))
	lvWant(t, "JSON of 1102 bytes", st, b, http.StatusRequestEntityTooLarge, "too_large")
	lvSilent(t, c)
	body := bytes.Repeat([]byte("y"), 1024)
	lvPublishOK(t, srv, "lobby", "text/plain", body)
	lvMessage(t, c, "lobby", string(body))
	lvRawFrame(t, raw, ws.OpText, body)
}

// TestBackpipeRateLimit: backpipe_rate 1, burst 2: the third quick request
// of one API key is 429; another key has its own bucket.
func TestBackpipeRateLimit(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.BackpipeRate = 1; c.BackpipeBurst = 2 })
	c, _ := lvDial(t, srv, srv.LobbySecret)
	start := time.Now()
	var statuses []int
	var last []byte
	for i := range 3 {
		st, b := lvPublish(t, srv, srv.APIKey, "lobby", "text/plain", []byte{'a' + byte(i)})
		statuses = append(statuses, st)
		last = b
	}
	elapsed := time.Since(start)
	if statuses[0] != http.StatusAccepted || statuses[1] != http.StatusAccepted {
		t.Fatalf("first two publishes: %v, want 202 202", statuses)
	}
	if elapsed < time.Second {
		// The bucket cannot have refilled: the third must be refused.
		lvWant(t, "third publish", statuses[2], last, http.StatusTooManyRequests, "rate_limited")
	} else {
		t.Logf("three publishes took %v; the third (%d) may have found a refilled bucket", elapsed, statuses[2])
	}
	lvMessage(t, c, "lobby", "a")
	lvMessage(t, c, "lobby", "b")
	if statuses[2] == http.StatusTooManyRequests {
		lvSilent(t, c)
	}
	// Another API key of the same account has its own bucket.
	var k struct{ Secret string }
	srv.MustAPI(http.StatusCreated, "POST", "/api/v1/api-keys", map[string]string{"name": "second"}, &k)
	if st, b := lvPublish(t, srv, k.Secret, "lobby", "text/plain", []byte("other key")); st != http.StatusAccepted {
		t.Fatalf("other key: %d %s", st, b)
	}
	lvMessage(t, c, "lobby", "other key")
}

// TestBackpipeSockets: GET /api/v1/rooms/{room}/sockets lists the connected
// sockets with id, token, mode and worker, and forgets closed ones.
func TestBackpipeSockets(t *testing.T) {
	srv := testserver.Start(t)
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("lobby", true, true))})
	envs, ids := lvSpread(t, srv, tok.Secret, "lobby", 2)
	raws := lvRawSpread(t, srv, tok, "lobby", 1)
	bobKey := srv.NewAccount(lvName("bob"))

	list := lvSockets(t, srv, srv.APIKey, "lobby")
	mine := map[string]lvSocket{}
	for _, s := range list {
		if s.Token == tok.ID {
			mine[s.ID] = s
		}
		if !strings.HasPrefix(s.ID, s.Token+"/") {
			t.Fatalf("socket %+v: id is not <token>/<slot>", s)
		}
		if srv.Mode == testserver.ModeSupervise && (s.Worker < 1 || s.Worker > srv.Config.Workers) {
			t.Fatalf("socket %+v: worker not in 1..%d", s, srv.Config.Workers)
		}
		if srv.Mode == testserver.ModeRun && s.Worker != 0 {
			t.Fatalf("socket %+v: worker in single-process mode", s)
		}
	}
	if len(mine) != len(envs)+len(raws) {
		t.Fatalf("listed %v, want %d sockets of %s", list, len(envs)+len(raws), tok.ID)
	}
	rawCount := 0
	for _, s := range mine {
		switch s.Mode {
		case "raw":
			rawCount++
		case "envelope":
		default:
			t.Fatalf("socket %+v: mode", s)
		}
	}
	if rawCount != len(raws) {
		t.Fatalf("%d raw sockets listed, want %d: %v", rawCount, len(raws), mine)
	}
	for _, id := range ids {
		if mine[id].Mode != "envelope" {
			t.Fatalf("envelope socket %s listed as %+v", id, mine[id])
		}
	}
	// The body is exactly id, token, mode (and worker).
	st, b := srv.API("GET", "/api/v1/rooms/lobby/sockets", nil)
	var rawList []map[string]any
	if st != http.StatusOK || json.Unmarshal(b, &rawList) != nil || len(rawList) == 0 {
		t.Fatalf("sockets: %d %s", st, b)
	}
	for _, e := range rawList {
		for _, k := range []string{"id", "token", "mode"} {
			if _, ok := e[k].(string); !ok {
				t.Fatalf("socket entry %v lacks %q", e, k)
			}
		}
	}

	envs[0].Close()
	lvPoll(t, 2*time.Second, "a closed socket leaves the list", func() bool {
		for _, s := range lvSockets(t, srv, srv.APIKey, "lobby") {
			if s.ID == ids[0] {
				return false
			}
		}
		return true
	})

	// An empty persistent room is [], not null; others' rooms are not
	// listed.
	srv.CreateRoom("bp-empty", nil)
	if st, b := srv.API("GET", "/api/v1/rooms/bp-empty/sockets", nil); st != http.StatusOK || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty room: %d %s", st, b)
	}
	st, b = srv.API("GET", "/api/v1/rooms/no-such-room/sockets", nil)
	lvWant(t, "unknown room", st, b, http.StatusNotFound, "not_found")
	st, b = srv.APIAs(bobKey, "GET", "/api/v1/rooms/admin%2Flobby/sockets", nil)
	lvWant(t, "bob lists admin/lobby", st, b, http.StatusForbidden, "forbidden")
	st, b = srv.APIAs(bobKey, "GET", "/api/v1/rooms/lobby/sockets", nil)
	lvWant(t, "bob lists his own (absent) lobby", st, b, http.StatusNotFound, "not_found")
}
