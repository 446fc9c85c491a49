package puddle

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller tells which idle sockets have bytes to read, so that an idle socket
// holds no goroutine and no read buffer (DESIGN.md, "Performance shape").
//
// Each socket is registered with EPOLLONESHOT: one readiness event hands it
// to one goroutine, which reads every buffered frame and then arms the
// socket again. The event carries the socket's poll id, not its fd, so an
// event that races with the socket's end finds nothing and is dropped.
//
// Registered sockets sit in a slab: a poll id is the slot's index + 1 in its
// low 32 bits and a registration count in its high 32 bits, so a slot reused
// by a new socket does not match a stale event. A slab costs 8 bytes per
// socket where a map from id to socket cost about a hundred.
type poller struct {
	epfd   int
	wakefd int // eventfd that ends run

	mu    sync.Mutex
	slots []*Socket
	free  []uint32 // indexes of empty slots
	gen   uint32   // registrations so far, the high half of the next id
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, 0) // id 0 is the wake-up
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl wake: %w", err)
	}
	return &poller{epfd: epfd, wakefd: wakefd}, nil
}

// setEventID stores a 64-bit id in the event's data field.
func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// arm asks for the socket's next readiness event. The caller holds
// s.pollMu and has checked that the socket is not gone, so its fd is still
// the socket's own.
func (p *poller) armLocked(s *Socket) error {
	ev := unix.EpollEvent{Events: pollEvents}
	op := unix.EPOLL_CTL_MOD
	if s.pollID == 0 {
		p.add(s)
		op = unix.EPOLL_CTL_ADD
	}
	setEventID(&ev, s.pollID)
	return controlFD(s, func(fd int) error { return unix.EpollCtl(p.epfd, op, fd, &ev) })
}

// removeLocked forgets the socket before its connection is closed; the
// caller holds s.pollMu.
func (p *poller) removeLocked(s *Socket) {
	if s.pollID == 0 {
		return
	}
	_ = controlFD(s, func(fd int) error { return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil) })
	p.mu.Lock()
	if i := uint32(s.pollID) - 1; int(i) < len(p.slots) && p.slots[i] == s {
		p.slots[i] = nil
		p.free = append(p.free, i)
	}
	p.mu.Unlock()
}

// add gives the socket a slot and its poll id.
func (p *poller) add(s *Socket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var i uint32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = uint32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	p.gen++
	p.slots[i] = s
	s.pollID = uint64(p.gen)<<32 | uint64(i+1)
}

// lookup returns the socket of a poll id, or nil when it has gone.
func (p *poller) lookup(id uint64) *Socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := uint32(id) - 1; int(i) < len(p.slots) {
		if s := p.slots[i]; s != nil && s.pollID == id {
			return s
		}
	}
	return nil
}

// controlFD runs fn with the connection's file descriptor.
func controlFD(s *Socket, fn func(fd int) error) error {
	sc, ok := s.conn.(syscall.Conn)
	if !ok {
		return errors.New("connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// run dispatches readiness events until close. Each ready socket is read by
// a goroutine of its own that lives only while there is something to read.
func (p *poller) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			id := eventID(&events[i])
			if id == 0 {
				return // woken to stop
			}
			if s := p.lookup(id); s != nil {
				go s.onReadable()
			}
		}
	}
}

// close stops run and releases the epoll instance. Sockets must be gone.
func (p *poller) close() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wakefd, one[:])
}

// release frees the descriptors after run has returned.
func (p *poller) release() {
	unix.Close(p.epfd)
	unix.Close(p.wakefd)
}
