package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/wire"
)

// Two sockets in the room lobby: one sends, the other receives. (The
// example runs against the package's fake server; use a real server's URL.)
func Example() {
	srv, err := fakeserver.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.AddToken("tk_alice", "ph_alice", "lobby")
	srv.AddToken("tk_bob", "ph_bob", "lobby")
	ctx := context.Background()

	alice, err := client.Dial(ctx, srv.URL, "ph_alice")
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, srv.URL, "ph_bob")
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	if _, err := alice.Send(ctx, "lobby", "hello, bob"); err != nil {
		log.Fatal(err)
	}
	m, err := bob.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s in %s: %s\n", m.From, m.Room, m.Text())
	// Output: tk_alice/1 in lobby: hello, bob
}

// Server refusals are *wire.Error values with a protocol code.
func ExampleConn_Join() {
	srv, err := fakeserver.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.AddToken("tk_alice", "ph_alice", "lobby")
	srv.AddRoom(fakeserver.Room{Name: "vault", Public: true, Password: "sesame"})
	ctx := context.Background()
	c, err := client.Dial(ctx, srv.URL, "ph_alice")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Join(ctx, "vault", "wrong")
	var we *wire.Error
	if errors.As(err, &we) {
		fmt.Println("refused:", we.Code)
	}
	g, err := c.Join(ctx, "vault", "sesame")
	fmt.Println("joined:", g.Room, "receive:", g.Receive, "send:", g.Send, err)
	// Output:
	// refused: forbidden
	// joined: vault receive: true send: false <nil>
}

// An envelope cut into chunks and put back together by an Assembler.
func ExampleAssembler() {
	payload := bytes.Repeat([]byte("porthouse "), 1000) // 10,000 bytes
	env := client.NewEnvelope(payload)
	count, _ := env.Count(4096)
	fmt.Println("chunks:", count)

	asm := client.NewAssembler(client.AssemblerConfig{Timeout: 30 * time.Second})
	for chunk, err := range env.Chunks(4096) {
		if err != nil {
			log.Fatal(err)
		}
		// chunk is what a sender passes to SendBinary; a receiver passes
		// Message.Payload and Message.From.
		got, err := asm.Add("tk_alice/1", chunk)
		if err != nil {
			log.Fatal(err)
		}
		if got != nil {
			fmt.Println("complete:", len(got.Data), "bytes from", got.From, "identical:", bytes.Equal(got.Data, payload))
		}
	}
	// Output:
	// chunks: 3
	// complete: 10000 bytes from tk_alice/1 identical: true
}

func ExampleParseConfig() {
	cfg, err := client.ParseConfig(strings.NewReader(`
# staging sensor
url = ws://127.0.0.1:8700
-token ph_example
-room=lobby
auth = query
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.URL, cfg.Room, cfg.Auth)
	// Output: ws://127.0.0.1:8700 lobby query
}

// A long-lived listener: reconnects, rejoins its rooms, reports events.
func ExampleWithReconnect() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8700", os.Getenv("PORTHOUSE_TOKEN"),
		client.WithReconnect(client.DefaultReconnect()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	go func() {
		for ev := range c.Events() {
			log.Printf("event %s %s %s %v", ev.Type, ev.Room, ev.Socket, ev.Err)
		}
	}()
	for m := range c.Messages() {
		fmt.Println(m.Room, m.Text())
	}
	log.Println("ended:", c.Err()) // a *client.CloseError for 4001 (revoked)
}

// The connection described in a file, the seed design's connect("@conf").
func ExampleDialConfig() {
	c, err := client.DialConfig(context.Background(), "@sensor.conf")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("socket", c.SocketID())
}

// Raw mode: bare frames, bound to one room.
func ExampleDialRoom() {
	ctx := context.Background()
	r, err := client.DialRoom(ctx, "ws://127.0.0.1:8700", os.Getenv("PORTHOUSE_TOKEN"), "lobby")
	if err != nil {
		log.Fatal(err)
	}
	if err := r.WriteText(ctx, []byte("temperature 21.5")); err != nil {
		log.Fatal(err)
	}
	op, payload, err := r.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(op, string(payload))
	// Close reports a frame the server refused (close 1008).
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
}

// Sending a file of any size as an envelope of 64,000-byte chunks.
func ExampleConn_SendEnvelope() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8700", os.Getenv("PORTHOUSE_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	f, err := os.Open("firmware.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rc, err := c.SendEnvelope(ctx, "devices", f, 64000)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("envelope", rc.ID, "in", rc.Chunks, "chunks, last message", rc.Last.ID)
}
