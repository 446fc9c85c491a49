package store

import (
	"errors"
	"time"
)

// Sentinel errors. Callers map them to PROTOCOL.md codes with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("already exists")
	ErrUnauthorized = errors.New("bad credentials")
	ErrInvalid      = errors.New("invalid input") // wrapped with the field: fmt.Errorf("%w: name ...", ErrInvalid)
	ErrForbidden    = errors.New("forbidden")
)

// Account is an owner.
type Account struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	IsAdmin   bool      `json:"is_admin"`
	CreatedAt time.Time `json:"created_at"`
}

// Room is a persistent room and its rules. PasswordHash is never serialised.
type Room struct {
	ID              int64     `json:"-"`
	OwnerID         int64     `json:"-"`
	Owner           string    `json:"owner"` // owner's username
	Name            string    `json:"name"`
	Public          bool      `json:"public"`
	PublicSend      bool      `json:"public_send"`
	HasPassword     bool      `json:"has_password"`
	PasswordHash    []byte    `json:"-"`
	Format          string    `json:"format"`            // any | text | binary | json
	MaxMembers      int       `json:"max_members"`       // 0 = unlimited
	MaxMessageBytes int       `json:"max_message_bytes"` // 0 = server default
	Echo            bool      `json:"echo"`
	Presence        bool      `json:"presence"`
	CreatedAt       time.Time `json:"created_at"`
}

// RoomPatch holds room fields to set; nil means unchanged. For CreateRoom the
// nil fields take their defaults (format "any", everything else zero/false).
// Password: nil unchanged, "" removes the password, else sets it (hashed).
type RoomPatch struct {
	Public          *bool   `json:"public"`
	PublicSend      *bool   `json:"public_send"`
	Password        *string `json:"password"`
	Format          *string `json:"format"`
	MaxMembers      *int    `json:"max_members"`
	MaxMessageBytes *int    `json:"max_message_bytes"`
	Echo            *bool   `json:"echo"`
	Presence        *bool   `json:"presence"`
}

// Subscription is token → room with permissions. Room is the room's bare name
// (subscriptions are to rooms of the token's own owner).
type Subscription struct {
	Room    string   `json:"room"`
	Send    bool     `json:"send"`
	Receive bool     `json:"receive"`
	Formats []string `json:"formats"` // subset of ["text","binary"], non-empty
}

// Token is a throw-away credential. The secret is never stored; only its hash.
type Token struct {
	ID             string         `json:"id"` // tk_<base32>
	Name           string         `json:"name"`
	OwnerID        int64          `json:"-"`
	Owner          string         `json:"owner"`
	MaxConnections int            `json:"max_connections"` // default 10
	AutoJoin       bool           `json:"auto_join"`       // default true
	CanCreateRooms bool           `json:"can_create_rooms"`
	ExpiresAt      *time.Time     `json:"expires_at"`
	CreatedAt      time.Time      `json:"created_at"`
	Subscriptions  []Subscription `json:"subscriptions"`
}

// TokenPatch holds token fields to set; nil means unchanged (for CreateToken:
// default). Subscriptions, when non-nil on create, are created with the token;
// on update they replace the whole set.
type TokenPatch struct {
	Name           *string         `json:"name"`
	MaxConnections *int            `json:"max_connections"`
	AutoJoin       *bool           `json:"auto_join"`
	CanCreateRooms *bool           `json:"can_create_rooms"`
	ExpiresAt      **time.Time     `json:"-"` // set via API decoding; *nil clears
	Subscriptions  *[]Subscription `json:"subscriptions"`
}

// APIKey is a service key (pk_...). The secret is shown once at creation.
type APIKey struct {
	ID        string    `json:"id"` // ak_<base32>
	Name      string    `json:"name"`
	OwnerID   int64     `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Bootstrap is what a first start created; zero (Created false) otherwise.
type Bootstrap struct {
	Created       bool
	AdminPassword string // set only if generated
	TokenID       string
	TokenSecret   string
}
