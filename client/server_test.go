package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/wire"
)

// These tests run the client against the real server (internal/testserver).

func TestRealServerSendReceive(t *testing.T) {
	srv := testserver.Start(t)
	ctx := testCtx(t)
	a, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := srv.TokenFor("lobby")
	b, err := client.Dial(ctx, srv.WSURL, tok.Secret, client.WithFirstMessageAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.SocketID(), tok.ID+"/") || !b.InRoom("lobby") || b.Welcome().Limits.MaxMessageBytes == 0 {
		t.Fatalf("welcome %+v", b.Welcome())
	}
	rc, err := a.Send(ctx, "lobby", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, b)
	if m.ID != rc.ID || m.Room != "lobby" || m.From != a.SocketID() || string(m.Data) != `{"k":"v"}` {
		t.Fatalf("message %+v receipt %+v", m, rc)
	}
	if _, err := b.SendBinary(ctx, "lobby", []byte("\x00bin\n")); err != nil {
		t.Fatal(err)
	}
	if m = recv(t, a); !m.Binary || string(m.Payload) != "\x00bin\n" {
		t.Fatalf("binary %+v", m)
	}
	if _, err := a.SendTo(ctx, b.SocketID(), "direct"); err != nil {
		t.Fatal(err)
	}
	if m = recv(t, b); m.Room != "" || m.Text() != "direct" {
		t.Fatalf("direct %+v", m)
	}
	if _, err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var we *wire.Error
	if _, err := a.Join(ctx, "nosuchroom", ""); !errors.As(err, &we) {
		t.Fatalf("join unknown room: %v", err)
	}
	// Past max_message_bytes the library refuses with too_large before
	// sending (the server would close a socket whose frame is far too big),
	// and the connection stays usable.
	_, err = a.Send(ctx, "lobby", strings.Repeat("x", 70000))
	if !errors.As(err, &we) || we.Code != wire.CodeTooLarge {
		t.Fatalf("oversized text: %v", err)
	}
	if _, err := a.SendBinary(ctx, "lobby", make([]byte, 65537)); !errors.As(err, &we) || we.Code != wire.CodeTooLarge {
		t.Fatalf("oversized binary: %v", err)
	}
	if _, err := a.Ping(ctx); err != nil {
		t.Fatalf("connection unusable after a refused send: %v", err)
	}
}

func TestRealServerRefusalsAndCloses(t *testing.T) {
	srv := testserver.Start(t)
	ctx := testCtx(t)
	_, err := client.Dial(ctx, srv.WSURL, "ph_"+strings.Repeat("x", 43))
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || he.Err.Code != wire.CodeUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
	_, err = client.DialRoom(ctx, srv.WSURL, srv.LobbySecret, "nosuchroom")
	if !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("raw unknown room: %v", err)
	}

	tok := srv.TokenFor("lobby")
	c, err := client.Dial(ctx, srv.WSURL, tok.Secret, client.WithReconnect(fastReconnect()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Kicked: 4010, and no reconnect.
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/sockets/"+c.SocketID(), nil, nil)
	waitDone(t, c.Done())
	if client.CloseCode(c.Err()) != wire.CloseKicked {
		t.Fatalf("kick: %v", c.Err())
	}
	// Regenerated: 4001.
	c, err = client.Dial(ctx, srv.WSURL, tok.Secret, client.WithReconnect(fastReconnect()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.MustAPI(http.StatusOK, "POST", "/api/v1/tokens/"+tok.ID+"/regenerate", nil, nil)
	if _, err := c.Recv(ctx); client.CloseCode(err) != wire.CloseRevoked {
		t.Fatalf("regenerate: %v", err)
	}
}

func TestRealServerRawAndEnvelope(t *testing.T) {
	srv := testserver.Start(t)
	ctx := testCtx(t)
	tok := srv.TokenFor("lobby")
	e, err := client.Dial(ctx, srv.WSURL, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := client.DialRoom(ctx, srv.WSURL, srv.LobbySecret, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.WriteText(ctx, []byte("raw hello")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, e); m.Text() != "raw hello" || string(m.Data) != `"raw hello"` {
		t.Fatalf("raw to envelope %+v", m)
	}
	payload := randomBytes(t, 1<<20)
	rc, err := r.SendEnvelope(ctx, bytes.NewReader(payload), 60000)
	if err != nil {
		t.Fatal(err)
	}
	asm := client.NewAssembler(client.AssemblerConfig{Timeout: 10 * time.Second})
	for i := 0; i < rc.Chunks; i++ {
		m := recv(t, e)
		env, err := asm.Add(m.From, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if env != nil && !bytes.Equal(env.Data, payload) {
			t.Fatal("envelope differs")
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("raw Close: %v", err)
	}
}
