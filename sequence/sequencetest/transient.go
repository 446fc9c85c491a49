package sequencetest

import (
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var transientTests = []subtest{
	{"Create", testTransientCreate},
	{"Conflict", testTransientConflict},
	{"VanishesOnLeave", testTransientVanishesOnLeave},
	{"VanishesOnRelease", testTransientVanishesOnRelease},
	{"CreatorAlreadyMember", testTransientCreatorAlreadyMember},
}

func testTransientCreate(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 1, 4)
	want := create(t, s, a.ID, "acme/tmp")
	got, ok := room(t, s, "acme/tmp")
	if !ok || got != want {
		t.Fatalf("Room = %+v, %v; want %+v", got, ok, want)
	}
	wantList(t, "Members", members(t, s, "acme/tmp"), []string{a.ID})
	wantList(t, "Routes", routes(t, s, "acme/tmp"), []int{4})
	e, _ := socket(t, s, a.ID)
	wantList(t, "creator's Rooms", e.Rooms, []string{"acme/tmp"})
	if _, ok := room(t, s, "acme/other"); ok {
		t.Fatal("Room(acme/other) found, never created")
	}
}

func testTransientConflict(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	b := admit(t, s, "tk_a", 2, 0)
	want := create(t, s, a.ID, "acme/tmp")
	err := s.CreateRoom(t.Context(), sequence.TransientRoom{Key: "acme/tmp", Owner: "acme", Creator: b.ID})
	wantErr(t, "second CreateRoom", err, sequence.ErrConflict)
	if got, _ := room(t, s, "acme/tmp"); got != want {
		t.Fatalf("Room after conflict = %+v, want the first %+v", got, want)
	}
	wantList(t, "Members after conflict", members(t, s, "acme/tmp"), []string{a.ID})
	err = s.CreateRoom(t.Context(), transientRoom(a.ID, "acme/tmp"))
	wantErr(t, "CreateRoom again by its creator", err, sequence.ErrConflict)
}

func testTransientVanishesOnLeave(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	b := admit(t, s, "tk_a", 2, 0)
	create(t, s, a.ID, "acme/tmp")
	join(t, s, b.ID, "acme/tmp", 0)

	if leave(t, s, a.ID, "acme/tmp") {
		t.Fatal("room vanished when its creator left but a member stayed")
	}
	if _, ok := room(t, s, "acme/tmp"); !ok {
		t.Fatal("room gone while it still has a member")
	}
	if !leave(t, s, b.ID, "acme/tmp") {
		t.Fatal("last Leave did not report vanished")
	}
	if _, ok := room(t, s, "acme/tmp"); ok {
		t.Fatal("room still exists after its last member left")
	}
	wantList(t, "Members", members(t, s, "acme/tmp"), nil)
	wantList(t, "Routes", routes(t, s, "acme/tmp"), nil)

	// A vanished room is forgotten: joining its key is a plain join, and the
	// key can be created again.
	join(t, s, a.ID, "acme/tmp", 0)
	if leave(t, s, a.ID, "acme/tmp") {
		t.Fatal("plain join of a vanished room's key vanished again")
	}
	create(t, s, b.ID, "acme/tmp")
	if r, _ := room(t, s, "acme/tmp"); r.Creator != b.ID {
		t.Fatalf("recreated room creator %q, want %q", r.Creator, b.ID)
	}
	if !leave(t, s, b.ID, "acme/tmp") {
		t.Fatal("recreated room did not vanish with its last member")
	}
}

func testTransientVanishesOnRelease(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	create(t, s, a.ID, "acme/tmp")
	left, vanished := release(t, s, a.ID)
	wantList(t, "left", left, []string{"acme/tmp"})
	wantList(t, "vanished", vanished, []string{"acme/tmp"})
	if _, ok := room(t, s, "acme/tmp"); ok {
		t.Fatal("room still exists after its last member was released")
	}
	b := admit(t, s, "tk_a", 2, 0)
	create(t, s, b.ID, "acme/tmp")
	wantList(t, "Members of the recreated room", members(t, s, "acme/tmp"), []string{b.ID})
}

// A creator that already sits in a (persistent) room of the same key must
// not be counted twice: whatever CreateRoom answers, its routes and members
// are gone once it leaves.
func testTransientCreatorAlreadyMember(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 1, 2)
	join(t, s, a.ID, "acme/dup", 0)
	_ = s.CreateRoom(t.Context(), transientRoom(a.ID, "acme/dup"))
	wantList(t, "Members", members(t, s, "acme/dup"), []string{a.ID})
	leave(t, s, a.ID, "acme/dup")
	wantList(t, "Members after Leave", members(t, s, "acme/dup"), nil)
	wantList(t, "Routes after Leave", routes(t, s, "acme/dup"), nil)
	if _, ok := room(t, s, "acme/dup"); ok {
		t.Fatal("transient room outlived its only member")
	}
}
