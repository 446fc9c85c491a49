package puddle

import (
	"context"
	"errors"

	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/wire"
)

// join makes the socket a member of the room acc names. Joining a room the
// socket is in already only refreshes its permissions.
func (s *Socket) join(ctx context.Context, acc access) *wire.Error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.joinLocked(ctx, acc)
}

func (s *Socket) joinLocked(ctx context.Context, acc access) *wire.Error {
	if m := s.roomLocked(acc.key); m != nil {
		m.display = acc.display
		m.member.SetPerm(acc.perm)
		return nil
	}
	err := s.p.seq.Join(ctx, sequence.JoinRequest{SocketID: s.id, Room: acc.key, MaxMembers: acc.rules.MaxMembers})
	switch {
	case errors.Is(err, sequence.ErrRoomFull):
		return wire.Errorf(wire.CodeRoomFull, "room %q is full", acc.display)
	case err != nil:
		s.logger().Error("join failed", "room", acc.key, "error", err)
		return wire.Errorf(wire.CodeInternal, "join failed")
	}
	s.addMemberLocked(acc)
	return nil
}

// addMemberLocked puts the socket into the router's room after the sequence
// accepted it, and announces it in presence rooms.
func (s *Socket) addMemberLocked(acc access) {
	member := router.NewMember(s.id, s.owner(), s.raw, s, acc.perm)
	room := s.p.router.Join(acc.key, acc.owner, acc.name, acc.rules, member)
	s.rooms = append(s.rooms, &membership{display: acc.display, room: room, member: member})
	if room.Rules().Presence && !s.unannounced {
		s.p.announce(room, wire.TypeMemberJoined, s.id)
	}
}

// leave removes the socket from a room; false if it was not a member.
func (s *Socket) leave(ctx context.Context, key string) bool {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.leaveLocked(ctx, key)
}

func (s *Socket) leaveLocked(ctx context.Context, key string) bool {
	m := s.roomLocked(key)
	ok := m != nil
	if !ok {
		return false
	}
	s.dropRoomLocked(key)
	s.p.router.Leave(m.room, m.member)
	if m.room.Rules().Presence {
		s.p.announce(m.room, wire.TypeMemberLeft, s.id)
	}
	if _, err := s.p.seq.Leave(ctx, s.id, key); err != nil {
		s.logger().Error("leave failed", "room", key, "error", err)
	}
	return true
}

// leaveAll leaves every room (the socket is ending); the sequence entry is
// released separately.
func (s *Socket) leaveAll() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	rooms := s.rooms
	s.rooms = nil
	for _, m := range rooms {
		s.p.router.Leave(m.room, m.member)
		if m.room.Rules().Presence && !s.unannounced {
			s.p.announce(m.room, wire.TypeMemberLeft, s.id)
		}
	}
}

// membershipFor returns a copy of the socket's membership of the room it
// names as name, or nil. A copy: live changes rewrite acc under rmu while
// the read loop uses it without.
func (s *Socket) membershipFor(name string) (*membership, string) {
	ref, ok := wire.ParseRoomRef(name)
	if !ok {
		return nil, ""
	}
	owner := ref.Owner
	if owner == "" {
		owner = s.owner()
	}
	key := wire.Key(owner, ref.Name)
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if m := s.roomLocked(key); m != nil {
		c := *m
		return &c, key
	}
	return nil, key
}

// joinedRaw puts a raw socket that the sequence admitted into its room
// (AdmitRequest.Join) into the local room, before the upgrade answer is
// sent, so that it receives from the moment the 101 goes out. Presence
// hears of it only once the upgrade succeeded (announceRaw): a failed
// upgrade leaves no trace.
func (s *Socket) joinedRaw(acc access) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.unannounced = true
	s.addMemberLocked(acc)
}

// announceRaw tells presence rooms about a raw socket whose upgrade
// succeeded.
func (s *Socket) announceRaw() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.unannounced = false
	for _, m := range s.rooms {
		if m.room.Rules().Presence {
			s.p.announce(m.room, wire.TypeMemberJoined, s.id)
		}
	}
}

// rawMembership returns a copy of the one membership of a raw socket (see
// membershipFor).
func (s *Socket) rawMembership() *membership {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for _, m := range s.rooms {
		c := *m
		return &c
	}
	return nil
}

// grant describes a membership for joined / room.added frames.
func grant(display string, p router.Perm) wire.RoomGrant {
	g := wire.RoomGrant{Room: display, Send: p.Has(router.PermSend), Receive: p.Has(router.PermReceive), Formats: []string{}}
	if p.Has(router.PermText) {
		g.Formats = append(g.Formats, wire.FormatText)
	}
	if p.Has(router.PermBinary) {
		g.Formats = append(g.Formats, wire.FormatBinary)
	}
	return g
}

// welcome joins the token's rooms (auto_join) and puts the welcome frame at
// the head of the queue, ahead of any message those rooms delivered.
func (s *Socket) welcome(ctx context.Context) {
	tok := s.tok.Load()
	opts := s.p.Options()
	w := wire.Welcome{
		Type:   wire.TypeWelcome,
		Socket: s.id,
		Rooms:  []wire.RoomGrant{},
		Limits: wire.Limits{MaxMessageBytes: opts.MaxMessageBytes, MaxQueueBytes: opts.MaxQueueBytes, RateLimit: int(opts.RateLimit)},
	}
	var refused []*wire.Error
	for _, sub := range tok.Subscriptions {
		acc, e := s.p.resolve(ctx, tok, sub.Room)
		if e != nil {
			continue // the room went away since the token was read
		}
		g := grant(acc.display, acc.perm)
		// Auto-join cannot give a room password: such rooms wait for a join.
		if tok.AutoJoin && !acc.password && acc.perm&(router.PermSend|router.PermReceive) != 0 {
			if e := s.join(ctx, acc); e != nil {
				refused = append(refused, e)
			} else {
				g.Joined = true
			}
		}
		w.Rooms = append(w.Rooms, g)
	}
	frame := jsonFrame(w)
	s.wmu.Lock()
	if !s.closed { // the welcome goes before anything queued meanwhile
		if s.queue == nil {
			s.queue = queuePool.Get().(*frameQueue)
		}
		s.queue.f = append(s.queue.f, nil)
		copy(s.queue.f[1:], s.queue.f)
		s.queue.f[0] = frame
		s.queued += len(frame)
	}
	s.wmu.Unlock()
	for _, e := range refused {
		s.Deliver(errorFrame(e, nil))
	}
}
