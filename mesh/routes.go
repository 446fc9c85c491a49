package mesh

import (
	"slices"
	"time"
)

// Route says that puddle Puddle has members in room Room (key owner/name).
type Route struct {
	Room   string
	Puddle int
}

// roomRoute is one room's entry in the route table. It is never modified
// once stored: AddRoutes and SyncRoutes store a new one.
type roomRoute struct {
	ids   []int   // sorted; never Self
	added []int64 // when each of ids was last added (Mesh.clock), for SyncRoutes
	peers []*peer // the peers of ids
}

// clock is the mesh's monotonic time in nanoseconds since New.
func (m *Mesh) clock() int64 { return int64(time.Since(m.born)) }

// AddRoutes adds routes to the route table. Adding a route that is already
// there only notes that it was added again (see SyncRoutes). Routes go away
// only through SyncRoutes: until then a puddle that receives a room message
// for a room it has no local members in drops it (the Receiver finds no
// room), which costs one frame and keeps the table lock-free for readers.
// Negative puddle ids are ignored, and so are routes to this puddle itself:
// they carry nothing (its own members get messages from its router).
func (m *Mesh) AddRoutes(routes []Route) {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	now := m.clock()
	for _, r := range routes {
		if r.Puddle >= 0 && r.Puddle != m.cfg.Self {
			m.addRouteLocked(r, now)
		}
	}
}

func (m *Mesh) addRouteLocked(r Route, now int64) {
	cur := m.route(r.Room)
	next := &roomRoute{}
	if cur != nil {
		next.ids = slices.Clone(cur.ids)
		next.added = slices.Clone(cur.added)
		next.peers = cur.peers
	}
	i, found := slices.BinarySearch(next.ids, r.Puddle)
	if found {
		next.added[i] = now
		m.routes.Store(r.Room, next)
		return
	}
	next.ids = slices.Insert(next.ids, i, r.Puddle)
	next.added = slices.Insert(next.added, i, now)
	next.peers = m.peersOf(next.ids)
	m.routes.Store(r.Room, next)
}

// peersOf returns the peers of ids.
func (m *Mesh) peersOf(ids []int) []*peer {
	var out []*peer
	for _, id := range ids {
		if p := m.peer(id); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// SyncRoutes brings the route table in line with the sequence's, current,
// read after asked: a route current has that the table lacks is added (a
// route push that failed is repaired), and a route the table has that
// current lacks is removed unless AddRoutes added it at or after asked (a
// member that joined after the sequence answered). A room left with no
// route leaves the table, so the table tracks the rooms that have members
// rather than every room that ever had one. Routes to this puddle itself
// are ignored, as by AddRoutes. It returns how many routes it added and
// removed.
func (m *Mesh) SyncRoutes(current []Route, asked time.Time) (added, removed int) {
	want := make(map[string][]int, len(current))
	for _, r := range current {
		if r.Puddle >= 0 && r.Puddle != m.cfg.Self {
			want[r.Room] = append(want[r.Room], r.Puddle)
		}
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	cutoff := int64(asked.Sub(m.born))
	now := m.clock()
	m.routes.Range(func(k, v any) bool {
		room, rt := k.(string), v.(*roomRoute)
		ps := want[room]
		next := &roomRoute{}
		for i, id := range rt.ids {
			if rt.added[i] >= cutoff || slices.Contains(ps, id) {
				next.ids = append(next.ids, id)
				next.added = append(next.added, rt.added[i])
			}
		}
		if n := len(rt.ids) - len(next.ids); n > 0 {
			removed += n
			if len(next.ids) == 0 {
				m.routes.Delete(room)
			} else {
				next.peers = m.peersOf(next.ids)
				m.routes.Store(room, next)
			}
		}
		return true
	})
	for room, ps := range want {
		for _, p := range ps {
			if rt := m.route(room); rt != nil {
				if _, found := slices.BinarySearch(rt.ids, p); found {
					continue
				}
			}
			m.addRouteLocked(Route{Room: room, Puddle: p}, now)
			added++
		}
	}
	return added, removed
}

// Routes returns the other puddles routed for room, in increasing order.
func (m *Mesh) Routes(room string) []int {
	if rt := m.route(room); rt != nil {
		return slices.Clone(rt.ids)
	}
	return nil
}

// RouteCount is how many (room, other puddle) routes the table holds.
func (m *Mesh) RouteCount() int {
	n := 0
	m.routes.Range(func(_, v any) bool {
		n += len(v.(*roomRoute).ids)
		return true
	})
	return n
}

// route is the hot-path lookup: a lock-free load.
func (m *Mesh) route(room string) *roomRoute {
	v, ok := m.routes.Load(room)
	if !ok {
		return nil
	}
	return v.(*roomRoute)
}
