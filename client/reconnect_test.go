package client_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/wire"
)

func fastReconnect() client.ReconnectPolicy {
	return client.ReconnectPolicy{MinDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
}

func TestReconnectRejoinsRooms(t *testing.T) {
	srv := setup(t)
	srv.AddRoom(fakeserver.Room{Name: "square", Public: true})
	srv.PutToken(&fakeserver.Token{ID: "tk_c", Secret: "ph_c", MaxConnections: 3, CanCreateRooms: true, AutoJoin: true,
		Rooms: map[string]fakeserver.Perm{"lobby": fakeserver.All}})
	c := dial(t, srv, "ph_c", client.WithReconnect(fastReconnect()))
	b := dial(t, srv, secretB)
	ctx := testCtx(t)
	if _, err := c.Join(ctx, "square", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "tmp", client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Occupy slot 1 again as soon as it frees, so the new socket id differs.
	if err := srv.CloseSocket("tk_c/1", wire.CloseGoingAway, "draining"); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, c.Events(), client.EventDisconnected)
	if client.CloseCode(ev.Err) != wire.CloseGoingAway {
		t.Fatalf("disconnected cause %v", ev.Err)
	}
	ev = nextEvent(t, c.Events(), client.EventReconnected)
	if ev.Socket == "" || ev.Socket != c.SocketID() {
		t.Fatalf("reconnected event %+v, socket %s", ev, c.SocketID())
	}
	if !slices.Contains(srv.Members("square"), c.SocketID()) || !slices.Contains(srv.Members("tmp"), c.SocketID()) {
		t.Fatalf("not rejoined: square %v tmp %v", srv.Members("square"), srv.Members("tmp"))
	}
	// Messages flow both ways on the new connection.
	if _, err := b.Send(ctx, "lobby", "after"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, c); m.Text() != "after" {
		t.Fatalf("got %+v", m)
	}
	if _, err := c.Send(ctx, "lobby", "back"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, b); m.Text() != "back" {
		t.Fatalf("got %+v", m)
	}
	// Leave forgets the room: the next reconnect does not join it.
	if err := c.Leave(ctx, "square"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CloseSocket(c.SocketID(), wire.CloseInternal, ""); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c.Events(), client.EventReconnected)
	if slices.Contains(srv.Members("square"), c.SocketID()) {
		t.Fatal("rejoined a room it left")
	}
}

func TestNoReconnectAfterRevokeOrKick(t *testing.T) {
	for _, code := range []int{wire.CloseRevoked, wire.CloseKicked} {
		srv := setup(t)
		a := dial(t, srv, secretA, client.WithReconnect(fastReconnect()))
		if err := srv.CloseSocket("tk_a/1", code, ""); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("close %d: still alive", code)
		}
		if client.CloseCode(a.Err()) != code {
			t.Fatalf("Err %v, want %d", a.Err(), code)
		}
		// Done means the supervisor ended: nothing can reconnect any more.
		waitFor(t, func() bool { return len(srv.Sockets()) == 0 })
	}
}

func TestRevokeNeverReconnectsEvenIfRetryWants(t *testing.T) {
	srv := setup(t)
	p := fastReconnect()
	p.Retry = func(error) bool { return true }
	a := dial(t, srv, secretA, client.WithReconnect(p))
	srv.Revoke(secretA)
	waitDone(t, a.Done())
	if client.CloseCode(a.Err()) != wire.CloseRevoked {
		t.Fatalf("Err %v", a.Err())
	}
}

func TestReconnectGivesUp(t *testing.T) {
	srv := setup(t)
	p := fastReconnect()
	p.MaxAttempts = 3
	a := dial(t, srv, secretA, client.WithReconnect(p))
	srv.Close()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not give up")
	}
	if err := a.Err(); err == nil || errors.Is(err, client.ErrClosed) {
		t.Fatalf("Err %v", err)
	}
	if _, err := a.Recv(testCtx(t)); err == nil {
		t.Fatal("Recv after giving up succeeded")
	}
}

func TestReconnectStopsOnUnauthorized(t *testing.T) {
	srv := setup(t)
	b := dial(t, srv, secretB, client.WithReconnect(fastReconnect()))
	srv.RemoveToken(secretB)
	if err := srv.CloseSocket("tk_b/1", wire.CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	waitDone(t, b.Done())
	var he *client.HandshakeError
	if !errors.As(b.Err(), &he) || he.Status != 401 {
		t.Fatalf("Err %v, want a 401 refusal", b.Err())
	}
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not end")
	}
}

func TestCloseDuringReconnect(t *testing.T) {
	srv := setup(t)
	p := client.ReconnectPolicy{MinDelay: time.Hour, MaxDelay: time.Hour}
	a := dial(t, srv, secretA, client.WithReconnect(p))
	if err := srv.CloseSocket("tk_a/1", wire.CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, a.Events(), client.EventDisconnected)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs during a reconnect")
	}
	if !errors.Is(a.Err(), client.ErrClosed) {
		t.Fatalf("Err %v", a.Err())
	}
}
