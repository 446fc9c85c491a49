package router

import (
	"bytes"
	"encoding/json"

	"github.com/gobwas/ws"
)

// Envelope is one routed message. Text messages have two forms, the JSON
// `data` envelope-mode receivers get and the text raw-mode receivers get;
// each is derived from the other only when a receiver needs it.
type Envelope struct {
	ID     string
	From   string // sender socket id, or "api:<key>" for the backpipe
	Binary bool

	data    []byte // text: JSON value
	text    []byte // text: raw text
	payload []byte // binary

	hasData, hasText bool
	kind             int // how it was made: one of the Kind constants
	size             int // Size, fixed at creation: deriving a form must not change it

	bare, qual, raw []byte // encoded frames, made on first use
}

// NewJSON makes a text message from an envelope `data` JSON value (valid
// JSON, as parsed from a client or the backpipe).
func NewJSON(id, from string, data []byte) *Envelope {
	return &Envelope{ID: id, From: from, data: data, hasData: true, size: len(data)}
}

// NewText makes a text message from a raw text frame (valid UTF-8). In a
// room with format json the text is itself the JSON value (validated by the
// caller); otherwise envelope receivers get it as a JSON string.
func NewText(id, from string, text []byte, isJSON bool) *Envelope {
	e := &Envelope{ID: id, From: from, text: text, hasText: true, size: len(text), kind: KindText}
	if isJSON {
		e.data, e.hasData, e.kind = text, true, KindJSONText
	}
	return e
}

// NewBinary makes a binary message.
func NewBinary(id, from string, payload []byte) *Envelope {
	return &Envelope{ID: id, From: from, Binary: true, payload: payload, size: len(payload), kind: KindBinary}
}

// Size is the payload size checked against max_message_bytes: the binary
// payload, the raw text, or the JSON text of `data`, whichever the message
// arrived as.
func (e *Envelope) Size() int { return e.size }

// Data returns the JSON value envelope receivers get (text messages).
func (e *Envelope) Data() []byte {
	if !e.hasData {
		e.data = AppendJSONString(make([]byte, 0, len(e.text)+2), e.text)
		e.hasData = true
	}
	return e.data
}

// Text returns the text raw receivers get: the string itself when data is a
// JSON string, else the JSON encoding of data.
func (e *Envelope) Text() []byte {
	if !e.hasText {
		e.text = e.data
		if n := len(e.data); n >= 2 && e.data[0] == '"' && e.data[n-1] == '"' {
			if bytes.IndexByte(e.data, '\\') < 0 {
				e.text = e.data[1 : n-1] // no escapes: the string is its bytes
			} else {
				var s string
				if json.Unmarshal(e.data, &s) == nil {
					e.text = []byte(s)
				}
			}
		}
		e.hasText = true
	}
	return e.text
}

// Payload returns the binary payload.
func (e *Envelope) Payload() []byte { return e.payload }

func (e *Envelope) frameFor(r *Room, m *Member) []byte {
	switch {
	case m.Raw:
		return e.RawFrame()
	case m.Owner == r.Owner:
		if e.bare == nil {
			e.bare = e.MessageFrame(r.Name)
		}
		return e.bare
	default:
		if e.qual == nil {
			e.qual = e.MessageFrame(r.Key)
		}
		return e.qual
	}
}

// RawFrame is the frame for raw-mode receivers: the bare payload.
func (e *Envelope) RawFrame() []byte {
	if e.raw == nil {
		if e.Binary {
			e.raw = Frame(ws.OpBinary, e.payload)
		} else {
			e.raw = Frame(ws.OpText, e.Text())
		}
	}
	return e.raw
}

// MessageFrame encodes the envelope-mode `message` frame naming the room as
// room; room "" is a direct message (no room field). One allocation.
func (e *Envelope) MessageFrame(room string) []byte {
	const (
		prefix   = `{"type":"message","id":"`
		roomKey  = `","room":"`
		fromKey  = `","from":"`
		dataKey  = `","data":`
		binClose = "\"}\n"
	)
	var body []byte
	op := ws.OpText
	n := len(prefix) + len(e.ID) + len(fromKey) + len(e.From)
	if room != "" {
		n += len(roomKey) + len(room)
	}
	if e.Binary {
		body, op = e.payload, ws.OpBinary
		n += len(binClose) + len(body)
	} else {
		body = e.Data()
		n += len(dataKey) + len(body) + 1
	}
	p := make([]byte, 0, headerLen(n)+n)
	p = appendHeader(p, op, n)
	p = append(p, prefix...)
	p = append(p, e.ID...)
	if room != "" {
		p = append(p, roomKey...)
		p = append(p, room...)
	}
	p = append(p, fromKey...)
	p = append(p, e.From...)
	if e.Binary {
		p = append(p, binClose...)
		return append(p, body...)
	}
	p = append(p, dataKey...)
	p = append(p, body...)
	return append(p, '}')
}

// Kinds of an Envelope on the wire between puddles.
const (
	KindJSON     = 0 // envelope `data`
	KindText     = 1 // raw text
	KindJSONText = 2 // raw text in a json room: text and data at once
	KindBinary   = 3
)

// Wire returns the envelope's kind and payload, for carrying it to another
// puddle. The payload may alias the sender's read buffer: copy it before
// the publishing call returns.
func (e *Envelope) Wire() (kind int, payload []byte) {
	switch e.kind {
	case KindBinary:
		return KindBinary, e.payload
	case KindJSON:
		return KindJSON, e.data
	default:
		return e.kind, e.text
	}
}

// FromWire rebuilds an envelope that Wire described.
func FromWire(id, from string, kind int, payload []byte) *Envelope {
	switch kind {
	case KindBinary:
		return NewBinary(id, from, payload)
	case KindText:
		return NewText(id, from, payload, false)
	case KindJSONText:
		return NewText(id, from, payload, true)
	default:
		return NewJSON(id, from, payload)
	}
}
