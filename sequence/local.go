package sequence

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

var _ Sequence = (*Local)(nil)

// Local is the in-process Sequence. The zero value is not usable; call
// NewLocal.
type Local struct {
	mu        sync.Mutex
	sockets   map[string]*entry            // socket id → entry
	tokens    map[string]*tokenSlots       // token id → its slots
	rooms     map[string]map[string]*entry // room key → socket id → entry
	routes    map[string]map[int]int       // room key → puddle → member count
	transient map[string]TransientRoom     // room key → room
}

type entry struct {
	Entry
	rooms []string // room keys; a slice, as an entry is in few rooms
}

func (e *entry) in(room string) bool { return slices.Contains(e.rooms, room) }

func (e *entry) drop(room string) {
	if i := slices.Index(e.rooms, room); i >= 0 {
		e.rooms[i] = e.rooms[len(e.rooms)-1]
		e.rooms = e.rooms[:len(e.rooms)-1]
	}
}

// NewLocal returns an empty in-process sequence.
func NewLocal() *Local {
	return &Local{
		sockets:   make(map[string]*entry),
		tokens:    make(map[string]*tokenSlots),
		rooms:     make(map[string]map[string]*entry),
		routes:    make(map[string]map[int]int),
		transient: make(map[string]TransientRoom),
	}
}

// Admit implements Sequence.
func (l *Local) Admit(_ context.Context, r AdmitRequest) (Entry, error) {
	if r.MaxConnections < 1 {
		return Entry{}, ErrMaxConnections
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	slots := l.tokens[r.TokenID]
	if slots == nil {
		slots = &tokenSlots{used: make(map[int]*entry)}
		l.tokens[r.TokenID] = slots
	}
	if len(slots.used) >= r.MaxConnections {
		return Entry{}, ErrMaxConnections
	}
	// The lowest free slot is at most len(used)+1, so it is within
	// MaxConnections here.
	slot := slots.take()
	e := &entry{Entry: Entry{
		ID:      r.TokenID + "/" + strconv.Itoa(slot),
		TokenID: r.TokenID,
		Slot:    slot,
		Owner:   r.Owner,
		Puddle:  r.Puddle,
		Mode:    r.Mode,
		State:   Admitted,
	}}
	slots.used[slot] = e
	l.sockets[e.ID] = e
	return e.snapshot(), nil
}

// Activate implements Sequence.
func (l *Local) Activate(_ context.Context, socketID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[socketID]
	if !ok {
		return fmt.Errorf("activate %s: %w", socketID, ErrNotFound)
	}
	e.State = Live
	return nil
}

// Release implements Sequence.
func (l *Local) Release(_ context.Context, socketID string) (left, vanished []string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[socketID]
	if !ok {
		return nil, nil, nil // releasing twice is harmless
	}
	left, vanished = l.releaseLocked(e)
	return left, vanished, nil
}

func (l *Local) releaseLocked(e *entry) (left, vanished []string) {
	for _, room := range slices.Clone(e.rooms) {
		left = append(left, room)
		if l.leaveLocked(e, room) {
			vanished = append(vanished, room)
		}
	}
	slices.Sort(left)
	slices.Sort(vanished)
	delete(l.sockets, e.ID)
	if slots := l.tokens[e.TokenID]; slots != nil {
		slots.give(e.Slot)
		if len(slots.used) == 0 {
			delete(l.tokens, e.TokenID)
		}
	}
	e.State = Gone
	return left, vanished
}

// Join implements Sequence.
func (l *Local) Join(_ context.Context, r JoinRequest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[r.SocketID]
	if !ok {
		return fmt.Errorf("join %s: socket %w", r.Room, ErrNotFound)
	}
	if e.in(r.Room) {
		return nil
	}
	members := l.rooms[r.Room]
	if r.MaxMembers > 0 && len(members) >= r.MaxMembers {
		return ErrRoomFull
	}
	l.joinLocked(e, r.Room)
	return nil
}

// joinLocked adds e to room. It is a no-op for a member, so a route is never
// counted twice for one socket (CreateRoom may name a room its creator is
// already in).
func (l *Local) joinLocked(e *entry, room string) {
	if e.in(room) {
		return
	}
	members := l.rooms[room]
	if members == nil {
		members = make(map[string]*entry)
		l.rooms[room] = members
	}
	members[e.ID] = e
	e.rooms = append(e.rooms, room)
	route := l.routes[room]
	if route == nil {
		route = make(map[int]int)
		l.routes[room] = route
	}
	route[e.Puddle]++
}

// Leave implements Sequence.
func (l *Local) Leave(_ context.Context, socketID, room string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[socketID]
	if !ok {
		return false, fmt.Errorf("leave %s: socket %w", room, ErrNotFound)
	}
	if !e.in(room) {
		return false, nil
	}
	return l.leaveLocked(e, room), nil
}

// leaveLocked removes e from room and reports whether a transient room
// vanished with it.
func (l *Local) leaveLocked(e *entry, room string) bool {
	e.drop(room)
	members := l.rooms[room]
	delete(members, e.ID)
	if route := l.routes[room]; route != nil {
		if route[e.Puddle]--; route[e.Puddle] <= 0 {
			delete(route, e.Puddle)
		}
		if len(route) == 0 {
			delete(l.routes, room)
		}
	}
	if len(members) > 0 {
		return false
	}
	delete(l.rooms, room)
	if _, ok := l.transient[room]; ok {
		delete(l.transient, room)
		return true
	}
	return false
}

// CreateRoom implements Sequence.
func (l *Local) CreateRoom(_ context.Context, r TransientRoom) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[r.Creator]
	if !ok {
		return fmt.Errorf("create %s: creator %w", r.Key, ErrNotFound)
	}
	if _, exists := l.transient[r.Key]; exists {
		return ErrConflict
	}
	l.transient[r.Key] = r
	l.joinLocked(e, r.Key)
	return nil
}

