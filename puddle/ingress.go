package puddle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

const maxHeadBytes = 8 << 10

var headPool = sync.Pool{New: func() any { b := make([]byte, maxHeadBytes); return &b }}

// serveConn reads the start of a request: WebSocket handshakes stay here,
// everything else goes to the net/http server.
func (p *Puddle) serveConn(c *fdConn) {
	opts := p.Options()
	_ = c.SetDeadline(time.Now().Add(opts.HandshakeTimeout))
	bp := headPool.Get().(*[]byte)
	buf := *bp
	n, end := 0, -1
	for end < 0 {
		m, err := c.Read(buf[n:])
		n += m
		if n >= 8 && !isWebSocketPath(buf[:n]) {
			pc := &prefixConn{Conn: c, prefix: bytes.Clone(buf[:n])}
			headPool.Put(bp)
			_ = c.SetDeadline(time.Time{})
			if !p.httpLn.push(pc) {
				c.Close()
			}
			return
		}
		end = bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end >= 0 {
			break
		}
		if err != nil || n == len(buf) {
			headPool.Put(bp)
			if n == len(buf) {
				writeHTTPError(c, wire.Errorf(wire.CodeBadRequest, "request head too large"), http.StatusRequestHeaderFieldsTooLarge)
			}
			c.Close()
			return
		}
	}
	head := bytes.Clone(buf[:end+4])
	extra := bytes.Clone(buf[end+4 : n])
	headPool.Put(bp)
	req, ok := parseHead(head)
	if !ok {
		writeHTTPError(c, wire.Errorf(wire.CodeBadRequest, "malformed request"), 0)
		c.Close()
		return
	}
	req.remote = c.RemoteAddr().String()
	p.handshake(c, req, head, extra)
}

// handshake authenticates and admits a WebSocket request, then upgrades it.
// Every refusal is an HTTP error with a JSON body, before any upgrade.
func (p *Puddle) handshake(c *fdConn, req request, head, extra []byte) {
	opts := p.Options()
	reserved := false
	if opts.MaxSockets > 0 {
		if !p.reserve(opts.MaxSockets) {
			p.m.Handshake("server_full")
			writeHTTPError(c, wire.Errorf(wire.CodeInternal, "server full: this process holds its maximum of %d sockets; try again", opts.MaxSockets), http.StatusServiceUnavailable)
			c.Close()
			return
		}
		reserved = true
		defer func() {
			if reserved {
				p.unreserve()
			}
		}()
	}
	fail := func(e *wire.Error) {
		p.m.Handshake(string(e.Code))
		p.log.Debug("handshake refused", "remote", req.remote, "path", req.path, "code", e.Code)
		writeHTTPError(c, e, 0)
		c.Close()
	}
	if !originAllowed(req.origin, req.host, opts.AllowedOrigins) {
		fail(wire.Errorf(wire.CodeForbidden, "origin %q is not allowed", req.origin))
		return
	}
	raw := false
	roomName := ""
	switch {
	case req.path == "/ws":
	case strings.HasPrefix(req.path, "/ws/rooms/"):
		name, err := url.PathUnescape(strings.TrimPrefix(req.path, "/ws/rooms/"))
		if _, valid := wire.ParseRoomRef(name); err != nil || !valid {
			fail(wire.Errorf(wire.CodeNotFound, "no room %q", name))
			return
		}
		raw, roomName = true, name
	default:
		fail(wire.Errorf(wire.CodeNotFound, "no such endpoint %q", req.path))
		return
	}
	secret := bearer(req.authorization)
	if secret == "" {
		secret = req.query.Get("token")
	}
	ctx, cancel := context.WithTimeout(p.ctx, opts.HandshakeTimeout)
	defer cancel()
	var (
		s   *Socket
		acc access
	)
	if secret != "" || raw {
		readAt := time.Now()
		tok, werr := p.authenticate(ctx, secret)
		if werr != nil {
			fail(werr)
			return
		}

		if raw {
			var e *wire.Error
			acc, e = p.resolve(ctx, tok, strings.Clone(roomName))
			if e == nil {
				e = acc.checkPassword(req.query.Get("password"))
			}
			if e == nil && acc.perm&(router.PermSend|router.PermReceive) == 0 {
				e = wire.Errorf(wire.CodeForbidden, "token may neither send nor receive in room %q", acc.display)
			}
			if e != nil {
				fail(e)
				return
			}
		}
		var werr2 *wire.Error
		var room *access // a raw socket is admitted into its room
		if raw {
			room = &acc
		}
		s, werr2 = p.admit(ctx, tok, readAt, c, room)
		if werr2 != nil {
			fail(werr2)
			return
		}
	}
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), c}
	if _, err := (ws.Upgrader{}).Upgrade(rw); err != nil {
		p.log.Debug("upgrade failed", "remote", req.remote, "error", err)
		if s != nil {
			s.abandon() // a raw socket was already a room member
		}
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if s != nil {
		p.m.Handshake("ok")
	}
	if s == nil {
		s = p.firstMessageAuth(c, extra, req.remote)
		if s == nil {
			return
		}
	} else {
		s.setExtra(extra)
		if raw {
			s.announceRaw()
		}
	}
	s.reserved, reserved = reserved, false // the socket's registration takes the place over
	s.run()
}

