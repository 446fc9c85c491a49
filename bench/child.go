package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// driver runs one process's share: the in-process generator, or a child
// process running one.
type driver interface {
	connect(ctx context.Context) (connectReport, error)
	start() error
	stop() (stopReport, error)
	finish() (finalReport, error)
	tick() tick
	kill()
}

// localDriver runs the share in this process.
type localDriver struct{ g *gen }

func (l localDriver) connect(ctx context.Context) (connectReport, error) {
	return l.g.connect(ctx), nil
}
func (l localDriver) start() error                 { l.g.start(); return nil }
func (l localDriver) stop() (stopReport, error)    { return l.g.stop(), nil }
func (l localDriver) finish() (finalReport, error) { return l.g.finish(), nil }
func (l localDriver) tick() tick                   { return l.g.tick() }
func (l localDriver) kill() {
	if !l.g.finishing.Load() {
		l.g.finish()
	}
}

// Child protocol: the parent writes the share as one JSON line on the
// child's standard input, then one command per line; the child answers
// each command with one JSON line on its standard output and sends ticks
// every tickInterval in between. A child whose standard input closes
// closes its sockets and exits.
const (
	cmdConnect   = "connect"
	cmdStart     = "start"
	cmdStop      = "stop"
	cmdFinish    = "finish"
	tickInterval = 250 * time.Millisecond
)

// childMsg is one line from a child.
type childMsg struct {
	Type    string         `json:"type"` // tick, connected, started, stopped, final, error
	Tick    *tick          `json:"tick,omitempty"`
	Connect *connectReport `json:"connect,omitempty"`
	Stop    *stopReport    `json:"stop,omitempty"`
	Final   *finalReport   `json:"final,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// RunChild is a child load generator (`porthouse bench -child`): it reads
// its share and commands from stdin and reports on stdout. It returns the
// exit status.
func RunChild(stdin io.Reader, stdout io.Writer) int {
	out := &lineWriter{w: stdout}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	if !sc.Scan() {
		out.send(childMsg{Type: "error", Error: "no share on standard input"})
		return 2
	}
	var sh share
	if err := json.Unmarshal(sc.Bytes(), &sh); err != nil {
		out.send(childMsg{Type: "error", Error: "bad share: " + err.Error()})
		return 2
	}
	g, err := newGen(sh)
	if err != nil {
		out.send(childMsg{Type: "error", Error: err.Error()})
		return 1
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tickInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tk := g.tick()
				out.send(childMsg{Type: "tick", Tick: &tk})
			}
		}
	}()
	defer func() {
		close(done)
		wg.Wait()
	}()
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case cmdConnect:
			rep := g.connect(context.Background())
			out.send(childMsg{Type: "connected", Connect: &rep})
		case cmdStart:
			g.start()
			out.send(childMsg{Type: "started"})
		case cmdStop:
			rep := g.stop()
			out.send(childMsg{Type: "stopped", Stop: &rep})
		case cmdFinish:
			rep := g.finish()
			out.send(childMsg{Type: "final", Final: &rep})
			return 0
		default:
			out.send(childMsg{Type: "error", Error: "unknown command " + sc.Text()})
		}
	}
	g.finish() // the parent went away
	return 1
}

// lineWriter writes one JSON line at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lineWriter) send(m childMsg) {
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(childMsg{Type: "error", Error: err.Error()})
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_, _ = lw.w.Write(append(b, '\n'))
}

// remoteDriver is a child process running one share.
type remoteDriver struct {
	proc    int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan childMsg
	last    atomic.Pointer[tick]
	stderr  *tailBuffer
	exited  chan struct{}
	mu      sync.Mutex // one command at a time
}

// startChild starts a child generator for sh.
func startChild(cfg *Config, sh share) (*remoteDriver, error) {
	r := &remoteDriver{proc: sh.Proc, replies: make(chan childMsg, 4), stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	cmd := exec.Command(cfg.Executable, cfg.ChildArgs...)
	cmd.Env = append(os.Environ(), cfg.ChildEnv...)
	cmd.Stderr = r.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start client process %d: %w", sh.Proc, err)
	}
	r.cmd, r.stdin = cmd, stdin
	r.last.Store(&tick{})
	go r.read(stdout)
	if _, err := fmt.Fprintf(stdin, "%s\n", mustJSON(sh)); err != nil {
		r.kill()
		return nil, fmt.Errorf("client process %d: %w", sh.Proc, err)
	}
	return r, nil
}

// read routes the child's lines: ticks to last, the rest to replies.
func (r *remoteDriver) read(stdout io.Reader) {
	defer func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var m childMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		if m.Type == "tick" && m.Tick != nil {
			r.last.Store(m.Tick)
			continue
		}
		select {
		case r.replies <- m:
		default: // nobody asked; drop
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
}

// call sends a command and waits for the answer of type want.
func (r *remoteDriver) call(cmd, want string, timeout time.Duration) (childMsg, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := fmt.Fprintf(r.stdin, "%s\n", cmd); err != nil {
		return childMsg{}, r.failure(fmt.Errorf("write: %w", err))
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case m := <-r.replies:
			if m.Type == "error" {
				return m, r.failure(errors.New(m.Error))
			}
			if m.Type == want {
				return m, nil
			}
		case <-r.exited:
			// The reply may have been read just before the exit.
			select {
			case m := <-r.replies:
				if m.Type == want {
					return m, nil
				}
			default:
			}
			return childMsg{}, r.failure(errors.New("exited"))
		case <-t.C:
			return childMsg{}, r.failure(fmt.Errorf("no answer to %s within %v", cmd, timeout))
		}
	}
}

func (r *remoteDriver) failure(err error) error {
	if l := r.stderr.lastLine(); l != "no output" {
		return fmt.Errorf("client process %d: %v (%s)", r.proc, err, l)
	}
	return fmt.Errorf("client process %d: %v", r.proc, err)
}

// Answer deadlines beyond the work itself.
const childSlack = 30 * time.Second

func (r *remoteDriver) connect(ctx context.Context) (connectReport, error) {
	timeout := childSlack
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d) + childSlack
	}
	m, err := r.call(cmdConnect, "connected", timeout)
	if err != nil || m.Connect == nil {
		return connectReport{}, errOr(err, "client process: empty connect report")
	}
	return *m.Connect, nil
}

func (r *remoteDriver) start() error {
	_, err := r.call(cmdStart, "started", childSlack)
	return err
}

func (r *remoteDriver) stop() (stopReport, error) {
	m, err := r.call(cmdStop, "stopped", publishTimeout+childSlack)
	if err != nil || m.Stop == nil {
		return stopReport{}, errOr(err, "client process: empty stop report")
	}
	return *m.Stop, nil
}

func (r *remoteDriver) finish() (finalReport, error) {
	m, err := r.call(cmdFinish, "final", publishTimeout+childSlack)
	if err != nil || m.Final == nil {
		return finalReport{}, errOr(err, "client process: empty final report")
	}
	_ = r.stdin.Close()
	<-waitOr(r.exited, 10*time.Second)
	return *m.Final, nil
}

func (r *remoteDriver) tick() tick { return *r.last.Load() }

// kill ends the child: closing its stdin makes it finish; it is killed if
// it does not exit soon.
func (r *remoteDriver) kill() {
	_ = r.stdin.Close()
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-waitOr(r.exited, 5*time.Second)
	}
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}
