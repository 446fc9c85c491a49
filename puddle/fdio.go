package puddle

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fdConn is an accepted connection on its raw non-blocking descriptor: the
// puddle accepts with accept4 itself and never makes a Go net.Conn, so a
// connection costs no Go netpoll descriptor, no net.TCPConn, no addresses
// and no keep-alive or MPTCP set-up (about 0.6 KiB and several system calls
// less per socket). The poller (netpoll.go) alone watches it.
//
// It is a net.Conn for the ingress, the first-message auth and the net/http
// server (which gets the connections that are not WebSocket upgrades), and
// the descriptor of a running Socket. A read or write that finds nothing to
// do (EAGAIN) arms the poller and waits on the connection's wait channels
// until readiness, close or the deadline, holding no OS thread.
//
// refs counts the system calls in flight on the descriptor; fdClosing marks
// it closed. The descriptor is closed by Close when nothing is in flight,
// or else by the last call to finish, so a descriptor number is never used
// after the kernel may have given it to a new connection.
type fdConn struct {
	p      *poller
	fd     int32
	refs   atomic.Uint32
	rwait  atomic.Bool   // a reader waits for read readiness
	rpoll  atomic.Bool   // registered in the poller's read set
	wpoll  atomic.Bool   // registered in the poller's write set
	pollID atomic.Uint64 // the poller's id, 0 until first armed (set once, under the poller's lock)
	waits  atomic.Pointer[ioWaits]
	rdl    atomic.Int64 // read deadline, unix ns, 0 for none
	wdl    atomic.Int64 // write deadline
	raddr  unix.Sockaddr
	owner  atomic.Pointer[Socket] // the running socket: read readiness starts its reader
}

const fdClosing = 1 << 31

func newFDConn(p *poller, fd int, raddr unix.Sockaddr) *fdConn {
	return &fdConn{p: p, fd: int32(fd), raddr: raddr}
}

