package client_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/wire"
)

func dialRoom(t *testing.T, srv *fakeserver.Server, secret, room string, opts ...client.Option) *client.RawConn {
	t.Helper()
	r, err := client.DialRoom(testCtx(t), srv.URL, secret, room, opts...)
	if err != nil {
		t.Fatalf("DialRoom: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func readRaw(t *testing.T, r *client.RawConn) (client.Op, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	op, p, err := r.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return op, p
}

func TestRawMode(t *testing.T) {
	srv := setup(t)
	ra := dialRoom(t, srv, secretA, "lobby")
	rb := dialRoom(t, srv, secretB, "lobby", client.WithQueryAuth())
	e := dial(t, srv, secretB)
	ctx := testCtx(t)

	if err := ra.WriteText(ctx, []byte("hello raw")); err != nil {
		t.Fatal(err)
	}
	if op, p := readRaw(t, rb); op != client.OpText || string(p) != "hello raw" {
		t.Fatalf("raw got %v %q", op, p)
	}
	if m := recv(t, e); m.Binary || string(m.Data) != `"hello raw"` {
		t.Fatalf("envelope got %+v", m)
	}
	if err := ra.WriteBinary(ctx, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if op, p := readRaw(t, rb); op != client.OpBinary || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("raw got %v %v", op, p)
	}
	if m := recv(t, e); !m.Binary || !bytes.Equal(m.Payload, []byte{1, 2, 3}) {
		t.Fatalf("envelope got %+v", m)
	}
	// Envelope JSON data reaches raw receivers as its text.
	if _, err := e.Send(ctx, "lobby", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if _, p := readRaw(t, ra); string(p) != `{"n":1}` {
		t.Fatalf("raw got %q", p)
	}
	if err := ra.WriteText(ctx, []byte{0xff}); err == nil {
		t.Fatal("WriteText of invalid UTF-8 succeeded")
	}
	if err := ra.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ra.WriteText(ctx, []byte("x")); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestRawModeRefusedFrameReportedByClose(t *testing.T) {
	srv := setup(t)
	srv.PutToken(&fakeserver.Token{ID: "tk_ro", Secret: "ph_ro", MaxConnections: 2,
		Rooms: map[string]fakeserver.Perm{"lobby": {Receive: true, Text: true, Binary: true}}})
	r := dialRoom(t, srv, "ph_ro", "lobby")
	if err := r.WriteText(testCtx(t), []byte("not allowed")); err != nil {
		t.Fatal(err)
	}
	err := r.Close()
	if client.CloseCode(err) != wire.ClosePolicy {
		t.Fatalf("Close: %v, want close 1008", err)
	}
}

func TestRawFirstMessageAuthRefused(t *testing.T) {
	srv := setup(t)
	if _, err := client.DialRoom(testCtx(t), srv.URL, secretA, "lobby", client.WithFirstMessageAuth()); err == nil {
		t.Fatal("DialRoom with first-message auth succeeded")
	}
}

func TestRawReconnect(t *testing.T) {
	srv := setup(t)
	r := dialRoom(t, srv, secretA, "lobby", client.WithReconnect(fastReconnect()))
	if err := srv.CloseSocket("tk_a/1", wire.CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, r.Events(), client.EventReconnected)
	e := dial(t, srv, secretB)
	if _, err := e.Send(testCtx(t), "lobby", "again"); err != nil {
		t.Fatal(err)
	}
	if _, p := readRaw(t, r); string(p) != "again" {
		t.Fatalf("got %q", p)
	}
}

func TestRawSendEnvelope(t *testing.T) {
	srv := setup(t)
	ra := dialRoom(t, srv, secretA, "lobby")
	rb := dialRoom(t, srv, secretB, "lobby")
	payload := randomBytes(t, 10_000)
	rc, err := ra.SendEnvelope(testCtx(t), bytes.NewReader(payload), 999)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Chunks != 11 || rc.Bytes != 10_000 {
		t.Fatalf("receipt %+v", rc)
	}
	asm := client.NewAssembler(client.AssemblerConfig{})
	for i := 0; i < rc.Chunks; i++ {
		_, p := readRaw(t, rb)
		env, err := asm.Add("", p)
		if err != nil {
			t.Fatal(err)
		}
		if (env != nil) != (i == rc.Chunks-1) {
			t.Fatalf("chunk %d: envelope %v", i, env != nil)
		}
		if env != nil && (!bytes.Equal(env.Data, payload) || env.ID != rc.ID) {
			t.Fatal("reassembled payload differs")
		}
	}
}