// authenticate looks up a token secret. Unknown, expired and revoked secrets
// are all `unauthorized`.
//
// A token seen recently comes from the token cache, without a store round
// trip; the result is shared by the token's sockets and must not be
// modified.
func (p *Puddle) authenticate(ctx context.Context, secret string) (*store.Token, *wire.Error) {
	if secret == "" {
		return nil, wire.Errorf(wire.CodeUnauthorized, "missing token")
	}
	refused := wire.Errorf(wire.CodeUnauthorized, "unknown, expired or revoked token")
	if tok, ok := p.tokens.get(secret); ok {
		if tok.ExpiresAt != nil && !time.Now().Before(*tok.ExpiresAt) {
			return nil, refused
		}
		return tok, nil
	}
	readAt := time.Now()
	tok, err := p.dir.TokenBySecret(ctx, secret)
	switch {
	case err == nil:
		return p.tokens.put(secret, tok, readAt), nil
	case errors.Is(err, store.ErrUnauthorized), errors.Is(err, store.ErrNotFound):
		return nil, refused
	default:
		p.log.Error("token lookup failed", "error", err)
		return nil, wire.Errorf(wire.CodeInternal, "token lookup failed")
	}
}

// admit takes a slot of the token and makes the socket (not yet running).
// readAt is when the token was read, for catching up with changes made
// before the socket registers. A raw socket comes with its room: one
// sequence call admits it there, and it joins the local room before the
// upgrade answer is sent (joinedRaw).
func (p *Puddle) admit(ctx context.Context, tok *store.Token, readAt time.Time, c *fdConn, room *access) (*Socket, *wire.Error) {
	raw := room != nil
	req := sequence.AdmitRequest{
		TokenID: tok.ID, Owner: tok.Owner, MaxConnections: tok.MaxConnections,
		Puddle: p.Options().Worker, Mode: "envelope",
	}
	if raw {
		req.Mode, req.Join, req.JoinMaxMembers = "raw", room.key, room.rules.MaxMembers
	}
	e, err := p.seq.Admit(ctx, req)
	switch {
	case errors.Is(err, sequence.ErrMaxConnections):
		return nil, wire.Errorf(wire.CodeRateLimited, "token has reached max_connections (%d)", tok.MaxConnections)
	case raw && errors.Is(err, sequence.ErrRoomFull):
		return nil, wire.Errorf(wire.CodeRoomFull, "room %q is full", room.display)
	case err != nil:
		p.log.Error("admit failed", "token", tok.ID, "error", err)
		return nil, wire.Errorf(wire.CodeInternal, "admission failed")
	}
	s := newSocket(p, e.ID, tok, raw, c)
	s.readAt = readAt.UnixNano()
	if raw {
		s.joinedRaw(*room)
	}
	return s, nil
}

// firstMessageAuth waits up to the auth timeout for {"type":"auth"} on an
// upgraded /ws socket. It answers a refusal with an error frame and closes
// with 4001.
func (p *Puddle) firstMessageAuth(c *fdConn, extra []byte, remote string) *Socket {
	opts := p.Options()
	_ = c.SetReadDeadline(time.Now().Add(opts.AuthTimeout))
	pre := newPreSocket(c, extra, opts.MaxMessageBytes)
	refuse := func(e *wire.Error, ref json.RawMessage) {
		p.m.Handshake(string(e.Code))
		pre.writeFrames(errorFrame(e, ref), closeFrame(4001, string(e.Code)))
		c.Close()
	}
	op, payload, err := pre.readMessage()
	if err != nil {
		if isTimeout(err) {
			pre.writeFrames(closeFrame(4001, "auth timeout"))
		}
		c.Close()
		return nil
	}
	var cmd wire.Command
	if op != ws.OpText || json.Unmarshal(payload, &cmd) != nil || cmd.Type != wire.TypeAuth || cmd.Token == "" {
		refuse(wire.Errorf(wire.CodeUnauthorized, "first message must be {\"type\":\"auth\",\"token\":...}"), cmd.Ref)
		return nil
	}
	// The auth timeout bounds the client; the lookup that follows gets the
	// handshake's bound, as a header token would.
	ctx, cancel := context.WithTimeout(p.ctx, opts.HandshakeTimeout)
	defer cancel()
	readAt := time.Now()
	tok, werr := p.authenticate(ctx, cmd.Token)
	if werr != nil {
		refuse(werr, cmd.Ref)
		return nil
	}
	s, werr := p.admit(ctx, tok, readAt, c, nil)
	if werr != nil {
		refuse(werr, cmd.Ref)
		return nil
	}
	_ = c.SetReadDeadline(time.Time{})
	s.setExtra(pre.buffered())
	p.m.Handshake("ok")
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeHTTPError writes a complete HTTP error response with a JSON body.
func writeHTTPError(c net.Conn, e *wire.Error, status int) {
	if status == 0 {
		status = e.Code.HTTPStatus()
	}
	body, _ := json.Marshal(wire.ErrorBody{Error: *e})
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(status))
	b.WriteString("\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\r\n\r\n")
	b.Write(body)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(b.Bytes())
}
