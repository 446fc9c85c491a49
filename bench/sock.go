package bench

import (
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The generator's sockets are raw non-blocking file descriptors, not
// net.Conns: a handshake costs a socket, a bind, a connect and a write
// (Go's net adds an epoll registration, a goroutine switch, keepalive and
// address look-ups), and an open socket is read by the epoll readers of
// reader.go instead of a goroutine of its own.

// openSocket makes a non-blocking TCP socket to dst, bound to src when it is
// not nil (with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port at
// connect time), and starts connecting. On loopback the connection is
// usually established when connect returns; a write that finds it still
// pending waits for it (fdIO.Write).
func openSocket(family int, dst, src unix.Sockaddr, nodelay bool) (fd int, err error) {
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(op, err)
	}
	if src != nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return fail("setsockopt", err)
		}
		if err := unix.Bind(fd, src); err != nil {
			return fail("bind", err)
		}
	}
	if nodelay {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Connect(fd, dst); err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		return fail("connect", err)
	}
	return fd, nil
}

// fdIO reads and writes a non-blocking descriptor as if it blocked, until
// its deadline: for handshakes, envelope set-up and writes. It blocks its
// thread in poll(2) while it waits, which only the set-up, refusals and
// writes to a full socket do.
type fdIO struct {
	fd       int
	deadline time.Time // zero: none
}

// Read reads at least one byte, or returns io.EOF, an error or
// os.ErrDeadlineExceeded.
func (s *fdIO) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, os.NewSyscallError("read", err)
		}
		if err := waitFD(s.fd, unix.POLLIN, s.deadline); err != nil {
			return 0, err
		}
	}
}

// Write writes all of p.
func (s *fdIO) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(s.fd, p[done:])
		if n > 0 {
			done += n
			continue
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.ENOTCONN:
		case err != nil:
			return done, os.NewSyscallError("write", err)
		default:
			return done, io.ErrShortWrite
		}
		if err := waitFD(s.fd, unix.POLLOUT, s.deadline); err != nil {
			return done, err
		}
	}
	return done, nil
}

// Close closes the descriptor.
func (s *fdIO) Close() error { return unix.Close(s.fd) }

// SetDeadline bounds the reads and writes that follow.
func (s *fdIO) SetDeadline(t time.Time) error {
	s.deadline = t
	return nil
}

// waitFD waits until fd is ready for events (or has an error or hang-up to
// report) or deadline passes (os.ErrDeadlineExceeded, a net.Error timeout).
func waitFD(fd int, events int16, deadline time.Time) error {
	for {
		ms := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(pfd, ms)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return os.NewSyscallError("poll", err)
		case n > 0:
			return nil
		}
	}
}

// errClosed is a write to a socket the generator has closed.
var errClosed = errors.New("socket closed")
