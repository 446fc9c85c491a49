package sequencetest

import (
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var roomTests = []subtest{
	{"JoinLeave", testRoomJoinLeave},
	{"JoinTwiceCountsOnce", testRoomJoinTwiceCountsOnce},
	{"LeaveNotMember", testRoomLeaveNotMember},
	{"MaxMembers", testRoomMaxMembers},
	{"PersistentNeverVanishes", testRoomPersistentNeverVanishes},
	{"MembersSorted", testRoomMembersSorted},
}

func testRoomJoinLeave(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 1, 0)
	join(t, s, a.ID, "acme/lobby", 0)
	wantList(t, "Members", members(t, s, "acme/lobby"), []string{a.ID})
	got, _ := socket(t, s, a.ID)
	wantList(t, "Socket.Rooms", got.Rooms, []string{"acme/lobby"})

	if leave(t, s, a.ID, "acme/lobby") {
		t.Fatal("Leave of a persistent room reported vanished")
	}
	wantList(t, "Members after Leave", members(t, s, "acme/lobby"), nil)
	got, _ = socket(t, s, a.ID)
	wantList(t, "Socket.Rooms after Leave", got.Rooms, nil)
}

func testRoomJoinTwiceCountsOnce(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 1, 3)
	join(t, s, a.ID, "acme/lobby", 0)
	join(t, s, a.ID, "acme/lobby", 0)
	wantList(t, "Members", members(t, s, "acme/lobby"), []string{a.ID})
	got, _ := socket(t, s, a.ID)
	wantList(t, "Socket.Rooms", got.Rooms, []string{"acme/lobby"})

	leave(t, s, a.ID, "acme/lobby")
	wantList(t, "Members after one Leave", members(t, s, "acme/lobby"), nil)
	wantList(t, "Routes after one Leave", routes(t, s, "acme/lobby"), nil)
}

func testRoomLeaveNotMember(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	b := admit(t, s, "tk_a", 2, 0)
	join(t, s, b.ID, "acme/lobby", 0)
	if leave(t, s, a.ID, "acme/lobby") {
		t.Fatal("Leave by a non-member reported vanished")
	}
	if leave(t, s, a.ID, "acme/nowhere") {
		t.Fatal("Leave of an unknown room reported vanished")
	}
	wantList(t, "Members", members(t, s, "acme/lobby"), []string{b.ID})
}

func testRoomMaxMembers(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 3, 0)
	b := admit(t, s, "tk_a", 3, 0)
	c := admit(t, s, "tk_a", 3, 0)
	join(t, s, a.ID, "acme/pair", 2)
	join(t, s, b.ID, "acme/pair", 2)

	err := s.Join(t.Context(), sequence.JoinRequest{SocketID: c.ID, Room: "acme/pair", MaxMembers: 2})
	wantErr(t, "third Join with max 2", err, sequence.ErrRoomFull)
	wantList(t, "Members after refusal", members(t, s, "acme/pair"), []string{a.ID, b.ID})
	got, _ := socket(t, s, c.ID)
	wantList(t, "refused Socket.Rooms", got.Rooms, nil)

	// A member joining again while the room is full is still not an error.
	join(t, s, a.ID, "acme/pair", 2)

	leave(t, s, b.ID, "acme/pair")
	join(t, s, c.ID, "acme/pair", 2)
	wantList(t, "Members after a place freed", members(t, s, "acme/pair"), []string{a.ID, c.ID})

	release(t, s, a.ID)
	join(t, s, b.ID, "acme/pair", 2)
	wantList(t, "Members after a release freed a place", members(t, s, "acme/pair"), []string{b.ID, c.ID})
}

func testRoomPersistentNeverVanishes(t *testing.T, s sequence.Sequence) {
	a := admit(t, s, "tk_a", 2, 0)
	b := admit(t, s, "tk_a", 2, 0)
	join(t, s, a.ID, "acme/lobby", 0)
	join(t, s, b.ID, "acme/lobby", 0)
	if leave(t, s, a.ID, "acme/lobby") {
		t.Fatal("Leave reported vanished with a member left")
	}
	left, vanished := release(t, s, b.ID)
	wantList(t, "left", left, []string{"acme/lobby"})
	wantList(t, "vanished", vanished, nil)
	if _, ok := room(t, s, "acme/lobby"); ok {
		t.Fatal("Room returned a persistent room; it only knows transient rooms")
	}

	// The room is joinable again; nothing of it was remembered as transient.
	join(t, s, a.ID, "acme/lobby", 0)
	if leave(t, s, a.ID, "acme/lobby") {
		t.Fatal("persistent room vanished on its last Leave")
	}
}

func testRoomMembersSorted(t *testing.T, s sequence.Sequence) {
	var ids []string
	for _, tok := range []string{"tk_c", "tk_a", "tk_b"} {
		for range 2 {
			ids = append(ids, admit(t, s, tok, 2, 0).ID)
		}
	}
	for i := len(ids) - 1; i >= 0; i-- {
		join(t, s, ids[i], "acme/lobby", 0)
	}
	want := []string{"tk_a/1", "tk_a/2", "tk_b/1", "tk_b/2", "tk_c/1", "tk_c/2"}
	wantList(t, "Members", members(t, s, "acme/lobby"), want)
}
