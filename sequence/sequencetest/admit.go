package sequencetest

import (
	"fmt"
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

var admitTests = []subtest{
	{"LowestFreeSlot", testAdmitLowestFreeSlot},
	{"Entry", testAdmitEntry},
	{"MaxConnections", testAdmitMaxConnections},
	{"SlotsSpanPuddles", testAdmitSlotsSpanPuddles},
	{"TokensIndependent", testAdmitTokensIndependent},
	{"Join", testAdmitJoin},
	{"JoinFull", testAdmitJoinFull},
}

// admitJoin admits a raw socket of token into room (limit maxMembers).
func admitJoin(s sequence.Sequence, t *testing.T, token, room string, maxMembers, puddle int) (sequence.Entry, error) {
	return s.Admit(t.Context(), sequence.AdmitRequest{
		TokenID: token, Owner: "acme", MaxConnections: 3, Puddle: puddle, Mode: "raw",
		Join: room, JoinMaxMembers: maxMembers,
	})
}

// An admission with Join is a member of the room at once: in its entry,
// the room's members and the room's routes.
func testAdmitJoin(t *testing.T, s sequence.Sequence) {
	e, err := admitJoin(s, t, "tk_a", "acme/lobby", 0, 2)
	if err != nil {
		t.Fatalf("Admit with Join: %v", err)
	}
	wantList(t, "Entry.Rooms", e.Rooms, []string{"acme/lobby"})
	wantList(t, "Members", members(t, s, "acme/lobby"), []string{"tk_a/1"})
	wantList(t, "Routes", routes(t, s, "acme/lobby"), []int{2})
	left, _ := release(t, s, "tk_a/1")
	wantList(t, "Release left", left, []string{"acme/lobby"})
	wantList(t, "Routes after release", routes(t, s, "acme/lobby"), nil)
}

// A full room refuses the admission with ErrRoomFull and takes no slot;
// a token at max_connections is refused with ErrMaxConnections first.
func testAdmitJoinFull(t *testing.T, s sequence.Sequence) {
	for i := range 2 {
		if _, err := admitJoin(s, t, "tk_a", "acme/small", 2, 0); err != nil {
			t.Fatalf("admission %d into a room of 2: %v", i+1, err)
		}
	}
	_, err := admitJoin(s, t, "tk_b", "acme/small", 2, 0)
	wantErr(t, "Admit into a full room", err, sequence.ErrRoomFull)
	wantList(t, "TokenSockets of the refused token", tokenSockets(t, s, "tk_b"), nil)
	if e := admit(t, s, "tk_b", 3, 0); e.Slot != 1 {
		t.Fatalf("next admission of the refused token: slot %d, want 1", e.Slot)
	}
	wantList(t, "Members", members(t, s, "acme/small"), []string{"tk_a/1", "tk_a/2"})

	admit(t, s, "tk_a", 3, 0) // tk_a now has its 3
	_, err = admitJoin(s, t, "tk_a", "acme/small", 2, 0)
	wantErr(t, "Admit past max_connections into a full room", err, sequence.ErrMaxConnections)
}

func testAdmitLowestFreeSlot(t *testing.T, s sequence.Sequence) {
	for want := 1; want <= 3; want++ {
		e := admit(t, s, "tk_a", 5, 0)
		if e.Slot != want || e.ID != fmt.Sprintf("tk_a/%d", want) {
			t.Fatalf("admit %d: slot %d id %q, want slot %d id tk_a/%d", want, e.Slot, e.ID, want, want)
		}
	}
	release(t, s, "tk_a/2")
	if e := admit(t, s, "tk_a", 5, 0); e.Slot != 2 || e.ID != "tk_a/2" {
		t.Fatalf("admit after releasing slot 2: slot %d id %q, want 2 tk_a/2", e.Slot, e.ID)
	}
	if e := admit(t, s, "tk_a", 5, 0); e.Slot != 4 || e.ID != "tk_a/4" {
		t.Fatalf("next admit: slot %d id %q, want 4 tk_a/4", e.Slot, e.ID)
	}
	wantList(t, "TokenSockets", tokenSockets(t, s, "tk_a"), []string{"tk_a/1", "tk_a/2", "tk_a/3", "tk_a/4"})
}

func testAdmitEntry(t *testing.T, s sequence.Sequence) {
	got, err := s.Admit(t.Context(), sequence.AdmitRequest{
		TokenID: "tk_a", Owner: "acme", MaxConnections: 3, Puddle: 2, Mode: "raw",
	})
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	check := func(from string, e sequence.Entry) {
		t.Helper()
		if e.ID != "tk_a/1" || e.TokenID != "tk_a" || e.Slot != 1 || e.Owner != "acme" ||
			e.Puddle != 2 || e.Mode != "raw" || e.State != sequence.Admitted || len(e.Rooms) != 0 {
			t.Fatalf("%s = %+v, want tk_a/1 of tk_a slot 1 owner acme puddle 2 raw admitted, no rooms", from, e)
		}
	}
	check("Admit", got)
	e, ok := socket(t, s, "tk_a/1")
	if !ok {
		t.Fatal("Socket(tk_a/1) not found after Admit")
	}
	check("Socket", e)
	if _, ok := socket(t, s, "tk_a/2"); ok {
		t.Fatal("Socket(tk_a/2) found, never admitted")
	}
}

func testAdmitMaxConnections(t *testing.T, s sequence.Sequence) {
	admit(t, s, "tk_a", 2, 0)
	admit(t, s, "tk_a", 2, 0)
	_, err := s.Admit(t.Context(), sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 2})
	wantErr(t, "third Admit with max 2", err, sequence.ErrMaxConnections)
	wantList(t, "TokenSockets after refusal", tokenSockets(t, s, "tk_a"), []string{"tk_a/1", "tk_a/2"})

	release(t, s, "tk_a/1")
	if e := admit(t, s, "tk_a", 2, 0); e.Slot != 1 {
		t.Fatalf("admit after release: slot %d, want the freed slot 1", e.Slot)
	}
	_, err = s.Admit(t.Context(), sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 2})
	wantErr(t, "Admit when full again", err, sequence.ErrMaxConnections)
}

func testAdmitSlotsSpanPuddles(t *testing.T, s sequence.Sequence) {
	if e := admit(t, s, "tk_a", 2, 1); e.Slot != 1 {
		t.Fatalf("puddle 1: slot %d, want 1", e.Slot)
	}
	if e := admit(t, s, "tk_a", 2, 2); e.Slot != 2 {
		t.Fatalf("puddle 2: slot %d, want 2 (slots are shared by every puddle)", e.Slot)
	}
	_, err := s.Admit(t.Context(), sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 2, Puddle: 3})
	wantErr(t, "Admit on puddle 3", err, sequence.ErrMaxConnections)
}

func testAdmitTokensIndependent(t *testing.T, s sequence.Sequence) {
	admit(t, s, "tk_a", 1, 0)
	if e := admit(t, s, "tk_b", 1, 0); e.Slot != 1 || e.ID != "tk_b/1" {
		t.Fatalf("tk_b: slot %d id %q, want 1 tk_b/1", e.Slot, e.ID)
	}
	_, err := s.Admit(t.Context(), sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 1})
	wantErr(t, "second tk_a Admit", err, sequence.ErrMaxConnections)
	release(t, s, "tk_b/1")
	wantList(t, "TokenSockets(tk_a)", tokenSockets(t, s, "tk_a"), []string{"tk_a/1"})
	wantList(t, "TokenSockets(tk_b)", tokenSockets(t, s, "tk_b"), nil)
}
