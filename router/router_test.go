package router_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/porthouse/porthouse/router"
)

func TestJoinLeave(t *testing.T) {
	r := router.New(0)
	if r.Room("alice/lobby") != nil {
		t.Fatal("room exists before any join")
	}
	m1 := router.NewMember("s/1", "alice", false, &recorder{}, all)
	m2 := router.NewMember("s/2", "alice", false, &recorder{}, all)

	room := r.Join("alice/lobby", "alice", "lobby", router.Rules{Echo: true}, m1)
	if room == nil || r.Room("alice/lobby") != room {
		t.Fatal("Join did not create and register the room")
	}
	if room.Key != "alice/lobby" || room.Owner != "alice" || room.Name != "lobby" || !room.Rules().Echo {
		t.Fatalf("room %+v rules %+v", room, room.Rules())
	}
	// A second join keeps the existing room and its rules.
	if got := r.Join("alice/lobby", "alice", "lobby", router.Rules{Presence: true}, m2); got != room {
		t.Fatal("second Join made a new room")
	}
	if room.Len() != 2 || room.Rules().Presence || !room.Rules().Echo {
		t.Fatalf("Len %d rules %+v", room.Len(), room.Rules())
	}

	stranger := router.NewMember("s/9", "alice", false, &recorder{}, all)
	if r.Leave(room, stranger) {
		t.Error("Leave of a member that never joined returned true")
	}
	other := r.Join("alice/other", "alice", "other", router.Rules{}, router.NewMember("s/3", "alice", false, &recorder{}, all))
	if r.Leave(other, m1) {
		t.Error("Leave from a room the member is not in returned true")
	}
	if room.Len() != 2 || other.Len() != 1 {
		t.Fatalf("failed leaves changed counts: %d %d", room.Len(), other.Len())
	}

	if !r.Leave(room, m1) {
		t.Fatal("Leave of a member returned false")
	}
	if r.Leave(room, m1) {
		t.Error("second Leave of the same member returned true")
	}
	if r.Room("alice/lobby") != room || room.Len() != 1 {
		t.Fatal("room forgotten while a member remains")
	}
	if !r.Leave(room, m2) {
		t.Fatal("Leave of the last member returned false")
	}
	if r.Room("alice/lobby") != nil {
		t.Fatal("room still registered after its last member left")
	}
	if r.Leave(room, m2) {
		t.Error("Leave from a forgotten room returned true")
	}

	// A new join makes a fresh room with the new rules; a stale Leave on the
	// old room must not forget the new one.
	room2 := r.Join("alice/lobby", "alice", "lobby", router.Rules{Presence: true}, m1)
	if room2 == room || !room2.Rules().Presence {
		t.Fatal("join after the room was forgotten reused the old room")
	}
	if r.Leave(room, m2) || r.Room("alice/lobby") != room2 {
		t.Fatal("a Leave on the forgotten room touched the new one")
	}

	var keys []string
	r.Rooms(func(room *router.Room) { keys = append(keys, room.Key) })
	if len(keys) != 2 {
		t.Errorf("Rooms visited %v, want alice/lobby and alice/other", keys)
	}
}

// TestLeaveKeepsOthers removes members from the middle, the end and the
// start of the shards and checks the rest are still delivered to exactly
// once.
func TestLeaveKeepsOthers(t *testing.T) {
	r := router.New(0)
	const n = 100
	recs := make([]*recorder, n)
	mems := make([]*router.Member, n)
	var room *router.Room
	for i := range mems {
		recs[i] = &recorder{}
		mems[i] = router.NewMember(fmt.Sprint("s/", i), "alice", false, recs[i], all)
		room = r.Join("alice/lobby", "alice", "lobby", router.Rules{}, mems[i])
	}
	left := map[int]bool{}
	for _, i := range []int{50, 99, 0, 1, 98, 37, 38, 7, 15, 23} {
		if !r.Leave(room, mems[i]) {
			t.Fatalf("Leave(%d) false", i)
		}
		left[i] = true
	}
	if got := room.Publish(router.NewJSON("id", "x", []byte(`1`)), nil); got != n-len(left) {
		t.Errorf("Publish delivered %d, want %d", got, n-len(left))
	}
	for i, rec := range recs {
		want := 1
		if left[i] {
			want = 0
		}
		if got := len(rec.take()); got != want {
			t.Errorf("member %d got %d frames, want %d", i, got, want)
		}
	}
}

// counter is a goroutine-safe Target that counts deliveries.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver([]byte) { c.n.Add(1) }

