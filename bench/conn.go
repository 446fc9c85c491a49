package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// conn is one open socket: a receiver, or a publisher's own socket (which
// also receives the room). Its descriptor is read by one reader (reader.go)
// once the socket is set up; before that, by the goroutine that dials it.
type conn struct {
	g       *gen
	fd      int     // never changes; closed when closed is set
	id      int32   // the dial task's index: the epoll event's data
	rd      *reader // the reader that owns the socket's reads
	room    *roomState
	pub     *publisher // set when this is a publisher's socket
	watcher bool       // acknowledges the local publishers of its room
	lastSeq []uint32   // last sequence seen per publisher, for the order check; nil when there are too many publishers

	// Read state, owned by whoever reads the socket.
	hs   *handshake // until the upgrade is answered
	part []byte     // the start of a frame that the next read completes (at most a header and its peek)
	skip int64      // payload bytes of the current frame still to discard

	wmu    sync.Mutex // serialises writes (publisher frames, pongs, close) and guards closed
	closed bool
	mask   [4]byte
}

// Frames seen in the run loop.
var (
	prefixReceipt = []byte(`{"type":"receipt"`)
	prefixError   = []byte(`{"type":"error"`)
	prefixMessage = []byte(`{"type":"message"`)
)

// maxOrderedPublishers bounds the per-receiver order check's memory.
const maxOrderedPublishers = 64

// sink collects what reads brought: latency samples and deliveries, given
// to the shared histogram and counters a batch at a time.
type sink struct {
	shard int
	lat   []int64
	got   int64
}

func (k *sink) add(g *gen, us int64) {
	k.lat = append(k.lat, us)
	k.got++
	if len(k.lat) == cap(k.lat) {
		k.flush(g)
	}
}

func (k *sink) flush(g *gen) {
	g.rec.record(k.shard, k.lat)
	k.lat = k.lat[:0]
	if k.got > 0 {
		g.cnt.received.Add(k.got)
		k.got = 0
	}
}

// scan handles the frames in b, bytes just read at now (Unix nanoseconds)
// after what c.part held: counts this run's messages, records their
// latency in k, acknowledges publishers and answers pings and closes. A
// frame that b does not complete is kept in c.part, only as far as it is
// looked at (the header and up to peek bytes of payload); the rest of a
// long payload is skipped as it arrives. scan reports whether the socket
// is still open.
func (c *conn) scan(b []byte, now int64, k *sink) bool {
	g := c.g
	for {
		if c.skip > 0 {
			n := min(c.skip, int64(len(b)))
			b = b[n:]
			c.skip -= n
		}
		h, ok, err := parseHead(b)
		if err != nil {
			c.ended(1002, err)
			c.terminate()
			return false
		}
		want := h.length
		if h.op < 8 && want > int64(g.peek) {
			want = int64(g.peek)
		}
		if !ok || int64(len(b)-h.size) < want {
			c.part = append(c.part[:0], b...)
			return true
		}
		p := b[h.size : h.size+int(want)]
		if h.masked {
			ws.Cipher(p, h.mask, 0)
		}
		b = b[h.size+int(want):]
		c.skip = h.length - want
		switch h.op {
		case opBinary, opText:
			if !h.fin {
				g.cnt.foreign.Add(1)
				continue
			}
			if us, ok := c.onData(h.op, p, h.length, now); ok {
				k.add(g, us)
			}
		case opPing:
			c.writeControl(opPong, p)
		case opClose:
			c.writeControl(opClose, p[:min(len(p), 2)])
			c.ended(closeCode(p), nil)
			c.terminate()
			return false
		case opCont:
			g.cnt.foreign.Add(1)
		}
	}
}

