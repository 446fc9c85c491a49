package puddle

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A running socket reads and writes its connection's raw descriptor: the
// upgrade is done through the net.Conn the listener gave, and then the
// socket keeps a duplicate of its descriptor and closes the net.Conn. An
// idle socket so holds no Go netpoll descriptor, no net.TCPConn and no
// addresses (about 0.6 KiB less per socket), and the poller (netpoll.go)
// alone watches it.
//
// The descriptor is non-blocking. A read or write that finds nothing to do
// (EAGAIN) arms the poller and waits on the socket's wait channels, with a
// deadline, holding no OS thread.
//
// fdRefs counts the system calls in flight on the descriptor; fdClosing
// marks it closed. The descriptor is closed by cleanup when nothing is in
// flight, or else by the last call to finish, so a descriptor number is
// never used after the kernel may have given it to a new connection.
const fdClosing = 1 << 31

// detach returns a close-on-exec duplicate of the connection's descriptor
// and closes the connection.
func detach(c net.Conn) (int, error) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("connection %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(cfd uintptr) { fd, derr = unix.FcntlInt(cfd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup: %w", derr)
	}
	return fd, nil
}

// fdAcquire takes a reference to the descriptor for one system call; false
// when it is closed.
func (s *Socket) fdAcquire() bool {
	for {
		v := s.fdRefs.Load()
		if v&fdClosing != 0 {
			return false
		}
		if s.fdRefs.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// fdRelease gives the reference back, closing the descriptor when it was
// the last one of a closed socket.
func (s *Socket) fdRelease() {
	if s.fdRefs.Add(^uint32(0)) == fdClosing {
		s.finalClose()
	}
}

// closeFD marks the descriptor closed (once, from cleanup) and wakes any
// waiting reader or writer, which then find it closed.
func (s *Socket) closeFD() {
	if s.fdRefs.Or(fdClosing)&^fdClosing == 0 {
		s.finalClose()
	}
	if w := s.waits.Load(); w != nil {
		notify(w.r)
		notify(w.w)
	}
}

// finalClose closes the descriptor, once, when no call is in flight or can
// start; it leaves both epoll sets with it.
func (s *Socket) finalClose() {
	s.p.poll.remove(s)
	unix.Close(int(s.fd))
}

// ioWaits are the channels a socket's reader and writer wait on for the
// poller; made the first time either has to wait.
type ioWaits struct{ r, w chan struct{} }

func (s *Socket) ioWaits() *ioWaits {
	if w := s.waits.Load(); w != nil {
		return w
	}
	w := &ioWaits{r: make(chan struct{}, 1), w: make(chan struct{}, 1)}
	if !s.waits.CompareAndSwap(nil, w) {
		return s.waits.Load()
	}
	return w
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// readable is the poller's read readiness: it wakes the reader waiting in
// the middle of a frame, or starts a reading goroutine.
func (s *Socket) readable() {
	if s.rwait.Load() {
		notify(s.waits.Load().r)
		return
	}
	go s.onReadable()
}

// writable is the poller's write readiness: it wakes the waiting writer.
func (s *Socket) writable() {
	if w := s.waits.Load(); w != nil {
		notify(w.w)
	}
}

// waitRead waits until the descriptor is readable, closed or the deadline
// passes.
func (s *Socket) waitRead(deadline time.Time) error {
	w := s.ioWaits()
	s.rwait.Store(true)
	defer s.rwait.Store(false)
	if !s.fdAcquire() {
		return net.ErrClosed
	}
	err := s.p.poll.armRead(s)
	s.fdRelease()
	if err != nil {
		return err
	}
	return waitUntil(w.r, deadline)
}

// waitWrite waits until the descriptor is writable, closed or the deadline
// passes.
func (s *Socket) waitWrite(deadline time.Time) error {
	w := s.ioWaits()
	if !s.fdAcquire() {
		return net.ErrClosed
	}
	err := s.p.poll.armWrite(s)
	s.fdRelease()
	if err != nil {
		return err
	}
	return waitUntil(w.w, deadline)
}

func waitUntil(ch chan struct{}, deadline time.Time) error {
	d := time.Until(deadline)
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

// fdReader reads a socket's descriptor for its frame reader: a read that
// finds no bytes waits for the poller until the deadline.
type fdReader struct {
	s        *Socket
	deadline time.Time
}

func (r *fdReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s := r.s
	for {
		if !s.fdAcquire() {
			return 0, net.ErrClosed
		}
		n, err := unix.Read(int(s.fd), p)
		s.fdRelease()
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if err := s.waitRead(r.deadline); err != nil {
				return 0, err
			}
		default:
			return 0, err
		}
	}
}

// maxIOV is the most buffers one writev takes (Linux's IOV_MAX).
const maxIOV = 1024

var iovPool = sync.Pool{New: func() any { v := make([]unix.Iovec, 0, 64); return &v }}

// writeBufs writes every buffer with as few writev calls as the kernel
// allows, waiting for the poller when the peer's buffer is full; a wait
// longer than timeout fails. It consumes bufs (the slice, not the bytes).
func (s *Socket) writeBufs(bufs [][]byte, timeout time.Duration) (int64, error) {
	var (
		total    int64
		deadline time.Time
	)
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
		if !s.fdAcquire() {
			return total, net.ErrClosed
		}
		n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(s.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		s.fdRelease()
		clear(iov) // no references to frames stay in the pool
		*iovp = iov[:0]
		switch errno {
		case 0:
			total += int64(n)
			bufs = advance(bufs, int(n))
		case unix.EINTR:
		case unix.EAGAIN:
			if deadline.IsZero() {
				deadline = time.Now().Add(timeout)
			}
			if err := s.waitWrite(deadline); err != nil {
				return total, err
			}
		default:
			return total, errno
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
