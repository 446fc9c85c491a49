package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/porthouse/porthouse/ipc"
	pb "github.com/porthouse/porthouse/proto"
)

// Restart backoff: doubles from backoffMin to backoffMax; a worker that
// stayed up for healthyAfter starts again from backoffMin.
const (
	backoffMin   = 100 * time.Millisecond
	backoffMax   = 10 * time.Second
	healthyAfter = 30 * time.Second
	healthEvery  = 2 * time.Second
	// healthStrikes failed checks in a row kill a worker: a worker that is
	// slow under load keeps its sockets; one that is stuck does not.
	healthStrikes = 3
)

// worker is the supervisor's handle of one worker process.
type worker struct {
	id  int
	ln  *os.File
	log hclog.Logger

	mu       sync.Mutex
	client   *plugin.Client
	rpc      pb.WorkerClient
	up       bool
	pid      int
	restarts int
}

// rpcClient returns the worker's client if it is up.
func (w *worker) rpcClient() (pb.WorkerClient, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rpc, w.up
}

// command builds the worker process: the supervisor's own binary as
// `porthouse puddle`, with the listener as fd 3, dying with its parent.
// The process is bound to the supervisor's context, so Shutdown kills a
// worker that hangs before the plugin handshake instead of waiting for
// the start timeout.
func (s *Supervisor) command(w *worker) *exec.Cmd {
	var base *exec.Cmd
	if s.workerCmd != nil {
		base = s.workerCmd(w.id)
	} else {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		base = exec.Command(exe, "puddle")
	}
	cmd := exec.CommandContext(s.ctx, base.Path)
	cmd.Args, cmd.Env, cmd.Dir, cmd.Err = base.Args, base.Env, base.Dir, base.Err
	cmd.Env = append(cmd.Environ(), envWorkerID+"="+strconv.Itoa(w.id), envWorkerDir+"="+s.dir,
		envRouteSync+"="+time.Duration(s.currentConfig().RouteSyncInterval).String())
	cmd.ExtraFiles = []*os.File{w.ln}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// launch starts a worker process and waits until it can serve: the route
// table is pushed, then the options, which start its accept loop.
func (s *Supervisor) launch(w *worker) error {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  ipc.Handshake,
		Plugins:          ipc.Plugins(nil),
		Cmd:              s.command(w),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           w.log,
		StartTimeout:     15 * time.Second,
	})
	rpcc, err := client.Client()
	if err != nil {
		client.Kill()
		return fmt.Errorf("start: %w", err)
	}
	raw, err := rpcc.Dispense(ipc.PluginName)
	if err != nil {
		client.Kill()
		return fmt.Errorf("dispense: %w", err)
	}
	wc := raw.(pb.WorkerClient)
	w.mu.Lock()
	w.client, w.rpc, w.up = client, wc, true
	w.pid = client.ReattachConfig().Pid
	w.mu.Unlock()
	// Up before the snapshot: a route that is new after it is pushed to
	// this worker too (pushRoute), one in it comes with it.

	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	routes := &pb.RouteList{}
	for room, ps := range s.seq.AllRoutes() {
		for _, p := range ps {
			routes.Routes = append(routes.Routes, &pb.Route{Room: room, Puddle: int32(p)})
		}
	}
	if _, err := wc.RoutesAdded(ctx, routes); err != nil {
		client.Kill()
		return fmt.Errorf("routes: %w", err)
	}
	if _, err := wc.SetOptions(ctx, &pb.Options{Json: s.optionsJSON(w.id)}); err != nil {
		client.Kill()
		return fmt.Errorf("options: %w", err)
	}
	return nil
}

func (s *Supervisor) optionsJSON(id int) []byte {
	b, _ := json.Marshal(puddleOptions(s.currentConfig(), id))
	return b
}

// monitor keeps worker w running until shutdown: it starts it, health-checks
// it, and restarts it with backoff when it exits.
func (s *Supervisor) monitor(w *worker) {
	defer s.wg.Done()
	backoff := backoffMin
	for !s.stopped() {
		started := time.Now()
		if err := s.launch(w); err != nil {
			w.log.Error("worker failed to start", "worker", w.id, "error", err, "retry_in", backoff)
		} else {
			w.log.Info("worker started", "worker", w.id, "pid", w.pid, "restarts", w.restarts)
			s.watch(w)
			if s.stopped() {
				return // drained for shutdown: its exit is expected
			}
			s.workerGone(w)
		}
		if s.stopped() {
			return
		}
		if time.Since(started) > healthyAfter {
			backoff = backoffMin
		}
		w.mu.Lock()
		w.restarts++
		w.mu.Unlock()
		w.log.Warn("worker exited; restarting", "worker", w.id, "restarts", w.restarts, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// watch returns when the worker process exits or fails its health check.
func (s *Supervisor) watch(w *worker) {
	w.mu.Lock()
	client := w.client
	w.mu.Unlock()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	lastCheck := time.Now()
	strikes := 0
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-poll.C:
		}
		if client.Exited() {
			return
		}
		if time.Since(lastCheck) < healthEvery {
			continue
		}
		lastCheck = time.Now()
		rpcc, err := client.Client()
		if err == nil {
			err = rpcc.Ping()
		}
		if err == nil {
			strikes = 0
			continue
		}
		strikes++
		w.log.Warn("worker failed a health check", "worker", w.id, "strikes", strikes, "error", err)
		if strikes >= healthStrikes {
			w.log.Error("worker failed its health checks; killing", "worker", w.id, "error", err)
			client.Kill()
			return
		}
	}
}

// workerGone forgets a worker that exited: its sockets leave the sequence
// (slots freed, routes updated) and presence rooms elsewhere hear
// member.left.
func (s *Supervisor) workerGone(w *worker) {
	w.mu.Lock()
	w.up = false
	client := w.client
	w.rpc = nil
	w.mu.Unlock()
	if client != nil {
		client.Kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gone, err := s.seq.ReleasePuddle(ctx, w.id)
	if err != nil {
		w.log.Error("release puddle", "worker", w.id, "error", err)
		return
	}
	if len(gone) > 0 {
		w.log.Info("released the sockets of a gone worker", "worker", w.id, "sockets", len(gone))
	}
	presence := make(map[string]bool)
	for _, e := range gone {
		for _, room := range e.Rooms {
			p, seen := presence[room]
			if !seen {
				p = s.isPresenceRoom(ctx, room)
				presence[room] = p
			}
			if !p {
				continue
			}
			s.eachWorker(func(c pb.WorkerClient) {
				_, _ = c.Announce(ctx, &pb.Announcement{Room: room, Type: "member.left", Socket: e.ID})
			})
		}
	}
}
