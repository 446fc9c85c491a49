package api

import (
	"context"

	"github.com/porthouse/porthouse/store"
)

// Live is the running server as the API sees it: the API changes the store,
// then tells Live so the change reaches connected sockets at once. The
// in-process server and the supervisor (which forwards to workers) both
// implement it. Methods must be safe for concurrent use and must not block on
// slow sockets.
type Live interface {
	// TokenUpdated applies a token's new settings and subscription set to its
	// live sockets: room.added / room.removed events, joins (auto_join) and
	// leaves, raw sockets whose room went away close with 4003.
	TokenUpdated(t store.Token)
	// TokenRevoked closes every socket of the token with 4001 (deleted,
	// regenerated or expired).
	TokenRevoked(tokenID string)
	// RoomUpdated applies a persistent room's new rules to its live members.
	RoomUpdated(r store.Room)
	// RoomDeleted removes the room from every socket (room.removed, raw 4003).
	RoomDeleted(owner, name string)
	// Publish delivers a backpipe message to the owner's room and returns the
	// message id. It enforces the room's format and size rules and returns a
	// *wire.Error (not_found, format, too_large, forbidden) when it refuses.
	Publish(ctx context.Context, owner, room string, p Publication) (id string, err error)
	// RoomSockets lists the live members of the owner's room.
	RoomSockets(owner, room string) []SocketInfo
	// TransientRoom reports whether the owner has a live transient room of
	// that name (room names are unique per owner across both kinds).
	TransientRoom(owner, name string) bool
	// Kick closes the owner's socket with 4010. It returns a *wire.Error
	// not_found when no such socket of that owner is live.
	Kick(owner, socketID string) error
}

// PublicationKind is how a backpipe body is delivered.
type PublicationKind int

// Backpipe body kinds, from the request's Content-Type.
const (
	PublishJSON   PublicationKind = iota // application/json: envelope `data` as JSON
	PublishText                          // text/plain: as a raw text frame
	PublishBinary                        // application/octet-stream: a binary frame
)

// Publication is one backpipe message.
type Publication struct {
	Kind PublicationKind
	Body []byte
	From string // shown as `from` to receivers, e.g. "api:<key id>"
}

// SocketInfo describes one live socket.
type SocketInfo struct {
	ID     string `json:"id"`
	Token  string `json:"token"`
	Mode   string `json:"mode"`   // "envelope" | "raw"
	Worker int    `json:"worker"` // worker process (puddle) holding it; 0 in single-process mode
}
