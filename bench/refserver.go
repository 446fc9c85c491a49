package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// RefServer is the reference broadcast server: every frame a connection
// sends goes, as is, to every other connection on the same URL path. No
// auth, no rooms beyond paths, no limits beyond a send queue per
// connection. It is the baseline Porthouse is compared with: the frame is
// encoded once for all receivers, and everything queued for a connection
// is written with one writev.
type RefServer struct {
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	rooms map[string]*refRoom
	conns map[*refConn]struct{}
}

// Reference server limits.
const (
	refMaxFrame = 1 << 20  // payload bytes of one frame
	refMaxQueue = 4 << 20  // bytes queued for one connection, then it is dropped
	refReadBuf  = 512      // first read buffer of a connection; an idle one keeps no more
	refReadMax  = 64 << 10 // a busy connection's buffer grows up to this
)

// refRoom is the connections on one path; members is replaced, never
// changed, so broadcasting reads it without a lock.
type refRoom struct {
	members atomic.Pointer[[]*refConn]
}

type refConn struct {
	nc   net.Conn
	room *refRoom

	mu      sync.Mutex
	pending net.Buffers
	spare   net.Buffers
	queued  int
	writing bool
	dead    bool
}

// ListenRef starts the reference server on addr (host:port; port 0 picks
// one).
func ListenRef(addr string) (*RefServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &RefServer{ln: ln, ctx: ctx, cancel: cancel, rooms: map[string]*refRoom{}, conns: map[*refConn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address.
func (s *RefServer) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and waits for their
// goroutines. It is safe to call twice.
func (s *RefServer) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *RefServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of files, most likely: let sockets close
			continue
		}
		s.wg.Add(1)
		go s.serve(nc)
	}
}

// serve upgrades one connection and reads it until it ends. The
// connection joins its room just before the 101 answer is written (as a
// Porthouse raw-mode socket does), so a client that has its answer misses
// nothing; frames queued before the answer is out wait for it.
func (s *RefServer) serve(nc net.Conn) {
	defer s.wg.Done()
	var path string
	var c *refConn
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			path = string(uri)
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			c = &refConn{nc: nc, room: s.room(path), writing: true} // no writer until the answer is out
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ctx.Err() != nil {
				return nil, errors.New("shutting down")
			}
			s.conns[c] = struct{}{}
			c.room.add(c)
			return nil, nil
		},
	}
	_, err := u.Upgrade(nc)
	if c != nil {
		defer func() {
			c.room.remove(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.kill()
		}()
	}
	if err != nil {
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	c.mu.Lock()
	if len(c.pending) > 0 {
		go c.writeLoop()
	} else {
		c.writing = false
	}
	c.mu.Unlock()
	_ = c.readLoop()
}

func (s *RefServer) room(path string) *refRoom {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[path]
	if r == nil {
		r = &refRoom{}
		r.members.Store(&[]*refConn{})
		s.rooms[path] = r
	}
	return r
}

func (r *refRoom) add(c *refConn) {
	for {
		old := r.members.Load()
		next := append(append(make([]*refConn, 0, len(*old)+1), *old...), c)
		if r.members.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (r *refRoom) remove(c *refConn) {
	for {
		old := r.members.Load()
		next := make([]*refConn, 0, len(*old))
		for _, m := range *old {
			if m != c {
				next = append(next, m)
			}
		}
		if r.members.CompareAndSwap(old, &next) {
			return
		}
	}
}

// readLoop reads client frames and broadcasts data frames.
func (c *refConn) readLoop() error {
	buf := make([]byte, refReadBuf)
	r, w := 0, 0
	for {
		h, ok, err := parseHead(buf[r:w])
		if err != nil {
			return err
		}
		if ok && h.length > refMaxFrame {
			return fmt.Errorf("frame of %d bytes is too large", h.length)
		}
		if ok && int64(w-r-h.size) >= h.length {
			payload := buf[r+h.size : r+h.size+int(h.length)]
			if h.masked {
				ws.Cipher(payload, h.mask, 0)
			}
			r += h.size + int(h.length)
			if err := c.onFrame(h, payload); err != nil {
				return err
			}
			continue
		}
		// Need more bytes: make room (growing for a large frame) and read.
		need := 14
		if ok {
			need = h.size + int(h.length)
		}
		if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		if need > len(buf) {
			buf = append(buf, make([]byte, need-len(buf))...)
		}
		n, err := c.nc.Read(buf[w:])
		w += n
		if w == len(buf) && len(buf) < refReadMax {
			// A full read: the peer sends in bulk, read more at once.
			buf = append(buf, make([]byte, len(buf))...)
		}
		if n == 0 && err != nil {
			return err
		}
	}
}

func (c *refConn) onFrame(h frameHead, payload []byte) error {
	switch h.op {
	case opPing:
		c.enqueue(appendFrameHeaderPayload(opPong, payload))
	case opClose:
		c.enqueue(appendFrameHeaderPayload(opClose, payload[:min(len(payload), 2)]))
		return io.EOF
	case opPong:
	default:
		frame := make([]byte, 0, len(payload)+10)
		frame = append(frame, 0x80|h.op)
		if !h.fin {
			frame[0] = h.op
		}
		frame = appendLen(frame, len(payload))
		frame = append(frame, payload...)
		for _, m := range *c.room.members.Load() {
			if m != c {
				m.enqueue(frame)
			}
		}
	}
	return nil
}

// appendFrameHeaderPayload is a final unmasked server frame.
func appendFrameHeaderPayload(op byte, payload []byte) []byte {
	b := appendFrameHeader(make([]byte, 0, len(payload)+10), op, len(payload), false, [4]byte{})
	return append(b, payload...)
}

func appendLen(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	b = append(b, 127)
	for i := 7; i >= 0; i-- {
		b = append(b, byte(uint64(n)>>(8*i)))
	}
	return b
}

// enqueue queues a frame (shared, never modified) and makes sure a writer
// runs; a connection past refMaxQueue is dropped.
func (c *refConn) enqueue(frame []byte) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if c.queued+len(frame) > refMaxQueue {
		c.dead = true
		c.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	c.pending = append(c.pending, frame)
	c.queued += len(frame)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeLoop writes everything pending with one writev per round, until
// the queue is empty.
func (c *refConn) writeLoop() {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 || c.dead {
			c.writing = false
			c.mu.Unlock()
			return
		}
		bufs := c.pending
		c.pending = c.spare[:0]
		c.queued = 0
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		out := bufs
		_, err := out.WriteTo(c.nc)
		clear(bufs)
		c.mu.Lock()
		c.spare = bufs[:0]
		if err != nil {
			c.dead = true
			c.writing = false
			c.mu.Unlock()
			_ = c.nc.Close()
			return
		}
		c.mu.Unlock()
	}
}

func (c *refConn) kill() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	_ = c.nc.Close()
}
