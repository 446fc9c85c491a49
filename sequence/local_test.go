package sequence_test

import (
	"context"
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
