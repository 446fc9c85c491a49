package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Readiness lines printed first on standard output by the servers bench
// starts.
const (
	porthouseReadyPrefix = "Porthouse is listening on "
	refReadyPrefix       = "reference broadcast server listening on "
)

// spawnStartTimeout bounds a spawned server's start; spawnStopTimeout its
// graceful stop before it is killed.
const (
	spawnStartTimeout = 60 * time.Second
	spawnStopTimeout  = 20 * time.Second
)

// spawned is a server process bench started.
type spawned struct {
	cmd     *exec.Cmd
	addr    string // host:port from its first line
	dataDir string // removed at stop; "" for none
	logs    *tailBuffer
	logFile *os.File // -server-log, or nil
	exited  chan struct{}
	waitErr error
}

// spawnServer starts exe with args and env, reads its address from the
// first standard output line (after prefix), and keeps the tail of its
// output for error messages.
func spawnServer(ctx context.Context, exe string, args, env []string, prefix, dataDir, logPath string) (*spawned, error) {
	s := &spawned{dataDir: dataDir, logs: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	var sink io.Writer = s.logs
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, fmt.Errorf("server log: %w", err)
		}
		s.logFile = f
		sink = io.MultiWriter(s.logs, f)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	cmd.Stderr = sink
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		if s.logFile != nil {
			s.logFile.Close()
		}
		return nil, fmt.Errorf("start %s: %w", strings.Join(args, " "), err)
	}
	s.cmd = cmd
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
				continue
			}
			fmt.Fprintln(sink, sc.Text())
		}
		if first {
			close(lines)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t := time.NewTimer(spawnStartTimeout)
	defer t.Stop()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, prefix)
		if ok && found {
			s.addr = strings.TrimSpace(addr)
			return s, nil
		}
		if ok {
			s.logs.WriteString(line + "\n")
		}
		<-waitOr(s.exited, 5*time.Second)
		s.stop()
		return nil, fmt.Errorf("%s did not start: %s", args[0], s.logs.lastLine())
	case <-t.C:
		s.stop()
		return nil, fmt.Errorf("%s printed no address within %v: %s", args[0], spawnStartTimeout, s.logs.lastLine())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// pid is the server's process id.
func (s *spawned) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM, waits for a graceful exit, kills it after
// spawnStopTimeout, and removes its data directory.
func (s *spawned) stop() error {
	var err error
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(spawnStopTimeout):
			_ = s.cmd.Process.Kill()
			<-waitOr(s.exited, 5*time.Second)
			err = fmt.Errorf("server did not stop within %v of SIGTERM; killed", spawnStopTimeout)
		}
	}
	if s.dataDir != "" {
		_ = os.RemoveAll(s.dataDir)
	}
	if s.logFile != nil {
		<-waitOr(s.exited, time.Second)
		_ = s.logFile.Close()
	}
	return err
}

// alive reports whether the server is still running.
func (s *spawned) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// waitOr is ch, or a channel closed after d.
func waitOr(ch <-chan struct{}, d time.Duration) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ch:
		case <-t.C:
		}
	}()
	return out
}

// serverEnv is this process's environment without PORTHOUSE_ settings
// (the spawned server gets its settings from flags), plus extra.
func serverEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTHOUSE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) WriteString(s string) { _, _ = t.Write([]byte(s)) }

// String is everything kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// lastLine is the last non-empty line kept, or a note that there was none.
func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(t.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return truncate(l, 300)
		}
	}
	return "no output"
}
