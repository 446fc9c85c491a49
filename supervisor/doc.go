// Package supervisor runs Porthouse as one supervisor and N worker processes
// ("puddles", `porthouse supervise -workers N`).
//
// The supervisor opens N listening sockets on one address with SO_REUSEPORT
// and keeps them for its whole life; worker i inherits socket i (fd 3) and
// accepts on it, so a restarted worker serves the connections that queued
// while it was down. Workers are launched with hashicorp/go-plugin (the
// binary re-executed as `porthouse puddle`), their hclog output forwarded
// tagged with the worker id, health-checked and restarted with backoff.
//
// The supervisor is the only writer of the store and runs the one sequence
// (sequence.Local), served to workers over gRPC on a Unix socket together
// with the directory (the store's read side). It serves the JSON API and UI
// on another Unix socket, to which workers forward every non-WebSocket
// request. Live changes go to workers through the go-plugin Worker service.
// Room routes are pushed to every worker when a puddle gets its first member
// in a room, before the join returns, so a message sent after a `joined`
// always finds every puddle with members.
//
// The worker side (RunWorker) lives here too: it builds a puddle whose
// sequence and directory are gRPC clients, joins the mesh (package mesh) for
// room traffic between puddles, and serves the Worker service.
//
// Goroutines: the supervisor owns one monitor goroutine per worker, the gRPC
// and HTTP servers, and (Options.ReleaseFreeHeap) one that returns the free
// heap a connect burst leaves to the OS; Shutdown drains workers, stops all
// of them and waits. A worker process runs the same heap releaser.
package supervisor
