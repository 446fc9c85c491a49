package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/porthouse/porthouse/wire"
)

// session is the life of one logical connection across reconnects, shared
// by Conn and RawConn: it owns the supervisor goroutine (run) and, per
// network connection, one reader goroutine. Close cancels, sends close 1000
// and waits for both.
//
// Lock order: session.mu, then Conn.mu, then frameConn.wmu, then
// frameConn.dlmu. No I/O happens under session.mu or Conn.mu.
type session struct {
	o    *options
	name string // "envelope" or "raw", for logs

	dial    func(ctx context.Context) (*frameConn, error)
	onFrame func(op ws.OpCode, p []byte) error // reader goroutine; an error ends the connection
	onUp    func(reconnected bool)             // supervisor, with the reader running
	onDown  func(cause error)                  // under mu, when a connection ends: fail pending calls
	onEnd   func()                             // after every goroutine ended: close channels

	events  chan Event
	dropped atomic.Uint64

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	done      chan struct{} // closed once err is final

	mu        sync.Mutex
	fc        *frameConn    // the live connection, nil while reconnecting or ended
	ready     chan struct{} // closed while fc != nil
	err       error         // final error, set once
	lastCause error         // why the last network connection ended
	closing   bool
}

func newSession(o *options, name string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		o:      o,
		name:   name,
		events: make(chan Event, o.eventBuffer),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
}

// start takes over the first connection and starts the supervisor.
func (s *session) start(fc *frameConn) {
	s.attach(fc)
	s.wg.Add(1)
	go s.run(fc)
}

func (s *session) attach(fc *frameConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.fc = fc
	close(s.ready)
	return true
}

func (s *session) detach(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fc != nil {
		s.fc = nil
		s.ready = make(chan struct{})
	}
	s.lastCause = cause
	if s.closing {
		cause = ErrClosed
	} else {
		cause = fmt.Errorf("%w: %w", ErrConnectionLost, cause)
	}
	if s.onDown != nil {
		s.onDown(cause)
	}
}

// run is the supervisor: it runs a reader per connection and reconnects.
func (s *session) run(fc *frameConn) {
	defer s.wg.Done()
	defer func() {
		if s.onEnd != nil {
			s.onEnd()
		}
		close(s.events)
	}()
	reconnected := false
	for {
		errc := make(chan error, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			errc <- s.read(fc)
		}()
		if s.onUp != nil {
			s.onUp(reconnected)
		}
		cause := <-errc
		s.detach(cause)
		fc.closeNow()
		if s.isClosing() {
			s.finish(ErrClosed)
			return
		}
		if s.o.reconnect == nil || !s.o.reconnect.retry(cause) {
			s.finish(cause)
			return
		}
		s.o.logger.Info("connection lost, reconnecting", "mode", s.name, "error", cause)
		s.emit(Event{Type: EventDisconnected, Err: cause})
		var err error
		if fc, err = s.redial(cause); err != nil {
			s.finish(err)
			return
		}
		reconnected = true
	}
}

func (s *session) read(fc *frameConn) error {
	for {
		op, p, err := fc.readMessage()
		if err != nil {
			return err
		}
		if err := s.onFrame(op, p); err != nil {
			return err
		}
	}
}

// redial reconnects with backoff until it succeeds, gives up or is closed.
func (s *session) redial(cause error) (*frameConn, error) {
	p := s.o.reconnect
	for attempt := 0; ; attempt++ {
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return nil, fmt.Errorf("reconnect: gave up after %d attempts: %w", attempt, cause)
		}
		t := time.NewTimer(p.delay(attempt))
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return nil, ErrClosed
		}
		fc, err := s.dial(s.ctx)
		if err == nil {
			if s.attach(fc) {
				return fc, nil
			}
			fc.closeNow()
			return nil, ErrClosed
		}
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		s.o.logger.Debug("reconnect attempt failed", "mode", s.name, "attempt", attempt+1, "error", err)
		cause = err
		if !p.retry(err) {
			return nil, fmt.Errorf("reconnect: %w", err)
		}
	}
}

func (s *session) finish(err error) {
	s.mu.Lock()
	if s.closing {
		err = ErrClosed
	}
	s.err = err
	s.mu.Unlock()
	close(s.done)
	s.cancel()
}

func (s *session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// live returns the live connection, waiting while a reconnect is under
// way; register runs under the session lock with it, so that a connection
// cannot end between the registration and its detach.
func (s *session) live(ctx context.Context, register func()) (*frameConn, error) {
	for {
		s.mu.Lock()
		switch {
		case s.closing:
			s.mu.Unlock()
			return nil, ErrClosed
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return nil, err
		case s.fc != nil:
			fc := s.fc
			if register != nil {
				register()
			}
			s.mu.Unlock()
			return fc, nil
		}
		ready := s.ready
		s.mu.Unlock()
		select {
		case <-ready:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// emit queues an event; when the caller does not keep up it is dropped.
func (s *session) emit(ev Event) {
	select {
	case s.events <- ev:
	default:
		n := s.dropped.Add(1)
		s.o.logger.Warn("event dropped: the Events channel is full", "type", ev.Type, "dropped", n)
	}
}

// deliver hands v to ch, waiting while the caller catches up (the server
// closes a socket that falls too far behind with 4009); it fails only when
// the session is closing.
func deliver[T any](s *session, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// Close sends close 1000, waits for the server's answer (at most the close
// timeout) and for every goroutine to end.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		fc := s.fc
		s.mu.Unlock()
		if fc != nil {
			_ = fc.sendClose(wire.CloseNormal, "")
			fc.closeDeadline(time.Now().Add(s.o.closeTimeout))
		}
		s.cancel()
	})
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ce *CloseError
	if errors.As(s.lastCause, &ce) && ce.Code != wire.CloseNormal && ce.Code != int(ws.StatusNoStatusRcvd) {
		return ce
	}
	return nil
}

// Err is the error that ended the session, nil while it lives.
func (s *session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
