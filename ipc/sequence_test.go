package ipc_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/porthouse/porthouse/ipc"
	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/sequence/sequencetest"
)

// TestSequenceOverGRPC runs the sequence contract against a SequenceClient
// talking to a SequenceServer over gRPC on a Unix socket, as a worker talks
// to the supervisor: every field and error crosses the wire.
func TestSequenceOverGRPC(t *testing.T) {
	sequencetest.Run(t, func(t *testing.T) sequence.Sequence {
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
		srv := grpc.NewServer()
		pb.RegisterSequenceServer(srv, &ipc.SequenceServer{Seq: local, RouteTable: local})
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
		conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return &ipc.SequenceClient{C: pb.NewSequenceClient(conn)}
	})
}
