package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/ipc"
	"github.com/porthouse/porthouse/metrics"
	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/server"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// Options configure a Supervisor beyond the config file.
type Options struct {
	// WorkerCmd builds the command of worker id; nil re-executes the
	// current binary as `porthouse puddle`. Tests use it to run the test
	// binary as a worker (go-plugin's helper-process pattern). Only its
	// Path, Args, Env and Dir are used.
	WorkerCmd func(id int) *exec.Cmd
	// ReleaseFreeHeap makes the supervisor return its free heap to the OS
	// once a burst of connections is over (see releaseFreeHeap). It acts
	// on the whole process: `porthouse supervise` sets it, tests that run
	// supervisors inside the test binary leave it off. Workers always do.
	ReleaseFreeHeap bool
}

// Supervisor is `porthouse supervise`.
type Supervisor struct {
	cfg       atomic.Pointer[config.Config]
	log       hclog.Logger
	workerCmd func(id int) *exec.Cmd
	release   bool // Options.ReleaseFreeHeap

	store *store.Store
	seq   *sequence.Local
	api   *api.Server
	m     *metrics.Metrics
	boot  store.Bootstrap
	live  *live

	dir       string // runtime directory with the Unix sockets
	addr      net.Addr
	listeners []*os.File
	workers   []*worker
	grpcSrv   *grpc.Server
	httpSrv   *http.Server

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
	stopping atomic.Bool // Shutdown has begun: workers that exit are not restarted
}

// stopped reports whether Shutdown has begun.
func (s *Supervisor) stopped() bool { return s.stopping.Load() || s.ctx.Err() != nil }

// New opens the store, bootstraps a first start, opens the listeners and
// the control sockets. Start launches the workers.
func New(cfg config.Config, log hclog.Logger, o Options) (_ *Supervisor, err error) {
	if cfg.Workers < 1 {
		return nil, errors.New("supervise needs -workers 1 or more")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "porthouse.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Supervisor{log: log, workerCmd: o.WorkerCmd, release: o.ReleaseFreeHeap, store: st}
	s.cfg.Store(&cfg)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()
	bctx, bcancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer bcancel()
	if s.boot, err = st.Bootstrap(bctx, cfg.AdminPassword.Reveal()); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	// Whenever a join (or create) gives a worker its first member in a
	// room, every other worker learns the route before the call returns;
	// a route that comes back after its last member left is pushed again,
	// as the workers may have dropped it since (route_sync_interval).
	s.seq = sequence.NewLocal()
	s.seq.OnNewRoute(s.pushRoute)
	s.live = &live{s: s}
	s.m = metrics.NewControl()
	apiCfg := server.APIConfig(cfg, st, s.live, log)
	apiCfg.Metrics = s.m
	s.api = api.New(apiCfg)
	server.ApplyStoredSettings(bctx, st, s.api)
	if s.dir, err = os.MkdirTemp("", "porthouse-"); err != nil {
		return nil, fmt.Errorf("runtime dir: %w", err)
	}
	if s.listeners, s.addr, err = reusePortListeners(cfg.Listen, cfg.Workers); err != nil {
		return nil, err
	}
	if err := s.serveControl(); err != nil {
		return nil, err
	}
	for i := 1; i <= cfg.Workers; i++ {
		s.workers = append(s.workers, &worker{id: i, ln: s.listeners[i-1], log: log.Named(fmt.Sprintf("worker-%d", i))})
	}
	return s, nil
}

// serveControl serves the sequence and directory (gRPC) and the HTTP API on
// Unix sockets in the runtime directory.
func (s *Supervisor) serveControl() error {
	gl, err := net.Listen("unix", filepath.Join(s.dir, controlSocket))
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	s.grpcSrv = grpc.NewServer()
	pb.RegisterSequenceServer(s.grpcSrv, &ipc.SequenceServer{Seq: s.seq, RouteTable: s.seq})
	pb.RegisterDirectoryServer(s.grpcSrv, &ipc.DirectoryServer{Dir: s.store})
	hl, err := net.Listen("unix", filepath.Join(s.dir, httpSocket))
	if err != nil {
		gl.Close()
		return fmt.Errorf("http socket: %w", err)
	}
	s.httpSrv = &http.Server{Handler: forwardedFor(s.handler()), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.grpcSrv.Serve(gl)
	}()
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(hl)
	}()
	return nil
}

