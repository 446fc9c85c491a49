package sequencetest

import (
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var socketTests = []subtest{
	{"Activate", testSocketActivate},
	{"ActivateUnknown", testSocketActivateUnknown},
	{"ReleaseIdempotent", testSocketReleaseIdempotent},
	{"ReleaseReturnsRooms", testSocketReleaseReturnsRooms},
	{"UnknownSocket", testSocketUnknown},
	{"TokenSocketsSorted", testSocketTokenSocketsSorted},
}

func testSocketActivate(t *testing.T, s sequence.Sequence) {
	e := admit(t, s, "tk_a", 2, 0)
	activate(t, s, e.ID)
	got, ok := socket(t, s, e.ID)
	if !ok || got.State != sequence.Live {
		t.Fatalf("Socket after Activate = %+v, %v; want state live", got, ok)
	}
	other, _ := socket(t, s, admit(t, s, "tk_a", 2, 0).ID)
	if other.State != sequence.Admitted {
		t.Fatalf("second socket state %v, want admitted", other.State)
	}
}

func testSocketActivateUnknown(t *testing.T, s sequence.Sequence) {
	wantErr(t, "Activate(never admitted)", s.Activate(t.Context(), "tk_a/1"), sequence.ErrNotFound)
	e := admit(t, s, "tk_a", 1, 0)
	release(t, s, e.ID)
	wantErr(t, "Activate(released)", s.Activate(t.Context(), e.ID), sequence.ErrNotFound)
}

func testSocketReleaseIdempotent(t *testing.T, s sequence.Sequence) {
	e := admit(t, s, "tk_a", 1, 0)
	join(t, s, e.ID, "acme/lobby", 0)
	release(t, s, e.ID)
	left, vanished := release(t, s, e.ID)
	if len(left) != 0 || len(vanished) != 0 {
		t.Fatalf("second Release = %v, %v; want nothing", left, vanished)
	}
	release(t, s, "tk_never/1")
	if _, ok := socket(t, s, e.ID); ok {
		t.Fatal("Socket found after Release")
	}
	wantList(t, "TokenSockets", tokenSockets(t, s, "tk_a"), nil)
	wantList(t, "Members", members(t, s, "acme/lobby"), nil)
}

func testSocketReleaseReturnsRooms(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	b := admit(t, s, "tk_a", 2, 0)
	join(t, s, a.ID, "acme/zeta", 0)
	join(t, s, a.ID, "acme/alpha", 0)
	create(t, s, a.ID, "acme/solo")   // a is the only member: vanishes
	create(t, s, a.ID, "acme/shared") // b stays: survives
	join(t, s, b.ID, "acme/shared", 0)
	join(t, s, b.ID, "acme/alpha", 0)

	got, _ := socket(t, s, a.ID)
	wantList(t, "Socket.Rooms", got.Rooms, []string{"acme/alpha", "acme/shared", "acme/solo", "acme/zeta"})

	left, vanished := release(t, s, a.ID)
	wantList(t, "left", left, []string{"acme/alpha", "acme/shared", "acme/solo", "acme/zeta"})
	wantList(t, "vanished", vanished, []string{"acme/solo"})
	if _, ok := room(t, s, "acme/solo"); ok {
		t.Fatal("acme/solo still exists after its last member was released")
	}
	if _, ok := room(t, s, "acme/shared"); !ok {
		t.Fatal("acme/shared vanished while b is still a member")
	}
	wantList(t, "Members(acme/alpha)", members(t, s, "acme/alpha"), []string{b.ID})
	wantList(t, "Members(acme/zeta)", members(t, s, "acme/zeta"), nil)
}

func testSocketUnknown(t *testing.T, s sequence.Sequence) {
	err := s.Join(t.Context(), sequence.JoinRequest{SocketID: "tk_a/1", Room: "acme/lobby"})
	wantErr(t, "Join(unknown socket)", err, sequence.ErrNotFound)
	_, err = s.Leave(t.Context(), "tk_a/1", "acme/lobby")
	wantErr(t, "Leave(unknown socket)", err, sequence.ErrNotFound)
	err = s.CreateRoom(t.Context(), transientRoom("tk_a/1", "acme/tmp"))
	wantErr(t, "CreateRoom(unknown creator)", err, sequence.ErrNotFound)
	if _, ok := room(t, s, "acme/tmp"); ok {
		t.Fatal("room created by an unknown socket")
	}
	wantList(t, "Members(acme/lobby)", members(t, s, "acme/lobby"), nil)
	wantList(t, "Routes(acme/lobby)", routes(t, s, "acme/lobby"), nil)
	wantList(t, "TokenSockets(tk_a)", tokenSockets(t, s, "tk_a"), nil)
}

func testSocketTokenSocketsSorted(t *testing.T, s sequence.Sequence) {
	for range 12 {
		admit(t, s, "tk_a", 12, 0)
	}
	release(t, s, "tk_a/5")
	want := []string{
		"tk_a/1", "tk_a/10", "tk_a/11", "tk_a/12", "tk_a/2", "tk_a/3",
		"tk_a/4", "tk_a/6", "tk_a/7", "tk_a/8", "tk_a/9",
	}
	wantList(t, "TokenSockets", tokenSockets(t, s, "tk_a"), want)
}
