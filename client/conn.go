package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/porthouse/porthouse/wire"
)

// Conn is an envelope-mode connection (/ws). It is safe for concurrent use:
// writes go through one mutex, one reader goroutine dispatches what
// arrives: answers to the call waiting for them (matched by ref), messages
// to Messages/Recv, events to Events.
type Conn struct {
	s    *session
	ep   endpoint
	o    options
	msgs chan Message
	refs atomic.Uint64

	mu      sync.Mutex // guards welcome, pending, rooms, order; see session for the lock order
	welcome wire.Welcome
	pending map[string]*call       // ref → call waiting for its answer
	rooms   map[string]*roomIntent // rooms to join again after a reconnect
	order   []string               // rooms keys in join order
}

// roomIntent is a room the caller joined or created, remembered for
// rejoining after a reconnect.
type roomIntent struct {
	password string
	create   *CreateOptions
}

// call is one command waiting for its answer.
type call struct {
	key    string
	ch     chan result // buffered, receives exactly one result
	join   string      // room recorded in Conn.rooms when the answer is `joined`
	intent *roomIntent
	leave  string // room forgotten when the answer is `left`
}

type result struct {
	ev  *wire.Event
	err error
}

// Dial connects in envelope mode and returns once the server's welcome
// arrived. url is a base URL (ws://host:8700, http:// and https:// work
// too), which gets the path /ws, or a full URL with its path; a `token`
// query parameter in it is used when token is "". Handshake refusals are
// *HandshakeError (errors.As also finds the *wire.Error), a close before the
// welcome is a *CloseError.
//
// The first connect is never retried; with WithReconnect, later drops are.
func Dial(ctx context.Context, url, token string, opts ...Option) (*Conn, error) {
	ep, err := envelopeEndpoint(url, token)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		ep:      ep,
		o:       buildOptions(opts),
		pending: map[string]*call{},
		rooms:   map[string]*roomIntent{},
	}
	c.msgs = make(chan Message, c.o.messageBuffer)
	c.s = newSession(&c.o, "envelope")
	c.s.dial = c.dial
	c.s.onFrame = c.onFrame
	c.s.onUp = c.onUp
	c.s.onDown = c.onDown
	c.s.onEnd = func() { close(c.msgs) }
	fc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.s.start(fc)
	return c, nil
}

// dial connects, authenticates and waits for the welcome.
func (c *Conn) dial(ctx context.Context) (*frameConn, error) {
	if c.o.dialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.dialTimeout)
		defer cancel()
	}
	fc, err := handshake(ctx, c.ep, &c.o, true)
	if err != nil {
		return nil, err
	}
	w, err := awaitWelcome(ctx, fc, c.ep.token, c.o.auth == AuthFirstMessage)
	if err != nil {
		fc.closeNow()
		return nil, fmt.Errorf("dial %s: %w", c.ep, err)
	}
	c.mu.Lock()
	c.welcome = w
	c.mu.Unlock()
	return fc, nil
}

// awaitWelcome sends the auth message if asked and reads until the welcome.
func awaitWelcome(ctx context.Context, fc *frameConn, token string, authMessage bool) (wire.Welcome, error) {
	var (
		mu   sync.Mutex
		done bool
	)
	if dl, ok := ctx.Deadline(); ok {
		fc.setReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			fc.setReadDeadline(aLongTimeAgo)
		}
	})
	defer stop()
	if authMessage {
		msg, _ := json.Marshal(wire.Command{Type: wire.TypeAuth, Token: token})
		if err := fc.write(ctx, ws.OpText, msg); err != nil {
			return wire.Welcome{}, fmt.Errorf("send auth: %w", err)
		}
	}
	for {
		op, p, err := fc.readMessage()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return wire.Welcome{}, fmt.Errorf("waiting for welcome: %w", ctxErr)
			}
			return wire.Welcome{}, err
		}
		if op != ws.OpText {
			continue
		}
		var w struct {
			wire.Welcome
			Code    wire.Code `json:"code"`
			Message string    `json:"message"`
		}
		if err := json.Unmarshal(p, &w); err != nil {
			return wire.Welcome{}, fmt.Errorf("bad frame from server: %w", err)
		}
		switch w.Type {
		case wire.TypeWelcome:
			mu.Lock()
			done = true
			mu.Unlock()
			fc.setReadDeadline(time.Time{})
			return w.Welcome, nil
		case wire.TypeError:
			return wire.Welcome{}, &wire.Error{Code: w.Code, Message: w.Message}
		}
	}
}

