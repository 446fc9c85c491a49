// Package fakeserver is a small, in-memory stand-in for the Porthouse
// server, for the tests of the client library and the client commands
// while (and where) the real server is not at hand. It speaks envelope mode
// and raw mode with tokens, permissions, rooms, passwords, transient rooms,
// presence, direct messages, receipts and the handshake refusals of
// PROTOCOL.md, on a real TCP socket with github.com/gobwas/ws. It is not
// the server: no store, no limits beyond max_message_bytes, no origin
// checks. Tests of the server itself use internal/testserver.
//
// A Server is safe for concurrent use. Every goroutine it starts ends in
// Close.
package fakeserver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/porthouse/porthouse/wire"
)

// Perm is a token's permission on a room.
type Perm struct {
	Send, Receive bool
	Text, Binary  bool // formats
}

// All is send and receive in both formats.
var All = Perm{Send: true, Receive: true, Text: true, Binary: true}

func (p Perm) formats() []string {
	var f []string
	if p.Text {
		f = append(f, wire.FormatText)
	}
	if p.Binary {
		f = append(f, wire.FormatBinary)
	}
	return f
}

// Token is a token the server knows.
type Token struct {
	ID             string
	Secret         string
	Rooms          map[string]Perm
	MaxConnections int
	AutoJoin       bool
	CanCreateRooms bool
}

// Room holds the rules of a room.
type Room struct {
	Name     string
	Password string
	Public   bool
	Echo     bool
	Presence bool
	Format   string

	transient bool
	members   map[*socket]bool
}

// Server is a running fake server.
type Server struct {
	// URL is the base URL, ws://127.0.0.1:port.
	URL string
	// Limits is sent in every welcome; MaxMessageBytes is enforced.
	Limits wire.Limits

	ln net.Listener
	hs *http.Server
	wg sync.WaitGroup

	mu      sync.Mutex
	tokens  map[string]*Token // by secret
	rooms   map[string]*Room
	sockets map[string]*socket
	seq     uint64
	closed  bool
	cmds    []string // "socket type room" of every command, for tests
	conns   map[net.Conn]bool
}

type socket struct {
	id    string
	tok   *Token
	slot  int
	raw   string // raw mode: the room
	rooms map[string]bool

	nc        net.Conn
	wmu       sync.Mutex
	closeSent bool // guarded by wmu
}

// Start starts a server on 127.0.0.1:0 and closes it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("fakeserver: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New starts a server on 127.0.0.1:0.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:     "ws://" + ln.Addr().String(),
		Limits:  wire.Limits{MaxMessageBytes: 65536},
		ln:      ln,
		tokens:  map[string]*Token{},
		rooms:   map[string]*Room{},
		sockets: map[string]*socket{},
		conns:   map[net.Conn]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.serveEnvelope)
	mux.HandleFunc("GET /ws/rooms/{room...}", s.serveRaw)
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.hs.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and closes every socket without a close frame.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var conns []net.Conn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	_ = s.hs.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
}

// AddRoom adds a persistent room.
func (s *Server) AddRoom(r Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.members = map[*socket]bool{}
	s.rooms[r.Name] = &r
}

// AddToken adds a token with All permissions on rooms (created if needed),
// auto_join true and max_connections 10.
func (s *Server) AddToken(id, secret string, rooms ...string) *Token {
	t := &Token{ID: id, Secret: secret, Rooms: map[string]Perm{}, MaxConnections: 10, AutoJoin: true}
	for _, r := range rooms {
		t.Rooms[r] = All
	}
	s.PutToken(t)
	return t
}

// PutToken adds or replaces a token; rooms it names are created.
func (s *Server) PutToken(t *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := range t.Rooms {
		if s.rooms[r] == nil {
			s.rooms[r] = &Room{Name: r, members: map[*socket]bool{}}
		}
	}
	s.tokens[t.Secret] = t
}

