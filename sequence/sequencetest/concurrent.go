package sequencetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var concurrentTests = []subtest{
	{"Admit", testConcurrentAdmit},
	{"Join", testConcurrentJoin},
	{"Churn", testConcurrentChurn},
}

// Fifty sockets of one token race for twenty slots: exactly twenty win, and
// they hold slots 1..20 once each.
func testConcurrentAdmit(t *testing.T, s sequence.Sequence) {
	const racers, maxConns = 50, 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		slots []int
		errs  []error
	)
	for p := range racers {
		wg.Go(func() {
			e, err := s.Admit(t.Context(), sequence.AdmitRequest{
				TokenID: "tk_a", Owner: "acme", MaxConnections: maxConns, Puddle: p % 4,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if e.ID != fmt.Sprintf("tk_a/%d", e.Slot) {
				errs = append(errs, fmt.Errorf("id %q does not match slot %d", e.ID, e.Slot))
			}
			slots = append(slots, e.Slot)
		})
	}
	wg.Wait()

	for _, err := range errs {
		if !errors.Is(err, sequence.ErrMaxConnections) {
			t.Errorf("Admit: %v, want %v", err, sequence.ErrMaxConnections)
		}
	}
	slices.Sort(slots)
	want := make([]int, maxConns)
	for i := range want {
		want[i] = i + 1
	}
	wantList(t, "admitted slots", slots, want)
	if n := len(tokenSockets(t, s, "tk_a")); n != maxConns {
		t.Fatalf("TokenSockets has %d sockets, want %d", n, maxConns)
	}
}

// Fifty sockets race into a room of ten places: exactly ten get in.
func testConcurrentJoin(t *testing.T, s sequence.Sequence) {
	const racers, maxMembers = 50, 10
	ids := make([]string, racers)
	for i := range ids {
		ids[i] = admit(t, s, fmt.Sprintf("tk_%02d", i), 1, i%3).ID
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		joined []string
	)
	for _, id := range ids {
		wg.Go(func() {
			err := s.Join(t.Context(), sequence.JoinRequest{SocketID: id, Room: "acme/lobby", MaxMembers: maxMembers})
			if err != nil {
				if !errors.Is(err, sequence.ErrRoomFull) {
					t.Errorf("Join(%s): %v, want nil or %v", id, err, sequence.ErrRoomFull)
				}
				return
			}
			mu.Lock()
			joined = append(joined, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(joined)
	wantList(t, "Members", members(t, s, "acme/lobby"), joined)
	if len(joined) != maxMembers {
		t.Fatalf("%d sockets joined, want %d", len(joined), maxMembers)
	}
}

// Sockets admit, join, create, leave and release at once; afterwards nothing
// is left behind.
func testConcurrentChurn(t *testing.T, s sequence.Sequence) {
	const workers, rounds = 8, 25
	rooms := []string{"acme/a", "acme/b", "acme/c"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for r := range rounds {
				e, err := s.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_churn", MaxConnections: workers, Puddle: w % 3})
				if err != nil {
					t.Errorf("Admit: %v", err)
					return
				}
				_ = s.Activate(ctx, e.ID)
				for _, room := range rooms {
					if err := s.Join(ctx, sequence.JoinRequest{SocketID: e.ID, Room: room}); err != nil {
						t.Errorf("Join(%s, %s): %v", e.ID, room, err)
					}
				}
				tmp := sequence.TransientRoom{Key: "acme/tmp", Creator: e.ID}
				if err := s.CreateRoom(ctx, tmp); err != nil && !errors.Is(err, sequence.ErrConflict) {
					t.Errorf("CreateRoom: %v", err)
				}
				if _, err := s.Leave(ctx, e.ID, rooms[r%len(rooms)]); err != nil {
					t.Errorf("Leave: %v", err)
				}
				_, _ = s.Members(ctx, "acme/a")
				_, _ = s.Routes(ctx, "acme/b")
				if _, _, err := s.Release(ctx, e.ID); err != nil {
					t.Errorf("Release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for _, room := range append(rooms, "acme/tmp") {
		wantList(t, "Members("+room+")", members(t, s, room), nil)
		wantList(t, "Routes("+room+")", routes(t, s, room), nil)
	}
	if _, ok := room(t, s, "acme/tmp"); ok {
		t.Fatal("transient room outlived every socket")
	}
	wantList(t, "TokenSockets", tokenSockets(t, s, "tk_churn"), nil)
}
