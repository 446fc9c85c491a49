package sequence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
)

var _ Sequence = (*Local)(nil)

// Local is the in-process Sequence. The zero value is not usable; call
// NewLocal.
//
// Local holds one entry per socket, so an entry is kept small: a socket id
// is not stored but rebuilt from the token and slot ("tokenID/slot") when
// asked for, and parsed back to find the entry; owner and mode strings are
// interned; the token's slots are a slice indexed by slot.
type Local struct {
	mu        sync.Mutex
	tokens    map[string]*tokenSlots   // token id → its slots, and so its sockets
	rooms     map[string]*room         // room key → members and routes
	transient map[string]TransientRoom // room key → room

	newRoute func(ctx context.Context, room string, puddle int) // see OnNewRoute
}

// OnNewRoute makes every Admit (with Join), Join and CreateRoom that gives
// a puddle its first member in a room call fn with the call's context,
// after the sequence's lock is released and before the call returns: the
// supervisor pushes the route to the other workers there. A route that
// comes back after its last member left is new again. Set it before use.
func (l *Local) OnNewRoute(fn func(ctx context.Context, room string, puddle int)) { l.newRoute = fn }

// routed tells OnNewRoute's fn of a new route.
func (l *Local) routed(ctx context.Context, room string, puddle int) {
	if l.newRoute != nil {
		l.newRoute(ctx, room, puddle)
	}
}

// entry is one socket. Its id is tok.id + "/" + slot.
type entry struct {
	tok    *tokenSlots
	owner  unique.Handle[string]
	mode   unique.Handle[string]
	rooms  []*room // the rooms it is in; a slice, as an entry is in few rooms
	puddle int
	slot   int32 // a token never holds 2^31 sockets
	state  uint8 // a State
}

// id builds the socket id.
func (e *entry) id() string {
	var buf [20]byte
	return e.tok.id + "/" + string(strconv.AppendInt(buf[:0], int64(e.slot), 10))
}

func (e *entry) in(r *room) bool { return slices.Contains(e.rooms, r) }

func (e *entry) drop(r *room) {
	if i := slices.Index(e.rooms, r); i >= 0 {
		last := len(e.rooms) - 1
		e.rooms[i] = e.rooms[last]
		e.rooms[last] = nil
		e.rooms = e.rooms[:last]
	}
}

func (e *entry) snapshot() Entry {
	rooms := make([]string, len(e.rooms))
	for i, r := range e.rooms {
		rooms[i] = r.key
	}
	slices.Sort(rooms)
	return Entry{
		ID:      e.id(),
		TokenID: e.tok.id,
		Slot:    int(e.slot),
		Owner:   e.owner.Value(),
		Puddle:  e.puddle,
		Mode:    e.mode.Value(),
		State:   State(e.state),
		Rooms:   rooms,
	}
}

// room is a room with members: who is in it and which puddles they are on.
type room struct {
	key     string
	members map[*entry]struct{}
	routes  []route // sorted by puddle
}

// route counts the members of a room on one puddle.
type route struct {
	puddle int
	n      int
}

// addRoute counts a member on puddle; true when it is the puddle's first
// (a new route).
func (r *room) addRoute(puddle int) bool {
	i, found := slices.BinarySearchFunc(r.routes, puddle, func(rt route, p int) int { return cmp.Compare(rt.puddle, p) })
	if found {
		r.routes[i].n++
		return false
	}
	r.routes = slices.Insert(r.routes, i, route{puddle: puddle, n: 1})
	return true
}

func (r *room) dropRoute(puddle int) {
	i, found := slices.BinarySearchFunc(r.routes, puddle, func(rt route, p int) int { return cmp.Compare(rt.puddle, p) })
	if !found {
		return
	}
	if r.routes[i].n--; r.routes[i].n <= 0 {
		r.routes = slices.Delete(r.routes, i, i+1)
	}
}

func (r *room) puddles() []int {
	ps := make([]int, len(r.routes))
	for i, rt := range r.routes {
		ps[i] = rt.puddle
	}
	return ps
}

// NewLocal returns an empty in-process sequence.
func NewLocal() *Local {
	return &Local{
		tokens:    make(map[string]*tokenSlots),
		rooms:     make(map[string]*room),
		transient: make(map[string]TransientRoom),
	}
}

// lookupLocked finds the entry of a socket id.
func (l *Local) lookupLocked(socketID string) *entry {
	i := strings.LastIndexByte(socketID, '/')
	if i < 0 {
		return nil
	}
	slot, ok := parseSlot(socketID[i+1:])
	if !ok {
		return nil
	}
	slots := l.tokens[socketID[:i]]
	if slots == nil || slot > len(slots.used) {
		return nil
	}
	return slots.used[slot-1]
}

