package puddle

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// handleEnvelope runs one envelope-mode command.
func (s *Socket) handleEnvelope(ctx context.Context, op ws.OpCode, payload []byte, limited bool) {
	var (
		cmd    wire.Command
		binary []byte
	)
	if op == ws.OpBinary {
		hdr, body, ok := wire.SplitBinary(payload)
		if !ok {
			s.reply(nil, wire.Errorf(wire.CodeBadRequest, "a binary frame is a JSON header, a newline, then the payload"))
			return
		}
		if err := json.Unmarshal(hdr, &cmd); err != nil {
			s.reply(nil, wire.Errorf(wire.CodeBadRequest, "malformed JSON header: %v", err))
			return
		}
		if cmd.Data != nil {
			s.reply(cmd.Ref, wire.Errorf(wire.CodeBadRequest, "a binary frame carries its payload after the newline, not in data"))
			return
		}
		binary = body
	} else if err := json.Unmarshal(payload, &cmd); err != nil {
		s.reply(nil, wire.Errorf(wire.CodeBadRequest, "malformed JSON: %v", err))
		return
	}
	if op == ws.OpBinary && cmd.Type != wire.TypeSend {
		s.reply(cmd.Ref, wire.Errorf(wire.CodeBadRequest, "only send may use a binary frame"))
		return
	}
	switch cmd.Type {
	case wire.TypeSend:
		if limited {
			s.reply(cmd.Ref, wire.Errorf(wire.CodeRateLimited, "rate limit exceeded"))
			return
		}
		s.reply(cmd.Ref, s.cmdSend(&cmd, op == ws.OpBinary, binary))
	case wire.TypeJoin:
		s.reply(cmd.Ref, s.cmdJoin(ctx, &cmd))
	case wire.TypeLeave:
		s.reply(cmd.Ref, s.cmdLeave(ctx, &cmd))
	case wire.TypeCreate:
		s.reply(cmd.Ref, s.cmdCreate(ctx, &cmd))
	case wire.TypePing:
		s.Deliver(eventFrame(wire.Event{Type: wire.TypePong, Ref: cmd.Ref}))
	case wire.TypeAuth:
		s.reply(cmd.Ref, wire.Errorf(wire.CodeBadRequest, "already authenticated"))
	case "":
		s.reply(cmd.Ref, wire.Errorf(wire.CodeBadRequest, "missing type"))
	default:
		s.reply(cmd.Ref, wire.Errorf(wire.CodeBadRequest, "unknown type %q", cmd.Type))
	}
}

// reply sends an error frame for a refused command; nil means the command
// already answered.
func (s *Socket) reply(ref json.RawMessage, e *wire.Error) {
	if e != nil {
		s.Deliver(errorFrame(e, ref))
	}
}

// cmdSend routes a message to a room or a socket and answers with a receipt.
func (s *Socket) cmdSend(cmd *wire.Command, binary bool, payload []byte) *wire.Error {
	if (cmd.Room == "") == (cmd.To == "") {
		return wire.Errorf(wire.CodeBadRequest, "send needs exactly one of room and to")
	}
	if !binary && cmd.Data == nil {
		return wire.Errorf(wire.CodeBadRequest, "send needs data")
	}
	id := s.p.router.IDs.Next()
	var env *router.Envelope
	if binary {
		env = router.NewBinary(id, s.id, payload)
	} else {
		env = router.NewJSON(id, s.id, cmd.Data)
	}
	if cmd.To != "" {
		if e := s.sendDirect(cmd.To, env); e != nil {
			return e
		}
		s.Deliver(receiptFrame(id, cmd.Ref, "to", cmd.To))
		return nil
	}
	m, _ := s.membershipFor(cmd.Room)
	if m == nil {
		if _, ok := wire.ParseRoomRef(cmd.Room); !ok {
			return wire.Errorf(wire.CodeBadRequest, "invalid room name %q", cmd.Room)
		}
		return wire.Errorf(wire.CodeForbidden, "not a member of room %q: join it first", cmd.Room)
	}
	if e := checkSend(m, env, s.p.opts.Load().MaxMessageBytes); e != nil {
		return e
	}
	s.publish(m, env)
	s.Deliver(receiptFrame(id, cmd.Ref, "room", m.display))
	return nil
}

