package sequence_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/porthouse/porthouse/sequence"
)

// TestOnNewRoute: the hook hears of a route when a puddle gets its first
// member in a room (by Admit with Join, Join or CreateRoom), not of later
// members, and again when the route comes back after its last member left
// (the workers may have dropped it by then).
func TestOnNewRoute(t *testing.T) {
	var mu sync.Mutex
	var pushed []string
	seq := sequence.NewLocal()
	seq.OnNewRoute(func(_ context.Context, room string, puddle int) {
		mu.Lock()
		pushed = append(pushed, fmt.Sprintf("%s@%d", room, puddle))
		mu.Unlock()
	})
	ctx := context.Background()
	admit := func(puddle int) string {
		t.Helper()
		e, err := seq.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_r", Owner: "acme", MaxConnections: 10, Puddle: puddle, Mode: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	join := func(id, room string) {
		t.Helper()
		if err := seq.Join(ctx, sequence.JoinRequest{SocketID: id, Room: room}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(step string, w ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(pushed, w) {
			t.Fatalf("%s: pushed %v, want %v", step, pushed, w)
		}
	}

	a, b := admit(1), admit(1)
	join(a, "acme/x")
	join(b, "acme/x") // a second member on puddle 1: no new route
	join(a, "acme/x") // joining twice: none either
	want("first members", "acme/x@1")

	c := admit(2)
	join(c, "acme/x")
	want("another puddle", "acme/x@1", "acme/x@2")

	if _, err := seq.Leave(ctx, a, "acme/x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := seq.Release(ctx, b); err != nil { // puddle 1's last member
		t.Fatal(err)
	}
	join(a, "acme/x") // the route comes back: pushed again
	want("route back", "acme/x@1", "acme/x@2", "acme/x@1")

	if err := seq.CreateRoom(ctx, sequence.TransientRoom{Key: "acme/t", Owner: "acme", Creator: c}); err != nil {
		t.Fatal(err)
	}
	want("transient room", "acme/x@1", "acme/x@2", "acme/x@1", "acme/t@2")
	if err := seq.CreateRoom(ctx, sequence.TransientRoom{Key: "acme/t", Owner: "acme", Creator: a}); err == nil {
		t.Fatal("a second transient room of one name was created")
	}
	want("refused create", "acme/x@1", "acme/x@2", "acme/x@1", "acme/t@2")

	if _, err := seq.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_s", Owner: "acme", MaxConnections: 1, Puddle: 3, Mode: "raw", Join: "acme/x"}); err != nil {
		t.Fatal(err)
	}
	want("admission with a room", "acme/x@1", "acme/x@2", "acme/x@1", "acme/t@2", "acme/x@3")
}
