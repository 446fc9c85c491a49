package bench

import (
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthouse/porthouse/internal/epollset"
)

// reader reads a share of a generator's sockets: one goroutine and one
// level-triggered epoll instance, one read per ready socket per wait into
// one buffer for all of them, the time taken right after the read. A
// generator has one reader per CPU, so an open socket costs no goroutine
// and no buffer of its own, only its conn.
//
// A socket is handed to its reader as soon as its upgrade request is
// written: registered one-shot, the reader reads the server's answer and
// tells the dialing goroutine (handshake.done), which sets the socket up
// and arms it for good (arm). Only the reader reads an armed socket, and
// only it closes one while the run goes on (conn.terminate); at the end
// the readers stop before the sockets are closed, so a descriptor is never
// read after it may have been reused. The event carries the dial task's
// index, looked up in gen.byTask.
//
// A reader with nothing to read parks in Go's scheduler, not in epoll_wait
// (internal/epollset): readers blocked in epoll_wait, one per CPU, would
// hold every P and stall the publishers.
type reader struct {
	g      *gen
	set    *epollset.Set
	epfd   int // set.FD()
	wakefd int
	buf    []byte
	sink   sink
}

// readBufSize is a reader's buffer: what one read of one socket may bring.
const readBufSize = 64 << 10

// wakeID is the event data of a reader's wake-up eventfd.
const wakeID = -1

func newReader(g *gen, shard int) (*reader, error) {
	set, err := epollset.New(256)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(set.FD(), unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		set.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &reader{
		g: g, set: set, epfd: set.FD(), wakefd: wakefd,
		buf:  make([]byte, readBufSize),
		sink: sink{shard: shard, lat: make([]int64, 0, 256)},
	}, nil
}

// add registers a socket whose upgrade request is on its way. A socket the
// dialing goroutine sets up itself after the upgrade (envelope mode) is
// registered for one event, the answer, and armed for good later (arm);
// any other is registered for good at once.
func (r *reader) add(c *conn, oneshot bool) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.id}
	if oneshot {
		ev.Events |= unix.EPOLLONESHOT
	}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// again waits for more of the answer to an upgrade.
func (r *reader) again(c *conn) {
	if !c.hs.oneshot {
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: c.id}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		r.fail(c, fmt.Errorf("epoll_ctl: %w", err), nil)
	}
}

// arm hands a socket that its dialing goroutine has set up to the reader
// for good.
func (r *reader) arm(c *conn) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.id}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove stops events of a socket that is about to be closed.
func (r *reader) remove(c *conn) {
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
}

// run serves events until wake.
func (r *reader) run() {
	g := r.g
	for {
		events, err := r.set.Wait()
		if err != nil {
			g.warn("reader: " + err.Error())
			return
		}
		for i := range events {
			id := events[i].Fd
			if id == wakeID {
				r.sink.flush(g)
				return
			}
			c := g.byTask[id].Load()
			switch {
			case c == nil:
			case c.hs != nil:
				r.upgrade(c)
			default:
				r.serve(c)
			}
		}
		r.sink.flush(g)
	}
}

// serve reads a set-up socket once.
func (r *reader) serve(c *conn) {
	k := copy(r.buf, c.part)
	n, err := unix.Read(c.fd, r.buf[k:])
	if n > 0 {
		c.scan(r.buf[:k+n], time.Now().UnixNano(), &r.sink)
		return
	}
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err == nil:
		err = io.EOF
	}
	c.ended(1006, err)
	c.terminate()
}

// upgrade reads the answer to a socket's upgrade request. A 101 makes the
// socket one like any other, its first frames read with the answer, unless
// its dialing goroutine sets it up (oneshot): then the reader hands it
// over. An error or a refusal is handed over too.
func (r *reader) upgrade(c *conn) {
	hs := c.hs
	k := copy(r.buf, c.part)
	n, err := unix.Read(c.fd, r.buf[k:])
	if n <= 0 {
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			r.again(c)
			return
		case err == nil:
			err = io.EOF
		}
		r.fail(c, err, nil)
		return
	}
	now := time.Now().UnixNano()
	b := r.buf[:k+n]
	head, err := checkUpgrade(b, &hs.accept)
	switch {
	case err != nil:
		r.fail(c, err, b)
		return
	case head == 0:
		c.part = append(c.part[:0], b...)
		r.again(c)
		return
	}
	c.part = nil
	if !hs.state.CompareAndSwap(hsWaiting, hsAnswered) {
		r.g.byTask[c.id].Store(nil)
		c.shut()
		return
	}
	if hs.oneshot {
		hs.leftover = append([]byte(nil), b[head:]...)
		hs.done <- nil
		return
	}
	c.hs = nil
	c.claimWatch()
	c.scan(b[head:], now, &r.sink)
	hs.done <- nil
}

// fail hands a socket whose upgrade failed back to its dialing goroutine
// with the error and what was read (got), or closes it when that goroutine
// has given up waiting.
func (r *reader) fail(c *conn, err error, got []byte) {
	hs := c.hs
	r.g.byTask[c.id].Store(nil)
	if !hs.oneshot {
		r.remove(c)
	}
	c.part = nil
	if !hs.state.CompareAndSwap(hsWaiting, hsAnswered) {
		c.shut()
		return
	}
	if got != nil {
		hs.got = append([]byte(nil), got...)
	}
	hs.done <- err
}

// wake makes run return.
func (r *reader) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(r.wakefd, one[:])
}

// release frees the descriptors after run has returned.
func (r *reader) release() {
	r.set.Close()
	unix.Close(r.wakefd)
}
