package router

import (
	"sync"
	"sync/atomic"
)

// Perm is a member's permission and format bits in one room.
type Perm uint32

// Permission bits.
const (
	PermSend Perm = 1 << iota
	PermReceive
	PermText
	PermBinary
)

// Has reports whether all bits of q are set.
func (p Perm) Has(q Perm) bool { return p&q == q }

// Rules are a room's rules as the router enforces them.
type Rules struct {
	Public          bool
	PublicSend      bool
	Echo            bool
	Presence        bool
	Format          string // any | text | binary | json
	MaxMembers      int
	MaxMessageBytes int
	PasswordHash    []byte
	Transient       bool
}

// Target is a socket as the router sees it.
type Target interface {
	// Deliver queues one complete WebSocket frame. The frame is shared with
	// other receivers and must not be modified. Deliver must not block and
	// must not call into the router.
	Deliver(frame []byte)
}

// Member is one socket's membership in one room.
type Member struct {
	ID     string // socket id
	Owner  string // owner of the socket's token
	Raw    bool   // raw-mode socket: bare payloads, no events
	Target Target

	perm  atomic.Uint32
	shard uint32
	pos   int // index in its shard's list; guarded by the shard lock
}

// NewMember returns a member with the given permissions.
func NewMember(id, owner string, raw bool, t Target, p Perm) *Member {
	m := &Member{ID: id, Owner: owner, Raw: raw, Target: t, pos: -1}
	m.perm.Store(uint32(p))
	return m
}

// Perm returns the member's current permissions.
func (m *Member) Perm() Perm { return Perm(m.perm.Load()) }

// SetPerm changes the member's permissions; fan-out sees it at once.
func (m *Member) SetPerm(p Perm) { m.perm.Store(uint32(p)) }

const memberShards = 8

type memberShard struct {
	mu   sync.RWMutex
	list []*Member
	_    [32]byte // keep hot shard locks on separate cache lines
}

// Room is a room with local members.
type Room struct {
	Key   string // owner/name
	Owner string
	Name  string

	rules  atomic.Pointer[Rules]
	count  atomic.Int32
	next   atomic.Uint32
	shards [memberShards]memberShard
}

func newRoom(key, owner, name string, rules Rules) *Room {
	r := &Room{Key: key, Owner: owner, Name: name}
	r.rules.Store(&rules)
	return r
}

// Rules returns the room's current rules; the result must not be modified.
func (r *Room) Rules() *Rules { return r.rules.Load() }

// SetRules replaces the room's rules.
func (r *Room) SetRules(rules Rules) { r.rules.Store(&rules) }

// Len returns the number of local members.
func (r *Room) Len() int { return int(r.count.Load()) }

func (r *Room) add(m *Member) {
	m.shard = r.next.Add(1) % memberShards
	s := &r.shards[m.shard]
	s.mu.Lock()
	m.pos = len(s.list)
	s.list = append(s.list, m)
	s.mu.Unlock()
	r.count.Add(1)
}

func (r *Room) remove(m *Member) bool {
	s := &r.shards[m.shard]
	s.mu.Lock()
	if m.pos < 0 || m.pos >= len(s.list) || s.list[m.pos] != m {
		s.mu.Unlock()
		return false
	}
	last := len(s.list) - 1
	moved := s.list[last]
	s.list[m.pos] = moved
	moved.pos = m.pos
	s.list[last] = nil
	s.list = s.list[:last]
	m.pos = -1
	s.mu.Unlock()
	r.count.Add(-1)
	return true
}

// Each calls fn for every member, shard by shard under the shard's read
// lock. fn must not join or leave rooms.
func (r *Room) Each(fn func(m *Member)) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, m := range s.list {
			fn(m)
		}
		s.mu.RUnlock()
	}
}

// Members returns a snapshot of the members.
func (r *Room) Members() []*Member {
	out := make([]*Member, 0, r.Len())
	r.Each(func(m *Member) { out = append(out, m) })
	return out
}

// Publish delivers env to every member allowed to receive it, except exclude
// (the sender, when the room has no echo). It returns the number of
// deliveries. env must not be published by two goroutines at once.
func (r *Room) Publish(env *Envelope, exclude Target) int {
	need := PermReceive | PermText
	if env.Binary {
		need = PermReceive | PermBinary
	}
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, m := range s.list {
			if m.Target == exclude || !Perm(m.perm.Load()).Has(need) {
				continue
			}
			m.Target.Deliver(env.frameFor(r, m))
			n++
		}
		s.mu.RUnlock()
	}
	return n
}

// Announce sends a presence event (member.joined / member.left) about socket
// to every envelope-mode member except the socket itself.
func (r *Room) Announce(eventType, socket string) {
	var bare, qual []byte
	r.Each(func(m *Member) {
		if m.Raw || m.ID == socket {
			return
		}
		var f *[]byte
		name := r.Key
		if m.Owner == r.Owner {
			f, name = &bare, r.Name
		} else {
			f = &qual
		}
		if *f == nil {
			*f = EventFrame(eventType, name, socket)
		}
		m.Target.Deliver(*f)
	})
}

// EventFrame encodes {"type":eventType,"room":room,"socket":socket}. Room
// names and socket ids never need escaping.
func EventFrame(eventType, room, socket string) []byte {
	p := make([]byte, 0, 40+len(eventType)+len(room)+len(socket))
	p = append(p, `{"type":"`...)
	p = append(p, eventType...)
	p = append(p, `","room":"`...)
	p = append(p, room...)
	p = append(p, `","socket":"`...)
	p = append(p, socket...)
	p = append(p, `"}`...)
	return Frame(0x1, p)
}
