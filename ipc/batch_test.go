package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/sequence"
)

// serveSequence serves a fresh Local over gRPC on a Unix socket, as the
// supervisor does, and returns a client of it, as a worker has, and the
// Local itself.
func serveSequence(t *testing.T, opts ...grpc.ServerOption) (*SequenceClient, *sequence.Local) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ph-ipc-") // short: a Unix socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "seq.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	local := sequence.NewLocal()
	srv := grpc.NewServer(opts...)
	pb.RegisterSequenceServer(srv, &SequenceServer{Seq: local, RouteTable: local})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &SequenceClient{C: pb.NewSequenceClient(conn)}, local
}

// TestActivateBatches: activations that come while an ActivateMany call is
// on its way go together in the next one, and each gets its own answer
// (unknown sockets not_found, the others Live).
func TestActivateBatches(t *testing.T) {
	var calls, first atomic.Int32
	hold := make(chan struct{})
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == pb.Sequence_ActivateMany_FullMethodName && calls.Add(1) == 1 {
			first.Store(int32(len(req.(*pb.IDList).GetIds())))
			<-hold // the first batch waits until the others are queued
		}
		return h(ctx, req)
	}
	c, local := serveSequence(t, grpc.UnaryInterceptor(count))

	ctx := t.Context()
	var ids []string
	for range 50 {
		e, err := c.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_b", Owner: "acme", MaxConnections: 100, Mode: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("tk_none/%d", i+1))
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Activate(ctx, id)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.batchers()
		queued := c.activates.queued()
		if calls.Load() == 1 && int(first.Load())+queued == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls (the first with %d), %d activations queued; want 1 call on its way and the rest of %d queued",
				calls.Load(), first.Load(), queued, len(ids))
		}
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()
	if n := calls.Load(); n > 2 {
		t.Fatalf("%d ActivateMany calls for %d activations, want at most 2", n, len(ids))
	}
	for i, id := range ids {
		e, found, _ := local.Socket(ctx, id)
		switch {
		case i < 50 && (errs[i] != nil || !found || e.State != sequence.Live):
			t.Fatalf("activate %s: %v, entry %+v found %v; want Live", id, errs[i], e, found)
		case i >= 50 && !errors.Is(errs[i], sequence.ErrNotFound):
			t.Fatalf("activate unknown %s: %v, want ErrNotFound", id, errs[i])
		}
	}
}

// TestAdmitBatches: admissions that come while an AdmitMany call is on its
// way go together in the next; each gets its own slot or its own refusal.
func TestAdmitBatches(t *testing.T) {
	var calls, first atomic.Int32
	hold := make(chan struct{})
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == pb.Sequence_AdmitMany_FullMethodName && calls.Add(1) == 1 {
			first.Store(int32(len(req.(*pb.AdmitBatch).GetRequests())))
			<-hold
		}
		return h(ctx, req)
	}
	c, local := serveSequence(t, grpc.UnaryInterceptor(count))
	c.batchers()

	const n, max = 30, 8
	entries := make([]sequence.Entry, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries[i], errs[i] = c.Admit(t.Context(), sequence.AdmitRequest{
				TokenID: "tk_c", Owner: "acme", MaxConnections: max, Mode: "raw", Join: "acme/lobby",
			})
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() != 1 || int(first.Load())+c.admits.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls (the first with %d), %d queued; want 1 on its way and the rest of %d queued",
				calls.Load(), first.Load(), c.admits.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()
	if k := calls.Load(); k > 2 {
		t.Fatalf("%d AdmitMany calls for %d admissions, want at most 2", k, n)
	}
	slots := map[int]bool{}
	refused := 0
	for i := range n {
		switch {
		case errors.Is(errs[i], sequence.ErrMaxConnections):
			refused++
		case errs[i] != nil:
			t.Fatalf("admission %d: %v", i, errs[i])
		case slots[entries[i].Slot] || entries[i].Slot < 1 || entries[i].Slot > max:
			t.Fatalf("admission %d: slot %d twice or out of 1..%d", i, entries[i].Slot, max)
		default:
			slots[entries[i].Slot] = true
		}
	}
	if len(slots) != max || refused != n-max {
		t.Fatalf("%d admitted, %d refused; want %d and %d", len(slots), refused, max, n-max)
	}
	if got, _ := local.Members(t.Context(), "acme/lobby"); len(got) != max {
		t.Fatalf("%d members of the joined room, want %d", len(got), max)
	}
}

// TestAdmitAbandoned: an admission whose caller stopped waiting before the
// sequence answered is released when the answer comes, so its slot and
// room are not held for good.
func TestAdmitAbandoned(t *testing.T) {
	hold := make(chan struct{})
	slow := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == pb.Sequence_AdmitMany_FullMethodName {
			res, err := h(context.WithoutCancel(ctx), req) // admitted now...
			<-hold                                         // ...answered late
			return res, err
		}
		return h(ctx, req)
	}
	c, local := serveSequence(t, grpc.UnaryInterceptor(slow))

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Admit(ctx, sequence.AdmitRequest{TokenID: "tk_d", Owner: "acme", MaxConnections: 1, Mode: "raw", Join: "acme/lobby"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Admit with an expired context: %v, want DeadlineExceeded", err)
	}
	if ids, _ := local.TokenSockets(t.Context(), "tk_d"); len(ids) != 1 {
		t.Fatalf("the sequence holds %v for the token; want the one admission", ids)
	}
	close(hold)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ids, _ := local.TokenSockets(t.Context(), "tk_d")
		members, _ := local.Members(t.Context(), "acme/lobby")
		if len(ids) == 0 && len(members) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned admission still holds %v, members %v", ids, members)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The slot is free again: max_connections 1 admits.
	if _, err := c.Admit(t.Context(), sequence.AdmitRequest{TokenID: "tk_d", Owner: "acme", MaxConnections: 1, Mode: "raw"}); err != nil {
		t.Fatalf("admit after the release: %v", err)
	}
}
