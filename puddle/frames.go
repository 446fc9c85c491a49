package puddle

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/router"
)

// closeError is a protocol violation that closes the socket with Code.
type closeError struct {
	Code   int
	Reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("close %d: %s", e.Code, e.Reason) }

// peerClosed is a close frame from the peer.
type peerClosed struct{ Code int }

func (e *peerClosed) Error() string { return fmt.Sprintf("peer closed (%d)", e.Code) }

// readBufferSize is the per-socket read buffer: frame headers and small
// messages are read in one system call.
const readBufferSize = 1024

// controlHandler takes the ping and pong frames read between data frames.
type controlHandler interface {
	control(op ws.OpCode, payload []byte)
}

// frameReader reads client frames: it unmasks, reassembles fragments,
// enforces the message size limit and UTF-8 of text, and hands control
// frames to ctl. Its buffers are pooled and held only while reading.
type frameReader struct {
	r     *bufio.Reader
	limit int
	msg   []byte
	ctl   controlHandler
}

// ctrlPool holds the buffers control frame payloads are read into.
var ctrlPool = sync.Pool{New: func() any { return new([125]byte) }}

func newFrameReaderFrom(src io.Reader, limit int) *frameReader {
	fr := &frameReader{limit: limit}
	fr.acquire(src)
	return fr
}

// prefixReader reads the bytes read past the handshake, then the
// connection.
type prefixReader struct {
	b []byte
	r io.Reader
}

func (p *prefixReader) Read(x []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(x, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.r.Read(x)
}

// readSource is the connection, after any bytes read past the handshake.
func readSource(c net.Conn, extra []byte) io.Reader {
	if len(extra) > 0 {
		return &prefixReader{b: extra, r: c}
	}
	return c
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// frPool holds frame readers with their read buffers: a live socket holds
// one only while bytes are waiting.
var frPool = sync.Pool{New: func() any { return &frameReader{r: bufio.NewReaderSize(nil, readBufferSize)} }}

// put returns a reader taken from frPool, whatever it holds.
func (fr *frameReader) put() {
	fr.r.Reset(nil)
	fr.ctl = nil
	fr.shrink()
	fr.msg = fr.msg[:0]
	frPool.Put(fr)
}

// acquire takes a pooled read buffer reading from src.
func (fr *frameReader) acquire(src io.Reader) {
	if fr.r == nil {
		fr.r = readerPool.Get().(*bufio.Reader)
		fr.r.Reset(src)
	}
}

// next returns the next complete data message. The payload is valid until
// the next call.
func (fr *frameReader) next() (ws.OpCode, []byte, error) {
	var op ws.OpCode
	fr.msg = fr.msg[:0]
	fragmented := false
	for {
		h, err := ws.ReadHeader(fr.r)
		if err != nil {
			if errors.Is(err, ws.ErrHeaderLengthUnexpected) || errors.Is(err, ws.ErrHeaderLengthMSB) {
				return 0, nil, &closeError{1002, "bad frame header"}
			}
			return 0, nil, err
		}
		if !h.Masked {
			return 0, nil, &closeError{1002, "client frames must be masked"}
		}
		if h.Rsv != 0 {
			return 0, nil, &closeError{1002, "reserved bits set"}
		}
		if h.OpCode.IsControl() {
			if h.Length > 125 || !h.Fin {
				return 0, nil, &closeError{1002, "bad control frame"}
			}
			if err := fr.readControl(h); err != nil {
				return 0, nil, err
			}
			if !fragmented {
				// A ping or pong alone: hand control back, so that a reader
				// driven by readiness does not wait here for a data frame
				// that may never come.
				return opControl, nil, nil
			}
			continue
		}
		switch h.OpCode {
		case ws.OpContinuation:
			if !fragmented {
				return 0, nil, &closeError{1002, "unexpected continuation frame"}
			}
		case ws.OpText, ws.OpBinary:
			if fragmented {
				return 0, nil, &closeError{1002, "expected continuation frame"}
			}
			op = h.OpCode
		default:
			return 0, nil, &closeError{1002, "unknown opcode"}
		}
		if h.Length > int64(fr.limit-len(fr.msg)) {
			return 0, nil, &closeError{1009, "message too big"}
		}
		start := len(fr.msg)
		fr.msg = grow(fr.msg, int(h.Length))
		if _, err := io.ReadFull(fr.r, fr.msg[start:]); err != nil {
			return 0, nil, err
		}
		ws.Cipher(fr.msg[start:], h.Mask, 0)
		if !h.Fin {
			fragmented = true
			continue
		}
		if op == ws.OpText && !utf8.Valid(fr.msg) {
			return 0, nil, &closeError{1007, "text is not valid UTF-8"}
		}
		return op, fr.msg, nil
	}
}

// readControl reads a control frame into a pooled buffer and handles it.
func (fr *frameReader) readControl(h ws.Header) error {
	buf := ctrlPool.Get().(*[125]byte)
	defer ctrlPool.Put(buf)
	p := buf[:h.Length]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return err
	}
	ws.Cipher(p, h.Mask, 0)
	switch h.OpCode {
	case ws.OpClose:
		code := 1005
		if len(p) >= 2 {
			code = int(binary.BigEndian.Uint16(p))
		}
		return &peerClosed{Code: code}
	case ws.OpPing, ws.OpPong:
		if fr.ctl != nil {
			fr.ctl.control(h.OpCode, p)
		}
		return nil
	default:
		return &closeError{1002, "unknown control opcode"}
	}
}

// opControl is what next returns, with no payload, after a ping or pong
// read outside a fragmented message.
const opControl ws.OpCode = 0xff

// nextData is next for readers that block anyway: it skips opControl.
func (fr *frameReader) nextData() (ws.OpCode, []byte, error) {
	for {
		op, p, err := fr.next()
		if err != nil || op != opControl {
			return op, p, err
		}
	}
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(2*cap(b), len(b)+n))
	copy(nb, b)
	return nb
}

// shrink drops a large assembly buffer so an idle socket holds none.
func (fr *frameReader) shrink() {
	if cap(fr.msg) > 4096 {
		fr.msg = nil
	}
}

// preSocket reads the first message of a socket that still has to
// authenticate.
type preSocket struct {
	c   net.Conn
	src io.Reader
	fr  *frameReader
}

func newPreSocket(c net.Conn, extra []byte, limit int) *preSocket {
	src := readSource(c, extra)
	ps := &preSocket{c: c, src: src, fr: newFrameReaderFrom(src, limit)}
	ps.fr.ctl = ps
	return ps
}

// control answers pings before authentication.
func (ps *preSocket) control(op ws.OpCode, p []byte) {
	if op == ws.OpPing {
		ps.writeFrames(router.Frame(ws.OpPong, p))
	}
}

func (ps *preSocket) readMessage() (ws.OpCode, []byte, error) { return ps.fr.nextData() }

func (ps *preSocket) writeFrames(frames ...[]byte) {
	_ = ps.c.SetWriteDeadline(time.Now().Add(time.Second))
	b := net.Buffers(frames)
	_, _ = b.WriteTo(ps.c)
}

// buffered returns the bytes read past the auth message: what the read
// buffer holds, then what is left of the bytes read past the handshake.
func (ps *preSocket) buffered() []byte {
	var out []byte
	if n := ps.fr.r.Buffered(); n > 0 {
		b, _ := ps.fr.r.Peek(n)
		out = append(out, b...)
	}
	if p, ok := ps.src.(*prefixReader); ok {
		out = append(out, p.b...)
	}
	return out
}

func closeFrame(code int, reason string) []byte { return router.CloseFrame(code, reason) }
