// Package puddle is a Porthouse worker: the ingress that accepts TCP
// connections and upgrades WebSockets with gobwas/ws, the primary that owns
// each socket's life (admission, read loop, close), and the bounded writers.
// `porthouse run` runs one puddle in-process; `porthouse supervise` runs one
// per worker process.
//
// Goroutines: Serve runs the accept loop; each connection gets one goroutine
// for its handshake which then becomes the socket's read loop. A socket's
// writer goroutine exists only while it has frames queued. The socket timer
// (ping, pong timeout, token expiry) is one time.Timer per socket. Puddle
// owns all of them: Shutdown stops accepting, closes every socket with 1001
// and waits for their goroutines.
//
// Locks: Puddle.mu guards the socket registries; Socket.wmu guards the
// outbound queue; Socket.rmu guards the socket's room memberships. Order:
// Socket.rmu → router locks → Socket.wmu (inside Deliver). Puddle.mu is never
// held while calling into a socket.
package puddle
