// Package sequencetest is the contract test suite for sequence.Sequence.
// Every implementation (the in-process Local, the gRPC client) runs the same
// suite from its own tests:
//
//	func TestLocal(t *testing.T) {
//		sequencetest.Run(t, func(*testing.T) sequence.Sequence { return sequence.NewLocal() })
//	}
//
// The suite only uses the Sequence interface, so it pins down behaviour that
// callers may rely on, not how an implementation stores it.
package sequencetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

// Run runs the contract suite. newSeq must return a fresh, empty Sequence for
// every call; it is called once per subtest and may register cleanups on t.
func Run(t *testing.T, newSeq func(t *testing.T) sequence.Sequence) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Admit", admitTests},
		{"Socket", socketTests},
		{"Room", roomTests},
		{"Transient", transientTests},
		{"Routes", routeTests},
		{"ReleasePuddle", releasePuddleTests},
		{"Concurrent", concurrentTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) { st.fn(t, newSeq(t)) })
			}
		})
	}
}

// subtest is one contract rule checked against a fresh Sequence.
type subtest struct {
	name string
	fn   func(t *testing.T, s sequence.Sequence)
}

func admit(t *testing.T, s sequence.Sequence, token string, maxConns, puddle int) sequence.Entry {
	t.Helper()
	e, err := s.Admit(t.Context(), sequence.AdmitRequest{
		TokenID:        token,
		Owner:          "acme",
		MaxConnections: maxConns,
		Puddle:         puddle,
		Mode:           "envelope",
	})
	if err != nil {
		t.Fatalf("Admit(%s, max %d, puddle %d): %v", token, maxConns, puddle, err)
	}
	return e
}

func activate(t *testing.T, s sequence.Sequence, id string) {
	t.Helper()
	if err := s.Activate(t.Context(), id); err != nil {
		t.Fatalf("Activate(%s): %v", id, err)
	}
}

func release(t *testing.T, s sequence.Sequence, id string) (left, vanished []string) {
	t.Helper()
	left, vanished, err := s.Release(t.Context(), id)
	if err != nil {
		t.Fatalf("Release(%s): %v", id, err)
	}
	return left, vanished
}

func join(t *testing.T, s sequence.Sequence, id, room string, maxMembers int) {
	t.Helper()
	r := sequence.JoinRequest{SocketID: id, Room: room, MaxMembers: maxMembers}
	if err := s.Join(t.Context(), r); err != nil {
		t.Fatalf("Join(%s, %s, max %d): %v", id, room, maxMembers, err)
	}
}

func leave(t *testing.T, s sequence.Sequence, id, room string) (vanished bool) {
	t.Helper()
	vanished, err := s.Leave(t.Context(), id, room)
	if err != nil {
		t.Fatalf("Leave(%s, %s): %v", id, room, err)
	}
	return vanished
}

func create(t *testing.T, s sequence.Sequence, creator, key string) sequence.TransientRoom {
	t.Helper()
	r := transientRoom(creator, key)
	if err := s.CreateRoom(t.Context(), r); err != nil {
		t.Fatalf("CreateRoom(%s by %s): %v", key, creator, err)
	}
	return r
}

func transientRoom(creator, key string) sequence.TransientRoom {
	return sequence.TransientRoom{
		Key:      key,
		Owner:    "acme",
		Creator:  creator,
		Public:   true,
		Echo:     true,
		Presence: true,
		Format:   "text",
	}
}

func socket(t *testing.T, s sequence.Sequence, id string) (sequence.Entry, bool) {
	t.Helper()
	e, ok, err := s.Socket(t.Context(), id)
	if err != nil {
		t.Fatalf("Socket(%s): %v", id, err)
	}
	return e, ok
}

func room(t *testing.T, s sequence.Sequence, key string) (sequence.TransientRoom, bool) {
	t.Helper()
	r, ok, err := s.Room(t.Context(), key)
	if err != nil {
		t.Fatalf("Room(%s): %v", key, err)
	}
	return r, ok
}

func members(t *testing.T, s sequence.Sequence, room string) []string {
	t.Helper()
	ids, err := s.Members(t.Context(), room)
	if err != nil {
		t.Fatalf("Members(%s): %v", room, err)
	}
	return ids
}

func tokenSockets(t *testing.T, s sequence.Sequence, token string) []string {
	t.Helper()
	ids, err := s.TokenSockets(t.Context(), token)
	if err != nil {
		t.Fatalf("TokenSockets(%s): %v", token, err)
	}
	return ids
}

func routes(t *testing.T, s sequence.Sequence, room string) []int {
	t.Helper()
	ps, err := s.Routes(t.Context(), room)
	if err != nil {
		t.Fatalf("Routes(%s): %v", room, err)
	}
	return ps
}

// wantList fails unless got equals want; nil and empty are the same list.
func wantList[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}
