// Package wstest is a small WebSocket client for tests, on gobwas/ws's
// client side: dial with headers, see a refused handshake's status and JSON
// body, send and read frames with deadlines, and read close codes.
package wstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Timeout bounds every read in tests.
const Timeout = 5 * time.Second

// Conn is a test client connection.
type Conn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	Code int // close code, once a close frame arrived
}

// Refused is a handshake the server answered with an HTTP error.
type Refused struct {
	Status int
	Body   []byte
	Code   string // error.code from the JSON body
}

func (r *Refused) Error() string { return "handshake refused: " + string(r.Body) }

// Dial connects; a refused handshake returns *Refused.
func Dial(url string, header http.Header) (*Conn, error) {
	var refused *Refused
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(header),
		OnStatusError: func(status int, reason []byte, resp io.Reader) {
			refused = &Refused{Status: status}
			r := bufio.NewReader(resp)
			hdr := http.Header{}
			for {
				line, err := r.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
				if k, v, ok := bytes.Cut([]byte(line), []byte(":")); ok {
					hdr.Add(string(k), string(bytes.TrimSpace(v)))
				}
			}
			refused.Body, _ = io.ReadAll(io.LimitReader(r, 1<<16))
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(refused.Body, &body)
			refused.Code = body.Error.Code
		},
		Timeout: Timeout,
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, br, _, err := d.Dial(ctx, url)
	if err != nil {
		if refused != nil {
			return nil, refused
		}
		return nil, err
	}
	conn := &Conn{c: c}
	if br != nil {
		conn.r = br
	} else {
		conn.r = bufio.NewReader(c)
	}
	return conn, nil
}

// MustDial dials or fails the test.
func MustDial(t testing.TB, url string, header http.Header) *Conn {
	t.Helper()
	c, err := Dial(url, header)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.t = t
	t.Cleanup(func() { c.c.Close() })
	return c
}

// Bearer is an Authorization header.
func Bearer(secret string) http.Header {
	return http.Header{"Authorization": []string{"Bearer " + secret}}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.c }

// Write sends one frame (masked, as a client must).
func (c *Conn) Write(op ws.OpCode, p []byte) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(Timeout))
	return wsutil.WriteClientMessage(c.c, op, p)
}

// WriteJSON sends v as a text frame.
func (c *Conn) WriteJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.Write(ws.OpText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Frame is a received data frame.
type Frame struct {
	Op      ws.OpCode
	Payload []byte
}

// ErrClosed is returned by Read after a close frame; Conn.Code holds the
// code.
var ErrClosed = errors.New("closed by server")

// Read returns the next data message within d, answering pings.
func (c *Conn) Read(d time.Duration) (Frame, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return Frame{}, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return Frame{}, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.c, ws.OpPong, p)
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			c.Code = 1005
			if len(p) >= 2 {
				c.Code = int(binary.BigEndian.Uint16(p))
			}
			_ = wsutil.WriteClientMessage(c.c, ws.OpClose, p[:min(len(p), 2)])
			return Frame{}, ErrClosed
		}
		return Frame{Op: h.OpCode, Payload: p}, nil
	}
}

// Msg is a decoded envelope-mode frame.
type Msg map[string]any

// Type returns msg["type"].
func (m Msg) Type() string { s, _ := m["type"].(string); return s }

// Str returns a string field.
func (m Msg) Str(k string) string { s, _ := m[k].(string); return s }

// Next reads the next text frame as JSON, failing the test on timeout.
func (c *Conn) Next() Msg {
	c.t.Helper()
	f, err := c.Read(Timeout)
	if err != nil {
		c.t.Fatalf("read: %v (close code %d)", err, c.Code)
	}
	if f.Op != ws.OpText {
		c.t.Fatalf("want a text frame, got opcode %v: %q", f.Op, f.Payload)
	}
	var m Msg
	if err := json.Unmarshal(f.Payload, &m); err != nil {
		c.t.Fatalf("bad JSON %q: %v", f.Payload, err)
	}
	return m
}

// Expect reads frames until one of the given type arrives, failing on
// timeout; frames of other types are skipped.
func (c *Conn) Expect(typ string) Msg {
	c.t.Helper()
	for {
		m := c.Next()
		if m.Type() == typ {
			return m
		}
	}
}

// ExpectClose reads until the server closes and returns the close code.
func (c *Conn) ExpectClose() int {
	c.t.Helper()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		_, err := c.Read(time.Until(deadline))
		if errors.Is(err, ErrClosed) {
			return c.Code
		}
		if err != nil {
			c.t.Fatalf("want a close frame, got %v", err)
		}
	}
	c.t.Fatalf("no close frame within %v", Timeout)
	return 0
}

// ExpectSilence fails if a data frame arrives within d.
func (c *Conn) ExpectSilence(d time.Duration) {
	c.t.Helper()
	f, err := c.Read(d)
	if err == nil {
		c.t.Fatalf("want nothing, got %q", f.Payload)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("want a timeout, got %v", err)
	}
}

// Close closes the connection.
func (c *Conn) Close() { c.c.Close() }
