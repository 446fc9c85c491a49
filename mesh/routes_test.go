package mesh

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSyncRoutesDropsLeftRooms: routes the sequence no longer has go, a
// room with none left leaves the table, routes it has that the table lacks
// come back, and messages follow the new table.
func TestSyncRoutesDropsLeftRooms(t *testing.T) {
	ms, rs := trio(t)
	m := ms[0]
	m.AddRoutes([]Route{{"a/x", 1}, {"a/x", 2}, {"a/y", 1}, {"a/z", 0}}) // a/z is to itself: not kept
	if got := m.RouteCount(); got != 3 {
		t.Fatalf("RouteCount = %d, want 3", got)
	}

	asked := time.Now()
	// The sequence now says: a/x only on 2, a/y gone, a/z on 0 (this
	// puddle: no route needed), a/v on 1 (a push this puddle missed).
	added, removed := m.SyncRoutes([]Route{{"a/x", 2}, {"a/z", 0}, {"a/v", 1}}, asked)
	if added != 1 || removed != 2 {
		t.Fatalf("SyncRoutes = %d added, %d removed; want 1, 2", added, removed)
	}
	for room, want := range map[string][]int{"a/x": {2}, "a/y": nil, "a/z": nil, "a/v": {1}} {
		if got := m.Routes(room); !slices.Equal(got, want) {
			t.Fatalf("Routes(%s) = %v, want %v", room, got, want)
		}
	}
	if _, ok := m.routes.Load("a/y"); ok {
		t.Fatal("a room with no routes left stays in the table")
	}

	m.Publish("a/x", msg("x1")) // to 2 only now
	m.Publish("a/y", msg("y1")) // to nobody
	m.Publish("a/v", msg("v1")) // to 1, repaired
	barrier(t, m, rs, "b")
	if got := rs[1].ids("a/x"); len(got) != 0 {
		t.Fatalf("puddle 1 got %v in a/x after its route was dropped", got)
	}
	if got := rs[2].ids("a/x"); !slices.Equal(got, []string{"x1"}) {
		t.Fatalf("puddle 2 got %v in a/x, want x1", got)
	}
	if got := rs[1].ids("a/y"); len(got) != 0 {
		t.Fatalf("puddle 1 got %v in a/y after its route was dropped", got)
	}
	if got := rs[1].ids("a/v"); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("puddle 1 got %v in a/v, want v1 (route repaired)", got)
	}
}

// TestSyncRoutesKeepsLaterAdds: a route added after the sequence was asked
// (a member that joined meanwhile) survives an answer that lacks it, and a
// route added again after being stale survives too.
func TestSyncRoutesKeepsLaterAdds(t *testing.T) {
	ms, _ := trio(t)
	m := ms[0]
	m.AddRoutes([]Route{{"a/old", 1}, {"a/back", 2}})
	asked := time.Now()
	m.AddRoutes([]Route{{"a/new", 1}})  // joined after the question
	m.AddRoutes([]Route{{"a/back", 2}}) // left and joined again after it
	if _, removed := m.SyncRoutes(nil, asked); removed != 1 {
		t.Fatalf("removed %d routes, want 1 (a/old)", removed)
	}
	for room, want := range map[string][]int{"a/old": nil, "a/new": {1}, "a/back": {2}} {
		if got := m.Routes(room); !slices.Equal(got, want) {
			t.Fatalf("Routes(%s) = %v, want %v", room, got, want)
		}
	}
	// The next sync, asked after those adds, drops them when the sequence
	// has no such routes.
	if _, removed := m.SyncRoutes(nil, time.Now()); removed != 2 || m.RouteCount() != 0 {
		t.Fatalf("removed %d, %d left; want 2 and 0", removed, m.RouteCount())
	}
}

// TestSyncRoutesConcurrent: syncs racing with adds and lock-free readers
// never lose an add made after the sync's question (run with -race).
func TestSyncRoutesConcurrent(t *testing.T) {
	ms, _ := trio(t)
	m := ms[0]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // readers
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = m.Routes("r/0")
				m.Publish("r/1", msg("p"))
			}
		}
	}()
	for i := range 200 {
		asked := time.Now()
		room := fmt.Sprintf("r/%d", i%7)
		m.AddRoutes([]Route{{room, 1 + i%2}})
		m.SyncRoutes(nil, asked)
		if got := m.Routes(room); !slices.Contains(got, 1+i%2) {
			t.Fatalf("round %d: the route added after the question is gone: %v", i, got)
		}
	}
	close(stop)
	wg.Wait()
}

// TestRoutesSkipSelf: routes to the puddle itself (a worker's start
// snapshot has them) are neither added nor synced in.
func TestRoutesSkipSelf(t *testing.T) {
	ms, _ := trio(t)
	m := ms[0]
	m.AddRoutes([]Route{{"a/x", 0}, {"a/x", 1}, {"a/z", 0}})
	if got := m.RouteCount(); got != 1 {
		t.Fatalf("RouteCount after AddRoutes = %d, want 1 (a/x to 1)", got)
	}
	added, removed := m.SyncRoutes([]Route{{"a/x", 0}, {"a/x", 1}, {"a/y", 0}}, time.Now())
	if added != 0 || removed != 0 {
		t.Fatalf("SyncRoutes = %d added, %d removed; want 0, 0", added, removed)
	}
	for room, want := range map[string][]int{"a/x": {1}, "a/y": nil, "a/z": nil} {
		if got := m.Routes(room); !slices.Equal(got, want) {
			t.Fatalf("Routes(%s) = %v, want %v", room, got, want)
		}
	}
}
