package router_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/porthouse/porthouse/router"
)

// countTarget counts deliveries and keeps the last frame; it never
// allocates, so the benchmark measures the router alone.
type countTarget struct {
	n    int
	last []byte
}

func (c *countTarget) Deliver(frame []byte) { c.n++; c.last = frame }

// text128 is a 128-byte message as envelope `data` (a JSON string).
var text128 = []byte(`"` + string(bytes.Repeat([]byte("abcdefgh"), 15)) + `abcdef"`)

// fanoutRoom builds a room of n members; kinds picks each member's owner
// and mode.
func fanoutRoom(n int, kind func(i int) (owner string, raw bool)) *router.Room {
	r := router.New(0)
	var room *router.Room
	for i := 0; i < n; i++ {
		owner, raw := kind(i)
		m := router.NewMember(fmt.Sprintf("tk_bench/%d", i), owner, raw, &countTarget{}, all)
		room = r.Join("alice/lobby", "alice", "lobby", router.Rules{}, m)
	}
	return room
}

func benchFanout(b *testing.B, room *router.Room, mk func() *router.Envelope) {
	b.ReportAllocs()
	deliveries := 0
	for b.Loop() {
		deliveries += room.Publish(mk(), nil)
	}
	if deliveries != b.N*room.Len() {
		b.Fatalf("%d deliveries, want %d", deliveries, b.N*room.Len())
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(deliveries)/s, "deliveries/s")
	b.ReportMetric(s*1e9/float64(deliveries), "ns/delivery")
}

// BenchmarkFanout publishes a 128-byte text message to a room whose members
// are all envelope-mode sockets of the room's owner: one encoding serves
// them all.
func BenchmarkFanout(b *testing.B) {
	if len(text128) != 128 {
		b.Fatalf("message is %d bytes", len(text128))
	}
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			room := fanoutRoom(n, func(int) (string, bool) { return "alice", false })
			benchFanout(b, room, func() *router.Envelope {
				return router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
			})
		})
	}
}

// BenchmarkFanoutMixed has every receiver kind (own owner, other owner, raw):
// three encodings per message, still none per receiver.
func BenchmarkFanoutMixed(b *testing.B) {
	kind := func(i int) (string, bool) {
		switch i % 3 {
		case 0:
			return "alice", false
		case 1:
			return "bob", false
		default:
			return "bob", true
		}
	}
	for _, n := range []int{3, 10000} {
		b.Run(fmt.Sprint("text/", n), func(b *testing.B) {
			room := fanoutRoom(n, kind)
			benchFanout(b, room, func() *router.Envelope {
				return router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
			})
		})
		payload := bytes.Repeat([]byte{0xA5}, 128)
		b.Run(fmt.Sprint("binary/", n), func(b *testing.B) {
			room := fanoutRoom(n, kind)
			benchFanout(b, room, func() *router.Envelope {
				return router.NewBinary("0123456789abcdef", "tk_sender/1", payload)
			})
		})
	}
}

func BenchmarkMessageFrame(b *testing.B) {
	e := router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
	b.ReportAllocs()
	b.SetBytes(int64(len(text128)))
	for b.Loop() {
		e.MessageFrame("lobby")
	}
}

func BenchmarkIDGen(b *testing.B) {
	g := router.NewIDGen(1)
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}

func BenchmarkIDGenParallel(b *testing.B) {
	g := router.NewIDGen(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Next()
		}
	})
}

func BenchmarkAppendJSONString(b *testing.B) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"ascii128", bytes.Repeat([]byte("abcdefgh"), 16)},
		{"escapes128", bytes.Repeat([]byte("a\"b\\c\nd\x01"), 16)},
		{"unicode128", bytes.Repeat([]byte("héllo—日本\u2028"), 6)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dst := make([]byte, 0, 8*len(tc.in))
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.in)))
			for b.Loop() {
				dst = router.AppendJSONString(dst[:0], tc.in)
			}
		})
	}
}