// acquire takes a reference to the descriptor for one system call; false
// when it is closed.
func (c *fdConn) acquire() bool {
	for {
		v := c.refs.Load()
		if v&fdClosing != 0 {
			return false
		}
		if c.refs.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release gives the reference back, closing the descriptor when it was the
// last one of a closed connection.
func (c *fdConn) release() {
	if c.refs.Add(^uint32(0)) == fdClosing {
		c.finalClose()
	}
}

// Close implements net.Conn: it marks the descriptor closed and wakes any
// waiting reader or writer, which then find it closed.
func (c *fdConn) Close() error {
	old := c.refs.Or(fdClosing)
	if old&fdClosing != 0 {
		return nil
	}
	if old == 0 {
		c.finalClose()
	}
	c.wake()
	return nil
}

// CloseWrite shuts down the sending side, as net.TCPConn does: net/http
// uses it to let a client read an error answer before the connection ends.
func (c *fdConn) CloseWrite() error {
	if !c.acquire() {
		return net.ErrClosed
	}
	err := unix.Shutdown(int(c.fd), unix.SHUT_WR)
	c.release()
	if err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	return nil
}

// finalClose closes the descriptor, once, when no call is in flight or can
// start; it leaves both epoll sets with it.
func (c *fdConn) finalClose() {
	c.p.remove(c)
	unix.Close(int(c.fd))
}

// ioWaits are the channels a connection's reader and writer wait on for the
// poller; made the first time either has to wait.
type ioWaits struct{ r, w chan struct{} }

func (c *fdConn) ioWaits() *ioWaits {
	if w := c.waits.Load(); w != nil {
		return w
	}
	w := &ioWaits{r: make(chan struct{}, 1), w: make(chan struct{}, 1)}
	if !c.waits.CompareAndSwap(nil, w) {
		return c.waits.Load()
	}
	return w
}

// wake makes waiting calls look again (at readiness, deadline or close).
func (c *fdConn) wake() {
	if w := c.waits.Load(); w != nil {
		notify(w.r)
		notify(w.w)
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// readable is the poller's read readiness: it wakes the reader waiting for
// it, or starts the running socket's reading goroutine.
func (c *fdConn) readable() {
	if c.rwait.Load() {
		notify(c.waits.Load().r)
		return
	}
	if s := c.owner.Load(); s != nil {
		go s.onReadable()
	}
}

// writable is the poller's write readiness: it wakes the waiting writer.
func (c *fdConn) writable() {
	if w := c.waits.Load(); w != nil {
		notify(w.w)
	}
}

// armRead asks the poller for the next read readiness (for the socket's
// reader, not a waiting call); false when the connection is closed.
func (c *fdConn) armRead() (bool, error) {
	if !c.acquire() {
		return false, nil
	}
	err := c.p.armRead(c)
	c.release()
	return true, err
}

// waitRead waits for read readiness, close, a deadline change or the
// deadline.
func (c *fdConn) waitRead() error {
	w := c.ioWaits()
	c.rwait.Store(true)
	defer c.rwait.Store(false)
	if !c.acquire() {
		return net.ErrClosed
	}
	err := c.p.armRead(c)
	c.release()
	if err != nil {
		return err
	}
	return waitUntil(w.r, c.rdl.Load())
}

// waitWrite waits for write readiness, close, a deadline change or the
// deadline.
func (c *fdConn) waitWrite() error {
	w := c.ioWaits()
	if !c.acquire() {
		return net.ErrClosed
	}
	err := c.p.armWrite(c)
	c.release()
	if err != nil {
		return err
	}
	return waitUntil(w.w, c.wdl.Load())
}

// waitUntil waits for ch or the deadline (unix ns, 0 for none). Waking
// early is harmless: callers try again and wait again.
func waitUntil(ch chan struct{}, deadline int64) error {
	if deadline == 0 {
		<-ch
		return nil
	}
	d := time.Until(time.Unix(0, deadline))
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// passed reports whether a deadline (unix ns, 0 for none) has passed.
func passed(deadline int64) bool {
	return deadline != 0 && time.Now().UnixNano() >= deadline
}

// Read implements net.Conn.
func (c *fdConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if !c.acquire() {
			return 0, net.ErrClosed
		}
		n, err := rawRead(c.fd, p)
		c.release()
		switch {
		case err == 0 && n > 0:
			return n, nil
		case err == 0:
			return 0, io.EOF
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if passed(c.rdl.Load()) {
				return 0, os.ErrDeadlineExceeded
			}
			if err := c.waitRead(); err != nil {
				return 0, err
			}
		default:
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
		}
	}
}

// Write implements net.Conn.
func (c *fdConn) Write(p []byte) (int, error) {
	bufs := [1][]byte{p}
	n, err := c.writeBufs(bufs[:])
	return int(n), err
}

// maxIOV is the most buffers one writev takes (Linux's IOV_MAX).
const maxIOV = 1024

var iovPool = sync.Pool{New: func() any { v := make([]unix.Iovec, 0, 64); return &v }}

// writeBufs writes every buffer with as few writev calls as the kernel
// allows, waiting for the poller when the peer's buffer is full, until the
// write deadline. It consumes bufs (the slice, not the bytes).
func (c *fdConn) writeBufs(bufs [][]byte) (int64, error) {
	var total int64
	iovp := iovPool.Get().(*[]unix.Iovec)
	defer iovPool.Put(iovp)
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return total, nil
		}
		iov := (*iovp)[:0]
		for _, b := range bufs {
			if len(iov) == maxIOV {
				break
			}
			if len(b) > 0 {
				v := unix.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				iov = append(iov, v)
			}
		}
		if !c.acquire() {
			return total, net.ErrClosed
		}
		n, errno := rawWritev(c.fd, iov)
		c.release()
		clear(iov) // no references to frames stay in the pool
		*iovp = iov[:0]
		switch errno {
		case 0:
			total += int64(n)
			bufs = advance(bufs, int(n))
		case unix.EINTR:
		case unix.EAGAIN:
			if passed(c.wdl.Load()) {
				return total, os.ErrDeadlineExceeded
			}
			if err := c.waitWrite(); err != nil {
				return total, err
			}
		default:
			return total, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("writev", errno)}
		}
	}
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs[0] = nil
		bufs = bufs[1:]
	}
	return bufs
}

// SetDeadline implements net.Conn.
func (c *fdConn) SetDeadline(t time.Time) error {
	c.rdl.Store(unixNano(t))
	c.wdl.Store(unixNano(t))
	c.wake()
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *fdConn) SetReadDeadline(t time.Time) error {
	c.rdl.Store(unixNano(t))
	if w := c.waits.Load(); w != nil {
		notify(w.r)
	}
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *fdConn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(unixNano(t))
	if w := c.waits.Load(); w != nil {
		notify(w.w)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

// LocalAddr implements net.Conn.
func (c *fdConn) LocalAddr() net.Addr {
	if !c.acquire() {
		return &net.TCPAddr{}
	}
	sa, err := unix.Getsockname(int(c.fd))
	c.release()
	if err != nil {
		return &net.TCPAddr{}
	}
	return tcpAddr(sa)
}

// RemoteAddr implements net.Conn.
func (c *fdConn) RemoteAddr() net.Addr { return tcpAddr(c.raddr) }

func tcpAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, a.Addr[:])
		return &net.TCPAddr{IP: ip, Port: a.Port}
	}
	return &net.TCPAddr{}
}