// onFrame dispatches one frame; it runs on the reader goroutine.
func (c *Conn) onFrame(op ws.OpCode, p []byte) error {
	var (
		ev      wire.Event
		payload []byte
	)
	head := p
	if op == ws.OpBinary {
		var ok bool
		if head, payload, ok = wire.SplitBinary(p); !ok {
			c.s.emit(Event{Type: wire.TypeError, Err: errors.New("binary frame without a header")})
			return nil
		}
	}
	if err := json.Unmarshal(head, &ev); err != nil {
		c.s.emit(Event{Type: wire.TypeError, Err: fmt.Errorf("bad frame from server: %w", err)})
		return nil
	}
	switch ev.Type {
	case wire.TypeMessage:
		m := Message{ID: ev.ID, Room: ev.Room, From: ev.From}
		if op == ws.OpBinary {
			m.Binary, m.Payload = true, payload
		} else {
			m.Data = ev.Data
		}
		return deliver(c.s, c.msgs, m)
	case wire.TypeWelcome:
		var w wire.Welcome
		if json.Unmarshal(head, &w) == nil {
			c.mu.Lock()
			c.welcome = w
			c.mu.Unlock()
		}
		return nil
	case wire.TypeReceipt, wire.TypePong:
		c.answer(&ev)
		return nil
	case wire.TypeJoined, wire.TypeLeft:
		c.answer(&ev)
	case wire.TypeError:
		if c.answer(&ev) {
			return nil
		}
	case wire.TypeRoomRemoved:
		c.forgetRoom(ev.Room)
	}
	c.s.emit(eventFromWire(&ev))
	return nil
}

// answer hands ev to the call waiting for its ref; it reports whether one
// was waiting.
func (c *Conn) answer(ev *wire.Event) bool {
	if len(ev.Ref) == 0 {
		return false
	}
	c.mu.Lock()
	cl := c.pending[string(ev.Ref)]
	if cl == nil {
		c.mu.Unlock()
		return false
	}
	delete(c.pending, cl.key)
	if ev.Type == wire.TypeJoined && cl.join != "" {
		c.rememberLocked(cl.join, cl.intent)
	}
	if ev.Type == wire.TypeLeft && cl.leave != "" {
		c.forgetLocked(cl.leave)
	}
	c.mu.Unlock()
	cl.ch <- result{ev: ev}
	return true
}

func (c *Conn) rememberLocked(room string, in *roomIntent) {
	if _, ok := c.rooms[room]; !ok {
		c.order = append(c.order, room)
	}
	c.rooms[room] = in
}

func (c *Conn) forgetLocked(room string) {
	if _, ok := c.rooms[room]; !ok {
		return
	}
	delete(c.rooms, room)
	for i, r := range c.order {
		if r == room {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

func (c *Conn) forgetRoom(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(room)
}

// onDown fails every waiting call; it runs under the session lock.
func (c *Conn) onDown(cause error) {
	c.mu.Lock()
	pending := c.pending
	c.pending = map[string]*call{}
	c.mu.Unlock()
	for _, cl := range pending {
		cl.ch <- result{err: cause}
	}
}

// onUp joins the remembered rooms again after a reconnect and reports it.
func (c *Conn) onUp(reconnected bool) {
	if !reconnected {
		return
	}
	c.mu.Lock()
	rooms := make([]string, len(c.order))
	copy(rooms, c.order)
	intents := make([]roomIntent, len(rooms))
	for i, r := range rooms {
		intents[i] = *c.rooms[r]
	}
	socket := c.welcome.Socket
	c.mu.Unlock()
	ctx := c.s.ctx
	if c.o.dialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.dialTimeout)
		defer cancel()
	}
	for i, room := range rooms {
		if err := c.rejoin(ctx, room, intents[i]); err != nil {
			if errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrClosed) {
				return // the next connection, if any, tries again
			}
			c.s.emit(Event{Type: wire.TypeError, Room: room, Err: fmt.Errorf("rejoin %s: %w", room, err)})
		}
	}
	c.o.logger.Info("reconnected", "socket", socket, "rooms", len(rooms))
	c.s.emit(Event{Type: EventReconnected, Socket: socket})
}

