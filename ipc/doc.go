// Package ipc connects the supervisor and its workers: the go-plugin
// handshake and plugin definition of a worker ("puddle"), and the gRPC
// adapters that carry the sequence, the directory (the store's read side)
// and the worker service across processes over Unix sockets.
//
// Adapters hold no state of their own beyond their gRPC connection and, in
// the sequence client, the admissions and activations waiting for their
// batch (batch.go: one batched call on its way at a time, the calls that
// come meanwhile go together in the next, each with its own answer; an
// admission whose caller gave up is released when its answer comes). They
// are safe for concurrent use. Sentinel errors cross the wire as gRPC status
// codes, or as refusal codes in a batch's results, and come back as the
// same sentinels (errors.Is works on both sides). The sequence contract
// suite runs against the client over a real Unix socket (sequence_test.go).
package ipc
