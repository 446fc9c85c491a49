package puddle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/porthouse/porthouse/metrics"
	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
)

// Deps are the puddle's collaborators.
type Deps struct {
	Log    hclog.Logger
	Dir    Directory
	Seq    sequence.Sequence
	Router *router.Router
	HTTP   http.Handler // everything that is not a WebSocket upgrade
	Mesh   Mesh         // other puddles; nil in single-process mode
	// Metrics; nil makes the puddle its own.
	Metrics *metrics.Metrics
}

// Puddle serves WebSockets (and hands other HTTP to Deps.HTTP) on the
// listeners given to Serve.
type Puddle struct {
	opts     atomic.Pointer[Options]
	log      hclog.Logger
	dir      Directory
	seq      sequence.Sequence
	router   *router.Router
	mesh     Mesh
	tokens   *tokenCache
	rooms    *roomCache
	m        *metrics.Metrics
	poll     *poller // nil when it could not be made (pollErr): Serve fails
	pollErr  error
	wheel    *wheel
	pollWG   sync.WaitGroup
	pollOnce sync.Once

	httpLn  *connListener
	httpSrv *http.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, handshakes, registered sockets

	mu        sync.Mutex
	pending   int                      // places reserved by handshakes in progress (MaxSockets)
	listeners map[net.Listener]*fdConn // and the puddle's duplicate of each
	sockets   map[*Socket]struct{}
	byToken   map[string]map[*Socket]struct{}
	closing   bool
}

// New returns a puddle; call Serve to start it.
func New(opts Options, d Deps) *Puddle {
	if d.Log == nil {
		d.Log = hclog.NewNullLogger()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New(opts.Worker)
	}
	if d.HTTP == nil {
		d.HTTP = http.NotFoundHandler()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Puddle{
		log:       d.Log,
		dir:       d.Dir,
		seq:       d.Seq,
		router:    d.Router,
		mesh:      d.Mesh,
		tokens:    newTokenCache(),
		rooms:     newRoomCache(),
		m:         d.Metrics,
		wheel:     newWheel(time.Now(), (*Socket).tick),
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]*fdConn),
		sockets:   make(map[*Socket]struct{}),
		byToken:   make(map[string]map[*Socket]struct{}),
	}
	p.opts.Store(&opts)
	p.wheel.start()
	if poll, err := newPoller(); err != nil {
		p.pollErr = err
	} else {
		p.poll = poll
		p.pollWG.Add(2)
		go func() {
			defer p.pollWG.Done()
			poll.run()
		}()
		go func() {
			defer p.pollWG.Done()
			poll.runWrites()
		}()
	}
	p.httpLn = newConnListener(nil)
	p.httpSrv = &http.Server{
		Handler:           d.HTTP,
		ReadHeaderTimeout: opts.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          d.Log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.httpSrv.Serve(p.httpLn)
	}()
	return p
}

// Options returns the current options.
func (p *Puddle) Options() Options { return *p.opts.Load() }

// SetOptions swaps the options (config reload); new values apply to new
// sockets and, where read per message, to live ones.
func (p *Puddle) SetOptions(o Options) { p.opts.Store(&o) }

// Router returns the puddle's router.
func (p *Puddle) Router() *router.Router { return p.router }

// Serve accepts connections on ln, a TCP listener, until Shutdown. It
// returns nil after Shutdown, or the error that ended accepting.
func (p *Puddle) Serve(ln net.Listener) error {
	if p.poll == nil {
		return fmt.Errorf("puddle: %w", p.pollErr)
	}
	// The puddle accepts on its own duplicate of the listener's descriptor,
	// waiting for the poller while the backlog is empty, so a connection is
	// a raw descriptor from the start (fdio.go).
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("puddle: listener %T has no file descriptor", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("puddle: %w", err)
	}
	lfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { lfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return fmt.Errorf("puddle: %w", err)
	}
	if derr != nil {
		return fmt.Errorf("puddle: dup listener: %w", derr)
	}
	if err := unix.SetNonblock(lfd, true); err != nil {
		unix.Close(lfd)
		return fmt.Errorf("puddle: %w", err)
	}
	lc := newFDConn(p.poll, lfd, nil)
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		lc.Close()
		return errors.New("puddle: serve after shutdown")
	}
	p.listeners[ln] = lc
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	var delay time.Duration
	for {
		if !lc.acquire() {
			return p.acceptEnded()
		}
		fd, sa, aerr := unix.Accept4(int(lc.fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		lc.release()
		if aerr != nil {
			switch aerr {
			case unix.EAGAIN:
				if err := lc.waitRead(); err != nil {
					return p.acceptEnded()
				}
				continue
			case unix.ECONNABORTED, unix.EINTR:
				continue
			}
			if p.ctx.Err() != nil {
				return nil
			}
			// Resource exhaustion (EMFILE) passes.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed; retrying", "error", aerr, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := newFDConn(p.poll, fd, sa)
		if !p.startConn(c) {
			c.Close()
		}
	}
}

// acceptEnded is what Serve returns when its listener was closed.
func (p *Puddle) acceptEnded() error {
	if p.ctx.Err() != nil {
		return nil
	}
	return net.ErrClosed
}

func (p *Puddle) startConn(c *fdConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.serveConn(c)
	}()
	return true
}

func (p *Puddle) register(s *Socket) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unreserveLocked(s)
	if p.closing {
		return false
	}
	p.sockets[s] = struct{}{}
	set := p.byToken[s.tokenID()]
	if set == nil {
		set = make(map[*Socket]struct{})
		p.byToken[s.tokenID()] = set
	}
	set[s] = struct{}{}
	s.gauge().Inc()
	p.wg.Add(1) // done in unregister: Shutdown waits for every socket to end
	return true
}