func (c *Conn) rejoin(ctx context.Context, room string, in roomIntent) error {
	if in.create != nil {
		_, err := c.Create(ctx, room, *in.create)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeConflict {
			return err
		}
		// The transient room outlived us: join it.
	}
	_, err := c.joinIntent(ctx, room, &in)
	return err
}

func (c *Conn) newRef() json.RawMessage {
	return json.RawMessage(`"` + strconv.FormatUint(c.refs.Add(1), 36) + `"`)
}

// start writes cmd (with payload after '\n' as a binary frame when binary)
// and registers the call waiting for its answer.
func (c *Conn) start(ctx context.Context, cmd *wire.Command, payload []byte, binary bool, cl *call) (*call, error) {
	if cl == nil {
		cl = &call{}
	}
	cl.ch = make(chan result, 1)
	cmd.Ref = c.newRef()
	cl.key = string(cmd.Ref)
	head, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	fc, err := c.s.live(ctx, func() {
		c.mu.Lock()
		c.pending[cl.key] = cl
		c.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if binary {
		err = fc.write(ctx, ws.OpBinary, head, newline, payload)
	} else {
		err = fc.write(ctx, ws.OpText, head)
	}
	if err != nil {
		c.drop(cl)
		return nil, fmt.Errorf("write %s: %w", cmd.Type, err)
	}
	return cl, nil
}

var newline = []byte{'\n'}

// wait waits for the answer of cl; a server refusal is a *wire.Error.
func (c *Conn) wait(ctx context.Context, cl *call) (*wire.Event, error) {
	select {
	case r := <-cl.ch:
		if r.err != nil {
			return nil, r.err
		}
		if r.ev.Type == wire.TypeError {
			return nil, &wire.Error{Code: r.ev.Code, Message: r.ev.Message}
		}
		return r.ev, nil
	case <-ctx.Done():
		c.drop(cl)
		return nil, ctx.Err()
	}
}

func (c *Conn) drop(cl *call) {
	c.mu.Lock()
	if c.pending[cl.key] == cl {
		delete(c.pending, cl.key)
	}
	c.mu.Unlock()
}

func (c *Conn) do(ctx context.Context, cmd wire.Command, cl *call) (*wire.Event, error) {
	cl, err := c.start(ctx, &cmd, nil, false, cl)
	if err != nil {
		return nil, err
	}
	return c.wait(ctx, cl)
}

// Welcome returns the welcome of the current connection (after a reconnect,
// the new one).
func (c *Conn) Welcome() wire.Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// SocketID returns the socket id of the current connection.
func (c *Conn) SocketID() string { return c.Welcome().Socket }

// Messages returns the channel of incoming messages. It is closed when the
// Conn ends (then Err tells why). Recv reads from the same channel.
func (c *Conn) Messages() <-chan Message { return c.msgs }

// Events returns the channel of events. It is buffered (WithBuffers); when
// it is full, new events are dropped and counted in DroppedEvents. It is
// closed when the Conn ends.
func (c *Conn) Events() <-chan Event { return c.s.events }

// DroppedEvents returns how many events were dropped because Events was full.
func (c *Conn) DroppedEvents() uint64 { return c.s.dropped.Load() }

// Recv returns the next message. After the Conn ended and every buffered
// message was returned, it returns Err: ErrClosed after Close, a
// *CloseError when the server closed the socket.
func (c *Conn) Recv(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.msgs:
		if !ok {
			return Message{}, c.Err()
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Done is closed when the Conn has ended for good.
func (c *Conn) Done() <-chan struct{} { return c.s.done }

// Err returns why the Conn ended, or nil while it lives.
func (c *Conn) Err() error { return c.s.Err() }

// Close sends close 1000, waits briefly for the server's answer, and stops
// every goroutine of the Conn. It is safe to call more than once. It returns
// the *CloseError if the server had closed the socket with another code.
func (c *Conn) Close() error { return c.s.Close() }
