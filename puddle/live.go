package puddle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

var _ api.Live = (*Puddle)(nil)

// liveTimeout bounds the control-plane calls one live change makes.
const liveTimeout = 5 * time.Second

// TokenUpdated implements api.Live: each local socket of the token takes the
// new settings, gets room.added / room.removed for every subscription that
// changed, and joins new rooms when the token auto-joins.
func (p *Puddle) TokenUpdated(t store.Token) {
	p.m.LiveChange("token_updated")
	ctx, cancel := context.WithTimeout(p.ctx, liveTimeout)
	defer cancel()
	shared := p.tokens.update(t)
	for _, s := range p.tokenSockets(t.ID) {
		old := s.tok.Swap(shared)
		s.applyToken(ctx, old, shared)
		s.p.wheel.schedule(s, s.nextTick())
	}
}

// TokenRevoked implements api.Live.
func (p *Puddle) TokenRevoked(tokenID string) {
	p.m.LiveChange("token_revoked")
	p.tokens.revoke(tokenID)
	for _, s := range p.tokenSockets(tokenID) {
		s.Close(4001, "token revoked")
	}
}

// RoomUpdated implements api.Live: new rules reach the local room at once,
// and every member's access is decided again (a room that stops being public
// drops its public members).
func (p *Puddle) RoomUpdated(r store.Room) {
	p.m.LiveChange("room_updated")
	p.rooms.update(wire.Key(r.Owner, r.Name), r)
	key := wire.Key(r.Owner, r.Name)
	room := p.router.Room(key)
	if room == nil {
		return
	}
	room.SetRules(roomRules(r))
	ctx, cancel := context.WithTimeout(p.ctx, liveTimeout)
	defer cancel()
	for _, m := range room.Members() {
		if s, ok := m.Target.(*Socket); ok {
			s.refreshRoom(ctx, key)
		}
	}
}

// RoomDeleted implements api.Live.
func (p *Puddle) RoomDeleted(owner, name string) {
	p.m.LiveChange("room_deleted")
	p.rooms.drop(wire.Key(owner, name))
	key := wire.Key(owner, name)
	room := p.router.Room(key)
	if room == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, liveTimeout)
	defer cancel()
	for _, m := range room.Members() {
		if s, ok := m.Target.(*Socket); ok && !s.subscribedTo(owner, name) {
			// Subscribed sockets hear of it once, from the TokenUpdated that
			// follows a room's deletion (its subscriptions went with it).
			s.dropRoom(ctx, key)
		}
	}
}

// subscribedTo reports whether the socket's token has a subscription to the
// owner's room.
func (s *Socket) subscribedTo(owner, name string) bool {
	tok := s.tok.Load()
	if tok.Owner != owner {
		return false
	}
	for _, sub := range tok.Subscriptions {
		if sub.Room == name {
			return true
		}
	}
	return false
}

// Publish implements api.Live: the service backpipe.
func (p *Puddle) Publish(ctx context.Context, owner, name string, pub api.Publication) (string, error) {
	if !wire.ValidName(name) {
		return "", wire.Errorf(wire.CodeBadRequest, "invalid room name %q", name)
	}
	key := wire.Key(owner, name)
	rules, err := p.roomRules(ctx, owner, name)
	if err != nil {
		return "", err
	}
	id := p.router.IDs.Next()
	var env *router.Envelope
	switch pub.Kind {
	case api.PublishJSON:
		// Compact: the value travels as `data`, and a JSON string's bytes
		// must be exactly the quoted string for raw receivers.
		var data bytes.Buffer
		if err := json.Compact(&data, pub.Body); err != nil {
			return "", wire.Errorf(wire.CodeBadRequest, "body is not valid JSON")
		}
		env = router.NewJSON(id, pub.From, data.Bytes())
	case api.PublishText:
		isJSON := rules.Format == wire.FormatJSON
		if isJSON && !json.Valid(pub.Body) {
			return "", wire.Errorf(wire.CodeFormat, "room %q takes JSON text only", name)
		}
		env = router.NewText(id, pub.From, pub.Body, isJSON)
	default:
		env = router.NewBinary(id, pub.From, pub.Body)
	}
	if e := checkRoomRules(&rules, env, name, p.Options().MaxMessageBytes); e != nil {
		return "", e
	}
	p.DeliverRoom(key, env)
	if p.mesh != nil {
		p.mesh.Publish(key, env)
	}
	return id, nil
}

// roomRules returns the rules of a persistent or transient room.
func (p *Puddle) roomRules(ctx context.Context, owner, name string) (router.Rules, error) {
	if room := p.router.Room(wire.Key(owner, name)); room != nil {
		return *room.Rules(), nil
	}
	r, err := p.room(ctx, owner, name)
	if err == nil {
		return roomRules(r), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return router.Rules{}, wire.Errorf(wire.CodeInternal, "room lookup failed")
	}
	tr, ok, err := p.seq.Room(ctx, wire.Key(owner, name))
	if err != nil {
		return router.Rules{}, wire.Errorf(wire.CodeInternal, "room lookup failed")
	}
	if !ok {
		return router.Rules{}, wire.Errorf(wire.CodeNotFound, "no room %q", name)
	}
	return transientRules(tr), nil
}

// RoomSockets implements api.Live.
func (p *Puddle) RoomSockets(owner, name string) []api.SocketInfo {
	ctx, cancel := context.WithTimeout(p.ctx, liveTimeout)
	defer cancel()
	return RoomSockets(ctx, p.seq, owner, name)
}

