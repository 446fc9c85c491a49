// Package sequence is the state machine that tracks every socket of the
// server: socket entries (admitted → live → gone), token slots and
// max_connections, room membership, transient rooms, and room routes (which
// puddles have members in which rooms).
//
// Sequence is the interface; Local is the in-process implementation used by
// `porthouse run` and by the supervisor, which serves it to workers over gRPC
// and pushes new routes to them from Local.OnNewRoute. Every implementation
// passes the contract suite in sequencetest.
//
// Concurrency: Local guards all state with one mutex. The sequence is the
// control plane (admission, join, leave); the hot message path never calls it.
package sequence
