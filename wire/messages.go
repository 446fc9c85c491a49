package wire

import "encoding/json"

// Envelope-mode frame types, client to server.
const (
	TypeAuth   = "auth"
	TypeSend   = "send"
	TypeJoin   = "join"
	TypeLeave  = "leave"
	TypeCreate = "create"
	TypePing   = "ping"
)

// Envelope-mode frame types, server to client.
const (
	TypeWelcome      = "welcome"
	TypeReceipt      = "receipt"
	TypeMessage      = "message"
	TypeJoined       = "joined"
	TypeLeft         = "left"
	TypeRoomAdded    = "room.added"
	TypeRoomRemoved  = "room.removed"
	TypeMemberJoined = "member.joined"
	TypeMemberLeft   = "member.left"
	TypePong         = "pong"
	TypeError        = "error"
)

// Formats.
const (
	FormatText   = "text"
	FormatBinary = "binary"
	FormatAny    = "any"  // room rule only
	FormatJSON   = "json" // room rule only
)

// Command is any client-to-server envelope frame. Ref is kept as raw JSON so
// that the answer echoes it exactly, whatever JSON value the client chose.
type Command struct {
	Type     string          `json:"type"`
	Token    string          `json:"token,omitempty"`
	Room     string          `json:"room,omitempty"`
	To       string          `json:"to,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Ref      json.RawMessage `json:"ref,omitempty"`
	Password string          `json:"password,omitempty"`
	// Rules for `create`.
	Public     *bool  `json:"public,omitempty"`
	PublicSend *bool  `json:"public_send,omitempty"`
	Echo       *bool  `json:"echo,omitempty"`
	Presence   *bool  `json:"presence,omitempty"`
	Format     string `json:"format,omitempty"`
}

// RoomGrant is a room a socket may use, as listed in `welcome` and carried by
// `joined`, `room.added` and `room.removed`.
type RoomGrant struct {
	Room    string   `json:"room"`
	Send    bool     `json:"send"`
	Receive bool     `json:"receive"`
	Formats []string `json:"formats"`
	// Joined is set in `welcome` for rooms the socket was joined to
	// (auto_join); an extension of PROTOCOL.md.
	Joined bool `json:"joined,omitempty"`
}

// Limits is the `limits` object of `welcome`.
type Limits struct {
	MaxMessageBytes int `json:"max_message_bytes"`
	MaxQueueBytes   int `json:"max_queue_bytes,omitempty"`
	RateLimit       int `json:"rate_limit,omitempty"` // messages per second, 0 = off
}

// Welcome is sent right after authentication.
type Welcome struct {
	Type   string      `json:"type"`
	Socket string      `json:"socket"`
	Rooms  []RoomGrant `json:"rooms"`
	Limits Limits      `json:"limits"`
}

// Event is every other server-to-client frame; which fields are set depends
// on Type. For `message` frames Data carries the payload (text frames only).
type Event struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Ref     json.RawMessage `json:"ref,omitempty"`
	Room    string          `json:"room,omitempty"`
	To      string          `json:"to,omitempty"`
	From    string          `json:"from,omitempty"`
	Socket  string          `json:"socket,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Send    *bool           `json:"send,omitempty"`
	Receive *bool           `json:"receive,omitempty"`
	Formats []string        `json:"formats,omitempty"`
	Code    Code            `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	// Welcome fields, so that a client can decode any frame into one Event.
	Rooms  []RoomGrant `json:"rooms,omitempty"`
	Limits *Limits     `json:"limits,omitempty"`
}

// SplitBinary splits a binary envelope frame into its JSON header and raw
// payload at the first '\n'. ok is false when there is no '\n'.
func SplitBinary(frame []byte) (header, payload []byte, ok bool) {
	for i, c := range frame {
		if c == '\n' {
			return frame[:i], frame[i+1:], true
		}
	}
	return nil, nil, false
}