// Room implements Sequence.
func (l *Local) Room(_ context.Context, key string) (TransientRoom, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.transient[key]
	return r, ok, nil
}

// Socket implements Sequence.
func (l *Local) Socket(_ context.Context, socketID string) (Entry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sockets[socketID]
	if !ok {
		return Entry{}, false, nil
	}
	return e.snapshot(), true, nil
}

// Members implements Sequence.
func (l *Local) Members(_ context.Context, room string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.rooms[room]))
	for id := range l.rooms[room] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// TokenSockets implements Sequence.
func (l *Local) TokenSockets(_ context.Context, tokenID string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var used map[int]*entry
	if slots := l.tokens[tokenID]; slots != nil {
		used = slots.used
	}
	ids := make([]string, 0, len(used))
	for _, e := range used {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// Routes implements Sequence.
func (l *Local) Routes(_ context.Context, room string) ([]int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := make([]int, 0, len(l.routes[room]))
	for p := range l.routes[room] {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps, nil
}

// ReleasePuddle implements Sequence.
func (l *Local) ReleasePuddle(_ context.Context, puddle int) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gone []Entry
	for _, e := range l.sockets {
		if e.Puddle != puddle {
			continue
		}
		snap := e.snapshot()
		l.releaseLocked(e)
		gone = append(gone, snap)
	}
	slices.SortFunc(gone, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
	return gone, nil
}

func (e *entry) snapshot() Entry {
	s := e.Entry
	s.Rooms = slices.Clone(e.rooms)
	if s.Rooms == nil {
		s.Rooms = []string{}
	}
	slices.Sort(s.Rooms)
	return s
}

// AllRoutes returns the whole route table: room key → puddles with members.
func (l *Local) AllRoutes() map[string][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]int, len(l.routes))
	for room, ps := range l.routes {
		list := make([]int, 0, len(ps))
		for p := range ps {
			list = append(list, p)
		}
		slices.Sort(list)
		out[room] = list
	}
	return out
}

// tokenSlots are the slots of one token. The lowest free slot is the least
// of free (slots given back below the high-water mark) or next+1, so taking
// one costs O(log n), not a scan of the token's sockets.
type tokenSlots struct {
	used map[int]*entry
	free slotHeap // free slots below next
	next int      // the highest slot ever taken; every slot above is free
}

func (t *tokenSlots) take() int {
	if len(t.free) > 0 {
		return heap.Pop(&t.free).(int)
	}
	t.next++
	return t.next
}

func (t *tokenSlots) give(slot int) {
	delete(t.used, slot)
	heap.Push(&t.free, slot)
}

// slotHeap is a min-heap of slot numbers (container/heap).
type slotHeap []int

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *slotHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