// checkSend applies the token's permissions and formats, then the room's
// format and size rules.
func checkSend(m *membership, env *router.Envelope, serverMax int) *wire.Error {
	perm := m.member.Perm()
	rules := m.room.Rules()
	if !perm.Has(router.PermSend) {
		return wire.Errorf(wire.CodeForbidden, "token may not send in room %q", m.display)
	}
	if env.Binary && !perm.Has(router.PermBinary) || !env.Binary && !perm.Has(router.PermText) {
		return wire.Errorf(wire.CodeForbidden, "token may not send %s in room %q", kind(env), m.display)
	}
	return checkRoomRules(rules, env, m.display, serverMax)
}

// checkRoomRules applies a room's format and size rules to a message, for
// sockets and the backpipe alike.
func checkRoomRules(rules *router.Rules, env *router.Envelope, display string, serverMax int) *wire.Error {
	switch rules.Format {
	case wire.FormatText, wire.FormatJSON:
		if env.Binary {
			return wire.Errorf(wire.CodeFormat, "room %q takes %s messages only", display, rules.Format)
		}
	case wire.FormatBinary:
		if !env.Binary {
			return wire.Errorf(wire.CodeFormat, "room %q takes binary messages only", display)
		}
	}
	if limit := maxBytes(rules, serverMax); env.Size() > limit {
		return wire.Errorf(wire.CodeTooLarge, "message is %d bytes; room %q takes at most %d", env.Size(), display, limit)
	}
	return nil
}

func kind(env *router.Envelope) string {
	if env.Binary {
		return "binary"
	}
	return "text"
}

// publish fans a message out to the room's local members.
func (s *Socket) publish(m *membership, env *router.Envelope) {
	var exclude router.Target = s
	if m.room.Rules().Echo {
		exclude = nil
	}
	s.p.m.Deliveries.Add(float64(m.room.Publish(env, exclude)))
	if s.p.mesh != nil {
		s.p.mesh.Publish(m.room.Key, env)
	}
}

// sendDirect delivers a message to one socket of the same owner, here or
// on another puddle.
func (s *Socket) sendDirect(to string, env *router.Envelope) *wire.Error {
	t, ok := s.p.router.Socket(to).(*Socket)
	if ok && t.owner() == s.owner() && !t.isClosed() {
		t.deliverDirect(env)
		return nil
	}
	if !ok {
		ctx, cancel := context.WithTimeout(s.p.ctx, liveTimeout)
		defer cancel()
		if puddle, found := s.p.remoteSocket(ctx, s.owner(), to); found {
			s.p.mesh.Direct(puddle, to, env)
			return nil
		}
	}
	return wire.Errorf(wire.CodeNotFound, "no socket %q", to)
}

// deliverDirect queues a direct message in the socket's mode.
func (s *Socket) deliverDirect(env *router.Envelope) {
	s.p.m.Deliveries.Inc()
	if s.raw {
		s.Deliver(env.RawFrame())
	} else {
		s.Deliver(env.MessageFrame(""))
	}
}

func (s *Socket) cmdJoin(ctx context.Context, cmd *wire.Command) *wire.Error {
	if cmd.Room == "" {
		return wire.Errorf(wire.CodeBadRequest, "join needs room")
	}
	tok := s.tok.Load()
	acc, e := s.p.resolve(ctx, tok, cmd.Room)
	if e != nil {
		return e
	}
	if acc.perm&(router.PermSend|router.PermReceive) == 0 {
		return wire.Errorf(wire.CodeForbidden, "token may neither send nor receive in room %q", acc.display)
	}
	if e := acc.checkPassword(cmd.Password); e != nil {
		return e
	}
	if e := s.join(ctx, acc); e != nil {
		return e
	}
	s.Deliver(grantFrame(wire.TypeJoined, acc.display, acc.perm, cmd.Ref))
	return nil
}

func (s *Socket) cmdLeave(ctx context.Context, cmd *wire.Command) *wire.Error {
	if cmd.Room == "" {
		return wire.Errorf(wire.CodeBadRequest, "leave needs room")
	}
	m, key := s.membershipFor(cmd.Room)
	if m == nil {
		return wire.Errorf(wire.CodeNotFound, "not a member of room %q", cmd.Room)
	}
	perm := m.member.Perm()
	s.leave(ctx, key)
	s.Deliver(grantFrame(wire.TypeLeft, m.display, perm, cmd.Ref))
	return nil
}

