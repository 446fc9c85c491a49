package puddle

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/porthouse/porthouse/internal/epollset"
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
// The run loops never block in epoll_wait: they wait through
// internal/epollset, parked in Go's scheduler, so a loop holds no P while
// it waits and the goroutines it starts run at once.
type poller struct {
	rset   *epollset.Set // read readiness
	wset   *epollset.Set // write readiness
	wakefd int           // eventfd that ends both run loops

	mu    sync.Mutex
	slots []*fdConn
	free  []uint32 // indexes of empty slots
	gen   uint32   // registrations so far, the high half of the next id
}

func newPoller() (*poller, error) {
	p := &poller{wakefd: -1}
	var err error
	if p.rset, err = epollset.New(256); err == nil {
		if p.wset, err = epollset.New(256); err == nil {
			p.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		}
	}
	if err != nil {
		p.release()
		return nil, err
	}
	for _, set := range []*epollset.Set{p.rset, p.wset} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN}
		setEventID(&ev, 0) // id 0 is the wake-up
		if err := unix.EpollCtl(set.FD(), unix.EPOLL_CTL_ADD, p.wakefd, &ev); err != nil {
			p.release()
			return nil, fmt.Errorf("epoll_ctl wake: %w", err)
		}
	}
	return p, nil
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
	return p.arm(c, p.rset.FD(), &c.rpoll, readEvents)
}

// armWrite asks for the connection's next write readiness event (the
// caller holds a reference to its descriptor). One writer at a time arms it.
func (p *poller) armWrite(c *fdConn) error {
	return p.arm(c, p.wset.FD(), &c.wpoll, writeEvents)
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
func (p *poller) run() { p.loop(p.rset, (*fdConn).readable) }

// runWrites wakes the writers waiting for their peers until close.
func (p *poller) runWrites() { p.loop(p.wset, (*fdConn).writable) }

func (p *poller) loop(set *epollset.Set, ready func(*fdConn)) {
	for {
		events, err := set.Wait()
		if err != nil {
			return
		}
		for i := range events {
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
	for _, set := range []*epollset.Set{p.rset, p.wset} {
		if set != nil {
			set.Close()
		}
	}
	if p.wakefd >= 0 {
		unix.Close(p.wakefd)
	}
}
