// Package puddle is a Porthouse worker: the ingress that accepts TCP
// connections and upgrades WebSockets with gobwas/ws, the primary that owns
// each socket's life (admission, read loop, close), and the bounded writers.
// `porthouse run` runs one puddle in-process; `porthouse supervise` runs one
// per worker process.
//
// Goroutines: Serve runs the accept loop; each connection gets one goroutine
// for its handshake, which ends once the socket is registered. An idle
// socket then holds no goroutine: the poller (netpoll.go) starts a reading
// goroutine when bytes arrive, and the socket's writer goroutine exists only
// while it has frames queued. One wheel goroutine (wheel.go) drives every
// socket's liveness tick (ping, pong timeout, token expiry). Puddle owns all
// of them: Shutdown stops accepting, closes every socket with 1001 and waits
// for their goroutines.
//
// Locks: Puddle.mu guards the socket registries; Socket.wmu guards the
// outbound queue; Socket.rmu guards the socket's room memberships. Order:
// Socket.rmu → router locks → Socket.wmu (inside Deliver). Puddle.mu and the
// wheel's lock are never held while calling into a socket.
package puddle