// parseSlot parses a slot as strconv.Itoa writes it: digits, no sign, no
// leading zero, at least 1. Any other spelling names no socket.
func parseSlot(s string) (int, bool) {
	if s == "" || len(s) > 10 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 1<<31-1
}

// Admit implements Sequence.
func (l *Local) Admit(ctx context.Context, r AdmitRequest) (Entry, error) {
	e, added, err := l.admit(r)
	if added {
		l.routed(ctx, r.Join, e.Puddle)
	}
	return e, err
}

// admit is Admit under the lock; added reports a new route.
func (l *Local) admit(r AdmitRequest) (Entry, bool, error) {
	if r.MaxConnections < 1 {
		return Entry{}, false, ErrMaxConnections
	}
	owner, mode := unique.Make(r.Owner), unique.Make(r.Mode)
	l.mu.Lock()
	defer l.mu.Unlock()
	slots := l.tokens[r.TokenID]
	if slots != nil && slots.n >= r.MaxConnections {
		return Entry{}, false, ErrMaxConnections
	}
	if r.Join != "" && r.JoinMaxMembers > 0 {
		if rm := l.rooms[r.Join]; rm != nil && len(rm.members) >= r.JoinMaxMembers {
			return Entry{}, false, ErrRoomFull
		}
	}
	if slots == nil {
		slots = &tokenSlots{id: r.TokenID}
		l.tokens[r.TokenID] = slots
	}
	// The lowest free slot is at most n+1, so it is within MaxConnections
	// here.
	e := &entry{tok: slots, owner: owner, mode: mode, puddle: r.Puddle, state: uint8(Admitted)}
	slots.take(e)
	added := false
	if r.Join != "" {
		added = l.joinLocked(e, r.Join)
	}
	return e.snapshot(), added, nil
}

// Activate implements Sequence.
func (l *Local) Activate(_ context.Context, socketID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(socketID)
	if e == nil {
		return fmt.Errorf("activate %s: %w", socketID, ErrNotFound)
	}
	e.state = uint8(Live)
	return nil
}

// Release implements Sequence.
func (l *Local) Release(_ context.Context, socketID string) (left, vanished []string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(socketID)
	if e == nil {
		return nil, nil, nil // releasing twice is harmless
	}
	left, vanished = l.releaseLocked(e)
	return left, vanished, nil
}

func (l *Local) releaseLocked(e *entry) (left, vanished []string) {
	for _, r := range slices.Clone(e.rooms) {
		left = append(left, r.key)
		if l.leaveLocked(e, r) {
			vanished = append(vanished, r.key)
		}
	}
	slices.Sort(left)
	slices.Sort(vanished)
	slots := e.tok
	slots.give(e)
	if slots.n == 0 {
		delete(l.tokens, slots.id)
	}
	e.state = uint8(Gone)
	return left, vanished
}

// Join implements Sequence.
func (l *Local) Join(ctx context.Context, r JoinRequest) error {
	puddle, added, err := l.join(r)
	if added {
		l.routed(ctx, r.Room, puddle)
	}
	return err
}

// join is Join under the lock: the socket's puddle, and whether the join
// made a new route.
func (l *Local) join(r JoinRequest) (puddle int, added bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(r.SocketID)
	if e == nil {
		return 0, false, fmt.Errorf("join %s: socket %w", r.Room, ErrNotFound)
	}
	rm := l.rooms[r.Room]
	if rm != nil && e.in(rm) {
		return e.puddle, false, nil
	}
	if rm != nil && r.MaxMembers > 0 && len(rm.members) >= r.MaxMembers {
		return e.puddle, false, ErrRoomFull
	}
	return e.puddle, l.joinLocked(e, r.Room), nil
}

// joinLocked adds e to the room of key and reports whether that made a
// new route. It is a no-op for a member, so a route is never counted twice
// for one socket (CreateRoom may name a room its creator is already in).
func (l *Local) joinLocked(e *entry, key string) bool {
	rm := l.rooms[key]
	if rm == nil {
		rm = &room{key: key, members: make(map[*entry]struct{})}
		l.rooms[key] = rm
	} else if e.in(rm) {
		return false
	}
	rm.members[e] = struct{}{}
	e.rooms = append(e.rooms, rm)
	return rm.addRoute(e.puddle)
}

// Leave implements Sequence.
func (l *Local) Leave(_ context.Context, socketID, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(socketID)
	if e == nil {
		return false, fmt.Errorf("leave %s: socket %w", key, ErrNotFound)
	}
	rm := l.rooms[key]
	if rm == nil || !e.in(rm) {
		return false, nil
	}
	return l.leaveLocked(e, rm), nil
}

