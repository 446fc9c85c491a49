package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// frameConn is one client-side WebSocket connection: masked frame writes
// under one mutex, message reads (with control frames answered) by one
// goroutine at a time.
//
// Lock order: wmu, then dlmu. Neither is held while calling out of the
// frameConn.
type frameConn struct {
	nc net.Conn
	rd *wsutil.Reader // used only by the one reading goroutine

	wmu       sync.Mutex // guards bw, scratch, closeSent, werr and writes to nc
	bw        *bufio.Writer
	scratch   []byte
	closeSent bool
	werr      error // sticky: after a failed write the stream is unusable

	dlmu      sync.Mutex // guards wgen and write-deadline changes
	wgen      uint64     // changes at the start and end of every write
	idle      time.Duration
	closing   atomic.Bool // the read deadline is the close timeout: keep it
	closeOnce sync.Once
}

const writeBufferSize = 32 << 10

var aLongTimeAgo = time.Unix(1, 0)

func newFrameConn(nc net.Conn, br *bufio.Reader, maxMessage int64, idle time.Duration) *frameConn {
	var src io.Reader = nc
	if br != nil {
		// The server wrote frames right after its 101 answer: read them
		// from the handshake buffer first.
		src = io.MultiReader(br, nc)
	}
	f := &frameConn{nc: nc, idle: idle}
	f.rd = &wsutil.Reader{
		Source:         src,
		State:          ws.StateClientSide,
		CheckUTF8:      true,
		MaxMessageSize: maxMessage,
		OnIntermediate: f.handleControl,
	}
	return f
}

// write sends one data frame whose payload is the concatenation of parts.
// ctx bounds the write; if it ends while the frame is partly written, the
// connection is broken and closed (its reader then ends).
func (f *frameConn) write(ctx context.Context, op ws.OpCode, parts ...[]byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.werr != nil {
		return f.werr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	gen := f.beginWrite(ctx)
	stop := context.AfterFunc(ctx, func() {
		f.dlmu.Lock()
		if f.wgen == gen {
			_ = f.nc.SetWriteDeadline(aLongTimeAgo)
		}
		f.dlmu.Unlock()
	})
	err := f.writeFrameLocked(op, parts...)
	stop()
	f.endWrite()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		f.werr = err
		_ = f.nc.Close()
	}
	return err
}

func (f *frameConn) beginWrite(ctx context.Context) uint64 {
	f.dlmu.Lock()
	defer f.dlmu.Unlock()
	f.wgen++
	dl, _ := ctx.Deadline()
	_ = f.nc.SetWriteDeadline(dl)
	return f.wgen
}

func (f *frameConn) endWrite() {
	f.dlmu.Lock()
	f.wgen++
	f.dlmu.Unlock()
}

// writeFrameLocked writes a final, masked frame. The caller's bytes are
// never modified: they are masked through a scratch buffer.
func (f *frameConn) writeFrameLocked(op ws.OpCode, parts ...[]byte) error {
	if f.bw == nil {
		f.bw = bufio.NewWriterSize(f.nc, writeBufferSize)
		f.scratch = make([]byte, writeBufferSize)
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	mask := ws.NewMask()
	hdr := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: int64(n)}
	if err := ws.WriteHeader(f.bw, hdr); err != nil {
		return err
	}
	off := 0
	for _, p := range parts {
		for len(p) > 0 {
			k := copy(f.scratch, p)
			ws.Cipher(f.scratch[:k], mask, off)
			if _, err := f.bw.Write(f.scratch[:k]); err != nil {
				return err
			}
			off += k
			p = p[k:]
		}
	}
	return f.bw.Flush()
}

// writeControl writes a control frame unless the stream is already broken.
func (f *frameConn) writeControl(op ws.OpCode, payload []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.writeControlLocked(op, payload)
}

func (f *frameConn) writeControlLocked(op ws.OpCode, payload []byte) error {
	if f.werr != nil {
		return f.werr
	}
	if f.closeSent {
		return nil // nothing may follow a close frame
	}
	if op == ws.OpClose {
		f.closeSent = true
	}
	// A control write is short; bound it so a stalled peer cannot hold the
	// write lock forever.
	f.dlmu.Lock()
	f.wgen++
	_ = f.nc.SetWriteDeadline(time.Now().Add(DefaultCloseTimeout))
	f.dlmu.Unlock()
	err := f.writeFrameLocked(op, payload)
	f.endWrite()
	if err != nil {
		f.werr = err
		_ = f.nc.Close()
	}
	return err
}

// sendClose starts the closing handshake with code and reason; it is a
// no-op once a close frame was sent.
func (f *frameConn) sendClose(code int, reason string) error {
	return f.writeControl(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

// closeSentByUs reports whether this side sent a close frame.
func (f *frameConn) closeSentByUs() bool {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.closeSent
}

// readMessage reads the next data message, answering pings and close frames
// on the way. A close frame from the server ends it with a *CloseError.
func (f *frameConn) readMessage() (ws.OpCode, []byte, error) {
	for {
		if f.idle > 0 && !f.closing.Load() {
			_ = f.nc.SetReadDeadline(time.Now().Add(f.idle))
		}
		hdr, err := f.rd.NextFrame()
		if err != nil {
			return 0, nil, err
		}
		if hdr.OpCode.IsControl() {
			if err := f.handleControl(hdr, f.rd); err != nil {
				return 0, nil, err
			}
			continue
		}
		// Grow the buffer as bytes arrive rather than trusting the declared
		// length; MaxMessageSize bounds the total.
		var buf bytes.Buffer
		buf.Grow(int(min(hdr.Length, 64<<10)))
		if _, err := buf.ReadFrom(f.rd); err != nil {
			if errors.Is(err, wsutil.ErrMessageTooLarge) || errors.Is(err, wsutil.ErrFrameTooLarge) {
				_ = f.sendClose(int(ws.StatusMessageTooBig), "")
			}
			return 0, nil, err
		}
		return hdr.OpCode, buf.Bytes(), nil
	}
}

// handleControl answers a control frame whose (unmasked) body is r.
func (f *frameConn) handleControl(hdr ws.Header, r io.Reader) error {
	var body [125]byte
	n := min(int(hdr.Length), len(body))
	if _, err := io.ReadFull(r, body[:n]); err != nil {
		return err
	}
	p := body[:n]
	switch hdr.OpCode {
	case ws.OpPing:
		return f.writeControl(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.StatusNoStatusRcvd, ""
		if len(p) >= 2 {
			code, reason = ws.ParseCloseFrameData(p)
		}
		echo := code
		if len(p) < 2 {
			echo = ws.StatusNormalClosure
		}
		_ = f.writeControl(ws.OpClose, ws.NewCloseFrameBody(echo, ""))
		return &CloseError{Code: int(code), Reason: reason}
	}
	return nil // pong: nothing to do
}

// setReadDeadline bounds the reader.
func (f *frameConn) setReadDeadline(t time.Time) { _ = f.nc.SetReadDeadline(t) }

// closeDeadline bounds the wait for the server's answer to our close frame;
// the idle timeout no longer moves it.
func (f *frameConn) closeDeadline(t time.Time) {
	f.closing.Store(true)
	_ = f.nc.SetReadDeadline(t)
}

// closeNow closes the network connection; safe to call more than once.
func (f *frameConn) closeNow() {
	f.closeOnce.Do(func() { _ = f.nc.Close() })
}
