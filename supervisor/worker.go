package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/ipc"
	"github.com/porthouse/porthouse/mesh"
	"github.com/porthouse/porthouse/metrics"
	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/wire"
)

// Environment of a worker process, set by the supervisor.
const (
	envWorkerID  = "PORTHOUSE_PUDDLE_ID"
	envWorkerDir = "PORTHOUSE_PUDDLE_DIR"
	// envRouteSync is the worker's route_sync_interval (a Go duration).
	envRouteSync = "PORTHOUSE_PUDDLE_ROUTE_SYNC"
)

// Socket file names in the supervisor's runtime directory.
const (
	controlSocket = "control.sock" // sequence + directory (gRPC)
	httpSocket    = "http.sock"    // API and UI
)

// listenerFD is the inherited listening socket of a worker.
const listenerFD = 3

// RunWorker is the body of `porthouse puddle`: it serves the worker plugin
// until the supervisor stops it. It refuses to run without the supervisor's
// handshake cookie (go-plugin checks it).
func RunWorker(getenv func(string) string) error {
	if getenv(ipc.Handshake.MagicCookieKey) != ipc.Handshake.MagicCookieValue {
		return fmt.Errorf("porthouse puddle is started by `porthouse supervise`, not by hand")
	}
	var id int
	if _, err := fmt.Sscan(getenv(envWorkerID), &id); err != nil || id < 1 {
		return fmt.Errorf("bad %s %q", envWorkerID, getenv(envWorkerID))
	}
	dir := getenv(envWorkerDir)
	log := hclog.New(&hclog.LoggerOptions{Name: "puddle", Level: hclog.Trace, Output: os.Stderr, JSONFormat: true})

	f := os.NewFile(listenerFD, "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("inherited listener: %w", err)
	}
	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, controlSocket),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial supervisor: %w", err)
	}
	defer conn.Close()

	w := &workerServer{id: id, ln: ln, log: log}
	// The mesh listens before the puddle it delivers to exists: frames that
	// arrive meanwhile are dropped (no member can be here yet).
	recv := &mesh.Deferred{}
	m, err := mesh.New(mesh.Config{Self: id, Dir: dir, Log: log.Named("mesh")}, recv)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	defer m.Close()
	opts := puddle.DefaultOptions()
	opts.Worker = id
	w.m = metrics.New(id)
	w.m.CounterFunc("porthouse_mesh_dropped_total", "Cross-worker frames dropped because a peer stayed unreachable.",
		func() float64 { return float64(m.Dropped()) })
	w.m.GaugeFunc("porthouse_mesh_routes", "Routes (room, other worker with members in it) in this worker's route table.",
		func() float64 { return float64(m.RouteCount()) })
	seq := pb.NewSequenceClient(conn)
	w.p = puddle.New(opts, puddle.Deps{
		Metrics: w.m,
		Log:     log,
		Dir:     &ipc.DirectoryClient{C: pb.NewDirectoryClient(conn)},
		Seq:     &ipc.SequenceClient{C: seq},
		Router:  router.New(id),
		HTTP:    forwardHTTP(filepath.Join(dir, httpSocket)),
		Mesh:    m,
	})
	recv.Set(w.p)
	w.mesh = m
	go w.watchParent(os.Getppid())
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	go releaseFreeHeap(bg, releaseEvery, releaseMin)
	syncEvery, err := time.ParseDuration(getenv(envRouteSync))
	if err != nil || syncEvery <= 0 {
		syncEvery = time.Minute
	}
	go w.syncRoutes(bg, seq, syncEvery)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: ipc.Handshake,
		Plugins:         ipc.Plugins(w),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          log,
	})
	return nil
}

// forwardHTTP sends every non-WebSocket request to the supervisor.
func forwardHTTP(sock string) http.Handler {
	target := &url.URL{Scheme: "http", Host: "supervisor"}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     time.Minute,
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.Error{Code: wire.CodeInternal, Message: "supervisor unreachable"}})
		},
	}
}

// workerServer is the Worker service of one worker process.
type workerServer struct {
	pb.UnimplementedWorkerServer
	id    int
	ln    net.Listener
	log   hclog.Logger
	p     *puddle.Puddle
	m     *metrics.Metrics
	mesh  *mesh.Mesh
	start sync.Once
}

var _ pb.WorkerServer = (*workerServer)(nil)

// watchParent exits when the supervisor is gone (reparented), a backstop to
// the parent-death signal.
func (w *workerServer) watchParent(ppid int) {
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != ppid {
			w.log.Warn("supervisor gone; exiting")
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = w.p.Shutdown(ctx)
			cancel()
			os.Exit(0)
		}
	}
}

// SetOptions implements pb.WorkerServer; the first call starts accepting.
func (w *workerServer) SetOptions(_ context.Context, o *pb.Options) (*pb.Empty, error) {
	opts := puddle.DefaultOptions()
	if err := json.Unmarshal(o.GetJson(), &opts); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	opts.Worker = w.id
	w.p.SetOptions(opts)
	w.start.Do(func() {
		go func() {
			if err := w.p.Serve(w.ln); err != nil {
				w.log.Error("serve stopped", "error", err)
			}
		}()
	})
	return &pb.Empty{}, nil
}

