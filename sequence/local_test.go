package sequence_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/sequence/sequencetest"
)

func TestLocal(t *testing.T) {
	sequencetest.Run(t, func(*testing.T) sequence.Sequence { return sequence.NewLocal() })
}

func BenchmarkLocalAdmitRelease(b *testing.B) {
	l := sequence.NewLocal()
	ctx := context.Background()
	// A busy token: the benchmark admits into the lowest free slot of ten.
	for range 9 {
		if _, err := l.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := l.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 10})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := l.Release(ctx, e.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalJoinLeave(b *testing.B) {
	l := sequence.NewLocal()
	ctx := context.Background()
	e, err := l.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_a", MaxConnections: 1})
	if err != nil {
		b.Fatal(err)
	}
	// Keep the room populated so the benchmark measures joining a live room.
	other, err := l.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_b", MaxConnections: 1})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Join(ctx, sequence.JoinRequest{SocketID: other.ID, Room: "acme/lobby"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Join(ctx, sequence.JoinRequest{SocketID: e.ID, Room: "acme/lobby", MaxMembers: 100}); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Leave(ctx, e.ID, "acme/lobby"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalHeld measures the heap one held socket costs the sequence:
// admitted, live and in one room, as an idle socket of `porthouse bench
// -idle` is. It reports live bytes per socket after a collection.
func BenchmarkLocalHeld(b *testing.B) {
	const sockets = 100_000
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		l := sequence.NewLocal()
		for i := range sockets {
			// Strings as the gRPC server hands them: a fresh copy per call.
			tok, owner := strings.Clone("tk_0123456789abcdef"), strings.Clone("admin")
			e, err := l.Admit(ctx, sequence.AdmitRequest{TokenID: tok, Owner: owner,
				MaxConnections: sockets, Puddle: 1 + i%8, Mode: strings.Clone("raw")})
			if err != nil {
				b.Fatal(err)
			}
			id := strings.Clone(e.ID)
			if err := l.Activate(ctx, id); err != nil {
				b.Fatal(err)
			}
			if err := l.Join(ctx, sequence.JoinRequest{SocketID: id, Room: strings.Clone("admin/lobby")}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/sockets, "B/socket")
		runtime.KeepAlive(l)
		b.StartTimer()
	}
}
