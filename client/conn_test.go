package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/wire"
)

const (
	secretA = "ph_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "ph_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// testCtx bounds a test's calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setup starts a fake server with tokens tk_a and tk_b in room lobby.
func setup(t *testing.T) *fakeserver.Server {
	srv := fakeserver.Start(t)
	srv.AddToken("tk_a", secretA, "lobby")
	srv.AddToken("tk_b", secretB, "lobby")
	return srv
}

func dial(t *testing.T, srv *fakeserver.Server, secret string, opts ...client.Option) *client.Conn {
	t.Helper()
	c, err := client.Dial(testCtx(t), srv.URL, secret, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func recv(t *testing.T, c *client.Conn) client.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

// nextEvent returns the next event of type typ, skipping others.
func nextEvent(t *testing.T, events <-chan client.Event, typ string) client.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("events closed while waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

func TestSendAndReceive(t *testing.T) {
	srv := setup(t)
	a := dial(t, srv, secretA)
	b := dial(t, srv, secretB)
	if got := a.SocketID(); got != "tk_a/1" {
		t.Fatalf("socket %q, want tk_a/1", got)
	}
	w := b.Welcome()
	if len(w.Rooms) != 1 || w.Rooms[0].Room != "lobby" || w.Limits.MaxMessageBytes != 65536 {
		t.Fatalf("welcome %+v", w)
	}
	ctx := testCtx(t)
	rc, err := a.Send(ctx, "lobby", map[string]any{"hello": "world"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rc.ID == "" || rc.Room != "lobby" {
		t.Fatalf("receipt %+v", rc)
	}
	m := recv(t, b)
	if m.ID != rc.ID || m.Room != "lobby" || m.From != "tk_a/1" || m.Binary {
		t.Fatalf("message %+v, receipt %+v", m, rc)
	}
	var v struct{ Hello string }
	if err := m.Decode(&v); err != nil || v.Hello != "world" {
		t.Fatalf("data %s: %v", m.Data, err)
	}

	if _, err := b.SendBinary(ctx, "lobby", []byte{0, 1, 2, '\n', 255}); err != nil {
		t.Fatalf("SendBinary: %v", err)
	}
	m = recv(t, a)
	if !m.Binary || string(m.Payload) != "\x00\x01\x02\n\xff" || m.From != "tk_b/1" {
		t.Fatalf("binary message %+v", m)
	}

	if _, err := a.SendTo(ctx, b.SocketID(), "direct"); err != nil {
		t.Fatalf("SendTo: %v", err)
	}
	m = recv(t, b)
	if m.Room != "" || m.Text() != "direct" {
		t.Fatalf("direct message %+v", m)
	}
	if _, err := a.SendBinaryTo(ctx, b.SocketID(), []byte("bin")); err != nil {
		t.Fatalf("SendBinaryTo: %v", err)
	}
	if m = recv(t, b); !m.Binary || m.Text() != "bin" {
		t.Fatalf("direct binary %+v", m)
	}
	if _, err := a.SendRaw(ctx, "lobby", json.RawMessage(`{"x":`)); err == nil {
		t.Fatal("SendRaw of invalid JSON succeeded")
	}
	if d, err := a.Ping(ctx); err != nil || d <= 0 {
		t.Fatalf("Ping: %v, %v", d, err)
	}
}

func TestAuthModes(t *testing.T) {
	srv := setup(t)
	for _, tc := range []struct {
		name string
		opt  client.Option
	}{
		{name: "header", opt: client.WithAuth(client.AuthHeader)},
		{name: "query", opt: client.WithQueryAuth()},
		{name: "first message", opt: client.WithFirstMessageAuth()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv, secretA, tc.opt)
			if !strings.HasPrefix(c.SocketID(), "tk_a/") {
				t.Fatalf("socket %q", c.SocketID())
			}
		})
	}
	t.Run("token in url", func(t *testing.T) {
		c, err := client.Dial(testCtx(t), srv.URL+"/ws?token="+secretB, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if !strings.HasPrefix(c.SocketID(), "tk_b/") {
			t.Fatalf("socket %q", c.SocketID())
		}
	})
	t.Run("bad first message token", func(t *testing.T) {
		_, err := client.Dial(testCtx(t), srv.URL, "ph_nope", client.WithFirstMessageAuth())
		if client.CloseCode(err) != wire.CloseRevoked {
			t.Fatalf("err %v, want close 4001", err)
		}
	})
}

func TestHandshakeRefusals(t *testing.T) {
	srv := setup(t)
	srv.PutToken(&fakeserver.Token{ID: "tk_one", Secret: "ph_one", MaxConnections: 1, Rooms: map[string]fakeserver.Perm{"lobby": fakeserver.All}})
	srv.AddRoom(fakeserver.Room{Name: "vault", Password: "sesame"})
	srv.PutToken(&fakeserver.Token{ID: "tk_v", Secret: "ph_v", MaxConnections: 5, Rooms: map[string]fakeserver.Perm{"vault": fakeserver.All}})
	dial(t, srv, "ph_one")
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		dial   func() error
		status int
		code   wire.Code
	}{
		{
			name: "unknown token",
			dial: func() error {
				_, err := client.Dial(ctx, srv.URL, "ph_unknown_secret", client.WithQueryAuth())
				return err
			},
			status: http.StatusUnauthorized,
			code:   wire.CodeUnauthorized,
		},
		{
			name:   "max connections",
			dial:   func() error { _, err := client.Dial(ctx, srv.URL, "ph_one"); return err },
			status: http.StatusTooManyRequests,
			code:   wire.CodeRateLimited,
		},
		{
			name:   "unknown room",
			dial:   func() error { _, err := client.DialRoom(ctx, srv.URL, secretA, "nowhere"); return err },
			status: http.StatusNotFound,
			code:   wire.CodeNotFound,
		},
		{
			name: "wrong password",
			dial: func() error {
				_, err := client.DialRoom(ctx, srv.URL, "ph_v", "vault", client.WithPassword("wrong"))
				return err
			},
			status: http.StatusForbidden,
			code:   wire.CodeForbidden,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dial()
			var he *client.HandshakeError
			var we *wire.Error
			if !errors.As(err, &he) || !errors.As(err, &we) {
				t.Fatalf("err %v (%T), want a HandshakeError", err, err)
			}
			if he.Status != tc.status || we.Code != tc.code {
				t.Fatalf("status %d code %s, want %d %s", he.Status, we.Code, tc.status, tc.code)
			}
			if strings.Contains(err.Error(), "ph_") {
				t.Fatalf("error reveals a secret: %v", err)
			}
		})
	}
	r, err := client.DialRoom(ctx, srv.URL, "ph_v", "vault", client.WithPassword("sesame"))
	if err != nil {
		t.Fatalf("DialRoom with password: %v", err)
	}
	_ = r.Close()
}

func TestRoomsAndErrors(t *testing.T) {
	srv := setup(t)
	srv.AddRoom(fakeserver.Room{Name: "private"})
	srv.AddRoom(fakeserver.Room{Name: "square", Public: true, Presence: true})
	srv.PutToken(&fakeserver.Token{ID: "tk_c", Secret: "ph_c", MaxConnections: 3, CanCreateRooms: true})
	a := dial(t, srv, secretA)
	c := dial(t, srv, "ph_c")
	ctx := testCtx(t)

	_, err := a.Join(ctx, "private", "")
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeForbidden {
		t.Fatalf("join private: %v, want forbidden", err)
	}
	if _, err := a.Send(ctx, "nowhere", 1); !errors.As(err, &we) || we.Code != wire.CodeNotFound {
		t.Fatalf("send to unknown room: %v", err)
	}
	g, err := a.Join(ctx, "square", "")
	if err != nil || g.Room != "square" || !g.Receive {
		t.Fatalf("join square: %+v %v", g, err)
	}
	if !a.InRoom("square") {
		t.Fatal("InRoom(square) false after Join")
	}
	if _, err := c.Join(ctx, "square", ""); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, a.Events(), wire.TypeMemberJoined)
	if ev.Room != "square" || ev.Socket != "tk_c/1" {
		t.Fatalf("member.joined %+v", ev)
	}
	if err := c.Leave(ctx, "square"); err != nil {
		t.Fatal(err)
	}
	if ev = nextEvent(t, a.Events(), wire.TypeMemberLeft); ev.Socket != "tk_c/1" {
		t.Fatalf("member.left %+v", ev)
	}

	if _, err := a.Create(ctx, "mine", client.CreateOptions{}); !errors.As(err, &we) || we.Code != wire.CodeForbidden {
		t.Fatalf("create without can_create_rooms: %v", err)
	}
	if _, err := c.Create(ctx, "tmp", client.CreateOptions{Echo: true}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := c.Create(ctx, "tmp", client.CreateOptions{}); !errors.As(err, &we) || we.Code != wire.CodeConflict {
		t.Fatalf("create existing: %v, want conflict", err)
	}
	if _, err := c.Send(ctx, "tmp", "echo"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, c); m.Text() != "echo" || m.Room != "tmp" {
		t.Fatalf("echo %+v", m)
	}
}

func TestConcurrentSends(t *testing.T) {
	srv := setup(t)
	a := dial(t, srv, secretA)
	b := dial(t, srv, secretB)
	ctx := testCtx(t)
	const workers, each = 16, 25
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var rc client.Receipt
				var err error
				if i%2 == 0 {
					rc, err = a.Send(ctx, "lobby", fmt.Sprintf("%d-%d", w, i))
				} else {
					rc, err = a.SendBinary(ctx, "lobby", []byte(fmt.Sprintf("%d-%d", w, i)))
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids[rc.ID] = true
				mu.Unlock()
			}
		}()
	}
	got := map[string]bool{}
	for range workers * each {
		m := recv(t, b)
		got[m.ID] = true
	}
	wg.Wait()
	if len(ids) != workers*each || len(got) != workers*each {
		t.Fatalf("%d receipts, %d messages, want %d", len(ids), len(got), workers*each)
	}
	for id := range ids {
		if !got[id] {
			t.Fatalf("message %s never arrived", id)
		}
	}
}

func TestCloseIsIdempotentAndEndsEverything(t *testing.T) {
	srv := setup(t)
	a := dial(t, srv, secretA, client.WithReconnect(client.DefaultReconnect()))
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.Recv(testCtx(t)); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if _, err := a.Send(testCtx(t), "lobby", 1); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, ok := <-a.Events(); ok {
		t.Fatal("Events not closed")
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed")
	}
	waitFor(t, func() bool { return len(srv.Sockets()) == 0 })
}

func TestServerCloseSurfacesCode(t *testing.T) {
	for _, code := range []int{wire.CloseRevoked, wire.CloseSlowConsumer, wire.CloseKicked} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := setup(t)
			a := dial(t, srv, secretA)
			if err := srv.CloseSocket("tk_a/1", code, "bye"); err != nil {
				t.Fatal(err)
			}
			_, err := a.Recv(testCtx(t))
			var ce *client.CloseError
			if !errors.As(err, &ce) || ce.Code != code || ce.Reason != "bye" {
				t.Fatalf("Recv: %v, want close %d", err, code)
			}
			if client.CloseCode(a.Err()) != code {
				t.Fatalf("Err: %v", a.Err())
			}
			if _, err := a.Send(testCtx(t), "lobby", 1); client.CloseCode(err) != code {
				t.Fatalf("Send after close: %v", err)
			}
			if err := a.Close(); client.CloseCode(err) != code {
				t.Fatalf("Close: %v, want the close error", err)
			}
		})
	}
}

func TestSendCancelled(t *testing.T) {
	srv := setup(t)
	a := dial(t, srv, secretA)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Send(ctx, "lobby", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with cancelled ctx: %v", err)
	}
	// The connection is still usable.
	if _, err := a.Send(testCtx(t), "lobby", 2); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