// TokenUpdated implements pb.WorkerServer.
func (w *workerServer) TokenUpdated(_ context.Context, t *pb.Token) (*pb.Empty, error) {
	w.p.TokenUpdated(ipc.TokenFromPB(t))
	return &pb.Empty{}, nil
}

// TokenRevoked implements pb.WorkerServer.
func (w *workerServer) TokenRevoked(_ context.Context, t *pb.TokenRef) (*pb.Empty, error) {
	w.p.TokenRevoked(t.GetTokenId())
	return &pb.Empty{}, nil
}

// RoomUpdated implements pb.WorkerServer.
func (w *workerServer) RoomUpdated(_ context.Context, r *pb.RoomInfo) (*pb.Empty, error) {
	w.p.RoomUpdated(ipc.RoomFromPB(r))
	return &pb.Empty{}, nil
}

// RoomDeleted implements pb.WorkerServer.
func (w *workerServer) RoomDeleted(_ context.Context, r *pb.RoomName) (*pb.Empty, error) {
	w.p.RoomDeleted(r.GetOwner(), r.GetName())
	return &pb.Empty{}, nil
}

// Publish implements pb.WorkerServer: a backpipe message enters here.
func (w *workerServer) Publish(ctx context.Context, r *pb.PublishRequest) (*pb.PublishReply, error) {
	id, err := w.p.Publish(ctx, r.GetOwner(), r.GetRoom(), api.Publication{
		Kind: api.PublicationKind(r.GetKind()), Body: r.GetBody(), From: r.GetFrom(),
	})
	if err != nil {
		e := wire.AsError(err)
		return &pb.PublishReply{Code: string(e.Code), Message: e.Message}, nil
	}
	return &pb.PublishReply{Id: id}, nil
}

// Kick implements pb.WorkerServer.
func (w *workerServer) Kick(_ context.Context, r *pb.KickRequest) (*pb.KickReply, error) {
	return &pb.KickReply{Found: w.p.Kick(r.GetOwner(), r.GetSocketId()) == nil}, nil
}

// Announce implements pb.WorkerServer.
func (w *workerServer) Announce(_ context.Context, a *pb.Announcement) (*pb.Empty, error) {
	w.p.AnnounceLocal(a.GetRoom(), a.GetType(), a.GetSocket())
	return &pb.Empty{}, nil
}

// syncRoutes brings the mesh's route table in line with the sequence's
// every interval until ctx ends: routes pushed to this worker as members
// joined are dropped once those workers have no members left in the room
// (mesh.SyncRoutes), so the table follows the rooms in use instead of
// growing with every room ever joined.
func (w *workerServer) syncRoutes(ctx context.Context, seq pb.SequenceClient, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		asked := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := seq.AllRoutes(cctx, &pb.Empty{})
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("route sync failed", "error", err)
			}
			continue
		}
		if added, removed := w.mesh.SyncRoutes(routesFromPB(l), asked); added+removed > 0 {
			w.log.Debug("routes synced", "added", added, "removed", removed, "routes", w.mesh.RouteCount())
		}
	}
}

// RoutesAdded implements pb.WorkerServer.
func (w *workerServer) RoutesAdded(_ context.Context, l *pb.RouteList) (*pb.Empty, error) {
	w.mesh.AddRoutes(routesFromPB(l))
	return &pb.Empty{}, nil
}

// routesFromPB converts a route list from the supervisor.
func routesFromPB(l *pb.RouteList) []mesh.Route {
	routes := make([]mesh.Route, 0, len(l.GetRoutes()))
	for _, r := range l.GetRoutes() {
		routes = append(routes, mesh.Route{Room: r.GetRoom(), Puddle: int(r.GetPuddle())})
	}
	return routes
}

// Drain implements pb.WorkerServer: close every socket with 1001.
func (w *workerServer) Drain(ctx context.Context, r *pb.DrainRequest) (*pb.Empty, error) {
	d := time.Duration(r.GetTimeoutMs()) * time.Millisecond
	if d <= 0 {
		d = 10 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_ = w.p.Shutdown(dctx)
	// A drained worker has nothing left to do: it exits once this answer is
	// on its way, so the supervisor's Kill finds it gone.
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = w.mesh.Close()
		os.Exit(0)
	}()
	return &pb.Empty{}, nil
}

// Stats implements pb.WorkerServer.
func (w *workerServer) Stats(context.Context, *pb.Empty) (*pb.StatsReply, error) {
	return &pb.StatsReply{Sockets: int64(w.p.Count())}, nil
}

// Metrics implements pb.WorkerServer.
func (w *workerServer) Metrics(context.Context, *pb.Empty) (*pb.MetricsReply, error) {
	b, err := w.m.Encode()
	if err != nil {
		return nil, err
	}
	return &pb.MetricsReply{Families: b}, nil
}
