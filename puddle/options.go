package puddle

import (
	"context"
	"time"

	"github.com/porthouse/porthouse/store"
)

// Options are the socket-path settings of a puddle.
type Options struct {
	Worker           int // worker id, 0 in single-process mode
	MaxMessageBytes  int
	MaxQueueBytes    int
	AuthTimeout      time.Duration
	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	PongTimeout      time.Duration
	WriteTimeout     time.Duration
	RateLimit        float64 // messages per second per socket; 0 = off
	RateBurst        int
	AllowedOrigins   []string
	// MaxSockets bounds the sockets of this process (0 = no bound): past it a
	// handshake gets 503, so the process stays under its open-files limit.
	MaxSockets int
}

// DefaultOptions are the PROTOCOL.md defaults.
func DefaultOptions() Options {
	return Options{
		MaxMessageBytes:  65536,
		MaxQueueBytes:    1 << 20,
		AuthTimeout:      5 * time.Second,
		HandshakeTimeout: 10 * time.Second,
		PingInterval:     25 * time.Second,
		PongTimeout:      10 * time.Second,
		WriteTimeout:     10 * time.Second,
	}
}

// Directory is what the socket path reads from the control plane: tokens by
// secret and persistent rooms. *store.Store implements it; workers use a
// cached gRPC client.
type Directory interface {
	TokenBySecret(ctx context.Context, secret string) (store.Token, error)
	Room(ctx context.Context, owner, name string) (store.Room, error)
}
