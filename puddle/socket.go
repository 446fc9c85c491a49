package puddle

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/store"
)

// pingFrame is the server's ping, shared by every socket (frames are never
// modified once queued).
var pingFrame = router.Frame(ws.OpPing, nil)

// closeGrace is how long a closing socket waits for the peer's close frame.
const closeGrace = 2 * time.Second

// Socket is one live connection. Its read loop goroutine owns its life; its
// writer goroutine runs only while frames are queued.
type Socket struct {
	p    *Puddle
	id   string  // tk_.../slot; the token id is its first part
	conn *fdConn // the connection's raw descriptor (fdio.go)

	tok     atomic.Pointer[store.Token]
	readAt  int64         // unix ns when tok was read: later changes must reach the socket
	limiter *rate.Limiter // nil when rate limiting is off

	// Outbound queue, guarded by wmu: nil when empty (pooled otherwise).
	// Once closed, it holds at most the close frame.
	wmu    sync.Mutex
	queue  *frameQueue
	queued int

	started bool // guarded by wmu
	writing bool // guarded by wmu
	closed  bool // guarded by wmu

	raw         bool
	unannounced bool // guarded by rmu: a raw socket whose upgrade is not done: presence is not told yet
	reserved    bool // holds a place under MaxSockets until registered (guarded by Puddle.mu)

	ended    atomic.Bool // cleanup has run
	released atomic.Bool // the slot has been given back
	reading  atomic.Bool

	// Room memberships, guarded by rmu.
	rmu   sync.Mutex
	rooms []*membership // a slice: sockets are in few rooms, and a map costs a bucket

	// Read side: fr is used by one goroutine at a time (reading guards it)
	// and is pooled, held only while bytes are waiting. pre holds bytes
	// read past the handshake until they are consumed.
	fr  *frameReader
	pre *prefixReader

	// Liveness: the puddle's wheel calls tick for ping, pong timeout and
	// token expiry. wnext, wprev and wwhen are the wheel's (guarded by its
	// lock): the socket's place in a slot and its deadline, 0 when off.
	lastRead     atomic.Int64 // unix nanoseconds
	pingAt       atomic.Int64 // unix nanoseconds of the unanswered ping, 0 if none
	wnext, wprev *Socket
	wwhen        int64
}

// tokenID returns the id of the socket's token.
func (s *Socket) tokenID() string {
	if i := strings.LastIndexByte(s.id, '/'); i >= 0 {
		return s.id[:i]
	}
	return s.id
}

// owner returns the account that owns the socket's token.
func (s *Socket) owner() string { return s.tok.Load().Owner }

// roomLocked returns the socket's membership of the room key, or nil.
func (s *Socket) roomLocked(key string) *membership {
	for _, m := range s.rooms {
		if m.room.Key == key {
			return m
		}
	}
	return nil
}

// dropRoomLocked removes the membership of the room key from the list.
func (s *Socket) dropRoomLocked(key string) {
	for i, m := range s.rooms {
		if m.room.Key == key {
			last := len(s.rooms) - 1
			s.rooms[i] = s.rooms[last]
			s.rooms[last] = nil
			s.rooms = s.rooms[:last]
			return
		}
	}
}

// logger is the puddle's logger with the socket's id; made when something
// is logged, so that a socket holds none.
func (s *Socket) logger() hclog.Logger { return s.p.log.With("socket", s.id) }

// membership is a socket's place in one room.
type membership struct {
	display string // the room as the socket's token names it
	room    *router.Room
	member  *router.Member
}

// frameQueue is a socket's outbound frames, pooled so that a socket with
// nothing to write holds no array.
type frameQueue struct{ f [][]byte }

var queuePool = sync.Pool{New: func() any { return new(frameQueue) }}

// putQueue returns a written queue to the pool.
func putQueue(q *frameQueue) {
	clear(q.f)
	q.f = q.f[:0]
	queuePool.Put(q)
}

