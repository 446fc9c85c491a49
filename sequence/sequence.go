package sequence

import (
	"context"
	"errors"
)

// Errors returned by every Sequence implementation.
var (
	ErrMaxConnections = errors.New("token has reached max_connections")
	ErrRoomFull       = errors.New("room is full")
	ErrConflict       = errors.New("room exists")
	ErrNotFound       = errors.New("not found")
)

// State is a socket entry's state.
type State int

// Socket entry states.
const (
	Admitted State = iota // slot held, handshake in progress
	Live                  // upgraded and serving
	Gone                  // released; never returned
)

func (s State) String() string {
	switch s {
	case Admitted:
		return "admitted"
	case Live:
		return "live"
	default:
		return "gone"
	}
}

// AdmitRequest asks for a slot of a token.
type AdmitRequest struct {
	TokenID        string
	Owner          string
	MaxConnections int
	Puddle         int    // worker id; 0 in single-process mode
	Mode           string // "envelope" or "raw"
	// Join, when not empty, is a room the socket joins as it is admitted
	// (a raw socket's room), one call instead of Admit and Join:
	// ErrRoomFull past JoinMaxMembers (0 = no limit), and then no slot is
	// taken.
	Join           string
	JoinMaxMembers int
}

// Entry is one socket as the sequence knows it.
type Entry struct {
	ID      string // tokenID/slot
	TokenID string
	Slot    int
	Owner   string
	Puddle  int
	Mode    string
	State   State
	Rooms   []string // room keys, sorted
}

// TransientRoom is a room created over a socket; it vanishes with its last
// member.
type TransientRoom struct {
	Key        string // owner/name
	Owner      string
	Creator    string // socket id
	Public     bool
	PublicSend bool
	Echo       bool
	Presence   bool
	Format     string
}

// JoinRequest adds a socket to a room. MaxMembers 0 means unlimited.
type JoinRequest struct {
	SocketID   string
	Room       string // key
	MaxMembers int
}

// Sequence is the socket state machine. All methods are safe for concurrent
// use. Room arguments are room keys ("owner/name").
type Sequence interface {
	// Admit allocates the lowest free slot of the token (1..MaxConnections,
	// counted across every puddle) and records an Admitted entry, in the
	// room r.Join when it is given (ErrRoomFull leaves no entry).
	Admit(ctx context.Context, r AdmitRequest) (Entry, error)
	// Activate moves an entry from Admitted to Live.
	Activate(ctx context.Context, socketID string) error
	// Release removes the socket from every room and frees its slot. It
	// returns the rooms it was in and which transient rooms vanished with it.
	Release(ctx context.Context, socketID string) (left []string, vanished []string, err error)
	// Join adds the socket to the room; ErrRoomFull past MaxMembers. Joining a
	// room twice is not an error.
	Join(ctx context.Context, r JoinRequest) error
	// Leave removes the socket from the room; vanished reports a transient
	// room that went with its last member.
	Leave(ctx context.Context, socketID, room string) (vanished bool, err error)
	// CreateRoom makes a transient room with its creator as first member;
	// ErrConflict if a transient room of that key exists.
	CreateRoom(ctx context.Context, r TransientRoom) error
	// Room returns a transient room.
	Room(ctx context.Context, key string) (TransientRoom, bool, error)
	// Socket returns a socket entry.
	Socket(ctx context.Context, socketID string) (Entry, bool, error)
	// Members lists the socket ids in a room, sorted.
	Members(ctx context.Context, room string) ([]string, error)
	// TokenSockets lists the socket ids of a token, sorted.
	TokenSockets(ctx context.Context, tokenID string) ([]string, error)
	// Routes lists the puddles with members in the room, sorted.
	Routes(ctx context.Context, room string) ([]int, error)
	// ReleasePuddle releases every socket of a puddle (a worker died) and
	// returns the released entries.
	ReleasePuddle(ctx context.Context, puddle int) ([]Entry, error)
}
