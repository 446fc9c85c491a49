package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/porthouse/porthouse/wire"
)

// Send sends data, encoded as JSON, to a room and waits for its receipt.
// A refusal by the server is a *wire.Error (forbidden, too_large, format, ...).
func (c *Conn) Send(ctx context.Context, room string, data any) (Receipt, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Receipt{}, fmt.Errorf("encode data: %w", err)
	}
	return c.SendRaw(ctx, room, raw)
}

// SendRaw sends a JSON value as is to a room and waits for its receipt.
func (c *Conn) SendRaw(ctx context.Context, room string, data json.RawMessage) (Receipt, error) {
	return c.sendText(ctx, wire.Command{Type: wire.TypeSend, Room: room}, data)
}

// SendTo sends data, encoded as JSON, directly to a socket (same owner) and
// waits for its receipt.
func (c *Conn) SendTo(ctx context.Context, socketID string, data any) (Receipt, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Receipt{}, fmt.Errorf("encode data: %w", err)
	}
	return c.sendText(ctx, wire.Command{Type: wire.TypeSend, To: socketID}, raw)
}

// SendBinary sends b as a binary message to a room and waits for its
// receipt.
func (c *Conn) SendBinary(ctx context.Context, room string, b []byte) (Receipt, error) {
	return c.sendBinary(ctx, wire.Command{Type: wire.TypeSend, Room: room}, b)
}

// SendBinaryTo sends b as a binary message directly to a socket and waits
// for its receipt.
func (c *Conn) SendBinaryTo(ctx context.Context, socketID string, b []byte) (Receipt, error) {
	return c.sendBinary(ctx, wire.Command{Type: wire.TypeSend, To: socketID}, b)
}

func (c *Conn) sendText(ctx context.Context, cmd wire.Command, data json.RawMessage) (Receipt, error) {
	if !json.Valid(data) {
		return Receipt{}, errors.New("send: data is not valid JSON")
	}
	if err := c.checkSize(len(data)); err != nil {
		return Receipt{}, err
	}
	cmd.Data = data
	ev, err := c.do(ctx, cmd, nil)
	if err != nil {
		return Receipt{}, err
	}
	return receiptOf(ev), nil
}

func (c *Conn) sendBinary(ctx context.Context, cmd wire.Command, b []byte) (Receipt, error) {
	if err := c.checkSize(len(b)); err != nil {
		return Receipt{}, err
	}
	cl, err := c.start(ctx, &cmd, b, true, nil)
	if err != nil {
		return Receipt{}, err
	}
	ev, err := c.wait(ctx, cl)
	if err != nil {
		return Receipt{}, err
	}
	return receiptOf(ev), nil
}

// checkSize refuses a payload over the server's max_message_bytes (from
// welcome) with the error the server would give, without sending it: the
// server closes a socket whose frame is far over the limit (1009).
func (c *Conn) checkSize(n int) error {
	if limit := c.Welcome().Limits.MaxMessageBytes; limit > 0 && n > limit {
		return wire.Errorf(wire.CodeTooLarge, "message is %d bytes; the server takes at most %d", n, limit)
	}
	return nil
}

func receiptOf(ev *wire.Event) Receipt {
	return Receipt{ID: ev.ID, Room: ev.Room, To: ev.To}
}

// Join joins a room (password "" when it has none) and waits for `joined`.
// The room is joined again after every reconnect until Leave.
func (c *Conn) Join(ctx context.Context, room, password string) (wire.RoomGrant, error) {
	return c.joinIntent(ctx, room, &roomIntent{password: password})
}

func (c *Conn) joinIntent(ctx context.Context, room string, in *roomIntent) (wire.RoomGrant, error) {
	cmd := wire.Command{Type: wire.TypeJoin, Room: room, Password: in.password}
	ev, err := c.do(ctx, cmd, &call{join: room, intent: in})
	if err != nil {
		return wire.RoomGrant{}, err
	}
	return *eventFromWire(ev).Grant, nil
}

// Leave leaves a room and waits for `left`.
func (c *Conn) Leave(ctx context.Context, room string) error {
	_, err := c.do(ctx, wire.Command{Type: wire.TypeLeave, Room: room}, &call{leave: room})
	return err
}

// CreateOptions are the rules of a transient room.
type CreateOptions struct {
	Public     bool   // any valid token may join
	PublicSend bool   // ... and send
	Echo       bool   // senders receive their own messages
	Presence   bool   // members get member.joined / member.left
	Format     string // "any" (default), "text", "binary" or "json"
}

// Create makes a transient room, joins it and waits for `joined`. The token
// needs can_create_rooms; an existing name is `conflict`. After a reconnect
// the room is created again, or joined if it still exists.
func (c *Conn) Create(ctx context.Context, room string, opts CreateOptions) (wire.RoomGrant, error) {
	cmd := wire.Command{Type: wire.TypeCreate, Room: room, Format: opts.Format}
	setTrue := func(p **bool, v bool) {
		if v {
			*p = &v
		}
	}
	setTrue(&cmd.Public, opts.Public)
	setTrue(&cmd.PublicSend, opts.PublicSend)
	setTrue(&cmd.Echo, opts.Echo)
	setTrue(&cmd.Presence, opts.Presence)
	o := opts
	ev, err := c.do(ctx, cmd, &call{join: room, intent: &roomIntent{create: &o}})
	if err != nil {
		return wire.RoomGrant{}, err
	}
	return *eventFromWire(ev).Grant, nil
}

// Ping sends `ping` and returns the time until `pong`.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	if _, err := c.do(ctx, wire.Command{Type: wire.TypePing}, nil); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}
