package bench

import (
	"fmt"
	"testing"
)

// TestPlan checks the spread: every receiver and publisher placed once, the
// processes balanced, and each publisher that needs a watcher placed with a
// receiver of its room.
func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		conns, rooms, pubs, procs int
		echo                      bool
		via                       string
	}{
		{1000, 1, 1, 1, true, ViaWS},
		{1000, 1, 1, 2, false, ViaWS},
		{10000, 1000, 10, 3, true, ViaWS},
		{10000, 1000, 10, 3, false, ViaWS},
		{7, 3, 5, 4, false, ViaHTTP},
		{100000, 1, 4, 6, false, ViaWS},
		{5, 5, 0, 2, false, ViaWS},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			rooms := make([]room, tc.rooms)
			for i := range rooms {
				rooms[i] = room{Name: fmt.Sprint("room-", i), Echo: tc.echo}
			}
			shares, err := plan(share{Via: tc.via}, rooms, tc.conns, tc.pubs, tc.procs, tc.via)
			if err != nil {
				t.Fatal(err)
			}
			perRoom := map[string]int{}
			pubSeen := map[int]bool{}
			total := 0
			for _, s := range shares {
				n := 0
				for _, r := range s.Rooms {
					perRoom[r.Name] += r.Receivers
					n += r.Receivers
					for _, p := range r.Pubs {
						if pubSeen[p] {
							t.Fatalf("publisher %d placed twice", p)
						}
						pubSeen[p] = true
						if want := fmt.Sprint("room-", p%tc.rooms); r.Name != want {
							t.Fatalf("publisher %d in %s, want %s", p, r.Name, want)
						}
					}
					needWatch := len(r.Pubs) > 0 && (tc.via == ViaHTTP || !tc.echo)
					if r.Watch != needWatch || (r.Watch && r.Receivers == 0) {
						t.Fatalf("room %s in process %d: watch %v with %d receivers", r.Name, s.Proc, r.Watch, r.Receivers)
					}
				}
				if q := (tc.conns + tc.procs - 1) / tc.procs; n > q {
					t.Fatalf("process %d has %d receivers, quota %d", s.Proc, n, q)
				}
				total += n
			}
			if total != tc.conns || len(pubSeen) != tc.pubs {
				t.Fatalf("placed %d receivers and %d publishers", total, len(pubSeen))
			}
			for i := range tc.rooms {
				want := tc.conns / tc.rooms
				if i < tc.conns%tc.rooms {
					want++
				}
				if got := perRoom[fmt.Sprint("room-", i)]; got != want {
					t.Fatalf("room-%d has %d receivers, want %d", i, got, want)
				}
			}
		})
	}
}