// gauge is the open-sockets gauge of the socket's mode.
func (s *Socket) gauge() interface {
	Inc()
	Dec()
} {
	if s.raw {
		return s.p.m.SocketsRaw
	}
	return s.p.m.SocketsEnvelope
}

// Metrics returns the puddle's collectors.
func (p *Puddle) Metrics() *metrics.Metrics { return p.m }

func (p *Puddle) unregister(s *Socket) {
	p.mu.Lock()
	if _, ok := p.sockets[s]; ok {
		s.gauge().Dec()
		p.wg.Done()
	}
	delete(p.sockets, s)
	if set := p.byToken[s.tokenID()]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(p.byToken, s.tokenID())
		}
	}
	p.mu.Unlock()
}

// reserve takes a place for a handshake under the bound of max sockets,
// counting handshakes still in progress; false when the process is full.
func (p *Puddle) reserve(max int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sockets)+p.pending >= max {
		return false
	}
	p.pending++
	return true
}

// unreserve gives back a place a handshake took and did not use.
func (p *Puddle) unreserve() {
	p.mu.Lock()
	p.pending--
	p.mu.Unlock()
}

// unreserveLocked hands the socket's reserved place over (to register, or
// back when the socket ends before it).
func (p *Puddle) unreserveLocked(s *Socket) {
	if s.reserved {
		s.reserved = false
		p.pending--
	}
}

// shuttingDown reports whether Shutdown has begun.
func (p *Puddle) shuttingDown() bool { return p.ctx.Err() != nil }

// tokenSockets returns the local sockets of a token.
func (p *Puddle) tokenSockets(tokenID string) []*Socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Socket, 0, len(p.byToken[tokenID]))
	for s := range p.byToken[tokenID] {
		out = append(out, s)
	}
	return out
}

// allSockets returns every local socket.
func (p *Puddle) allSockets() []*Socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Socket, 0, len(p.sockets))
	for s := range p.sockets {
		out = append(out, s)
	}
	return out
}

// Count returns the number of live sockets.
func (p *Puddle) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sockets)
}

// Shutdown stops accepting, closes every socket with 1001 and waits for the
// puddle's goroutines, or for ctx. Safe to call twice.
func (p *Puddle) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	lns := make([]net.Listener, 0, len(p.listeners))
	lcs := make([]*fdConn, 0, len(p.listeners))
	for ln, lc := range p.listeners {
		lns = append(lns, ln)
		lcs = append(lcs, lc)
	}
	p.mu.Unlock()
	p.cancel()
	for i, ln := range lns {
		ln.Close()
		lcs[i].Close() // wakes Serve's wait
	}
	p.httpLn.Close()
	for _, s := range p.allSockets() {
		s.Close(1001, "server shutting down")
	}
	_ = p.httpSrv.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, s := range p.allSockets() {
			s.abort()
		}
		err = ctx.Err()
	}
	p.stopPoller()
	return err
}

// stopPoller ends the poller and wheel goroutines and frees the poller's
// descriptors (once).
func (p *Puddle) stopPoller() {
	p.pollOnce.Do(func() {
		p.wheel.close()
		if p.poll == nil {
			return
		}
		p.poll.close()
		p.pollWG.Wait()
		p.poll.release()
	})
}
