// Package epollset is an epoll instance whose waits park the calling
// goroutine in Go's scheduler instead of blocking its thread in
// epoll_wait.
//
// The epoll descriptor is itself registered with Go's network poller (an
// epoll instance is readable while it has ready events): Wait takes what is
// ready with a zero-timeout epoll_wait and, when nothing is, parks until the
// descriptor becomes readable. A goroutine blocked in a system call keeps
// its P until the runtime's monitor takes it back, on a tick that stretches
// to 10 ms when the process is calm: the goroutines a loop blocked in
// epoll_wait had just made runnable could wait that long, and loops blocked
// on every P left no P free at all. The puddle's poller and the bench
// generator's readers both wait this way.
package epollset

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Set is one epoll instance. Register descriptors with unix.EpollCtl on FD;
// one goroutine at a time may Wait.
type Set struct {
	fd     int
	file   *os.File // owns fd
	rc     syscall.RawConn
	events []unix.EpollEvent
	n      int
	err    error
	take   func(uintptr) bool // one closure for the set's life: no allocation per wait
}

// New makes a set whose Wait returns at most size events at a time.
func New(size int) (*Set, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("epoll: set non-blocking: %w", err)
	}
	file := os.NewFile(uintptr(fd), "epoll")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	s := &Set{fd: fd, file: file, rc: rc, events: make([]unix.EpollEvent, size)}
	s.take = func(fd uintptr) bool {
		s.n, s.err = unix.EpollWait(int(fd), s.events, 0)
		return s.n > 0 || s.err != nil // nothing ready: park until fd is readable
	}
	return s, nil
}

// FD is the epoll descriptor, for epoll_ctl. It stays the set's: do not
// close it.
func (s *Set) FD() int { return s.fd }

// Wait returns the ready events, at least one, valid until the next Wait.
// It returns an error once the set is closed.
func (s *Set) Wait() ([]unix.EpollEvent, error) {
	for {
		if err := s.rc.Read(s.take); err != nil {
			return nil, err
		}
		switch {
		case s.err == unix.EINTR:
		case s.err != nil:
			return nil, fmt.Errorf("epoll_wait: %w", s.err)
		default:
			return s.events[:s.n], nil
		}
	}
}

// Close closes the epoll descriptor; a Wait in progress returns an error.
func (s *Set) Close() error { return s.file.Close() }
