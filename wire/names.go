package wire

import "strings"

// MaxNameLen is the longest room (and account) name.
const MaxNameLen = 64

// ValidName reports whether s matches [a-z0-9][a-z0-9._-]{0,63}, the rule for
// room names and account usernames.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// RoomRef is a room as a client names it: Owner is empty for the naming
// token's own owner ("lobby") and set for another owner's room ("bob/lobby").
type RoomRef struct {
	Owner string
	Name  string
}

// ParseRoomRef parses "room" or "owner/room", validating both parts.
func ParseRoomRef(s string) (RoomRef, bool) {
	owner, name, qualified := strings.Cut(s, "/")
	if !qualified {
		return RoomRef{Name: s}, ValidName(s)
	}
	return RoomRef{Owner: owner, Name: name}, ValidName(owner) && ValidName(name)
}

// Key is the server-wide identity of a room: "owner/name".
func Key(owner, name string) string { return owner + "/" + name }

// SplitKey splits a room key "owner/name".
func SplitKey(key string) (owner, name string) {
	owner, name, _ = strings.Cut(key, "/")
	return owner, name
}

// DisplayName is how a socket whose token belongs to viewer names the room
// with key: bare for its own owner's rooms, "owner/room" otherwise.
func DisplayName(viewer, key string) string {
	owner, name := SplitKey(key)
	if owner == viewer {
		return name
	}
	return key
}