// onData looks at one data frame (p is its first bytes, length its size)
// and returns its latency in microseconds when it is a delivery of this
// run's messages.
func (c *conn) onData(op byte, p []byte, length int64, now int64) (int64, bool) {
	g := c.g
	if g.envelope {
		if op == opText {
			c.onEnvelopeText(p)
			return 0, false
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.cnt.foreign.Add(1)
			return 0, false
		}
		p = p[i+1:]
		length -= int64(i + 1)
	} else if op != opBinary {
		g.cnt.foreign.Add(1)
		return 0, false
	}
	if length != int64(g.sh.Size) || len(p) < stampSize {
		g.cnt.foreign.Add(1)
		return 0, false
	}
	sent, pub, seq := unstamp(p)
	id := int(pub & 0xffff)
	if pub>>16 != uint32(g.sh.Nonce) || id >= g.sh.PubIDs {
		g.cnt.foreign.Add(1)
		return 0, false
	}
	if c.pub != nil && c.pub.id == id {
		if !g.sh.Echo {
			g.cnt.self.Add(1)
			return 0, false
		}
		c.pub.ack()
	} else if c.watcher {
		if lp := g.pubByID[id]; lp != nil {
			lp.ack()
		}
	}
	if c.lastSeq != nil {
		if seq <= c.lastSeq[id] {
			g.cnt.outOfOrder.Add(1)
		}
		c.lastSeq[id] = seq
	}
	return (now - sent) / 1000, true
}

// onEnvelopeText counts receipts and refusals on envelope sockets.
func (c *conn) onEnvelopeText(p []byte) {
	g := c.g
	switch {
	case bytes.HasPrefix(p, prefixReceipt):
		g.cnt.receipts.Add(1)
	case bytes.HasPrefix(p, prefixError):
		g.cnt.sendErrors.Add(1)
		g.noteSendError(string(p))
	case bytes.HasPrefix(p, prefixMessage):
		g.cnt.foreign.Add(1)
	}
}

// writeControl answers the server (pong, close) without waiting: a reader
// serves many sockets and must not block on one. When the socket is being
// written by a publisher, or its buffer is full, a goroutine finishes the
// write.
func (c *conn) writeControl(op byte, payload []byte) {
	var a [2 + 4 + 125]byte
	frame := appendFrame(a[:0], op, payload, c.mask)
	if !c.wmu.TryLock() {
		frame = append([]byte(nil), frame...)
		c.g.writers.Add(1)
		go func() {
			defer c.g.writers.Done()
			_ = c.write(frame)
		}()
		return
	}
	if c.closed {
		c.wmu.Unlock()
		return
	}
	n, err := unix.Write(c.fd, frame)
	if n == len(frame) || (err != nil && err != unix.EAGAIN && err != unix.EINTR) {
		c.wmu.Unlock()
		return
	}
	rest := append([]byte(nil), frame[max(n, 0):]...)
	c.g.writers.Add(1)
	go func() { // holds wmu until the rest is written
		defer c.g.writers.Done()
		defer c.wmu.Unlock()
		s := fdIO{fd: c.fd, deadline: time.Now().Add(publishTimeout)}
		_, _ = s.Write(rest)
	}()
}

// write writes frames, giving up after publishTimeout.
func (c *conn) write(frames []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return errClosed
	}
	s := fdIO{fd: c.fd, deadline: time.Now().Add(publishTimeout)}
	_, err := s.Write(frames)
	return err
}

// terminate stops reading a socket that ended and closes it; its reader,
// or the goroutine that dials it, calls it. A write in progress finishes
// first, in a goroutine, so that the caller does not wait.
func (c *conn) terminate() {
	g := c.g
	g.byTask[c.id].Store(nil)
	if c.wmu.TryLock() {
		c.closeLocked()
		c.wmu.Unlock()
		return
	}
	c.rd.remove(c)
	g.writers.Add(1)
	go func() {
		defer g.writers.Done()
		c.wmu.Lock()
		c.closeLocked()
		c.wmu.Unlock()
	}()
}

// shut closes the descriptor once.
func (c *conn) shut() {
	c.wmu.Lock()
	c.closeLocked()
	c.wmu.Unlock()
}

// claimWatch makes a receiver the watcher of its room if the room wants one
// and has none yet.
func (c *conn) claimWatch() {
	if c.pub == nil && c.room.Watch && c.room.watching.CompareAndSwap(false, true) {
		c.watcher = true
	}
}

