package ipc

import (
	"testing"

	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/sequence/sequencetest"
)

// TestSequenceOverGRPC runs the sequence contract against a SequenceClient
// talking to a SequenceServer over gRPC on a Unix socket, as a worker talks
// to the supervisor: every field and error crosses the wire.
func TestSequenceOverGRPC(t *testing.T) {
	sequencetest.Run(t, func(t *testing.T) sequence.Sequence {
		c, _ := serveSequence(t)
		return c
	})
}