// Deliver implements router.Target: queue a frame, or close the socket as a
// slow consumer when the queue would pass its bound.
func (s *Socket) Deliver(frame []byte) {
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return
	}
	if s.queued+len(frame) > s.p.opts.Load().MaxQueueBytes {
		s.wmu.Unlock()
		s.p.log.Debug("slow consumer", "socket", s.id)
		s.Close(4009, "slow consumer")
		return
	}
	if s.queue == nil {
		s.queue = queuePool.Get().(*frameQueue)
	}
	s.queue.f = append(s.queue.f, frame)
	s.queued += len(frame)
	kick := s.started && !s.writing
	if kick {
		s.writing = true
	}
	s.wmu.Unlock()
	if kick {
		go s.writeLoop()
	}
}

// writeLoop writes everything queued with one writev per batch, then exits.
func (s *Socket) writeLoop() {
	for {
		s.wmu.Lock()
		if s.closed {
			q := s.queue
			s.queue = nil
			s.wmu.Unlock()
			if q != nil {
				s.conn.wdl.Store(time.Now().Add(time.Second).UnixNano())
				_, _ = s.conn.writeBufs(q.f) // the close frame
				putQueue(q)
			}
			// writing stays set until the close frame is out: waitWriter
			// relies on it before the connection is closed.
			s.wmu.Lock()
			s.writing = false
			s.wmu.Unlock()
			return
		}
		q := s.queue
		if q == nil {
			s.writing = false
			s.wmu.Unlock()
			return
		}
		s.queue = nil
		s.queued = 0
		s.wmu.Unlock()

		s.conn.wdl.Store(time.Now().Add(s.p.opts.Load().WriteTimeout).UnixNano())
		n, err := s.conn.writeBufs(q.f)
		s.p.m.BytesOut.Add(float64(n))
		putQueue(q)
		if err != nil {
			s.wmu.Lock()
			s.closed = true
			s.writing = false
			q, s.queue = s.queue, nil
			s.wmu.Unlock()
			if q != nil {
				putQueue(q)
			}
			s.p.m.Close(1006)
			s.abort()
			return
		}
	}
}

// Close starts the close handshake with code: queued frames are dropped, the
// close frame is written, and the read loop ends when the peer answers or
// after a grace period. Safe to call more than once and from any goroutine.
func (s *Socket) Close(code int, reason string) {
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return
	}
	s.closed = true
	s.p.m.Close(code)
	if s.queue == nil {
		s.queue = queuePool.Get().(*frameQueue)
	}
	clear(s.queue.f)
	s.queue.f = append(s.queue.f[:0], closeFrame(code, reason))
	s.queued = 0
	kick := s.started && !s.writing
	if kick {
		s.writing = true
	}
	s.wmu.Unlock()
	if kick {
		go s.writeLoop()
	}
	// The peer's close frame ends the socket when it comes; without it the
	// socket ends after the grace period.
	time.AfterFunc(closeGrace, s.cleanup)
}

// abort drops the connection without a close handshake.
func (s *Socket) abort() { go s.cleanup() }

func (s *Socket) isClosed() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closed
}

// ID returns the socket id, tk_.../slot.
func (s *Socket) ID() string { return s.id }

func newSocket(p *Puddle, id string, tok *store.Token, raw bool, c *fdConn) *Socket {
	s := &Socket{
		p:    p,
		id:   id,
		raw:  raw,
		conn: c,
	}
	s.tok.Store(tok)
	if o := p.Options(); o.RateLimit > 0 {
		burst := o.RateBurst
		if burst <= 0 {
			burst = max(1, int(o.RateLimit))
		}
		s.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), burst)
	}
	return s
}

// setExtra hands the socket bytes read past the handshake: they are read
// before the connection.
func (s *Socket) setExtra(b []byte) {
	if len(b) > 0 {
		s.pre = &prefixReader{b: b}
	}
}

// run starts the socket after the upgrade: registers it, starts its writer
// and timer, then hands its reading to the poller. It returns at once; the
// socket lives on without a goroutine while it is idle.
func (s *Socket) run() {
	ctx := s.p.ctx
	if err := s.p.seq.Activate(ctx, s.id); err != nil || !s.p.register(s) {
		s.p.mu.Lock()
		s.p.unreserveLocked(s)
		s.p.mu.Unlock()
		s.Close(1001, "server shutting down")
		s.start()
		s.waitWriter() // the close frame goes out before cleanup closes the connection
		s.cleanup()
		return
	}
	s.p.router.AddSocket(s.id, s)
	s.lastRead.Store(time.Now().UnixNano())
	if s.catchUp(ctx) && !s.raw {
		s.welcome(ctx)
	}
	s.start()
	s.p.wheel.schedule(s, s.nextTick())
	if s.p.log.IsDebug() {
		s.logger().Debug("socket open", "raw", s.raw)
	}
	s.conn.owner.Store(s) // from now on read readiness starts the socket's reader
	if s.pre != nil {
		s.onReadable() // bytes read past the handshake: read them now
		return
	}
	s.arm()
}

