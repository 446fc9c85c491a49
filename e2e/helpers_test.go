package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// envDial opens an envelope-mode socket with a bearer secret and returns it
// with its welcome frame.
func envDial(t *testing.T, srv *testserver.Server, secret string) (*wstest.Conn, wstest.Msg) {
	t.Helper()
	c := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(secret))
	w := envNext(t, c, "welcome")
	return c, w
}

// envNext reads the very next frame and fails unless it has type typ.
func envNext(t *testing.T, c *wstest.Conn, typ string) wstest.Msg {
	t.Helper()
	m := c.Next()
	if m.Type() != typ {
		t.Fatalf("want a %q frame, got %v", typ, m)
	}
	return m
}

// envError reads the next frame and fails unless it is an error with code
// and ref (ref nil: no ref field).
func envError(t *testing.T, c *wstest.Conn, code string, ref any) wstest.Msg {
	t.Helper()
	m := envNext(t, c, "error")
	if m.Str("code") != code || !reflect.DeepEqual(m["ref"], ref) || m.Str("message") == "" {
		t.Fatalf("want error %s with ref %v and a message, got %v", code, ref, m)
	}
	return m
}

// envPing proves the socket is open and answering in order: a ping with ref
// must be answered by the very next frame, a pong with the same ref.
func envPing(t *testing.T, c *wstest.Conn, ref string) {
	t.Helper()
	c.WriteJSON(map[string]any{"type": "ping", "ref": ref})
	if m := envNext(t, c, "pong"); m.Str("ref") != ref {
		t.Fatalf("pong %v, want ref %q", m, ref)
	}
}

// envToken creates a token of the key's account from a body; name and a
// roomy max_connections are filled in when absent.
func envToken(t *testing.T, srv *testserver.Server, key string, body map[string]any) testserver.Token {
	t.Helper()
	if _, ok := body["name"]; !ok {
		body["name"] = fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	}
	if _, ok := body["max_connections"]; !ok {
		body["max_connections"] = 50
	}
	return srv.CreateTokenAs(key, body)
}

// envSubs is a subscriptions list for envToken.
func envSubs(subs ...map[string]any) []any {
	out := make([]any, len(subs))
	for i, s := range subs {
		out[i] = s
	}
	return out
}

// envFormats returns a grant's formats, sorted.
func envFormats(m map[string]any) []string {
	var out []string
	list, _ := m["formats"].([]any)
	for _, f := range list {
		s, _ := f.(string)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// envGrant checks a room grant (welcome entry, joined, left).
func envGrant(t *testing.T, g map[string]any, room string, send, receive bool, formats ...string) {
	t.Helper()
	sort.Strings(formats)
	if g["room"] != room || g["send"] != send || g["receive"] != receive || !reflect.DeepEqual(envFormats(g), formats) {
		t.Fatalf("grant %v, want room %q send %v receive %v formats %v", g, room, send, receive, formats)
	}
}

// envBinary splits a binary envelope frame into its decoded header and
// payload.
func envBinary(t *testing.T, f wstest.Frame) (wstest.Msg, []byte) {
	t.Helper()
	if f.Op != ws.OpBinary {
		t.Fatalf("want a binary frame, got opcode %v: %q", f.Op, f.Payload)
	}
	hdr, payload, ok := strings.Cut(string(f.Payload), "\n")
	if !ok {
		t.Fatalf("binary frame without newline: %q", f.Payload)
	}
	var m wstest.Msg
	if err := json.Unmarshal([]byte(hdr), &m); err != nil {
		t.Fatalf("binary header %q: %v", hdr, err)
	}
	return m, []byte(payload)
}

// envRead reads the next data frame, failing on error.
func envRead(t *testing.T, c *wstest.Conn) wstest.Frame {
	t.Helper()
	f, err := c.Read(wstest.Timeout)
	if err != nil {
		t.Fatalf("read: %v (close code %d)", err, c.Code)
	}
	return f
}

// envRefused sends a WebSocket handshake by hand and checks that it is
// refused before any upgrade: status, a JSON content type, and a body
// {"error":{"code","message"}}.
func envRefused(t *testing.T, srv *testserver.Server, target string, header http.Header, status int, code string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wstest.Timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", target, srv.Addr)
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", target, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json", target, ct)
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil {
		t.Fatalf("GET %s: body %q is not an error object: %v", target, body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("GET %s: error %+v, want code %q and a message", target, *e.Error, code)
	}
}

// envWriteFrame writes one hand-made frame on the raw connection, masked
// unless unmasked is set.
func envWriteFrame(t *testing.T, c *wstest.Conn, op ws.OpCode, fin bool, payload []byte, unmasked bool) {
	t.Helper()
	f := ws.NewFrame(op, fin, append([]byte(nil), payload...))
	if !unmasked {
		f = ws.MaskFrameInPlace(f)
	}
	_ = c.NetConn().SetWriteDeadline(time.Now().Add(wstest.Timeout))
	if err := ws.WriteFrame(c.NetConn(), f); err != nil {
		t.Fatalf("write frame: %v", err)
	}
}
