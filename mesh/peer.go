package mesh

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	minBackoff  = 5 * time.Millisecond
	maxBackoff  = 500 * time.Millisecond
	dialTimeout = 2 * time.Second
	// maxSpareKeep is the largest buffer always kept for reuse after a
	// write (see recycle).
	maxSpareKeep = 1 << 20
	warnEvery    = time.Second
	// socketBufferBytes is the kernel send buffer asked for on a peer
	// connection, so a burst waits in the kernel rather than parking the
	// writer.
	socketBufferBytes = 1 << 20
)

// peer is the outbound half of one ordered pair: this puddle → puddle id.
// Callers append frames to buf under mu; the writer goroutine swaps buf
// with spare and writes the whole batch with one Write.
type peer struct {
	m    *Mesh
	id   int
	path string
	max  int // MaxPeerQueueBytes
	wake chan struct{}

	mu    sync.Mutex
	buf   []byte // queued frames are buf[start:]
	start int
	spare []byte // the other buffer, empty, while no batch is in flight

	dropped  atomic.Uint64
	lastWarn atomic.Int64 // unix nanoseconds of the last drop warning

	connMu sync.Mutex
	conn   net.Conn // set by the writer; closed by Close
	down   bool     // writer only: the last dial failed or the connection broke
}

func newPeer(m *Mesh, id int) *peer {
	return &peer{
		m:    m,
		id:   id,
		path: SocketPath(m.cfg.Dir, id),
		max:  m.cfg.MaxPeerQueueBytes,
		wake: make(chan struct{}, 1),
	}
}

// enqueueMessage appends a room or direct frame of messageLen n.
func (p *peer) enqueueMessage(n int, typ byte, to, id, from string, kind byte, payload []byte) {
	p.mu.Lock()
	signal, dropped := p.reserveLocked(lenPrefix + n)
	p.buf = appendMessage(p.buf, n, typ, to, id, from, kind, payload)
	p.mu.Unlock()
	p.after(signal, dropped)
}

// enqueuePresence appends a presence frame of presenceLen n.
func (p *peer) enqueuePresence(n int, room, event, socket string) {
	p.mu.Lock()
	signal, dropped := p.reserveLocked(lenPrefix + n)
	p.buf = appendPresence(p.buf, n, room, event, socket)
	p.mu.Unlock()
	p.after(signal, dropped)
}

func (p *peer) after(signal bool, dropped int) {
	if dropped > 0 {
		p.noteDropped(dropped)
	}
	if signal {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// reserveLocked makes room for need more bytes: it drops the oldest queued
// frames while the queue would exceed the bound, and compacts buf when the
// dropped prefix is in the way. It reports whether the queue was empty (the
// writer may be asleep) and how many frames it dropped. need never exceeds
// the bound (Mesh checks it).
func (p *peer) reserveLocked(need int) (wasEmpty bool, dropped int) {
	queued := len(p.buf) - p.start
	for queued > 0 && queued+need > p.max {
		n := lenPrefix + int(binary.BigEndian.Uint32(p.buf[p.start:]))
		p.start += n
		queued -= n
		dropped++
	}
	switch {
	case queued == 0:
		p.buf, p.start = p.buf[:0], 0
	case p.start > 0 && len(p.buf)+need > cap(p.buf):
		copy(p.buf, p.buf[p.start:])
		p.buf, p.start = p.buf[:queued], 0
	}
	return queued == 0, dropped
}

func (p *peer) noteDropped(n int) {
	total := p.dropped.Add(uint64(n))
	p.m.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	last := p.lastWarn.Load()
	if now-last >= int64(warnEvery) && p.lastWarn.CompareAndSwap(last, now) {
		p.m.log.Warn("peer queue full: dropped oldest frames",
			"peer", p.id, "dropped_total", total, "max_queue_bytes", p.max)
	}
}

// queued reports whether frames are waiting.
func (p *peer) queued() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) > p.start
}

// take swaps the queue out: batch holds every queued frame and full is the
// whole buffer it lives in, to hand back with recycle or requeue.
func (p *peer) take() (full, batch []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	full, batch = p.buf, p.buf[p.start:]
	p.buf, p.start, p.spare = p.spare[:0], 0, nil
	return full, batch
}

// recycle makes a written buffer the spare again. A buffer past
// maxSpareKeep is kept only while batches fill a good part of it, so a
// burst does not pin its memory but sustained load does not reallocate.
func (p *peer) recycle(full []byte) {
	if cap(full) > maxSpareKeep && len(full) < cap(full)/4 {
		full = nil
	}
	p.mu.Lock()
	p.spare = full[:0]
	p.mu.Unlock()
}

// requeue puts back the frames of a failed batch that were not completely
// written (written bytes reached the peer's socket), ahead of anything
// queued since, then applies the bound. A frame cut short is sent again
// whole: the peer discards the stub with its broken connection.
func (p *peer) requeue(full, batch []byte, written int) {
	off := 0
	for off+lenPrefix <= len(batch) {
		n := lenPrefix + int(binary.BigEndian.Uint32(batch[off:]))
		if off+n > written {
			break
		}
		off += n
	}
	rest := append(full[:0], batch[off:]...) // copy down: batch lives in full
	p.mu.Lock()
	rest = append(rest, p.buf[p.start:]...)
	p.spare = p.buf[:0]
	p.buf, p.start = rest, 0
	_, dropped := p.reserveLocked(0)
	p.mu.Unlock()
	if dropped > 0 {
		p.noteDropped(dropped)
	}
}

// run is the peer's writer goroutine.
func (p *peer) run(ctx context.Context) {
	defer p.m.wg.Done()
	defer p.closeConn()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		for p.queued() {
			if p.conn == nil && !p.connect(ctx) {
				return
			}
			full, batch := p.take()
			if n, err := p.conn.Write(batch); err != nil {
				p.requeue(full, batch, n)
				p.broken(ctx, err)
				continue
			}
			p.recycle(full)
		}
	}
}

// connect dials the peer, retrying with backoff while frames wait; false
// once the mesh is closing.
func (p *peer) connect(ctx context.Context) bool {
	d := net.Dialer{Timeout: dialTimeout}
	backoff := minBackoff
	for {
		c, err := d.DialContext(ctx, "unix", p.path)
		if err == nil {
			p.connMu.Lock()
			if ctx.Err() != nil {
				p.connMu.Unlock()
				c.Close()
				return false
			}
			if uc, ok := c.(*net.UnixConn); ok {
				uc.SetWriteBuffer(socketBufferBytes) // best effort: capped by net.core.wmem_max
			}
			p.conn = c
			p.connMu.Unlock()
			if p.down {
				p.down = false
				p.m.log.Info("peer connected", "peer", p.id)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !p.down {
			p.down = true
			p.m.log.Warn("peer unreachable: queuing frames and retrying", "peer", p.id, "error", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// broken drops a connection whose write failed; the next batch reconnects.
func (p *peer) broken(ctx context.Context, err error) {
	p.closeConn()
	p.connMu.Lock()
	p.conn = nil
	p.connMu.Unlock()
	if ctx.Err() == nil {
		p.down = true
		p.m.log.Warn("peer connection broken: reconnecting", "peer", p.id, "error", err)
	}
}

// closeConn closes the current connection, unblocking a Write in progress.
func (p *peer) closeConn() {
	p.connMu.Lock()
	if p.conn != nil {
		p.conn.Close()
	}
	p.connMu.Unlock()
}