// catchUp applies what happened to the token between its lookup and the
// socket's registration (from which on live changes reach the socket): a
// revoked token closes it with 4001, new settings are applied. It reports
// whether the socket goes on.
func (s *Socket) catchUp(ctx context.Context) bool {
	cur, revoked := s.p.tokens.since(s.tokenID(), time.Unix(0, s.readAt))
	if revoked {
		s.Close(4001, "token revoked")
		return false
	}
	if cur != nil && cur != s.tok.Load() {
		old := s.tok.Swap(cur)
		if s.raw {
			s.applyToken(ctx, old, cur)
		}
	}
	return true
}

// start lets the writer write: frames queued before the upgrade answer was
// sent go out now.
func (s *Socket) start() {
	s.wmu.Lock()
	s.started = true
	kick := !s.writing && s.queue != nil
	if kick {
		s.writing = true
	}
	s.wmu.Unlock()
	if kick {
		go s.writeLoop()
	}
}

// reader takes a pooled frame reader for the socket, reading its
// descriptor after any bytes read past the handshake.
func (s *Socket) reader() *frameReader {
	opts := s.p.opts.Load()
	limit := opts.MaxMessageBytes
	if !s.raw {
		limit += envelopeOverhead
	}
	fr := frPool.Get().(*frameReader)
	s.conn.rdl.Store(time.Now().Add(opts.HandshakeTimeout).UnixNano())
	var src io.Reader = s.conn
	if s.pre != nil {
		s.pre.r = src
		src = s.pre
	}
	fr.r.Reset(src)
	fr.limit, fr.ctl = limit, s
	return fr
}

// control handles a ping or pong read between data frames.
func (s *Socket) control(op ws.OpCode, p []byte) {
	s.lastRead.Store(time.Now().UnixNano()) // a pong is the proof of life
	if op == ws.OpPing {
		s.Deliver(router.Frame(ws.OpPong, p))
	}
}

// arm asks the poller for the socket's next readiness; a socket that cannot
// be armed ends.
func (s *Socket) arm() {
	if ok, err := s.conn.armRead(); ok && err != nil {
		s.logger().Error("poll arm failed", "error", err)
		go s.cleanup()
	}
}

// onReadable reads every frame that has arrived, then gives the buffer back
// and arms the socket again. One goroutine at a time (one-shot events).
func (s *Socket) onReadable() {
	if !s.reading.CompareAndSwap(false, true) {
		return
	}
	// A frame that has started to arrive must complete within the handshake
	// timeout (the reader's deadline), so a trickling client cannot hold a
	// reader.
	s.fr = s.reader()
	for n := 1; ; n++ {
		if err := s.readOne(); err != nil {
			s.reading.Store(false)
			s.readFailed(err)
			s.cleanup()
			s.fr.put()
			s.fr = nil
			return
		}
		if s.fr.r.Buffered() == 0 && (s.pre == nil || len(s.pre.b) == 0) {
			break
		}
		if n%64 == 0 { // a client that never pauses is not a stalled one
			s.conn.rdl.Store(time.Now().Add(s.p.opts.Load().HandshakeTimeout).UnixNano())
		}
	}
	s.fr.put()
	s.fr = nil
	s.pre = nil // everything read past the handshake has been consumed
	s.reading.Store(false)
	s.arm()
}

