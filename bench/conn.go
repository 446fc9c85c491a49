package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// conn is one open socket: a receiver, or a publisher's own socket (which
// also receives the room).
type conn struct {
	g       *gen
	nc      net.Conn
	fr      *frameReader
	room    *roomState
	shard   int
	pub     *publisher // set when this is a publisher's socket
	watcher bool       // acknowledges the local publishers of its room
	lastSeq []uint32   // last sequence seen per publisher, for the order check; nil when there are too many publishers

	wmu  sync.Mutex // serialises writes: publisher frames, pongs, close
	mask [4]byte
}

// Frames seen in the run loop.
var (
	prefixReceipt = []byte(`{"type":"receipt"`)
	prefixError   = []byte(`{"type":"error"`)
	prefixMessage = []byte(`{"type":"message"`)
)

// maxOrderedPublishers bounds the per-receiver order check's memory.
const maxOrderedPublishers = 64

// readLoop reads the socket until it closes, counting this run's messages,
// recording their latency and acknowledging publishers.
func (c *conn) readLoop() {
	g := c.g
	defer g.readers.Done()
	var lat [256]int64
	for {
		if err := c.fr.fill(); err != nil {
			c.ended(1006, err)
			return
		}
		now := time.Now().UnixNano()
		n, got := 0, int64(0)
		for {
			h, p, ok, err := c.fr.next(g.peek)
			if err != nil {
				c.ended(1002, err)
				return
			}
			if !ok {
				break
			}
			switch h.op {
			case opBinary, opText:
				if !h.fin {
					g.cnt.foreign.Add(1)
					continue
				}
				if us, ok := c.onData(h.op, p, h.length, now); ok {
					lat[n] = us
					n++
					got++
					if n == len(lat) {
						g.rec.record(c.shard, lat[:n])
						n = 0
					}
				}
			case opPing:
				_ = c.writeControl(opPong, p)
			case opClose:
				code := closeCode(p)
				_ = c.writeControl(opClose, p[:min(len(p), 2)])
				c.ended(code, nil)
				return
			case opCont:
				g.cnt.foreign.Add(1)
			}
		}
		g.rec.record(c.shard, lat[:n])
		if got > 0 {
			g.cnt.received.Add(got)
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

// writeControl writes a control frame (pong, close).
func (c *conn) writeControl(op byte, payload []byte) error {
	return c.write(appendFrame(make([]byte, 0, 6+len(payload)), op, payload, c.mask))
}

// write writes frames, giving up after publishTimeout.
func (c *conn) write(frames []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(publishTimeout))
	_, err := c.nc.Write(frames)
	return err
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

// close says goodbye (1000) and closes the socket.
func (c *conn) close() {
	_ = c.writeControl(opClose, []byte{0x03, 0xe8})
	_ = c.nc.Close()
}

// envelopeSetup reads the welcome of an envelope socket, leaves the rooms
// the token joined by itself and joins rooms, all before deadline.
func envelopeSetup(nc net.Conn, fr *frameReader, mask [4]byte, rooms []string, deadline time.Time) error {
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