// closeLocked closes the descriptor once; the caller holds wmu.
func (c *conn) closeLocked() {
	if !c.closed {
		c.closed = true
		unix.Close(c.fd)
	}
}

// ended records why a socket ended, unless the run is closing it.
func (c *conn) ended(code int, err error) {
	g := c.g
	if g.finishing.Load() {
		return
	}
	g.closed.Add(1)
	g.mu.Lock()
	g.closes[code]++
	if err != nil && g.closeErr == "" {
		g.closeErr = err.Error()
	}
	g.mu.Unlock()
}

// close says goodbye (1000) if the socket takes it at once, and closes the
// socket. The readers have stopped.
func (c *conn) close() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	var a [8]byte
	_, _ = unix.Write(c.fd, appendFrame(a[:0], opClose, []byte{0x03, 0xe8}, c.mask))
	c.closeLocked()
}

// setupConn is what envelope set-up reads and writes.
type setupConn interface {
	io.ReadWriter
	SetDeadline(time.Time) error
}

// envelopeSetup reads the welcome of an envelope socket, leaves the rooms
// the token joined by itself and joins rooms, all before deadline.
func envelopeSetup(nc setupConn, fr *frameReader, mask [4]byte, rooms []string, deadline time.Time) error {
	_ = nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	var welcome event
	if err := readEvent(fr, &welcome); err != nil {
		return err
	}
	if welcome.Type == "error" {
		return fmt.Errorf("envelope: refused: %s: %s", welcome.Code, welcome.Message)
	}
	if welcome.Type != "welcome" {
		return fmt.Errorf("envelope: expected welcome, got %q", welcome.Type)
	}
	want := map[string]bool{}
	for _, r := range rooms {
		want[r] = true
	}
	var out []byte
	pending := map[string]bool{}
	for _, g := range welcome.Rooms {
		if !g.Joined {
			continue
		}
		if want[g.Room] {
			delete(want, g.Room)
			continue
		}
		ref := "leave " + g.Room
		out = appendFrame(out, opText, mustJSON(map[string]string{"type": "leave", "room": g.Room, "ref": ref}), mask)
		pending[ref] = true
	}
	for _, r := range rooms {
		if want[r] {
			ref := "join " + r
			out = appendFrame(out, opText, mustJSON(map[string]string{"type": "join", "room": r, "ref": ref}), mask)
			pending[ref] = true
		}
	}
	if len(out) > 0 {
		if _, err := nc.Write(out); err != nil {
			return fmt.Errorf("envelope: %w", err)
		}
	}
	for len(pending) > 0 {
		var ev event
		if err := readEvent(fr, &ev); err != nil {
			return err
		}
		var ref string
		if json.Unmarshal(ev.Ref, &ref) != nil || !pending[ref] {
			continue
		}
		delete(pending, ref)
		if ev.Type == "error" && strings.HasPrefix(ref, "join ") {
			return fmt.Errorf("%s: %s: %s", ref, ev.Code, ev.Message)
		}
	}
	return nil
}

// event is the part of an envelope server frame that setup looks at.
type event struct {
	Type    string          `json:"type"`
	Ref     json.RawMessage `json:"ref"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Rooms   []struct {
		Room   string `json:"room"`
		Joined bool   `json:"joined"`
	} `json:"rooms"`
}

// readEvent reads the next text frame as an event.
func readEvent(fr *frameReader, ev *event) error {
	for {
		op, p, err := fr.readWhole()
		if err != nil {
			if isTimeout(err) {
				return errors.New("envelope: no answer from the server")
			}
			return fmt.Errorf("envelope: %w", err)
		}
		switch op {
		case opText:
			if err := json.Unmarshal(p, ev); err != nil {
				return fmt.Errorf("envelope: bad frame: %w", err)
			}
			return nil
		case opClose:
			return fmt.Errorf("envelope: closed by the server with %d", closeCode(p))
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
