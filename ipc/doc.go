// Package ipc connects the supervisor and its workers: the go-plugin
// handshake and plugin definition of a worker ("puddle"), and the gRPC
// adapters that carry the sequence, the directory (the store's read side)
// and the worker service across processes over Unix sockets.
//
// Adapters hold no state of their own beyond their gRPC connection; they are
// safe for concurrent use. Sentinel errors cross the wire as gRPC status
// codes and come back as the same sentinels (errors.Is works on both sides).
package ipc
