package mesh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/router"
)

// DefaultMaxPeerQueueBytes is the default bound of one peer's queue.
const DefaultMaxPeerQueueBytes = 8 << 20

var (
	_ puddle.Mesh = (*Mesh)(nil)
	_ Receiver    = (*puddle.Puddle)(nil)
)

// Config configures a Mesh. It is passed by value and never changed.
type Config struct {
	Self int    // this puddle's id
	Dir  string // directory holding peer-<id>.sock, one per puddle
	Log  hclog.Logger
	// MaxPeerQueueBytes bounds the frames queued for one peer (while it is
	// slow or down); past it the oldest are dropped. Default 8 MiB.
	MaxPeerQueueBytes int
}

// SocketPath is the Unix socket puddle id listens on in dir.
func SocketPath(dir string, id int) string {
	return filepath.Join(dir, "peer-"+strconv.Itoa(id)+".sock")
}

// Mesh is one puddle's end of the data path between puddles: it listens on
// its own socket for frames from the others and keeps one outbound
// connection per peer it sends to.
type Mesh struct {
	cfg  Config
	recv Receiver
	log  hclog.Logger
	ln   *net.UnixListener

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup // accept loop, readers, peer writers
	closeOnce sync.Once
	closed    atomic.Bool

	routesMu sync.Mutex // serializes AddRoutes and SyncRoutes
	routes   sync.Map   // room → *roomRoute
	born     time.Time  // the origin of clock

	peersMu sync.Mutex
	peers   map[int]*peer

	connsMu sync.Mutex
	conns   map[net.Conn]struct{} // accepted connections

	dropped     atomic.Uint64
	lastRejWarn atomic.Int64
}

// New listens on SocketPath(cfg.Dir, cfg.Self) and starts accepting frames
// for recv. A stale socket file left by a dead process is removed first; if
// a live listener answers on the path, New fails with ErrInUse.
func New(cfg Config, recv Receiver) (*Mesh, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.MaxPeerQueueBytes <= 0 {
		cfg.MaxPeerQueueBytes = DefaultMaxPeerQueueBytes
	}
	if recv == nil {
		return nil, errors.New("mesh: nil Receiver")
	}
	path := SocketPath(cfg.Dir, cfg.Self)
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("mesh: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mesh{
		cfg:    cfg,
		recv:   recv,
		log:    cfg.Log.With("worker", cfg.Self),
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		peers:  make(map[int]*peer),
		conns:  make(map[net.Conn]struct{}),
		born:   time.Now(),
	}
	m.wg.Add(1)
	go m.accept()
	return m, nil
}

// removeStale removes a socket file nobody listens on.
func removeStale(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mesh: remove stale socket: %w", err)
	}
	return nil
}

// Close stops accepting, closes every connection, stops every goroutine and
// waits for them. Frames still queued are dropped. Safe to call more than
// once; every call waits.
func (m *Mesh) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		m.cancel()
		m.ln.Close()
		m.peersMu.Lock()
		for _, p := range m.peers {
			p.closeConn()
		}
		m.peersMu.Unlock()
		m.connsMu.Lock()
		for c := range m.conns {
			c.Close()
		}
		m.connsMu.Unlock()
	})
	m.wg.Wait()
	return nil
}

// Dropped returns how many frames were dropped: oldest frames pushed out
// of a full peer queue, and messages too large to frame.
func (m *Mesh) Dropped() uint64 { return m.dropped.Load() }

// Publish queues a room message for every puddle routed for room except
// Self. It copies the payload and never blocks on a peer.
func (m *Mesh) Publish(room string, env *router.Envelope) {
	rt := m.route(room)
	if rt == nil || len(rt.peers) == 0 || m.closed.Load() {
		return
	}
	kind, payload := env.Wire()
	if err := m.checkMessage(room, env.ID, env.From, payload); err != nil {
		m.reject(uint64(len(rt.peers)), "room", room, err)
		return
	}
	n := messageLen(room, env.ID, env.From, payload)
	for _, p := range rt.peers {
		p.enqueueMessage(n, frameRoom, room, env.ID, env.From, byte(kind), payload)
	}
}

// Direct queues a direct message for socketID on puddle id. A message for
// Self is delivered at once; a negative id is ignored.
func (m *Mesh) Direct(id int, socketID string, env *router.Envelope) {
	if id == m.cfg.Self {
		m.recv.DeliverDirect(socketID, env)
		return
	}
	if id < 0 || m.closed.Load() {
		return
	}
	p := m.peer(id)
	if p == nil {
		return
	}
	kind, payload := env.Wire()
	if err := m.checkMessage(socketID, env.ID, env.From, payload); err != nil {
		m.reject(1, "socket", socketID, err)
		return
	}
	n := messageLen(socketID, env.ID, env.From, payload)
	p.enqueueMessage(n, frameDirect, socketID, env.ID, env.From, byte(kind), payload)
}

// Announce queues a presence event of room for every puddle routed for it
// except Self.
func (m *Mesh) Announce(room, eventType, socket string) {
	rt := m.route(room)
	if rt == nil || len(rt.peers) == 0 || m.closed.Load() {
		return
	}
	if err := checkPresence(room, eventType, socket); err != nil {
		m.reject(uint64(len(rt.peers)), "room", room, err)
		return
	}
	n := presenceLen(room, eventType, socket)
	for _, p := range rt.peers {
		p.enqueuePresence(n, room, eventType, socket)
	}
}

// checkMessage also refuses a frame larger than a whole peer queue.
func (m *Mesh) checkMessage(to, id, from string, payload []byte) error {
	if err := checkMessage(to, id, from, payload); err != nil {
		return err
	}
	if n := lenPrefix + messageLen(to, id, from, payload); n > m.cfg.MaxPeerQueueBytes {
		return fmt.Errorf("frame of %d bytes exceeds the peer queue (%d)", n, m.cfg.MaxPeerQueueBytes)
	}
	return nil
}

// reject counts frames that could not be framed, warning at most once a
// second.
func (m *Mesh) reject(n uint64, field, value string, err error) {
	m.dropped.Add(n)
	now := time.Now().UnixNano()
	last := m.lastRejWarn.Load()
	if now-last >= int64(warnEvery) && m.lastRejWarn.CompareAndSwap(last, now) {
		m.log.Warn("message not forwarded to other puddles", field, value, "error", err)
	}
}

// peer returns the peer for id, creating it and starting its writer on
// first use; nil once the mesh is closing.
func (m *Mesh) peer(id int) *peer {
	m.peersMu.Lock()
	defer m.peersMu.Unlock()
	if p := m.peers[id]; p != nil {
		return p
	}
	if m.closed.Load() {
		return nil
	}
	p := newPeer(m, id)
	m.peers[id] = p
	m.wg.Add(1)
	go p.run(m.ctx)
	return p
}
