package e2e

import (
	"testing"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

func TestLobbyChat(t *testing.T) {
	srv := testserver.Start(t)
	a := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(srv.LobbySecret))
	b := wstest.MustDial(t, srv.WSURL+"/ws?token="+srv.LobbySecret, nil)
	wa, wb := a.Expect("welcome"), b.Expect("welcome")
	if wa.Str("socket") == wb.Str("socket") {
		t.Fatalf("two sockets share id %s", wa.Str("socket"))
	}
	b.WriteJSON(map[string]any{"type": "send", "room": "lobby", "data": "hello", "ref": "r1"})
	r := b.Expect("receipt")
	if r.Str("ref") != "r1" || r.Str("room") != "lobby" || r.Str("id") == "" {
		t.Fatalf("receipt %v", r)
	}
	m := a.Expect("message")
	if m.Str("data") != "hello" || m.Str("from") != wb.Str("socket") || m.Str("id") != r.Str("id") || m.Str("room") != "lobby" {
		t.Fatalf("message %v", m)
	}
}
