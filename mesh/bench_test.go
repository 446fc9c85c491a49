package mesh

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/router"
)

const fanoutMembers = 100

// fanoutWindow is how far the cross-worker publisher may run ahead of the
// far room: three quarters of what the peer queue holds. Publish never
// waits for a peer, so in a puddle only the queue bound limits this; the
// benchmark stays short of it so nothing is dropped and every message is
// counted.
func fanoutWindow() int {
	frame := lenPrefix + messageLen("alice/lobby", "0123456789abcdef", "tk_sender/1", text128)
	return DefaultMaxPeerQueueBytes * 3 / 4 / frame
}

// countTarget counts deliveries; it never allocates.
type countTarget struct{ n int }

func (c *countTarget) Deliver([]byte) { c.n++ }

// text128 is a 128-byte message as envelope data (a JSON string).
var text128 = []byte(`"` + string(bytes.Repeat([]byte("abcdefgh"), 15)) + `abcdef"`)

// fanoutRoom builds a room of n envelope-mode members of the room's owner.
func fanoutRoom(n int) *router.Room {
	r := router.New(0)
	var room *router.Room
	for i := range n {
		m := router.NewMember(fmt.Sprintf("tk_bench/%d", i), "alice", false, &countTarget{},
			router.PermSend|router.PermReceive|router.PermText|router.PermBinary)
		room = r.Join("alice/lobby", "alice", "lobby", router.Rules{}, m)
	}
	return room
}

// roomReceiver is the far puddle: it fans every room message out into its
// local room, as puddle.DeliverRoom does, and counts.
type roomReceiver struct {
	room      *router.Room
	delivered atomic.Int64 // deliveries
	frames    atomic.Int64
	last      atomic.Int64  // the frame count that ends the run
	progress  chan struct{} // a frame count of note was reached
}

func (r *roomReceiver) DeliverRoom(_ string, env *router.Envelope) {
	r.delivered.Add(int64(r.room.Publish(env, nil)))
	if n := r.frames.Add(1); n%512 == 0 || n == r.last.Load() {
		select {
		case r.progress <- struct{}{}:
		default:
		}
	}
}

func (r *roomReceiver) DeliverDirect(string, *router.Envelope) bool { return false }
func (r *roomReceiver) AnnounceLocal(string, string, string)        {}

func reportFanout(b *testing.B, deliveries int64) {
	if want := int64(b.N) * fanoutMembers; deliveries != want {
		b.Fatalf("%d deliveries, want %d", deliveries, want)
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(deliveries)/s, "deliveries/s")
	b.ReportMetric(s*1e9/float64(deliveries), "ns/delivery")
}

// BenchmarkFanout compares fan-out of 128-byte messages to a room of 100
// members in the same worker with fan-out through the mesh: Mesh A frames
// the message onto the Unix socket, Mesh B decodes it and fans it out to
// its own room of 100. The cross-worker time runs until the last message
// is delivered.
func BenchmarkFanout(b *testing.B) {
	if len(text128) != 128 {
		b.Fatalf("message is %d bytes", len(text128))
	}
	b.Run("same-worker", func(b *testing.B) {
		room := fanoutRoom(fanoutMembers)
		b.ReportAllocs()
		b.ResetTimer()
		var deliveries int64
		for range b.N {
			env := router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
			deliveries += int64(room.Publish(env, nil))
		}
		reportFanout(b, deliveries)
	})
	b.Run("cross-worker", func(b *testing.B) {
		dir := shortDir(b)
		recv := &roomReceiver{room: fanoutRoom(fanoutMembers), progress: make(chan struct{}, 1)}
		a := startMesh(b, Config{Self: 0, Dir: dir}, &roomReceiver{progress: make(chan struct{}, 1)})
		startMesh(b, Config{Self: 1, Dir: dir}, recv)
		a.AddRoutes([]Route{{"alice/lobby", 0}, {"alice/lobby", 1}})
		// Warm up: connect before the clock starts.
		a.Publish("alice/lobby", router.NewJSON("0123456789abcdef", "tk_sender/1", text128))
		waitFor(b, "the first message", func() bool { return recv.frames.Load() == 1 })
		recv.frames.Store(0)
		recv.delivered.Store(0)
		recv.last.Store(int64(b.N))
		window := int64(fanoutWindow())
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			for int64(i)-recv.frames.Load() >= window {
				<-recv.progress
			}
			env := router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
			a.Publish("alice/lobby", env)
		}
		for recv.frames.Load() < int64(b.N) {
			<-recv.progress
		}
		reportFanout(b, recv.delivered.Load())
		if d := a.Dropped(); d != 0 {
			b.Fatalf("dropped %d", d)
		}
	})
}

// BenchmarkEncode is the sending puddle's cost of one room message for one
// peer: the frame appended to the peer's queue (no writer running).
func BenchmarkEncode(b *testing.B) {
	m := &Mesh{cfg: Config{MaxPeerQueueBytes: DefaultMaxPeerQueueBytes}, log: nopLog}
	p := newPeer(m, 1)
	env := router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
	kind, payload := env.Wire()
	n := messageLen("alice/lobby", env.ID, env.From, payload)
	b.ReportAllocs()
	b.SetBytes(int64(lenPrefix + n))
	for b.Loop() {
		p.enqueueMessage(n, frameRoom, "alice/lobby", env.ID, env.From, byte(kind), payload)
		if len(p.buf) > 1<<20 {
			p.buf = p.buf[:0]
		}
	}
}

// BenchmarkDecode is the receiving puddle's cost of one room message: the
// frame read from a 64 KiB-buffered stream and rebuilt as an Envelope.
func BenchmarkDecode(b *testing.B) {
	const frames = 4096
	var stream []byte
	for range frames {
		stream = appendMessage(stream, messageLen("alice/lobby", "0123456789abcdef", "tk_sender/1", text128),
			frameRoom, "alice/lobby", "0123456789abcdef", "tk_sender/1", router.KindJSON, text128)
	}
	var sink roomSink
	in := inbound{m: &Mesh{recv: &sink}}
	rd := bytes.NewReader(stream)
	in.fr = newFrameReader(rd, readBufferSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / frames))
	for b.Loop() {
		f, err := in.fr.next()
		if err == io.EOF {
			rd.Reset(stream)
			in.fr.r.Reset(rd)
			in.fr.pending = 0
			f, err = in.fr.next()
		}
		if err != nil {
			b.Fatal(err)
		}
		in.dispatch(&f)
	}
}

// roomSink keeps the last envelope so decoding cannot be optimized away.
type roomSink struct{ last *router.Envelope }

func (s *roomSink) DeliverRoom(_ string, env *router.Envelope)  { s.last = env }
func (s *roomSink) DeliverDirect(string, *router.Envelope) bool { return false }
func (s *roomSink) AnnounceLocal(string, string, string)        {}

var nopLog = hclog.NewNullLogger()