// RemoveToken forgets a token without closing its sockets: they are refused
// with 401 when they reconnect.
func (s *Server) RemoveToken(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, secret)
}

// Sockets returns the ids of the live sockets, sorted.
func (s *Server) Sockets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.sockets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Members returns the socket ids in a room, sorted.
func (s *Server) Members(room string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil {
		return nil
	}
	var ids []string
	for so := range r.members {
		ids = append(ids, so.id)
	}
	slices.Sort(ids)
	return ids
}

// Commands returns "socket type room" for every command received so far.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

// CloseSocket sends a close frame with code and reason to a socket and
// closes it, as the real server does for 4001, 4009, 4010, 1001, ...
func (s *Server) CloseSocket(id string, code int, reason string) error {
	s.mu.Lock()
	so := s.sockets[id]
	s.mu.Unlock()
	if so == nil {
		return fmt.Errorf("no socket %s", id)
	}
	so.closeWith(code, reason)
	return nil
}

// Revoke deletes a token and closes its sockets with 4001.
func (s *Server) Revoke(secret string) {
	s.mu.Lock()
	t := s.tokens[secret]
	delete(s.tokens, secret)
	var socks []*socket
	for _, so := range s.sockets {
		if so.tok == t {
			socks = append(socks, so)
		}
	}
	s.mu.Unlock()
	for _, so := range socks {
		so.closeWith(wire.CloseRevoked, "token revoked")
	}
}

// Publish sends a text message with JSON data to a room, as the backpipe
// does (from "api:test").
func (s *Server) Publish(room string, data json.RawMessage) string {
	s.mu.Lock()
	r := s.rooms[room]
	s.mu.Unlock()
	m := &msg{from: "api:test", data: data}
	return s.route(nil, r, m)
}

func httpError(w http.ResponseWriter, code wire.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.Error{Code: code, Message: msg}})
}

func bearer(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return r.URL.Query().Get("token")
}

// admit takes a slot of the token; the caller holds s.mu.
func (s *Server) admitLocked(t *Token, nc net.Conn) (*socket, error) {
	used := map[int]bool{}
	for _, so := range s.sockets {
		if so.tok == t {
			used[so.slot] = true
		}
	}
	for slot := 1; slot <= t.MaxConnections; slot++ {
		if !used[slot] {
			so := &socket{id: fmt.Sprintf("%s/%d", t.ID, slot), tok: t, slot: slot, rooms: map[string]bool{}, nc: nc}
			s.sockets[so.id] = so
			return so, nil
		}
	}
	return nil, errors.New("max_connections reached")
}

func (s *Server) serveEnvelope(w http.ResponseWriter, r *http.Request) {
	secret := bearer(r)
	s.mu.Lock()
	t := s.tokens[secret]
	full := t != nil && s.countLocked(t) >= t.MaxConnections
	s.mu.Unlock()
	switch {
	case secret != "" && t == nil:
		httpError(w, wire.CodeUnauthorized, "unknown token")
		return
	case full:
		httpError(w, wire.CodeRateLimited, "max_connections reached")
		return
	}
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil || !s.track(nc) {
		return
	}
	go func() {
		defer s.untrack(nc)
		s.runEnvelope(nc, rw.Reader, t)
	}()
}

// track registers a hijacked connection and its goroutine; false once the
// server is closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return false
	}
	s.conns[nc] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(nc net.Conn) {
	_ = nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) countLocked(t *Token) int {
	n := 0
	for _, so := range s.sockets {
		if so.tok == t {
			n++
		}
	}
	return n
}

