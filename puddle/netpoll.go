package puddle

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller tells which sockets can be read or written, so that an idle socket
// holds no goroutine and no read buffer, and a socket waiting for its peer
// holds no goroutine either (DESIGN.md, "Performance shape").
//
// Connections are raw non-blocking descriptors (fdio.go). Each is
// registered with EPOLLONESHOT in two epoll instances: in the read set, one
// readiness event hands a running socket to one reading goroutine, which
// arms it again when done, or wakes a call waiting to read (the handshake,
// the middle of a frame); in the write set, a writer whose peer's buffer is
// full arms it and waits. An event carries the connection's poll id, not
// its fd, so an event that races with the connection's end finds nothing
// and is dropped.
//
// Registered connections sit in a slab: a poll id is the slot's index + 1 in its
// low 32 bits and a registration count in its high 32 bits, so a slot reused
// by a new socket does not match a stale event. A slab costs 8 bytes per
// socket where a map from id to socket cost about a hundred.
//
// The run loops never block in epoll_wait. Each epoll descriptor is itself
// registered with Go's network poller (an epoll instance is readable while
// it has events), and a loop that finds no events parks its goroutine there.
// A goroutine blocked in a system call keeps its P until the runtime's
// monitor takes it back, which the monitor does on a tick that stretches to
// 10 ms when the process is calm: a reader started by a loop that then went
// back into epoll_wait could wait that long to run, and with both loops
// blocked no P was free at all. Parked in the scheduler, a loop holds no P
// and the goroutines it starts run at once.
type poller struct {
	epfd   int // read readiness
	wepfd  int // write readiness
	wakefd int // eventfd that ends both run loops

	rfile, wfile *os.File        // epfd and wepfd, registered with Go's poller
	rconn, wconn syscall.RawConn // their waits

	mu    sync.Mutex
	slots []*fdConn
	free  []uint32 // indexes of empty slots
	gen   uint32   // registrations so far, the high half of the next id
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wepfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		unix.Close(wepfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &poller{epfd: epfd, wepfd: wepfd, wakefd: wakefd}
	for _, fd := range []int{epfd, wepfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN}
		setEventID(&ev, 0) // id 0 is the wake-up
		if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
			p.release()
			return nil, fmt.Errorf("epoll_ctl wake: %w", err)
		}
	}
	var err2 error
	if p.rfile, p.rconn, err2 = pollable(epfd, "epoll-read"); err2 == nil {
		p.wfile, p.wconn, err2 = pollable(wepfd, "epoll-write")
	}
	if err2 != nil {
		p.release()
		return nil, err2
	}
	return p, nil
}

// pollable registers an epoll descriptor with Go's network poller. Once it
// returns a file, even with an error, the file owns fd (release closes it
// through the file).
func pollable(fd int, name string) (*os.File, syscall.RawConn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, nil, fmt.Errorf("%s: set non-blocking: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		return f, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, rc, nil
}

// setEventID stores a 64-bit id in the event's data field.
func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

const (
	readEvents  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	writeEvents = unix.EPOLLOUT | unix.EPOLLONESHOT
)

// armRead asks for the connection's next read readiness event; the caller
// holds a reference to its descriptor (fdio.go), so the descriptor is still
// its own. One reader at a time arms it.
func (p *poller) armRead(c *fdConn) error {
	return p.arm(c, p.epfd, &c.rpoll, readEvents)
}

// armWrite asks for the connection's next write readiness event (the
// caller holds a reference to its descriptor). One writer at a time arms it.
func (p *poller) armWrite(c *fdConn) error {
	return p.arm(c, p.wepfd, &c.wpoll, writeEvents)
}

func (p *poller) arm(c *fdConn, epfd int, in *atomic.Bool, events uint32) error {
	ev := unix.EpollEvent{Events: events}
	setEventID(&ev, p.add(c))
	op := unix.EPOLL_CTL_MOD
	if !in.Load() {
		in.Store(true)
		op = unix.EPOLL_CTL_ADD
	}
	return unix.EpollCtl(epfd, op, int(c.fd), &ev)
}

// remove forgets the connection. Its descriptor leaves both epoll sets when
// it is closed (it is the only descriptor of its socket).
func (p *poller) remove(c *fdConn) {
	p.mu.Lock()
	if id := c.pollID.Load(); id != 0 && int(uint32(id)-1) < len(p.slots) && p.slots[uint32(id)-1] == c {
		i := uint32(id) - 1
		p.slots[i] = nil
		p.free = append(p.free, i)
	}
	p.mu.Unlock()
}

// add gives the connection a slot and its poll id, unless it has them,
// and returns the id. Arming a connection that has its id takes no lock.
func (p *poller) add(c *fdConn) uint64 {
	if id := c.pollID.Load(); id != 0 {
		return id
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if id := c.pollID.Load(); id != 0 {
		return id
	}
	var i uint32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = uint32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	p.gen++
	p.slots[i] = c
	id := uint64(p.gen)<<32 | uint64(i+1)
	c.pollID.Store(id)
	return id
}

// lookup returns the connection of a poll id, or nil when it has gone.
func (p *poller) lookup(id uint64) *fdConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := uint32(id) - 1; int(i) < len(p.slots) {
		if c := p.slots[i]; c != nil && c.pollID.Load() == id {
			return c
		}
	}
	return nil
}

// run dispatches read readiness until close: each ready socket is read by a
// goroutine of its own that lives only while there is something to read,
// or, when a reader waits in the middle of a frame, that reader wakes.
func (p *poller) run() { p.loop(p.rconn, (*fdConn).readable) }

// runWrites wakes the writers waiting for their peers until close.
func (p *poller) runWrites() { p.loop(p.wconn, (*fdConn).writable) }

func (p *poller) loop(rc syscall.RawConn, ready func(*fdConn)) {
	events := make([]unix.EpollEvent, 256)
	var n int
	var werr error
	wait := func(fd uintptr) bool { // one closure for the loop's life: no allocation per wait
		n, werr = unix.EpollWait(int(fd), events, 0)
		return n > 0 || werr != nil // none yet: park until the epoll descriptor is readable
	}
	for {
		err := rc.Read(wait)
		if err != nil {
			return // closed
		}
		if werr != nil {
			if errors.Is(werr, unix.EINTR) {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			id := eventID(&events[i])
			if id == 0 {
				return // woken to stop
			}
			if c := p.lookup(id); c != nil {
				ready(c)
			}
		}
	}
}

// close stops both run loops. Sockets must be gone.
func (p *poller) close() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wakefd, one[:])
}

// release frees the descriptors after the run loops have returned.
func (p *poller) release() {
	for _, c := range []struct {
		f  *os.File
		fd int
	}{{p.rfile, p.epfd}, {p.wfile, p.wepfd}} {
		if c.f != nil {
			c.f.Close()
		} else {
			unix.Close(c.fd)
		}
	}
	unix.Close(p.wakefd)
}
