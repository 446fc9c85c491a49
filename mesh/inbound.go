package mesh

import (
	"errors"
	"io"
	"net"
	"time"
	"unsafe"

	"github.com/porthouse/porthouse/router"
)

const (
	// maxInterned bounds a connection's cache of room names.
	maxInterned = 4096
	// arenaChunk is the size of one chunk of decoded message copies, and
	// arenaMaxPiece the largest message copied into a chunk.
	arenaChunk    = 16 << 10
	arenaMaxPiece = 2 << 10
)

// accept is the accept loop; each connection gets a reader goroutine. A
// failed Accept (out of file descriptors, say) is retried with backoff
// until Close.
func (m *Mesh) accept() {
	defer m.wg.Done()
	backoff := minBackoff
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			m.log.Warn("accept failed: retrying", "error", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-m.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		m.connsMu.Lock()
		if m.closed.Load() {
			m.connsMu.Unlock()
			c.Close()
			return
		}
		m.conns[c] = struct{}{}
		m.wg.Add(1)
		m.connsMu.Unlock()
		go m.serve(c)
	}
}

// serve reads frames from one inbound connection until it ends or sends
// something bad.
func (m *Mesh) serve(c net.Conn) {
	defer m.wg.Done()
	defer func() {
		m.connsMu.Lock()
		delete(m.conns, c)
		m.connsMu.Unlock()
		c.Close()
	}()
	in := inbound{m: m, fr: newFrameReader(c, readBufferSize)}
	for {
		f, err := in.fr.next()
		if err != nil {
			if m.ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				m.log.Warn("bad input from a peer: closing its connection", "error", err)
			}
			return
		}
		in.dispatch(&f)
	}
}

// inbound is one connection's decoding state.
type inbound struct {
	m        *Mesh
	fr       *frameReader
	rooms    map[string]string // interned room keys and event types
	lastRoom string            // the last room, reused while it repeats
	lastFrom string            // the last sender, likewise
	arena    []byte            // the current chunk for message copies; see alloc
}

// dispatch hands one frame to the Receiver.
func (in *inbound) dispatch(f *frame) {
	switch f.typ {
	case frameRoom:
		if string(f.to) != in.lastRoom {
			in.lastRoom = in.intern(f.to)
		}
		in.m.recv.DeliverRoom(in.lastRoom, in.envelope(f))
	case frameDirect:
		to := string(f.to)
		if !in.m.recv.DeliverDirect(to, in.envelope(f)) {
			in.m.log.Debug("direct message for a socket not here", "socket", to)
		}
	case framePresence:
		in.m.recv.AnnounceLocal(in.intern(f.to), in.intern(f.id), string(f.from))
	}
}

// envelope rebuilds a message. The id and the payload are copied together
// out of the connection's arena (the id string views the head of the copy;
// nothing writes to either), so the envelope outlives the read buffer.
func (in *inbound) envelope(f *frame) *router.Envelope {
	if string(f.from) != in.lastFrom {
		in.lastFrom = string(f.from)
	}
	buf := in.alloc(len(f.id) + len(f.payload))
	copy(buf, f.id)
	copy(buf[len(f.id):], f.payload)
	id := unsafe.String(unsafe.SliceData(buf), len(f.id))
	return router.FromWire(id, in.lastFrom, int(f.kind), buf[len(f.id):])
}

// alloc returns n bytes of fresh memory: a piece of the current arena chunk,
// capped so an append cannot reach the next piece, or its own allocation
// for a large message. One chunk serves many small messages, so decoding
// costs one allocation (the Envelope) per message; an Envelope kept alive
// keeps its chunk alive, at most arenaChunk bytes.
func (in *inbound) alloc(n int) []byte {
	if n > arenaMaxPiece {
		return make([]byte, n)
	}
	if cap(in.arena)-len(in.arena) < n {
		in.arena = make([]byte, 0, arenaChunk)
	}
	i := len(in.arena)
	in.arena = in.arena[:i+n]
	return in.arena[i : i+n : i+n]
}

// intern returns b as a string, reusing the string for names seen before.
func (in *inbound) intern(b []byte) string {
	if s, ok := in.rooms[string(b)]; ok {
		return s
	}
	if in.rooms == nil || len(in.rooms) >= maxInterned {
		in.rooms = make(map[string]string)
	}
	s := string(b)
	in.rooms[s] = s
	return s
}
