package client_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/wire"
)

// clientGoroutines returns the stacks of goroutines running code of package
// client (not its tests, not the fake server).
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "porthouse/porthouse/client.(") && !strings.Contains(g, "client_test.") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	srv := setup(t)
	ctx := testCtx(t)
	var conns []*client.Conn
	for range 3 {
		c, err := client.Dial(ctx, srv.URL, secretA, client.WithReconnect(fastReconnect()))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	r, err := client.DialRoom(ctx, srv.URL, secretB, "lobby", client.WithReconnect(fastReconnect()))
	if err != nil {
		t.Fatal(err)
	}
	// One reconnecting, one ended by the server, one live with unread
	// messages.
	if err := srv.CloseSocket(conns[0].SocketID(), wire.CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.CloseSocket(conns[1].SocketID(), wire.CloseRevoked, ""); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := conns[2].Send(ctx, "lobby", "unread"); err != nil {
			t.Fatal(err)
		}
	}
	if len(clientGoroutines()) == 0 {
		t.Fatal("clientGoroutines finds nothing while connections live")
	}
	for _, c := range conns {
		_ = c.Close()
	}
	_ = r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := clientGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