// readOne reads and handles one data message.
func (s *Socket) readOne() error {
	op, payload, err := s.fr.next()
	if err != nil {
		return err
	}
	s.lastRead.Store(time.Now().UnixNano())
	if op == opControl {
		return nil // handled by control
	}
	if s.raw {
		s.p.m.InRaw.Inc()
	} else {
		s.p.m.InEnvelope.Inc()
	}
	s.p.m.BytesIn.Add(float64(len(payload)))
	if s.isClosed() {
		return nil // draining until the peer's close frame
	}
	limited := s.limiter != nil && !s.limiter.Allow()
	switch {
	case s.raw && limited:
		s.Close(4008, "rate limited")
	case s.raw:
		s.handleRaw(op, payload)
	default:
		s.handleEnvelope(s.p.ctx, op, payload, limited)
	}
	return nil
}

// envelopeOverhead is the room a frame has beyond max_message_bytes for its
// JSON fields: the limit applies to the payload, not the header.
const envelopeOverhead = 4096

func (s *Socket) readFailed(err error) {
	var ce *closeError
	var pc *peerClosed
	switch {
	case errors.As(err, &ce):
		s.Close(ce.Code, ce.Reason)
		s.waitWriter()
	case errors.As(err, &pc):
		code := pc.Code
		if code == 1005 || code < 1000 || code >= 5000 || code == 1006 || code == 1015 {
			code = 1000
		}
		s.Close(code, "")
		s.waitWriter()
	}
}

// waitWriter gives the writer a moment to put the close frame on the wire
// before the connection is closed.
func (s *Socket) waitWriter() {
	deadline := time.Now().Add(closeGrace)
	for time.Now().Before(deadline) {
		s.wmu.Lock()
		busy := s.writing
		s.wmu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// cleanup ends the socket, once: it leaves the poller and closes the
// connection, leaves every room, frees the slot and unregisters.
func (s *Socket) cleanup() {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	s.wmu.Lock()
	s.closed = true
	s.wmu.Unlock()
	s.p.wheel.cancel(s)
	s.conn.Close()
	s.p.router.RemoveSocket(s.id, s)
	s.leaveAll()
	s.release()
	s.p.unregister(s)
	if s.p.log.IsDebug() {
		s.logger().Debug("socket closed")
	}
}

// release frees the socket's slot in the sequence.
// Once per socket: its id (and slot) may belong to a new socket afterwards.
// A puddle that is shutting down skips it: the whole sequence goes with the
// process (or, for a worker, the supervisor releases the puddle at once),
// and thousands of releases at the same moment would only flood it.
func (s *Socket) release() {
	if !s.released.CompareAndSwap(false, true) || s.p.shuttingDown() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := s.p.seq.Release(ctx, s.id); err != nil {
		s.logger().Error("release failed", "error", err)
	}
}

// abandon undoes an admission whose upgrade failed: the socket never ran,
// but a raw socket was already in its room.
func (s *Socket) abandon() {
	s.wmu.Lock()
	s.closed = true // nothing more is queued
	s.wmu.Unlock()
	s.leaveAll()
	s.release()
}

// nextTick is the time to the next ping or token expiry.
func (s *Socket) nextTick() time.Duration {
	d := s.p.Options().PingInterval
	if at := s.pingAt.Load(); at != 0 {
		d = s.p.Options().PongTimeout
	}
	if exp := s.tok.Load().ExpiresAt; exp != nil {
		if until := time.Until(*exp); until < d {
			d = max(until, time.Millisecond)
		}
	}
	return d
}

// tick sends pings, detects a dead peer and closes expired tokens' sockets.
func (s *Socket) tick() {
	if s.isClosed() {
		return
	}
	now := time.Now()
	if exp := s.tok.Load().ExpiresAt; exp != nil && !now.Before(*exp) {
		s.Close(4001, "token expired")
		return
	}
	opts := s.p.Options()
	last := time.Unix(0, s.lastRead.Load())
	if at := s.pingAt.Load(); at != 0 {
		if last.UnixNano() < at && now.Sub(time.Unix(0, at)) >= opts.PongTimeout {
			s.logger().Debug("pong timeout")
			s.p.m.Close(1006)
			s.abort()
			return
		}
		if last.UnixNano() >= at {
			s.pingAt.Store(0)
		}
	}
	if s.pingAt.Load() == 0 && now.Sub(last) >= opts.PingInterval {
		s.pingAt.Store(now.UnixNano())
		s.Deliver(pingFrame)
	}
	s.p.wheel.schedule(s, s.nextTick())
}
