package client

import (
	"encoding/json"
	"errors"

	"github.com/porthouse/porthouse/wire"
)

// Message is a message delivered to this socket.
type Message struct {
	ID   string // server message id, unique and sortable by time
	Room string // as this socket's token names it; "" for a direct message
	From string // sender socket id ("api:<key>" for the service backpipe)

	// Binary tells which of Data and Payload holds the message.
	Binary bool
	// Data is the JSON value of a text message.
	Data json.RawMessage
	// Payload is the bytes of a binary message.
	Payload []byte
}

// Text returns the data of a text message as raw-mode receivers see it: the
// string itself if Data is a JSON string, else the JSON text of Data. For a
// binary message it returns the payload as a string.
func (m Message) Text() string {
	if m.Binary {
		return string(m.Payload)
	}
	var s string
	if len(m.Data) > 0 && m.Data[0] == '"' && json.Unmarshal(m.Data, &s) == nil {
		return s
	}
	return string(m.Data)
}

// Decode unmarshals the data of a text message into v.
func (m Message) Decode(v any) error {
	if m.Binary {
		return errors.New("porthouse: Decode of a binary message")
	}
	return json.Unmarshal(m.Data, v)
}

// Receipt is the server's proof that a message entered the router.
type Receipt struct {
	ID   string // message id
	Room string // set for a room message
	To   string // set for a direct message
}

// Library-level event types, next to the wire.Type* event types.
const (
	// EventDisconnected: the connection dropped and a reconnect is under
	// way; Err is the cause.
	EventDisconnected = "disconnected"
	// EventReconnected: a new connection is up, rooms joined with Join or
	// Create have been joined again (failures come first as "error"
	// events); Socket is the new socket id.
	EventReconnected = "reconnected"
)

// Event is a server event (wire.TypeJoined, TypeLeft, TypeRoomAdded,
// TypeRoomRemoved, TypeMemberJoined, TypeMemberLeft, TypeError for an error
// no call is waiting for, and any type a newer server adds) or a library
// event (EventDisconnected, EventReconnected).
type Event struct {
	Type   string
	Room   string
	Socket string          // member.*: the member; reconnected: the new socket id
	Grant  *wire.RoomGrant // joined, left, room.added, room.removed: the permissions
	Err    error           // error: the *wire.Error; disconnected: the cause
	Raw    *wire.Event     // the frame as received; nil for library events
}

func eventFromWire(ev *wire.Event) Event {
	e := Event{Type: ev.Type, Room: ev.Room, Socket: ev.Socket, Raw: ev}
	switch ev.Type {
	case wire.TypeJoined, wire.TypeLeft, wire.TypeRoomAdded, wire.TypeRoomRemoved:
		g := wire.RoomGrant{Room: ev.Room, Formats: ev.Formats}
		if ev.Send != nil {
			g.Send = *ev.Send
		}
		if ev.Receive != nil {
			g.Receive = *ev.Receive
		}
		e.Grant = &g
	case wire.TypeError:
		e.Err = &wire.Error{Code: ev.Code, Message: ev.Message}
	}
	return e
}
