package client_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/internal/testserver"
)

// waitEvent reads events until one of type typ arrives.
func waitEvent(t *testing.T, c *client.Conn, typ string, d time.Duration) client.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s: %v", typ, c.Err())
			}
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, d)
		}
	}
}

// A client with reconnect survives a server restart: it reconnects, joins
// the rooms it had joined again, says so, and traffic flows again.
func TestRealServerReconnectAfterRestart(t *testing.T) {
	srv := testserver.Start(t)
	srv.CreateRoom("extra", map[string]any{"public": true, "public_send": true})
	tok := srv.CreateToken(map[string]any{"name": "r", "auto_join": false,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	ctx := testCtx(t)
	policy := client.ReconnectPolicy{MinDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond, MaxAttempts: 100}
	c, err := client.Dial(ctx, srv.WSURL, tok.Secret, client.WithReconnect(policy))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, room := range []string{"lobby", "extra"} {
		if _, err := c.Join(ctx, room, ""); err != nil {
			t.Fatalf("join %s: %v", room, err)
		}
	}
	before := c.SocketID()

	srv.Restart()
	ev := waitEvent(t, c, client.EventReconnected, 10*time.Second)
	if ev.Socket == "" {
		t.Fatalf("reconnected event without the new socket id: %+v (was %s)", ev, before)
	}
	for _, room := range []string{"lobby", "extra"} {
		if !c.InRoom(room) {
			t.Fatalf("not in %s again after reconnect", room)
		}
	}
	// Both rooms really are joined on the new server: messages arrive.
	sender, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	if _, err := sender.Join(ctx, "extra", ""); err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"lobby", "extra"} {
		r, err := sender.Send(ctx, room, "after restart "+room)
		if err != nil {
			t.Fatalf("send %s: %v", room, err)
		}
		m, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("recv in %s: %v", room, err)
		}
		if m.ID != r.ID || m.Room != room {
			t.Fatalf("got %+v, want id %s in %s", m, r.ID, room)
		}
	}
}

// Two senders send envelopes at once through the server; the receiver
// reassembles both, interleaved, byte for byte.
func TestRealServerInterleavedEnvelopes(t *testing.T) {
	srv := testserver.Start(t)
	ctx := testCtx(t)
	recv, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	payloads := make([][]byte, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range payloads {
		payloads[i] = make([]byte, 300_000+i*1111)
		_, _ = rand.Read(payloads[i])
		s, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wg.Add(1)
		go func(s *client.Conn, p []byte) {
			defer wg.Done()
			_, err := s.SendEnvelope(ctx, "lobby", bytes.NewReader(p), 16_000)
			errs <- err
		}(s, payloads[i])
	}
	asm := client.NewAssembler(client.AssemblerConfig{Timeout: 5 * time.Second})
	got := map[[32]byte]bool{}
	interleaved, last := false, ""
	for len(got) < 2 {
		m, err := recv.Recv(ctx)
		if err != nil {
			t.Fatalf("recv: %v (have %d envelopes)", err, len(got))
		}
		if last != "" && m.From != last {
			interleaved = true
		}
		last = m.From
		done, err := asm.Add(m.From, m.Payload)
		if err != nil {
			t.Fatalf("assemble: %v", err)
		}
		if done != nil {
			got[sha256.Sum256(done.Data)] = true
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("send envelope: %v", err)
		}
	}
	for i, p := range payloads {
		if !got[sha256.Sum256(p)] {
			t.Fatalf("envelope %d did not arrive intact", i)
		}
	}
	if !interleaved {
		t.Log("the two envelopes arrived one after the other (no interleaving this run)")
	}
}

// A chunk altered in flight (here: by a sender that corrupts one) is
// reported by the receiver, and the envelope is not delivered.
func TestRealServerCorruptChunkReported(t *testing.T) {
	srv := testserver.Start(t)
	ctx := testCtx(t)
	recv, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	send, err := client.Dial(ctx, srv.WSURL, srv.LobbySecret)
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	payload := make([]byte, 50_000)
	_, _ = rand.Read(payload)
	env := client.NewEnvelope(payload)
	i := 0
	for chunk, err := range env.Chunks(10_000) {
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			chunk = bytes.Clone(chunk)
			chunk[len(chunk)-1] ^= 0xff // flip bits in the data: the CRC no longer matches
		}
		if _, err := send.SendBinary(ctx, "lobby", chunk); err != nil {
			t.Fatal(err)
		}
		i++
	}
	asm := client.NewAssembler(client.AssemblerConfig{Timeout: time.Second})
	var reported error
	for n := 0; n < i; n++ {
		m, err := recv.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done, err := asm.Add(m.From, m.Payload)
		if done != nil {
			t.Fatal("a corrupt envelope was delivered")
		}
		if err != nil && reported == nil {
			reported = err
		}
	}
	var ee *client.EnvelopeError
	if !errors.As(reported, &ee) || !errors.Is(reported, client.ErrChunkCorrupt) || ee.Index != 2 {
		t.Fatalf("want a corrupt-chunk error for chunk 2, got %v", reported)
	}
}
