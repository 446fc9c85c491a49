package mesh

import (
	"encoding/binary"
	"fmt"

	"github.com/porthouse/porthouse/router"
)

// Frame types, the byte after the length prefix.
const (
	frameRoom     byte = 1 // a room message: room, id, from, kind, payload
	frameDirect   byte = 2 // a direct message: socket, id, from, kind, payload
	framePresence byte = 3 // a presence event: room, event type, socket
)

// maxKind is the highest router.Kind* value a frame may carry.
const maxKind = router.KindBinary

const (
	lenPrefix = 4      // uint32 length of the rest of the frame
	maxField  = 0xFFFF // a uint16-prefixed field
	// MaxFrameBytes bounds one frame after its length prefix; a longer
	// length on the wire closes the connection.
	MaxFrameBytes = 16 << 20
	// minFrame is the shortest valid frame body: a presence frame of three
	// empty fields.
	minFrame = 1 + 3*2
)

// frame is one decoded frame. Its fields alias the buffer it was decoded
// from. A presence frame carries the room in to, the event type in id and
// the socket the event is about in from.
type frame struct {
	typ      byte
	to       []byte
	id       []byte
	from     []byte
	kind     byte
	payload  []byte
	hasKind  bool // message frames: kind and payload follow the fields
	bodySize int  // length of the frame after its prefix
}

// messageLen is the length after the prefix of a room or direct frame.
func messageLen(to, id, from string, payload []byte) int {
	return 1 + 2 + len(to) + 2 + len(id) + 2 + len(from) + 1 + 4 + len(payload)
}

// presenceLen is the length after the prefix of a presence frame.
func presenceLen(room, event, socket string) int {
	return 1 + 2 + len(room) + 2 + len(event) + 2 + len(socket)
}

// checkMessage reports why a message cannot be framed, or nil.
func checkMessage(to, id, from string, payload []byte) error {
	if len(to) > maxField || len(id) > maxField || len(from) > maxField {
		return fmt.Errorf("field longer than %d bytes", maxField)
	}
	if n := messageLen(to, id, from, payload); n > MaxFrameBytes {
		return fmt.Errorf("frame of %d bytes exceeds %d", n, MaxFrameBytes)
	}
	return nil
}

// checkPresence reports why a presence event cannot be framed, or nil.
func checkPresence(room, event, socket string) error {
	if len(room) > maxField || len(event) > maxField || len(socket) > maxField {
		return fmt.Errorf("field longer than %d bytes", maxField)
	}
	return nil
}

func appendField[T string | []byte](dst []byte, s T) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendMessage appends a room or direct frame; n is its messageLen. The
// payload is copied.
func appendMessage[T string | []byte](dst []byte, n int, typ byte, to, id, from T, kind byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, typ)
	dst = appendField(dst, to)
	dst = appendField(dst, id)
	dst = appendField(dst, from)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// appendPresence appends a presence frame; n is its presenceLen.
func appendPresence[T string | []byte](dst []byte, n int, room, event, socket T) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, framePresence)
	dst = appendField(dst, room)
	dst = appendField(dst, event)
	return appendField(dst, socket)
}

// appendFrame re-encodes a decoded frame (tests and the fuzz target).
func appendFrame(dst []byte, f *frame) []byte {
	if f.typ == framePresence {
		return appendPresence(dst, 1+6+len(f.to)+len(f.id)+len(f.from), f.to, f.id, f.from)
	}
	n := 1 + 6 + len(f.to) + len(f.id) + len(f.from) + 1 + 4 + len(f.payload)
	return appendMessage(dst, n, f.typ, f.to, f.id, f.from, f.kind, f.payload)
}

// checkLength validates a frame's length prefix.
func checkLength(n uint32) error {
	if n < minFrame || n > MaxFrameBytes {
		return fmt.Errorf("%w: %d", errFrameLength, n)
	}
	return nil
}

// decodeFrame decodes one frame body (the bytes after the length prefix,
// exactly as many as the prefix said). The result aliases body.
func decodeFrame(body []byte) (frame, error) {
	f := frame{bodySize: len(body)}
	if len(body) < 1 {
		return f, errFrameTruncated
	}
	f.typ = body[0]
	switch f.typ {
	case frameRoom, frameDirect:
		f.hasKind = true
	case framePresence:
	default:
		return f, fmt.Errorf("%w: %d", errFrameType, f.typ)
	}
	rest := body[1:]
	var ok bool
	if f.to, rest, ok = field(rest); !ok {
		return f, errFrameTruncated
	}
	if f.id, rest, ok = field(rest); !ok {
		return f, errFrameTruncated
	}
	if f.from, rest, ok = field(rest); !ok {
		return f, errFrameTruncated
	}
	if f.hasKind {
		if len(rest) < 5 {
			return f, errFrameTruncated
		}
		f.kind = rest[0]
		if f.kind > maxKind {
			return f, fmt.Errorf("%w: %d", errFrameKind, f.kind)
		}
		n := binary.BigEndian.Uint32(rest[1:5])
		rest = rest[5:]
		if uint64(n) > uint64(len(rest)) {
			return f, errFrameTruncated
		}
		f.payload, rest = rest[:n], rest[n:]
	}
	if len(rest) != 0 {
		return f, errFrameTrailing
	}
	return f, nil
}

// field splits a uint16-prefixed field off b.
func field(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}