// RoomSockets lists the live members of a room from the sequence.
func RoomSockets(ctx context.Context, seq sequence.Sequence, owner, name string) []api.SocketInfo {
	ids, err := seq.Members(ctx, wire.Key(owner, name))
	if err != nil {
		return []api.SocketInfo{}
	}
	out := make([]api.SocketInfo, 0, len(ids))
	for _, id := range ids {
		e, ok, err := seq.Socket(ctx, id)
		if err != nil || !ok {
			continue
		}
		out = append(out, api.SocketInfo{ID: id, Token: e.TokenID, Mode: e.Mode, Worker: e.Puddle})
	}
	return out
}

// TransientRoom implements api.Live.
func (p *Puddle) TransientRoom(owner, name string) bool {
	return TransientRoomIn(p.ctx, p.seq, owner, name)
}

// TransientRoomIn asks a sequence whether the owner has a live transient
// room of that name.
func TransientRoomIn(ctx context.Context, seq sequence.Sequence, owner, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	_, ok, err := seq.Room(ctx, wire.Key(owner, name))
	return err == nil && ok
}

// Kick implements api.Live.
func (p *Puddle) Kick(owner, socketID string) error {
	p.m.LiveChange("kick")
	s, ok := p.router.Socket(socketID).(*Socket)
	if !ok || s.owner() != owner {
		return wire.Errorf(wire.CodeNotFound, "no socket %q", socketID)
	}
	s.Close(4010, "kicked by the owner")
	return nil
}

// applyToken compares old and new subscriptions and applies the difference.
func (s *Socket) applyToken(ctx context.Context, old, cur *store.Token) {
	before := make(map[string]store.Subscription, len(old.Subscriptions))
	for _, sub := range old.Subscriptions {
		before[sub.Room] = sub
	}
	for _, sub := range cur.Subscriptions {
		if was, ok := before[sub.Room]; ok && was.Send == sub.Send && was.Receive == sub.Receive && slices.Equal(was.Formats, sub.Formats) {
			delete(before, sub.Room)
			continue
		}
		delete(before, sub.Room)
		s.subscriptionChanged(ctx, sub.Room, true)
	}
	for name := range before {
		s.subscriptionChanged(ctx, name, false)
	}
}

// subscriptionChanged applies one added, changed or removed subscription.
func (s *Socket) subscriptionChanged(ctx context.Context, name string, present bool) {
	tok := s.tok.Load()
	acc, e := s.p.resolve(ctx, tok, name)
	usable := e == nil && acc.perm&(router.PermSend|router.PermReceive) != 0
	s.rmu.Lock()
	defer s.rmu.Unlock()
	m := s.roomLocked(acc.key)
	switch {
	case m != nil && !usable:
		perm := m.member.Perm()
		s.leaveLocked(ctx, acc.key)
		s.removed(acc.display, perm)
	case m != nil:
		m.display = acc.display
		m.member.SetPerm(acc.perm)
		if !s.raw {
			s.Deliver(grantFrame(wire.TypeRoomAdded, acc.display, acc.perm, nil))
		}
	case s.raw:
	case !present:
		// The socket was told of the room (welcome, room.added) but is not
		// in it: it still hears that the room went away, deleted or not.
		s.Deliver(grantFrame(wire.TypeRoomRemoved, acc.display, 0, nil))
	case !usable:
		if e == nil || e.Code != wire.CodeNotFound {
			s.Deliver(grantFrame(wire.TypeRoomRemoved, acc.display, 0, nil))
		}
	default:
		if tok.AutoJoin && !acc.password {
			if je := s.joinLocked(ctx, acc); je != nil {
				s.Deliver(errorFrame(je, nil))
			}
		}
		s.Deliver(grantFrame(wire.TypeRoomAdded, acc.display, acc.perm, nil))
	}
}

// refreshRoom decides a member's access to a room again after its rules
// changed.
func (s *Socket) refreshRoom(ctx context.Context, key string) {
	tok := s.tok.Load()
	acc, e := s.p.resolve(ctx, tok, wire.DisplayName(tok.Owner, key))
	s.rmu.Lock()
	defer s.rmu.Unlock()
	m := s.roomLocked(key)
	if m == nil {
		return
	}
	if e != nil || acc.perm&(router.PermSend|router.PermReceive) == 0 {
		perm := m.member.Perm()
		s.leaveLocked(ctx, key)
		s.removed(m.display, perm)
		return
	}
	if acc.perm != m.member.Perm() {
		m.member.SetPerm(acc.perm)
		if !s.raw {
			s.Deliver(grantFrame(wire.TypeRoomAdded, acc.display, acc.perm, nil))
		}
	}
	m.display = acc.display
}

// dropRoom removes a deleted room from the socket.
func (s *Socket) dropRoom(ctx context.Context, key string) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	m := s.roomLocked(key)
	if m == nil {
		return
	}
	perm := m.member.Perm()
	s.leaveLocked(ctx, key)
	s.removed(m.display, perm)
}

// removed tells the socket it lost a room: room.removed, or 4003 in raw
// mode.
func (s *Socket) removed(display string, perm router.Perm) {
	if s.raw {
		s.Close(4003, "room removed")
		return
	}
	s.Deliver(grantFrame(wire.TypeRoomRemoved, display, perm, nil))
}