func (s *Server) runEnvelope(nc net.Conn, br *bufio.Reader, t *Token) {
	defer nc.Close()
	rd := &wsutil.Reader{Source: br, State: ws.StateServerSide, CheckUTF8: true}
	if t == nil { // first-message auth
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		op, p, err := readFrame(rd, nil)
		_ = nc.SetReadDeadline(time.Time{})
		var cmd wire.Command
		if err == nil && op == ws.OpText {
			_ = json.Unmarshal(p, &cmd)
		}
		s.mu.Lock()
		t = s.tokens[cmd.Token]
		s.mu.Unlock()
		if cmd.Type != wire.TypeAuth || t == nil {
			_ = wsutil.WriteServerMessage(nc, ws.OpClose, ws.NewCloseFrameBody(wire.CloseRevoked, "authentication failed"))
			return
		}
	}
	s.mu.Lock()
	so, err := s.admitLocked(t, nc)
	if err != nil {
		s.mu.Unlock()
		_ = wsutil.WriteServerMessage(nc, ws.OpClose, ws.NewCloseFrameBody(wire.ClosePolicy, err.Error()))
		return
	}
	welcome := wire.Welcome{Type: wire.TypeWelcome, Socket: so.id, Rooms: []wire.RoomGrant{}, Limits: s.Limits}
	names := make([]string, 0, len(t.Rooms))
	for name := range t.Rooms {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := t.Rooms[name]
		welcome.Rooms = append(welcome.Rooms, wire.RoomGrant{Room: name, Send: p.Send, Receive: p.Receive, Formats: p.formats()})
		if t.AutoJoin {
			so.rooms[name] = true
			s.rooms[name].members[so] = true
		}
	}
	s.mu.Unlock()
	defer s.drop(so)
	so.sendJSON(welcome)
	for {
		op, p, err := readFrame(rd, so)
		if err != nil {
			return
		}
		s.handle(so, op, p)
	}
}

// readFrame reads one data message, answering pings; a close frame is
// echoed and ends the read with io.EOF.
func readFrame(rd *wsutil.Reader, so *socket) (ws.OpCode, []byte, error) {
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return 0, nil, err
		}
		if hdr.OpCode.IsControl() {
			p, err := io.ReadAll(rd)
			if err != nil {
				return 0, nil, err
			}
			switch hdr.OpCode {
			case ws.OpPing:
				if so != nil {
					so.write(ws.OpPong, p)
				}
			case ws.OpClose:
				if so != nil {
					code := ws.StatusNormalClosure
					if len(p) >= 2 {
						code, _ = ws.ParseCloseFrameData(p)
					}
					so.write(ws.OpClose, ws.NewCloseFrameBody(code, ""))
				}
				return 0, nil, io.EOF
			}
			continue
		}
		p, err := io.ReadAll(rd)
		return hdr.OpCode, p, err
	}
}

// drain reads until the client's close frame or the read deadline, so that
// the TCP close does not reset the connection under unread data.
func drain(rd *wsutil.Reader, so *socket) {
	for {
		if _, _, err := readFrame(rd, so); err != nil {
			return
		}
	}
}

func (s *Server) drop(so *socket) {
	type note struct {
		to   *socket
		room string
	}
	var notes []note
	s.mu.Lock()
	delete(s.sockets, so.id)
	for name := range so.rooms {
		r := s.rooms[name]
		if r == nil {
			continue
		}
		delete(r.members, so)
		if r.Presence {
			for m := range r.members {
				notes = append(notes, note{m, name})
			}
		}
		if r.transient && len(r.members) == 0 {
			delete(s.rooms, name)
		}
	}
	s.mu.Unlock()
	for _, n := range notes {
		n.to.sendJSON(wire.Event{Type: wire.TypeMemberLeft, Room: n.room, Socket: so.id})
	}
}

// msg is a message being routed.
type msg struct {
	from   string
	binary bool
	data   json.RawMessage // text, envelope form
	text   []byte          // text, raw form (nil: derive from data)
	bytes  []byte          // binary payload
}

func (m *msg) size() int {
	switch {
	case m.binary:
		return len(m.bytes)
	case m.text != nil:
		return len(m.text)
	}
	return len(m.data)
}

func (m *msg) rawText() []byte {
	if m.text != nil {
		return m.text
	}
	var s string
	if json.Unmarshal(m.data, &s) == nil {
		return []byte(s)
	}
	return m.data
}