func (s *Socket) cmdCreate(ctx context.Context, cmd *wire.Command) *wire.Error {
	tok := s.tok.Load()
	if !tok.CanCreateRooms {
		return wire.Errorf(wire.CodeForbidden, "token may not create rooms")
	}
	if !wire.ValidName(cmd.Room) {
		return wire.Errorf(wire.CodeBadRequest, "invalid room name %q: want [a-z0-9][a-z0-9._-]{0,63}", cmd.Room)
	}
	format := cmd.Format
	switch format {
	case "":
		format = wire.FormatAny
	case wire.FormatAny, wire.FormatText, wire.FormatBinary, wire.FormatJSON:
	default:
		return wire.Errorf(wire.CodeBadRequest, "format must be any, text, binary or json")
	}
	if _, err := s.p.room(ctx, s.owner(), cmd.Room); err == nil {
		return wire.Errorf(wire.CodeConflict, "room %q exists", cmd.Room)
	} else if !errors.Is(err, store.ErrNotFound) {
		return wire.Errorf(wire.CodeInternal, "room lookup failed")
	}
	tr := sequence.TransientRoom{
		Key: wire.Key(s.owner(), cmd.Room), Owner: s.owner(), Creator: s.id,
		Public: deref(cmd.Public), PublicSend: deref(cmd.PublicSend), Echo: deref(cmd.Echo),
		Presence: deref(cmd.Presence), Format: format,
	}
	acc := access{key: tr.Key, owner: s.owner(), name: cmd.Room, display: cmd.Room, perm: permAll,
		rules: transientRules(tr)}
	s.rmu.Lock()
	err := s.p.seq.CreateRoom(ctx, tr)
	if err == nil {
		s.addMemberLocked(acc)
	}
	s.rmu.Unlock()
	switch {
	case errors.Is(err, sequence.ErrConflict):
		return wire.Errorf(wire.CodeConflict, "room %q exists", cmd.Room)
	case err != nil:
		s.logger().Error("create room failed", "room", tr.Key, "error", err)
		return wire.Errorf(wire.CodeInternal, "create failed")
	}
	s.Deliver(grantFrame(wire.TypeJoined, cmd.Room, permAll, cmd.Ref))
	return nil
}

func deref(b *bool) bool { return b != nil && *b }

// handleRaw routes one raw-mode frame as is. A frame the socket may not send
// closes it with 1008 (or 1009 when too large).
func (s *Socket) handleRaw(op ws.OpCode, payload []byte) {
	m := s.rawMembership()
	if m == nil {
		s.Close(4003, "room removed")
		return
	}
	rules := m.room.Rules()
	id := s.p.router.IDs.Next()
	var env *router.Envelope
	if op == ws.OpBinary {
		env = router.NewBinary(id, s.id, payload)
	} else {
		isJSON := rules.Format == wire.FormatJSON
		if isJSON && !json.Valid(payload) {
			s.Close(1008, "room takes JSON text only")
			return
		}
		env = router.NewText(id, s.id, payload, isJSON)
	}
	if e := checkSend(m, env, s.p.opts.Load().MaxMessageBytes); e != nil {
		code := 1008
		if e.Code == wire.CodeTooLarge {
			code = 1009
		}
		s.Close(code, e.Message)
		return
	}
	s.publish(m, env)
}

// jsonFrame encodes v as a text frame.
func jsonFrame(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"type":"error","code":"internal","message":"encoding failed"}`)
	}
	return router.Frame(ws.OpText, b)
}

func eventFrame(e wire.Event) []byte { return jsonFrame(e) }

func errorFrame(e *wire.Error, ref json.RawMessage) []byte {
	return jsonFrame(wire.Event{Type: wire.TypeError, Ref: ref, Code: e.Code, Message: e.Message})
}

func grantFrame(typ, display string, p router.Perm, ref json.RawMessage) []byte {
	g := grant(display, p)
	return jsonFrame(wire.Event{Type: typ, Ref: ref, Room: g.Room, Send: &g.Send, Receive: &g.Receive, Formats: g.Formats})
}

// receiptFrame is built by hand: it is on the path of every send.
func receiptFrame(id string, ref json.RawMessage, field, target string) []byte {
	p := make([]byte, 0, 64+len(id)+len(ref)+len(target))
	p = append(p, `{"type":"receipt","id":"`...)
	p = append(p, id...)
	p = append(p, '"')
	if len(ref) > 0 {
		p = append(p, `,"ref":`...)
		p = append(p, ref...)
	}
	p = append(p, `,"`...)
	p = append(p, field...)
	p = append(p, `":"`...)
	p = append(p, target...)
	p = append(p, `"}`...)
	return router.Frame(ws.OpText, p)
}
