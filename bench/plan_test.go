package bench

import (
	"fmt"
	"testing"
)

// TestPlan checks the spread: every receiver placed once, the processes
// balanced, every room with a publisher, each publisher's rooms split
// across processes without loss, and a watcher wherever a publisher cannot
// see its own messages.
func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		conns, rooms, pubs, procs int
		echo                      bool
		via, mode                 string
	}{
		{1000, 1, 1, 1, true, ViaWS, ModeRaw},
		{1000, 1, 1, 2, false, ViaWS, ModeRaw},
		{10000, 1000, 10, 1, true, ViaWS, ModeRaw},
		{10000, 1000, 10, 3, true, ViaWS, ModeRaw},
		{10000, 1000, 10, 3, false, ViaWS, ModeEnvelope},
		{7, 3, 5, 4, false, ViaHTTP, ModeRaw},
		{100000, 1, 4, 6, false, ViaWS, ModeRaw},
		{5, 5, 0, 2, false, ViaWS, ModeRaw},
		{12, 6, 4, 2, true, ViaWS, ModeRaw},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			rooms := make([]room, tc.rooms)
			for i := range rooms {
				rooms[i] = room{Name: fmt.Sprint("room-", i), Echo: tc.echo}
			}
			in := planInput{rooms: rooms, conns: tc.conns, publishers: tc.pubs, procs: tc.procs, inflight: 64, rate: 100, echo: tc.echo}
			shares, err := plan(share{Via: tc.via, Mode: tc.mode}, in)
			if err != nil {
				t.Fatal(err)
			}
			perRoom := map[string]int{}
			lanes := map[string]int{}
			ids := map[int]bool{}
			total := 0
			var rate float64
			for _, s := range shares {
				n := 0
				for _, r := range s.Rooms {
					perRoom[r.Name] += r.Receivers
					n += r.Receivers
					if r.Receivers == 0 {
						t.Fatalf("process %d lists room %s without receivers", s.Proc, r.Name)
					}
				}
				watched := map[int]bool{}
				for _, p := range s.Pubs {
					if ids[p.ID] || p.ID >= s.PubIDs || p.Inflight < 1 {
						t.Fatalf("publisher %+v (ids %d)", p, s.PubIDs)
					}
					ids[p.ID] = true
					rate += p.Rate
					for _, ri := range p.Rooms {
						lanes[s.Rooms[ri].Name]++
						watched[ri] = true
					}
				}
				for ri, r := range s.Rooms {
					need := watched[ri] && (tc.via == ViaHTTP || !tc.echo)
					if r.Watch != need {
						t.Fatalf("room %s in process %d: watch %v, want %v", r.Name, s.Proc, r.Watch, need)
					}
				}
				if q := (tc.conns + tc.procs - 1) / tc.procs; n > q {
					t.Fatalf("process %d has %d receivers, quota %d", s.Proc, n, q)
				}
				total += n
			}
			if total != tc.conns {
				t.Fatalf("placed %d receivers", total)
			}
			for i := range tc.rooms {
				name := fmt.Sprint("room-", i)
				want := tc.conns / tc.rooms
				if i < tc.conns%tc.rooms {
					want++
				}
				if perRoom[name] != want {
					t.Fatalf("%s has %d receivers, want %d", name, perRoom[name], want)
				}
				if tc.pubs > 0 && lanes[name] == 0 {
					t.Fatalf("%s has no publisher", name)
				}
			}
			if wantLanes := max(tc.rooms, tc.pubs); tc.pubs > 0 && sum(lanes) != wantLanes {
				t.Fatalf("%d (publisher, room) pairs, want %d", sum(lanes), wantLanes)
			}
			if tc.pubs > 0 && (rate < 100*float64(tc.pubs)*0.999 || rate > 100*float64(tc.pubs)*1.001) {
				t.Fatalf("rates add up to %v", rate)
			}
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestPublisherRooms(t *testing.T) {
	seen := map[int]int{}
	for j := range 7 {
		for _, r := range publisherRooms(j, 100, 7) {
			seen[r]++
		}
	}
	for r := range 100 {
		if seen[r] != 1 {
			t.Fatalf("room %d served %d times", r, seen[r])
		}
	}
	if got := publisherRooms(5, 3, 7); len(got) != 1 || got[0] != 2 {
		t.Fatalf("%v", got)
	}
}