func (m *msg) envelopeData() json.RawMessage {
	if m.data != nil {
		return m.data
	}
	b, _ := json.Marshal(string(m.text))
	return b
}

func (s *Server) handle(so *socket, op ws.OpCode, p []byte) {
	var cmd wire.Command
	var payload []byte
	head := p
	if op == ws.OpBinary {
		var ok bool
		if head, payload, ok = wire.SplitBinary(p); !ok {
			so.sendError(nil, wire.CodeBadRequest, "binary frame without header")
			return
		}
	}
	if err := json.Unmarshal(head, &cmd); err != nil {
		so.sendError(nil, wire.CodeBadRequest, "bad JSON")
		return
	}
	s.mu.Lock()
	s.cmds = append(s.cmds, strings.TrimSpace(so.id+" "+cmd.Type+" "+cmd.Room))
	s.mu.Unlock()
	switch cmd.Type {
	case wire.TypeSend:
		m := &msg{from: so.id, binary: op == ws.OpBinary, data: cmd.Data, bytes: payload}
		s.send(so, &cmd, m)
	case wire.TypeJoin:
		s.join(so, &cmd)
	case wire.TypeCreate:
		s.create(so, &cmd)
	case wire.TypeLeave:
		s.leave(so, &cmd)
	case wire.TypePing:
		so.sendJSON(wire.Event{Type: wire.TypePong, Ref: cmd.Ref})
	default:
		so.sendError(cmd.Ref, wire.CodeBadRequest, "unknown type "+cmd.Type)
	}
}

func (s *Server) send(so *socket, cmd *wire.Command, m *msg) {
	if m.size() > s.Limits.MaxMessageBytes {
		so.sendError(cmd.Ref, wire.CodeTooLarge, fmt.Sprintf("message of %d bytes, limit %d", m.size(), s.Limits.MaxMessageBytes))
		return
	}
	if !m.binary && len(m.data) == 0 {
		so.sendError(cmd.Ref, wire.CodeBadRequest, "send without data")
		return
	}
	if cmd.To != "" {
		s.mu.Lock()
		to := s.sockets[cmd.To]
		s.seq++
		id := fmt.Sprintf("%016x", s.seq)
		s.mu.Unlock()
		if to == nil {
			so.sendError(cmd.Ref, wire.CodeNotFound, "no socket "+cmd.To)
			return
		}
		so.sendJSON(wire.Event{Type: wire.TypeReceipt, ID: id, Ref: cmd.Ref, To: cmd.To})
		to.deliver(id, "", m)
		return
	}
	s.mu.Lock()
	r := s.rooms[cmd.Room]
	perm, ok := permFor(so, r)
	s.mu.Unlock()
	switch {
	case r == nil:
		so.sendError(cmd.Ref, wire.CodeNotFound, "no room "+cmd.Room)
		return
	case !ok || !perm.Send:
		so.sendError(cmd.Ref, wire.CodeForbidden, "may not send to "+cmd.Room)
		return
	case m.binary && !perm.Binary, !m.binary && !perm.Text:
		so.sendError(cmd.Ref, wire.CodeForbidden, "format not allowed")
		return
	}
	id := s.route(so, r, m)
	so.sendJSON(wire.Event{Type: wire.TypeReceipt, ID: id, Ref: cmd.Ref, Room: cmd.Room})
}

