package router

import (
	"hash/maphash"
	"sync"
)

const registryShards = 64

type registryShard struct {
	mu    sync.RWMutex
	rooms map[string]*Room
}

// Router holds the rooms with local members and the local sockets by id.
// Safe for concurrent use.
type Router struct {
	seed    maphash.Seed
	rooms   [registryShards]registryShard
	sockets [registryShards]socketShard
	IDs     *IDGen
}

type socketShard struct {
	mu      sync.RWMutex
	sockets map[string]Target
}

// New returns an empty router whose message ids carry worker.
func New(worker int) *Router {
	r := &Router{seed: maphash.MakeSeed(), IDs: NewIDGen(worker)}
	for i := range r.rooms {
		r.rooms[i].rooms = make(map[string]*Room)
		r.sockets[i].sockets = make(map[string]Target)
	}
	return r
}

func (r *Router) shard(key string) uint64 {
	return maphash.String(r.seed, key) % registryShards
}

// Room returns the room with local members, or nil.
func (r *Router) Room(key string) *Room {
	s := &r.rooms[r.shard(key)]
	s.mu.RLock()
	room := s.rooms[key]
	s.mu.RUnlock()
	return room
}

// Join adds m to the room, creating the local room with rules when it has no
// local members yet (existing rooms keep their rules). It returns the room.
func (r *Router) Join(key, owner, name string, rules Rules, m *Member) *Room {
	s := &r.rooms[r.shard(key)]
	s.mu.Lock()
	room := s.rooms[key]
	if room == nil {
		room = newRoom(key, owner, name, rules)
		s.rooms[key] = room
	}
	room.add(m)
	s.mu.Unlock()
	return room
}

// Leave removes m from the room and forgets the room when it has no local
// members left. It reports whether m was a member.
func (r *Router) Leave(room *Room, m *Member) bool {
	s := &r.rooms[r.shard(room.Key)]
	s.mu.Lock()
	removed := room.remove(m)
	if room.Len() == 0 && s.rooms[room.Key] == room {
		delete(s.rooms, room.Key)
	}
	s.mu.Unlock()
	return removed
}

// Rooms calls fn for every room with local members.
func (r *Router) Rooms(fn func(*Room)) {
	for i := range r.rooms {
		s := &r.rooms[i]
		s.mu.RLock()
		list := make([]*Room, 0, len(s.rooms))
		for _, room := range s.rooms {
			list = append(list, room)
		}
		s.mu.RUnlock()
		for _, room := range list {
			fn(room)
		}
	}
}

// AddSocket registers a local socket for direct messages.
func (r *Router) AddSocket(id string, t Target) {
	s := &r.sockets[r.shard(id)]
	s.mu.Lock()
	s.sockets[id] = t
	s.mu.Unlock()
}

// RemoveSocket forgets a local socket if it is still t.
func (r *Router) RemoveSocket(id string, t Target) {
	s := &r.sockets[r.shard(id)]
	s.mu.Lock()
	if s.sockets[id] == t {
		delete(s.sockets, id)
	}
	s.mu.Unlock()
}

// Socket returns a local socket by id.
func (r *Router) Socket(id string) Target {
	s := &r.sockets[r.shard(id)]
	s.mu.RLock()
	t := s.sockets[id]
	s.mu.RUnlock()
	return t
}