// forwardedFor restores the client address workers put in X-Forwarded-For:
// only workers reach this socket, so the header is trusted.
func forwardedFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			ip := strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
			r.RemoteAddr = net.JoinHostPort(ip, "0")
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Supervisor) handler() http.Handler {
	return server.HTTPHandler(server.HTTPDeps{
		API:     s.api,
		Store:   s.store,
		Live:    s.live,
		Ready:   s.ready,
		Metrics: prometheus.Gatherers{s.m.Registry, metrics.GathererFunc(s.gatherWorkers)},
	})
}

// gatherWorkers collects the metric families of every worker that is up.
func (s *Supervisor) gatherWorkers() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	var out []*dto.MetricFamily
	for _, w := range s.workers {
		c, ok := w.rpcClient()
		if !ok {
			continue
		}
		r, err := c.Metrics(ctx, &pb.Empty{})
		if err != nil {
			continue
		}
		mfs, err := metrics.Decode(r.GetFamilies())
		if err != nil {
			return out, fmt.Errorf("worker %d metrics: %w", w.id, err)
		}
		out = append(out, mfs...)
	}
	return out, nil
}

// ready reports whether every worker is up.
func (s *Supervisor) ready() (bool, map[string]any) {
	up, sockets := 0, int64(0)
	for _, w := range s.workers {
		if c, ok := w.rpcClient(); ok {
			up++
			ctx, cancel := context.WithTimeout(s.ctx, time.Second)
			if st, err := c.Stats(ctx, &pb.Empty{}); err == nil {
				sockets += st.GetSockets()
			}
			cancel()
		}
	}
	return up == len(s.workers) && s.ctx.Err() == nil, map[string]any{"workers": len(s.workers), "workers_up": up, "sockets": sockets}
}

// Addr is the address the workers serve.
func (s *Supervisor) Addr() net.Addr { return s.addr }

// Bootstrap returns what a first start created.
func (s *Supervisor) Bootstrap() store.Bootstrap { return s.boot }

// Store returns the store.
func (s *Supervisor) Store() *store.Store { return s.store }

// WorkerPIDs returns the process id of each worker that is up (0 if down).
func (s *Supervisor) WorkerPIDs() []int {
	out := make([]int, len(s.workers))
	for i, w := range s.workers {
		w.mu.Lock()
		if w.up {
			out[i] = w.pid
		}
		w.mu.Unlock()
	}
	return out
}

// Start launches every worker and returns once each has started (or failed
// its first start, which its monitor retries with backoff).
func (s *Supervisor) Start() {
	if s.release {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			releaseFreeHeap(s.ctx, releaseEvery, releaseMin)
		}()
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go s.monitor(w)
	}
}

// WaitReady waits until every worker is up or ctx ends.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		if ok, _ := s.ready(); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Supervisor) currentConfig() config.Config { return *s.cfg.Load() }

// Reload applies a new config: live settings change at once (workers get
// new options), the rest are reported as needing a restart.
func (s *Supervisor) Reload(next config.Config) (changed, needRestart []string) {
	old := s.currentConfig()
	changed, needRestart = config.Reloadable(old, next)
	keep := old
	applyReloadable(&keep, next)
	s.cfg.Store(&keep)
	s.api.SetOpenSignup(keep.OpenSignup)
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	for _, w := range s.workers {
		if c, ok := w.rpcClient(); ok {
			_, _ = c.SetOptions(ctx, &pb.Options{Json: s.optionsJSON(w.id)})
		}
	}
	return changed, needRestart
}

