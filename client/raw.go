package client

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Op is the kind of a raw-mode frame.
type Op int

// Raw-mode frame kinds.
const (
	OpText   Op = Op(ws.OpText)
	OpBinary Op = Op(ws.OpBinary)
)

// String returns "text" or "binary".
func (op Op) String() string {
	if op == OpBinary {
		return "binary"
	}
	return "text"
}

// Frame is one raw-mode message: a bare payload.
type Frame struct {
	Op      Op
	Payload []byte
}

// RawConn is a raw-mode connection (/ws/rooms/{room}): every frame written
// goes to the room as is, every room message arrives as its bare payload.
// There are no receipts: a frame the socket may not send closes it (1008),
// which Close and Err report. It is safe for concurrent use.
type RawConn struct {
	s      *session
	ep     endpoint
	o      options
	room   string
	frames chan Frame
}

// DialRoom connects in raw mode to room ("name", or "owner/name" for another
// owner's public room) on the server at baseURL (ws://host:8700). The room
// password, if any, goes with WithPassword. First-message auth does not
// exist in raw mode. With WithReconnect, a dropped connection is dialled
// again; Events then carries the library events (disconnected,
// reconnected), the only events of raw mode.
func DialRoom(ctx context.Context, baseURL, token, room string, opts ...Option) (*RawConn, error) {
	o := buildOptions(opts)
	ep, err := roomEndpoint(baseURL, token, room, o.password)
	if err != nil {
		return nil, err
	}
	r := &RawConn{ep: ep, o: o, room: room}
	r.frames = make(chan Frame, r.o.messageBuffer)
	r.s = newSession(&r.o, "raw")
	r.s.dial = r.dial
	r.s.onFrame = r.onFrame
	r.s.onUp = func(reconnected bool) {
		if reconnected {
			r.s.emit(Event{Type: EventReconnected, Room: room})
		}
	}
	r.s.onEnd = func() { close(r.frames) }
	fc, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	r.s.start(fc)
	return r, nil
}

func (r *RawConn) dial(ctx context.Context) (*frameConn, error) {
	if r.o.dialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.dialTimeout)
		defer cancel()
	}
	return handshake(ctx, r.ep, &r.o, false)
}

func (r *RawConn) onFrame(op ws.OpCode, p []byte) error {
	return deliver(r.s, r.frames, Frame{Op: Op(op), Payload: p})
}

// Room returns the room the connection is bound to.
func (r *RawConn) Room() string { return r.room }

// WriteText sends p, which must be valid UTF-8, as a text frame.
func (r *RawConn) WriteText(ctx context.Context, p []byte) error {
	if !utf8.Valid(p) {
		return errors.New("porthouse: text frame is not valid UTF-8")
	}
	return r.write(ctx, ws.OpText, p)
}

// WriteBinary sends p as a binary frame.
func (r *RawConn) WriteBinary(ctx context.Context, p []byte) error {
	return r.write(ctx, ws.OpBinary, p)
}

func (r *RawConn) write(ctx context.Context, op ws.OpCode, parts ...[]byte) error {
	fc, err := r.s.live(ctx, nil)
	if err != nil {
		return err
	}
	return fc.write(ctx, op, parts...)
}

// Read returns the next frame. After the connection ended and every
// buffered frame was returned, it returns Err.
func (r *RawConn) Read(ctx context.Context) (Op, []byte, error) {
	select {
	case f, ok := <-r.frames:
		if !ok {
			return 0, nil, r.Err()
		}
		return f.Op, f.Payload, nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// Frames returns the channel Read reads from; it is closed when the
// connection ends.
func (r *RawConn) Frames() <-chan Frame { return r.frames }

// Events returns the channel of library events (disconnected, reconnected).
func (r *RawConn) Events() <-chan Event { return r.s.events }

// Done is closed when the connection has ended for good.
func (r *RawConn) Done() <-chan struct{} { return r.s.done }

// Err returns why the connection ended, or nil while it lives.
func (r *RawConn) Err() error { return r.s.Err() }

// Close sends close 1000 and waits (at most the close timeout) for the
// server's answer. Because the server handles frames in order, a nil result
// means no frame written before Close was refused; a refusal is returned as
// the server's *CloseError (1008 policy, 1009 too big, ...). Safe to call
// more than once.
func (r *RawConn) Close() error { return r.s.Close() }
