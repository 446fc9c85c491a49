// Package mesh is the data path between the puddles of a supervised
// server: room messages, direct messages and presence events travel from
// one worker process to another over a framed Unix socket per ordered pair
// of puddles, beside the gRPC control plane and never queued behind it.
//
// # What it owns
//
// A Mesh owns this puddle's listening socket Dir/peer-<Self>.sock, the
// connections it accepted there (one per peer that sends to it), one
// outbound connection per peer it sends to (dialed lazily on the first
// frame and kept), each peer's queue of frames, and the route table:
// room → puddles with members in it. Routes are added at once (AddRoutes,
// when a puddle gets its first member of a room) and taken away lazily
// (SyncRoutes, which the worker calls every route_sync_interval with the
// sequence's table); until then a puddle that receives a message for a
// room it no longer has members in drops it (its Receiver finds no local
// room), which costs one frame and keeps the table lock-free for readers.
// The table is a sync.Map of immutable per-room entries: Publish does one
// lock-free Load per message; AddRoutes and SyncRoutes copy the entries
// they change.
//
// Publish, Direct and Announce never block on a peer: they append the
// encoded frame (copying the payload, which aliases the caller's read
// buffer) to the peer's queue under the peer's mutex and wake its writer.
// The queue is bounded by Config.MaxPeerQueueBytes; past it the oldest
// frames are dropped, counted (Dropped) and warned about at most once a
// second per peer. The writer swaps the whole queue with a second buffer
// and writes it with one Write, so under load many frames go out per
// syscall and the two buffers alternate without allocating. If the peer is
// down the frames wait in the queue while the writer redials with backoff
// (5 ms doubling to 500 ms); if a write fails, the frames not completely
// written are queued again ahead of newer ones. Frames from one puddle to
// another keep their order, so messages of one sender to one room do too.
// Delivery is at most once: frames written to a peer that then dies are
// lost with it.
//
// On the receiving side each accepted connection has a reader: a 64 KiB
// bufio.Reader, frames decoded in place when they fit in it, each message
// rebuilt with router.FromWire (id and payload copied together into a
// per-connection arena of 16 KiB chunks, one allocation per chunk) and
// handed to the Receiver (the puddle) on the reader goroutine.
// Bad input (a length out of range, a truncated frame, an unknown type or
// kind, bytes left over) closes that connection with a warning; it never
// panics and never affects other connections.
//
// # Frames
//
// Every frame, byte by byte (integers big-endian):
//
//	uint32  length of everything after these 4 bytes (7 ≤ length ≤ MaxFrameBytes)
//	uint8   type: 1 room message, 2 direct message, 3 presence event
//
// then, for type 1 (room message) and 2 (direct message):
//
//	uint16 + bytes  room key (owner/name) for type 1, socket id for type 2
//	uint16 + bytes  message id
//	uint16 + bytes  from: the sender socket id, or "api:<key>"
//	uint8           kind: router.KindJSON 0, KindText 1, KindJSONText 2, KindBinary 3
//	uint32 + bytes  payload, as router.Envelope.Wire returns it
//
// and for type 3 (presence event):
//
//	uint16 + bytes  room key
//	uint16 + bytes  event type (member.joined, member.left)
//	uint16 + bytes  socket id the event is about
//
// The fields must fill the length exactly. There is no handshake: a
// connection is a plain stream of frames from one puddle to another.
//
// # Goroutines
//
// New starts the accept loop; each accepted connection gets a reader; each
// peer gets a writer when it is first sent to. All of them are counted in
// one WaitGroup under one context: Close cancels, closes the listener and
// every connection (which unblocks reads and writes), and waits. Nothing
// starts once Close has begun, and Close is safe to call twice.
//
// # Locks
//
// Lock order: Mesh.routesMu → Mesh.peersMu → peer.mu. peer.connMu and
// Mesh.connsMu are leaves, never held with another lock. peer.mu guards
// the queue and is held only to append or swap buffers, never during I/O
// or logging. Receiver methods are called with no lock held.
package mesh
