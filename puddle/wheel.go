package puddle

import (
	"sync"
	"time"
)

// Wheel geometry: ticks are wheelTick apart and the wheel turns once in
// wheelSlots ticks (51.2 s); a deadline further out waits in its slot for
// later turns.
const (
	wheelTick  = 50 * time.Millisecond
	wheelSlots = 1024
)

// wheel drives every socket's liveness tick (ping, pong timeout, token
// expiry) from one goroutine: a hashed timing wheel whose slots are lists
// linked through the sockets' own fields. A socket so costs three words
// instead of a runtime timer of its own, and the wheel's goroutine sleeps
// while no socket is scheduled. Deadlines fire up to one wheelTick late.
type wheel struct {
	mu    sync.Mutex
	slots [wheelSlots]*Socket // list heads
	next  int64               // the first tick (time / wheelTick) not yet processed
	count int                 // sockets scheduled
	wake  chan struct{}       // a first socket was scheduled
	stop  chan struct{}
	done  chan struct{}
	due   []*Socket     // run's scratch list
	fire  func(*Socket) // called for each socket that is due, outside the lock
}

// newWheel returns a stopped wheel whose ticks start at now; start runs it.
func newWheel(now time.Time, fire func(*Socket)) *wheel {
	return &wheel{
		next: now.UnixNano() / int64(wheelTick),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		fire: fire,
	}
}

func (w *wheel) start() { go w.run() }

// schedule sets the socket's next tick to d from now, replacing any
// earlier one.
func (w *wheel) schedule(s *Socket, d time.Duration) {
	w.scheduleAt(s, time.Now().Add(d).UnixNano())
}

// scheduleAt sets the socket's next tick to the unix time when (ns).
func (w *wheel) scheduleAt(s *Socket, when int64) {
	w.mu.Lock()
	w.unlinkLocked(s)
	if s.ended.Load() {
		w.mu.Unlock() // cleanup has cancelled it (under w.mu): stay off
		return
	}
	if floor := w.next * int64(wheelTick); when < floor {
		when = floor // already behind: the next tick takes it
	}
	s.wwhen = when
	head := &w.slots[w.slotOf(when)]
	s.wnext = *head
	if *head != nil {
		(*head).wprev = s
	}
	*head = s
	w.count++
	first := w.count == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// cancel takes the socket off the wheel.
func (w *wheel) cancel(s *Socket) {
	w.mu.Lock()
	w.unlinkLocked(s)
	w.mu.Unlock()
}

func (w *wheel) unlinkLocked(s *Socket) {
	if s.wwhen == 0 {
		return
	}
	if s.wprev != nil {
		s.wprev.wnext = s.wnext
	} else {
		w.slots[w.slotOf(s.wwhen)] = s.wnext
	}
	if s.wnext != nil {
		s.wnext.wprev = s.wprev
	}
	s.wnext, s.wprev, s.wwhen = nil, nil, 0
	w.count--
}

// slotOf is the slot of a deadline.
func (w *wheel) slotOf(when int64) int { return int(when / int64(wheelTick) % wheelSlots) }

// run processes the ticks as they pass and fires the sockets that are due.
func (w *wheel) run() {
	defer close(w.done)
	timer := time.NewTimer(wheelTick)
	defer timer.Stop()
	for {
		w.mu.Lock()
		idle := w.count == 0
		w.mu.Unlock()
		if idle {
			select {
			case <-w.wake:
			case <-w.stop:
				return
			}
			continue
		}
		select {
		case <-timer.C:
		case <-w.stop:
			return
		}
		timer.Reset(wheelTick)
		due := w.collect(time.Now())
		for i, s := range due {
			w.fire(s)
			due[i] = nil
		}
	}
}

// collect unlinks and returns the sockets due at now, walking every tick
// that has passed since the last one processed.
func (w *wheel) collect(now time.Time) []*Socket {
	w.mu.Lock()
	defer w.mu.Unlock()
	due := w.due[:0]
	nowNs := now.UnixNano()
	last := nowNs/int64(wheelTick) - 1 // the last tick that has wholly passed
	if last-w.next >= wheelSlots {
		w.next = last - wheelSlots + 1 // a whole turn late: every slot once
	}
	for ; w.next <= last; w.next++ {
		s := w.slots[w.next%wheelSlots]
		for s != nil {
			nx := s.wnext
			if s.wwhen <= nowNs {
				w.unlinkLocked(s)
				due = append(due, s)
			}
			s = nx
		}
	}
	w.due = due
	return due
}

// close stops the wheel's goroutine.
func (w *wheel) close() {
	close(w.stop)
	<-w.done
}