// applyReloadable copies the settings that may change while running.
func applyReloadable(dst *config.Config, src config.Config) {
	dst.AllowedOrigins = src.AllowedOrigins
	dst.OpenSignup = src.OpenSignup
	dst.MaxMessageBytes = src.MaxMessageBytes
	dst.MaxQueueBytes = src.MaxQueueBytes
	dst.AuthTimeout, dst.HandshakeTimeout = src.AuthTimeout, src.HandshakeTimeout
	dst.PingInterval, dst.PongTimeout, dst.WriteTimeout = src.PingInterval, src.PongTimeout, src.WriteTimeout
	dst.ShutdownTimeout = src.ShutdownTimeout
	dst.RateLimit, dst.RateBurst = src.RateLimit, src.RateBurst
	dst.BackpipeRate, dst.BackpipeBurst, dst.LoginRate = src.BackpipeRate, src.BackpipeBurst, src.LoginRate
	dst.SessionTTL, dst.LogLevel = src.SessionTTL, src.LogLevel
}

// Shutdown drains every worker (sockets closed with 1001), stops them and
// closes the store, within ctx. Safe to call twice.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stopping.Store(true)
		deadline, ok := ctx.Deadline()
		timeout := 10 * time.Second
		if ok {
			timeout = time.Until(deadline)
		}
		var dwg sync.WaitGroup
		for _, w := range s.workers {
			if c, up := w.rpcClient(); up {
				dwg.Add(1)
				go func() {
					defer dwg.Done()
					_, _ = c.Drain(ctx, &pb.DrainRequest{TimeoutMs: timeout.Milliseconds()})
				}()
			}
		}
		dwg.Wait()
		s.cancel()
		for _, w := range s.workers {
			w.mu.Lock()
			if w.client != nil {
				w.client.Kill()
			}
			w.mu.Unlock()
		}
		s.closeResources()
		s.wg.Wait()
	})
	return err
}

// closeResources stops the servers and closes the listeners and the store.
func (s *Supervisor) closeResources() {
	s.cancel()
	if s.grpcSrv != nil {
		s.grpcSrv.Stop()
	}
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
	if s.api != nil {
		s.api.Close()
	}
	for _, f := range s.listeners {
		f.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	if s.store != nil {
		s.store.Close()
	}
}

// puddleOptions are the workers' socket-path options.
func puddleOptions(cfg config.Config, id int) puddle.Options { return server.PuddleOptions(cfg, id) }

// eachWorker calls fn for every worker that is up.
func (s *Supervisor) eachWorker(fn func(pb.WorkerClient)) {
	for _, w := range s.workers {
		if c, ok := w.rpcClient(); ok {
			fn(c)
		}
	}
}

// pushRoute tells every other worker that puddle has members in room, and
// waits for them (bounded), so routing never misses a fresh member.
func (s *Supervisor) pushRoute(ctx context.Context, room string, puddle int) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	list := &pb.RouteList{Routes: []*pb.Route{{Room: room, Puddle: int32(puddle)}}}
	var wg sync.WaitGroup
	for _, w := range s.workers {
		if w.id == puddle {
			continue
		}
		if c, ok := w.rpcClient(); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.RoutesAdded(ctx, list); err != nil {
					s.log.Warn("route push failed", "worker", w.id, "room", room, "error", err)
				}
			}()
		}
	}
	wg.Wait()
}

// isPresenceRoom reports whether a room announces members.
func (s *Supervisor) isPresenceRoom(ctx context.Context, key string) bool {
	if tr, ok, _ := s.seq.Room(ctx, key); ok {
		return tr.Presence
	}
	owner, name := wire.SplitKey(key)
	r, err := s.store.Room(ctx, owner, name)
	return err == nil && r.Presence
}
