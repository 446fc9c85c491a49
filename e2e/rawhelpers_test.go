package e2e

// Helpers of the raw-mode, room-rule and liveness tests. Every name starts
// with raw so that they never clash with the envelope tests' helpers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// rawSilence is how long a test listens to make sure nothing arrives.
const rawSilence = 150 * time.Millisecond

var rawSeq atomic.Int64

// rawName returns a unique name with prefix (token and account names).
func rawName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, rawSeq.Add(1))
}

// rawURL is the raw-mode URL of room (already escaped as the path needs)
// with extra query parameters ("password=x").
func rawURL(srv *testserver.Server, room string, query ...string) string {
	u := srv.WSURL + "/ws/rooms/" + room
	if len(query) > 0 {
		u += "?" + strings.Join(query, "&")
	}
	return u
}

// rawDial opens a raw-mode socket on room with secret.
func rawDial(t *testing.T, srv *testserver.Server, room, secret string, query ...string) *wstest.Conn {
	t.Helper()
	return wstest.MustDial(t, rawURL(srv, room, query...), wstest.Bearer(secret))
}

// rawRefused dials raw mode and wants an HTTP refusal with status and code.
func rawRefused(t *testing.T, srv *testserver.Server, room, secret string, status int, code string, query ...string) {
	t.Helper()
	rawRefusedURL(t, rawURL(srv, room, query...), secret, status, code)
}

// rawRefusedURL dials url and wants an HTTP refusal with status and code.
func rawRefusedURL(t *testing.T, url, secret string, status int, code string) {
	t.Helper()
	c, err := wstest.Dial(url, wstest.Bearer(secret))
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: upgraded, want %d %s", url, status, code)
	}
	var r *wstest.Refused
	if !errors.As(err, &r) {
		t.Fatalf("dial %s: %v, want %d %s", url, err, status, code)
	}
	if r.Status != status || r.Code != code {
		t.Fatalf("dial %s: refused %d %q (%s), want %d %q", url, r.Status, r.Code, r.Body, status, code)
	}
}

// rawEnvelope opens an envelope-mode socket and returns it with its welcome.
func rawEnvelope(t *testing.T, srv *testserver.Server, secret string) (*wstest.Conn, wstest.Msg) {
	t.Helper()
	c := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(secret))
	w := c.Next()
	if w.Type() != "welcome" {
		t.Fatalf("first frame %v, want welcome", w)
	}
	return c, w
}

// rawToken creates a token of the key's account from a body, adding a
// unique name.
func rawToken(t *testing.T, srv *testserver.Server, key string, body map[string]any) testserver.Token {
	t.Helper()
	b := map[string]any{"name": rawName("tok")}
	for k, v := range body {
		b[k] = v
	}
	return srv.CreateTokenAs(key, b)
}

// rawSubs is a subscriptions list for a token body.
func rawSubs(subs ...map[string]any) []any {
	out := make([]any, len(subs))
	for i, s := range subs {
		out[i] = s
	}
	return out
}

// rawExpectFrame reads the next data frame and wants exactly op and payload.
func rawExpectFrame(t *testing.T, c *wstest.Conn, op ws.OpCode, payload []byte) {
	t.Helper()
	f, err := c.Read(wstest.Timeout)
	if err != nil {
		t.Fatalf("want %v frame %q: %v (close code %d)", op, payload, err, c.Code)
	}
	if f.Op != op || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("got %v frame %q, want %v frame %q", f.Op, f.Payload, op, payload)
	}
}

// rawExpectMessage reads the next frame of an envelope socket and wants a
// text `message` frame.
func rawExpectMessage(t *testing.T, c *wstest.Conn) wstest.Msg {
	t.Helper()
	m := c.Next()
	if m.Type() != "message" {
		t.Fatalf("got %v, want a message", m)
	}
	return m
}

// rawExpectBinaryMessage reads the next frame of an envelope socket and
// wants a binary message: a JSON header, "\n", the payload.
func rawExpectBinaryMessage(t *testing.T, c *wstest.Conn) (wstest.Msg, []byte) {
	t.Helper()
	f, err := c.Read(wstest.Timeout)
	if err != nil {
		t.Fatalf("want a binary message: %v (close code %d)", err, c.Code)
	}
	if f.Op != ws.OpBinary {
		t.Fatalf("got %v frame %q, want a binary message", f.Op, f.Payload)
	}
	hdr, body, ok := bytes.Cut(f.Payload, []byte("\n"))
	if !ok {
		t.Fatalf("binary message without a newline: %q", f.Payload)
	}
	var m wstest.Msg
	if err := json.Unmarshal(hdr, &m); err != nil {
		t.Fatalf("binary message header %q: %v", hdr, err)
	}
	if m.Type() != "message" {
		t.Fatalf("binary frame header %v, want a message", m)
	}
	if _, has := m["data"]; has {
		t.Fatalf("binary message header carries data: %v", m)
	}
	return m, body
}

