package sequencetest

import (
	"slices"
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var routeTests = []subtest{
	{"TwoPuddles", testRoutesTwoPuddles},
	{"CountsMembers", testRoutesCountMembers},
	{"FollowRelease", testRoutesFollowRelease},
}

var releasePuddleTests = []subtest{
	{"OnlyThatPuddle", testReleasePuddleOnlyThatPuddle},
	{"Empty", testReleasePuddleEmpty},
}

func testRoutesTwoPuddles(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 2)
	b := admit(t, s, "tk_a", 2, 1)
	wantList(t, "Routes before any join", routes(t, s, "acme/lobby"), nil)
	join(t, s, a.ID, "acme/lobby", 0)
	join(t, s, b.ID, "acme/lobby", 0)
	wantList(t, "Routes", routes(t, s, "acme/lobby"), []int{1, 2})
	wantList(t, "Routes(other room)", routes(t, s, "acme/other"), nil)

	leave(t, s, a.ID, "acme/lobby")
	wantList(t, "Routes after puddle 2 left", routes(t, s, "acme/lobby"), []int{1})
	leave(t, s, b.ID, "acme/lobby")
	wantList(t, "Routes after everyone left", routes(t, s, "acme/lobby"), nil)
}

// A puddle stays routed while any of its sockets is a member.
func testRoutesCountMembers(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 3, 1)
	b := admit(t, s, "tk_a", 3, 1)
	c := admit(t, s, "tk_a", 3, 2)
	for _, id := range []string{a.ID, b.ID, c.ID} {
		join(t, s, id, "acme/lobby", 0)
	}
	leave(t, s, a.ID, "acme/lobby")
	wantList(t, "Routes after one of two puddle-1 members left", routes(t, s, "acme/lobby"), []int{1, 2})
	leave(t, s, b.ID, "acme/lobby")
	wantList(t, "Routes after both puddle-1 members left", routes(t, s, "acme/lobby"), []int{2})
}

func testRoutesFollowRelease(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 1)
	b := admit(t, s, "tk_a", 2, 2)
	join(t, s, a.ID, "acme/lobby", 0)
	join(t, s, b.ID, "acme/lobby", 0)
	create(t, s, b.ID, "acme/tmp")
	release(t, s, b.ID)
	wantList(t, "Routes(acme/lobby)", routes(t, s, "acme/lobby"), []int{1})
	wantList(t, "Routes(acme/tmp)", routes(t, s, "acme/tmp"), nil)
}

func testReleasePuddleOnlyThatPuddle(t *testing.T, s sequence.Sequence) {
	a1 := admit(t, s, "tk_a", 3, 1) // tk_a/1 on puddle 1
	a2 := admit(t, s, "tk_a", 3, 2) // tk_a/2 on puddle 2
	a3 := admit(t, s, "tk_a", 3, 1) // tk_a/3 on puddle 1
	b1 := admit(t, s, "tk_b", 1, 1) // tk_b/1 on puddle 1
	activate(t, s, a2.ID)
	join(t, s, a1.ID, "acme/lobby", 0)
	join(t, s, a2.ID, "acme/lobby", 0)
	join(t, s, a3.ID, "acme/lobby", 0)
	create(t, s, b1.ID, "acme/one") // only puddle-1 members: vanishes
	create(t, s, a2.ID, "acme/two") // puddle 2 keeps it alive
	join(t, s, a1.ID, "acme/two", 0)
	join(t, s, b1.ID, "acme/pair", 2) // max 2, one place frees
	join(t, s, a2.ID, "acme/pair", 2)
	wantList(t, "Routes before", routes(t, s, "acme/lobby"), []int{1, 2})

	gone, err := s.ReleasePuddle(t.Context(), 1)
	if err != nil {
		t.Fatalf("ReleasePuddle(1): %v", err)
	}
	var ids []string
	for _, e := range gone {
		if e.Puddle != 1 {
			t.Errorf("released entry %s is on puddle %d, want 1", e.ID, e.Puddle)
		}
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	wantList(t, "released", ids, []string{a1.ID, a3.ID, b1.ID})

	for _, id := range ids {
		if _, ok := socket(t, s, id); ok {
			t.Errorf("Socket(%s) still found after ReleasePuddle", id)
		}
	}
	if e, ok := socket(t, s, a2.ID); !ok || e.State != sequence.Live {
		t.Fatalf("puddle-2 socket after ReleasePuddle(1) = %+v, %v; want it untouched and live", e, ok)
	}
	wantList(t, "TokenSockets(tk_a)", tokenSockets(t, s, "tk_a"), []string{a2.ID})
	wantList(t, "TokenSockets(tk_b)", tokenSockets(t, s, "tk_b"), nil)
	wantList(t, "Members(acme/lobby)", members(t, s, "acme/lobby"), []string{a2.ID})
	wantList(t, "Routes(acme/lobby)", routes(t, s, "acme/lobby"), []int{2})
	wantList(t, "Members(acme/two)", members(t, s, "acme/two"), []string{a2.ID})
	wantList(t, "Routes(acme/two)", routes(t, s, "acme/two"), []int{2})
	if _, ok := room(t, s, "acme/two"); !ok {
		t.Fatal("acme/two vanished though puddle 2 still has a member")
	}
	if _, ok := room(t, s, "acme/one"); ok {
		t.Fatal("acme/one survived the release of its only member's puddle")
	}
	wantList(t, "Routes(acme/one)", routes(t, s, "acme/one"), nil)

	// Freed slots and places are reusable.
	if e := admit(t, s, "tk_a", 3, 3); e.Slot != 1 {
		t.Fatalf("admit after ReleasePuddle: slot %d, want the freed slot 1", e.Slot)
	}
	c := admit(t, s, "tk_b", 1, 3)
	join(t, s, c.ID, "acme/pair", 2)
	create(t, s, c.ID, "acme/one")
}

func testReleasePuddleEmpty(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 1, 1)
	join(t, s, a.ID, "acme/lobby", 0)
	for range 2 {
		gone, err := s.ReleasePuddle(t.Context(), 2)
		if err != nil || len(gone) != 0 {
			t.Fatalf("ReleasePuddle(2) = %v, %v; want nothing", gone, err)
		}
	}
	if _, err := s.ReleasePuddle(t.Context(), 1); err != nil {
		t.Fatalf("ReleasePuddle(1): %v", err)
	}
	gone, err := s.ReleasePuddle(t.Context(), 1)
	if err != nil || len(gone) != 0 {
		t.Fatalf("second ReleasePuddle(1) = %v, %v; want nothing", gone, err)
	}
	wantList(t, "Members", members(t, s, "acme/lobby"), nil)
}