// leaveLocked removes e from rm and reports whether a transient room
// vanished with it.
func (l *Local) leaveLocked(e *entry, rm *room) bool {
	e.drop(rm)
	delete(rm.members, e)
	rm.dropRoute(e.puddle)
	if len(rm.members) > 0 {
		return false
	}
	delete(l.rooms, rm.key)
	if _, ok := l.transient[rm.key]; ok {
		delete(l.transient, rm.key)
		return true
	}
	return false
}

// CreateRoom implements Sequence.
func (l *Local) CreateRoom(ctx context.Context, r TransientRoom) error {
	puddle, added, err := l.createRoom(r)
	if added {
		l.routed(ctx, r.Key, puddle)
	}
	return err
}

// createRoom is CreateRoom under the lock: the creator's puddle, and
// whether its joining made a new route.
func (l *Local) createRoom(r TransientRoom) (puddle int, added bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(r.Creator)
	if e == nil {
		return 0, false, fmt.Errorf("create %s: creator %w", r.Key, ErrNotFound)
	}
	if _, exists := l.transient[r.Key]; exists {
		return e.puddle, false, ErrConflict
	}
	l.transient[r.Key] = r
	return e.puddle, l.joinLocked(e, r.Key), nil
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
	e := l.lookupLocked(socketID)
	if e == nil {
		return Entry{}, false, nil
	}
	return e.snapshot(), true, nil
}

// Puddle returns the puddle of a socket, without the copy Socket makes.
func (l *Local) Puddle(socketID string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(socketID)
	if e == nil {
		return 0, false
	}
	return e.puddle, true
}

// Members implements Sequence.
func (l *Local) Members(_ context.Context, key string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rm := l.rooms[key]
	if rm == nil {
		return []string{}, nil
	}
	ids := make([]string, 0, len(rm.members))
	for e := range rm.members {
		ids = append(ids, e.id())
	}
	slices.Sort(ids)
	return ids, nil
}

// TokenSockets implements Sequence.
func (l *Local) TokenSockets(_ context.Context, tokenID string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slots := l.tokens[tokenID]
	if slots == nil {
		return []string{}, nil
	}
	ids := make([]string, 0, slots.n)
	for _, e := range slots.used {
		if e != nil {
			ids = append(ids, e.id())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Routes implements Sequence.
func (l *Local) Routes(_ context.Context, key string) ([]int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rm := l.rooms[key]
	if rm == nil {
		return []int{}, nil
	}
	return rm.puddles(), nil
}

// ReleasePuddle implements Sequence.
func (l *Local) ReleasePuddle(_ context.Context, puddle int) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var doomed []*entry
	for _, slots := range l.tokens {
		for _, e := range slots.used {
			if e != nil && e.puddle == puddle {
				doomed = append(doomed, e)
			}
		}
	}
	gone := make([]Entry, 0, len(doomed))
	for _, e := range doomed {
		gone = append(gone, e.snapshot())
		l.releaseLocked(e)
	}
	slices.SortFunc(gone, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
	if len(gone) == 0 {
		return nil, nil
	}
	return gone, nil
}

// AllRoutes returns the whole route table: room key → puddles with members.
func (l *Local) AllRoutes() map[string][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]int, len(l.rooms))
	for key, rm := range l.rooms {
		out[key] = rm.puddles()
	}
	return out
}

// tokenSlots are the slots of one token: used[slot-1] is the entry in
// slot, nil when the slot is free. The lowest free slot is the least of free
// (slots given back below len(used)) or len(used)+1, so taking one costs
// O(log n), not a scan of the token's sockets.
type tokenSlots struct {
	id   string   // the token id
	used []*entry // by slot-1; nil where free
	n    int      // entries in used
	free slotHeap // the free slots below len(used)
}

// take puts e into the lowest free slot.
func (t *tokenSlots) take(e *entry) {
	if len(t.free) > 0 {
		e.slot = t.free.pop()
		t.used[e.slot-1] = e
	} else {
		t.used = append(t.used, e)
		e.slot = int32(len(t.used))
	}
	t.n++
}

// give frees the slot of e.
func (t *tokenSlots) give(e *entry) {
	t.used[e.slot-1] = nil
	t.n--
	t.free.push(e.slot)
}

// slotHeap is a min-heap of slot numbers.
type slotHeap []int32

func (h *slotHeap) push(slot int32) {
	*h = append(*h, slot)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *slotHeap) pop() int32 {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(s) {
			break
		}
		if c+1 < len(s) && s[c+1] < s[c] {
			c++
		}
		if s[i] <= s[c] {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}