// rawExpectError reads the next frame of an envelope socket and wants an
// error with code (and ref, when ref is not "").
func rawExpectError(t *testing.T, c *wstest.Conn, code, ref string) wstest.Msg {
	t.Helper()
	m := c.Next()
	if m.Type() != "error" || m.Str("code") != code || (ref != "" && m.Str("ref") != ref) {
		t.Fatalf("got %v, want error %q (ref %q)", m, code, ref)
	}
	return m
}

// rawExpectType reads the next frame of an envelope socket and wants typ
// (and ref, when ref is not "").
func rawExpectType(t *testing.T, c *wstest.Conn, typ, ref string) wstest.Msg {
	t.Helper()
	m := c.Next()
	if m.Type() != typ || (ref != "" && m.Str("ref") != ref) {
		t.Fatalf("got %v, want %s (ref %q)", m, typ, ref)
	}
	return m
}

// rawExpectClose reads until the server's close frame and wants code.
func rawExpectClose(t *testing.T, c *wstest.Conn, code int) {
	t.Helper()
	if got := c.ExpectClose(); got != code {
		t.Fatalf("closed with %d, want %d", got, code)
	}
}

// rawSendBinary sends an envelope-mode binary frame: header, "\n", payload.
func rawSendBinary(t *testing.T, c *wstest.Conn, hdr map[string]any, payload []byte) {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ws.OpBinary, append(append(h, '\n'), payload...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// rawWrite sends one frame.
func rawWrite(t *testing.T, c *wstest.Conn, op ws.OpCode, p []byte) {
	t.Helper()
	if err := c.Write(op, p); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// rawPublish posts a backpipe message to the admin's room and wants 202.
func rawPublish(t *testing.T, srv *testserver.Server, room, contentType string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/api/v1/rooms/"+room+"/messages", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+srv.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish to %s: %d %s", room, resp.StatusCode, b)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		t.Fatalf("publish answer %s: %v", b, err)
	}
	return out.ID
}

// rawSocket is one entry of GET /api/v1/rooms/{room}/sockets.
type rawSocket struct {
	ID    string `json:"id"`
	Token string `json:"token"`
	Mode  string `json:"mode"`
}

// rawSockets lists the live members of the admin's room.
func rawSockets(t *testing.T, srv *testserver.Server, room string) []rawSocket {
	t.Helper()
	var out []rawSocket
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/rooms/"+room+"/sockets", nil, &out)
	return out
}

// rawSocketOf returns the id of the token's one socket in the admin's room.
func rawSocketOf(t *testing.T, srv *testserver.Server, room, tokenID string) string {
	t.Helper()
	var id string
	for _, s := range rawSockets(t, srv, room) {
		if s.Token == tokenID {
			if id != "" {
				t.Fatalf("token %s has two sockets in %s", tokenID, room)
			}
			id = s.ID
		}
	}
	if id == "" {
		t.Fatalf("token %s has no socket in %s", tokenID, room)
	}
	return id
}

// rawHasSocket reports whether socket id is a live member of the room.
func rawHasSocket(t *testing.T, srv *testserver.Server, room, id string) bool {
	t.Helper()
	for _, s := range rawSockets(t, srv, room) {
		if s.ID == id {
			return true
		}
	}
	return false
}

// rawPoll calls cond until it is true, failing after d.
func rawPoll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawLowConn is a WebSocket client that reads frame by frame and shows
// control frames, for the liveness tests.
type rawLowConn struct {
	c  net.Conn
	br *bufio.Reader
}

// rawLowDial dials url.
func rawLowDial(t *testing.T, url string, header http.Header) *rawLowConn {
	t.Helper()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(header), Timeout: wstest.Timeout}
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	c, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	if br == nil {
		br = bufio.NewReader(c)
	}
	return &rawLowConn{c: c, br: br}
}

// read returns the next frame, whatever its opcode, within d.
func (l *rawLowConn) read(d time.Duration) (ws.Header, []byte, error) {
	_ = l.c.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(l.br)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(l.br, p); err != nil {
		return h, nil, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	return h, p, nil
}

// write sends one masked frame.
func (l *rawLowConn) write(op ws.OpCode, p []byte) error {
	_ = l.c.SetWriteDeadline(time.Now().Add(wstest.Timeout))
	return wsutil.WriteClientMessage(l.c, op, p)
}

// rawCloseCode returns the code of a close frame payload (1005 without).
func rawCloseCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

// rawClosePayload is a close frame payload with code.
func rawClosePayload(code int) []byte {
	return binary.BigEndian.AppendUint16(nil, uint16(code))
}
