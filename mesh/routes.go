package mesh

import "slices"

// Route says that puddle Puddle has members in room Room (key owner/name).
type Route struct {
	Room   string
	Puddle int
}

// roomRoute is one room's entry in the route table. It is never modified
// once stored: AddRoutes stores a new one.
type roomRoute struct {
	ids   []int   // sorted; may include Self
	peers []*peer // the puddles of ids other than Self
}

// AddRoutes adds routes to the route table. Adding a route that is already
// there does nothing. Routes are never removed: a puddle that receives a
// room message for a room it has no local members in drops it (the
// Receiver finds no room), which costs one frame and keeps the table
// lock-free for readers. Negative puddle ids are ignored.
func (m *Mesh) AddRoutes(routes []Route) {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	for _, r := range routes {
		if r.Puddle < 0 {
			continue
		}
		cur := m.route(r.Room)
		if cur != nil {
			if _, found := slices.BinarySearch(cur.ids, r.Puddle); found {
				continue
			}
		}
		next := &roomRoute{}
		if cur != nil {
			next.ids = slices.Clone(cur.ids)
			next.peers = slices.Clone(cur.peers)
		}
		i, _ := slices.BinarySearch(next.ids, r.Puddle)
		next.ids = slices.Insert(next.ids, i, r.Puddle)
		if r.Puddle != m.cfg.Self {
			if p := m.peer(r.Puddle); p != nil {
				next.peers = append(next.peers, p)
			}
		}
		m.routes.Store(r.Room, next)
	}
}

// Routes returns the puddles routed for room, in increasing order; it may
// include Self.
func (m *Mesh) Routes(room string) []int {
	if rt := m.route(room); rt != nil {
		return slices.Clone(rt.ids)
	}
	return nil
}

// route is the hot-path lookup: a lock-free load.
func (m *Mesh) route(room string) *roomRoute {
	v, ok := m.routes.Load(room)
	if !ok {
		return nil
	}
	return v.(*roomRoute)
}