// TestConcurrentJoinLeavePublish churns membership of two rooms from many
// goroutines while others publish, then checks that no join or leave was
// lost. Run it with -race.
func TestConcurrentJoinLeavePublish(t *testing.T) {
	r := router.New(0)
	const (
		workers    = 8
		perWorker  = 200
		publishers = 2
		stable     = 10
	)
	// Stable members keep "alice/stable" alive; publishes there must reach
	// at least all of them every time.
	stableRecs := make([]*counter, stable)
	var stableRoom *router.Room
	for i := range stableRecs {
		stableRecs[i] = &counter{}
		stableRoom = r.Join("alice/stable", "alice", "stable", router.Rules{}, router.NewMember(fmt.Sprint("stable/", i), "alice", false, stableRecs[i], all))
	}

	stop := make(chan struct{})
	var pubs sync.WaitGroup
	var published atomic.Int64
	for p := 0; p < publishers; p++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if n := stableRoom.Publish(router.NewJSON("id", "p", []byte(`"x"`)), nil); n < stable {
					t.Errorf("publish reached %d members, fewer than the %d stable ones", n, stable)
					return
				}
				published.Add(1)
				if room := r.Room("alice/churn"); room != nil {
					room.Publish(router.NewBinary("id", "p", []byte{1}), nil)
				}
				r.Rooms(func(room *router.Room) { room.Len() })
				runtime.Gosched() // leave the joiners some CPU on small machines
			}
		}()
	}

	// Each worker joins perWorker members to both rooms, leaves three in
	// four from the stable room and all of them from the churn room.
	var workersWG sync.WaitGroup
	kept := make([][]*router.Member, workers)
	for w := 0; w < workers; w++ {
		workersWG.Add(1)
		go func() {
			defer workersWG.Done()
			for i := 0; i < perWorker; i++ {
				id := fmt.Sprintf("w%d/%d", w, i)
				ms := router.NewMember(id, "bob", i%3 == 0, &counter{}, all)
				mc := router.NewMember(id, "alice", false, &counter{}, all)
				rs := r.Join("alice/stable", "alice", "stable", router.Rules{}, ms)
				rc := r.Join("alice/churn", "alice", "churn", router.Rules{}, mc)
				if i%4 != 0 {
					if !r.Leave(rs, ms) {
						t.Errorf("Leave(%s) from stable returned false", id)
					}
				} else {
					kept[w] = append(kept[w], ms)
				}
				if !r.Leave(rc, mc) {
					t.Errorf("Leave(%s) from churn returned false", id)
				}
			}
		}()
	}
	workersWG.Wait()
	close(stop)
	pubs.Wait()

	want := stable + workers*perWorker/4
	if r.Room("alice/stable") != stableRoom {
		t.Fatal("stable room was replaced")
	}
	if got := stableRoom.Len(); got != want {
		t.Errorf("Len %d, want %d", got, want)
	}
	members := stableRoom.Members()
	if len(members) != want {
		t.Errorf("Members has %d, want %d", len(members), want)
	}
	seen := map[*router.Member]int{}
	for _, m := range members {
		seen[m]++
	}
	for w := range kept {
		for _, m := range kept[w] {
			if seen[m] != 1 {
				t.Errorf("member %s present %d times", m.ID, seen[m])
			}
		}
	}
	if got := stableRoom.Publish(router.NewJSON("id", "p", []byte(`1`)), nil); got != want {
		t.Errorf("final publish delivered %d, want %d", got, want)
	}
	if room := r.Room("alice/churn"); room != nil {
		t.Errorf("churn room still registered with %d members", room.Len())
	}
	for i, c := range stableRecs {
		if c.n.Load() != published.Load()+1 {
			t.Errorf("stable member %d got %d of %d messages", i, c.n.Load(), published.Load()+1)
		}
	}
}

func TestSockets(t *testing.T) {
	r := router.New(0)
	a, b := &recorder{}, &recorder{}
	if r.Socket("tk_a/1") != nil {
		t.Fatal("unknown socket found")
	}
	r.AddSocket("tk_a/1", a)
	if r.Socket("tk_a/1") != a {
		t.Fatal("Socket did not return the added target")
	}
	r.RemoveSocket("tk_a/1", b)
	if r.Socket("tk_a/1") != a {
		t.Fatal("RemoveSocket with a different target removed the socket")
	}
	// The slot is reused by a new socket before the old one unregisters.
	r.AddSocket("tk_a/1", b)
	r.RemoveSocket("tk_a/1", a)
	if r.Socket("tk_a/1") != b {
		t.Fatal("stale RemoveSocket removed the slot's new socket")
	}
	r.RemoveSocket("tk_a/1", b)
	if r.Socket("tk_a/1") != nil {
		t.Fatal("socket still present after RemoveSocket")
	}
	r.RemoveSocket("tk_a/1", b) // absent: no-op
}

func TestSocketsConcurrent(t *testing.T) {
	r := router.New(0)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				id := fmt.Sprintf("tk_%d/%d", g, i)
				c := &counter{}
				r.AddSocket(id, c)
				if r.Socket(id) != c {
					t.Errorf("Socket(%s) lost", id)
				}
				if i%2 == 0 {
					r.RemoveSocket(id, c)
				}
			}
		}()
	}
	wg.Wait()
	for g := 0; g < 8; g++ {
		for i := 0; i < 500; i++ {
			got := r.Socket(fmt.Sprintf("tk_%d/%d", g, i))
			if (got == nil) != (i%2 == 0) {
				t.Fatalf("tk_%d/%d present %v", g, i, got != nil)
			}
		}
	}
}