// route delivers m to the members of r that may receive it; from is the
// sender (nil for Publish). It returns the message id.
func (s *Server) route(from *socket, r *Room, m *msg) string {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("%016x", s.seq)
	var targets []*socket
	if r != nil {
		for so := range r.members {
			if so == from && !r.Echo {
				continue
			}
			p, ok := permFor(so, r)
			if !ok || !p.Receive || (m.binary && !p.Binary) || (!m.binary && !p.Text) {
				continue
			}
			targets = append(targets, so)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(targets, func(a, b *socket) int { return strings.Compare(a.id, b.id) })
	for _, so := range targets {
		so.deliver(id, r.Name, m)
	}
	return id
}

func (s *Server) join(so *socket, cmd *wire.Command) {
	s.mu.Lock()
	r := s.rooms[cmd.Room]
	perm, ok := permFor(so, r)
	var errCode wire.Code
	switch {
	case r == nil:
		errCode = wire.CodeNotFound
	case !ok || (r.Password != "" && cmd.Password != r.Password):
		errCode = wire.CodeForbidden
	}
	var notify []*socket
	if errCode == "" {
		if r.Presence {
			for m := range r.members {
				if m != so {
					notify = append(notify, m)
				}
			}
		}
		r.members[so] = true
		so.rooms[r.Name] = true
	}
	s.mu.Unlock()
	if errCode != "" {
		so.sendError(cmd.Ref, errCode, "may not join "+cmd.Room)
		return
	}
	so.sendJSON(wire.Event{Type: wire.TypeJoined, Ref: cmd.Ref, Room: cmd.Room,
		Send: &perm.Send, Receive: &perm.Receive, Formats: perm.formats()})
	for _, m := range notify {
		m.sendJSON(wire.Event{Type: wire.TypeMemberJoined, Room: cmd.Room, Socket: so.id})
	}
}

func (s *Server) create(so *socket, cmd *wire.Command) {
	if !so.tok.CanCreateRooms {
		so.sendError(cmd.Ref, wire.CodeForbidden, "token may not create rooms")
		return
	}
	s.mu.Lock()
	if s.rooms[cmd.Room] != nil {
		s.mu.Unlock()
		so.sendError(cmd.Ref, wire.CodeConflict, "room exists: "+cmd.Room)
		return
	}
	r := &Room{Name: cmd.Room, transient: true, members: map[*socket]bool{},
		Public: isTrue(cmd.Public), Echo: isTrue(cmd.Echo), Presence: isTrue(cmd.Presence), Format: cmd.Format}
	s.rooms[cmd.Room] = r
	s.mu.Unlock()
	s.join(so, cmd)
}

// permFor is what so's token may do in r: its subscription, else
// everything in a transient room (the fake has one owner), else receive in
// a public room. The caller holds s.mu.
func permFor(so *socket, r *Room) (Perm, bool) {
	if r == nil {
		return Perm{}, false
	}
	if p, ok := so.tok.Rooms[r.Name]; ok {
		return p, true
	}
	if r.transient {
		return All, true
	}
	if r.Public {
		return Perm{Receive: true, Text: true, Binary: true}, true
	}
	return Perm{}, false
}

func isTrue(b *bool) bool { return b != nil && *b }

func (s *Server) leave(so *socket, cmd *wire.Command) {
	s.mu.Lock()
	r := s.rooms[cmd.Room]
	in := r != nil && r.members[so]
	var notify []*socket
	if in {
		delete(r.members, so)
		if r.Presence {
			for m := range r.members {
				notify = append(notify, m)
			}
		}
		delete(so.rooms, cmd.Room)
		if r.transient && len(r.members) == 0 {
			delete(s.rooms, cmd.Room)
		}
	}
	s.mu.Unlock()
	if !in {
		so.sendError(cmd.Ref, wire.CodeNotFound, "not in room "+cmd.Room)
		return
	}
	f := false
	so.sendJSON(wire.Event{Type: wire.TypeLeft, Ref: cmd.Ref, Room: cmd.Room, Send: &f, Receive: &f})
	for _, m := range notify {
		m.sendJSON(wire.Event{Type: wire.TypeMemberLeft, Room: cmd.Room, Socket: so.id})
	}
}

func (s *Server) serveRaw(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	secret := bearer(r)
	s.mu.Lock()
	t := s.tokens[secret]
	room := s.rooms[name]
	var perm Perm
	ok := false
	if t != nil {
		perm, ok = t.Rooms[name]
	}
	full := t != nil && s.countLocked(t) >= t.MaxConnections
	s.mu.Unlock()
	switch {
	case t == nil:
		httpError(w, wire.CodeUnauthorized, "unknown token")
		return
	case room == nil:
		httpError(w, wire.CodeNotFound, "no room "+name)
		return
	case !ok || (room.Password != "" && r.URL.Query().Get("password") != room.Password):
		httpError(w, wire.CodeForbidden, "may not use room "+name)
		return
	case full:
		httpError(w, wire.CodeRateLimited, "max_connections reached")
		return
	}
	// Raw sockets are members from the moment the 101 is sent: admit
	// first, holding the socket's write lock until the upgrade is done so
	// that nothing is written to it before the 101.
	s.mu.Lock()
	so, err := s.admitLocked(t, nil)
	if err != nil {
		s.mu.Unlock()
		httpError(w, wire.CodeRateLimited, "max_connections reached")
		return
	}
	so.wmu.Lock()
	so.raw = room.Name
	so.rooms[room.Name] = true
	room.members[so] = true
	s.mu.Unlock()
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	so.nc = nc
	so.wmu.Unlock()
	if err != nil || !s.track(nc) {
		s.drop(so)
		return
	}
	go func() {
		defer s.untrack(nc)
		s.runRaw(so, rw.Reader, room, perm)
	}()
}

func (s *Server) runRaw(so *socket, br *bufio.Reader, room *Room, perm Perm) {
	defer s.drop(so)
	rd := &wsutil.Reader{Source: br, State: ws.StateServerSide, CheckUTF8: true}
	for {
		op, p, err := readFrame(rd, so)
		if err != nil {
			return
		}
		m := &msg{from: so.id, binary: op == ws.OpBinary}
		if m.binary {
			m.bytes = p
		} else {
			m.text = p
		}
		switch {
		case !perm.Send || (m.binary && !perm.Binary) || (!m.binary && !perm.Text):
			so.closeWith(wire.ClosePolicy, "may not send this frame")
			drain(rd, so)
			return
		case m.size() > s.Limits.MaxMessageBytes:
			so.closeWith(wire.CloseTooBig, "message too big")
			drain(rd, so)
			return
		}
		s.route(so, room, m)
	}
}

func (so *socket) write(op ws.OpCode, p []byte) {
	so.wmu.Lock()
	defer so.wmu.Unlock()
	so.writeLocked(op, p)
}

func (so *socket) writeLocked(op ws.OpCode, p []byte) {
	if so.closeSent || so.nc == nil {
		return
	}
	so.closeSent = op == ws.OpClose
	_ = so.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = wsutil.WriteServerMessage(so.nc, op, p)
}

func (so *socket) sendJSON(v any) {
	b, _ := json.Marshal(v)
	so.write(ws.OpText, b)
}

func (so *socket) sendError(ref json.RawMessage, code wire.Code, message string) {
	so.sendJSON(wire.Event{Type: wire.TypeError, Ref: ref, Code: code, Message: message})
}

func (so *socket) deliver(id, room string, m *msg) {
	if so.raw != "" {
		if m.binary {
			so.write(ws.OpBinary, m.bytes)
		} else {
			so.write(ws.OpText, m.rawText())
		}
		return
	}
	ev := wire.Event{Type: wire.TypeMessage, ID: id, Room: room, From: m.from}
	if !m.binary {
		ev.Data = m.envelopeData()
		so.sendJSON(ev)
		return
	}
	head, _ := json.Marshal(ev)
	so.write(ws.OpBinary, append(append(head, '\n'), m.bytes...))
}

func (so *socket) closeWith(code int, reason string) {
	so.wmu.Lock()
	defer so.wmu.Unlock()
	so.writeLocked(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	// The read loop ends when the client echoes the close frame, or soon
	// after if it does not; then it closes the connection.
	if so.nc != nil {
		_ = so.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
}
