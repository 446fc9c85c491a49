package supervisor_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// TestSuperviseBinary runs the real `porthouse` binary, built once, for
// what needs a whole process: signals to the supervisor and a worker run
// by hand.
func TestSuperviseBinary(t *testing.T) {
	t.Parallel()
	bin := buildPorthouse(t)
	t.Run("SIGTERM drains and leaves no worker", func(t *testing.T) { t.Parallel(); testSIGTERM(t, bin) })
	t.Run("SIGKILL of the supervisor takes the workers", func(t *testing.T) { t.Parallel(); testSIGKILL(t, bin) })
	t.Run("puddle by hand refuses", func(t *testing.T) { t.Parallel(); testPuddleByHand(t, bin) })
	t.Run("SIGHUP reloads live settings", func(t *testing.T) { t.Parallel(); testSIGHUP(t, bin) })
}

// buildPorthouse builds ./cmd/porthouse into a temporary directory.
func buildPorthouse(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "porthouse")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/porthouse/porthouse/cmd/porthouse").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running `porthouse supervise`.
type proc struct {
	cmd    *exec.Cmd
	addr   string // host:port from the first stdout line
	url    string
	ws     string
	secret string // the bootstrap lobby token
	key    string // an API key of the admin
	log    *logRecorder
	done   chan struct{} // closed when the process has exited
}

// startBinary runs `porthouse supervise -workers 2 -listen 127.0.0.1:0`
// with args, learns the port from stdout, waits for /readyz and makes an
// API key. The process is killed when the test ends if it still runs.
func startBinary(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	args = append([]string{"supervise", "-workers", "2", "-listen", "127.0.0.1:0", "-data", t.TempDir()}, args...)
	p := &proc{log: &logRecorder{mark: "configuration reloaded"}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "PORTHOUSE_ADMIN_PASSWORD="+testserver.AdminPassword)
	p.cmd.Stderr = p.log
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads the rest
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})

	timeout := time.After(15 * time.Second)
	for p.addr == "" || p.secret == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout ended before the address and token:\n%s", p.log)
			}
			if p.addr == "" {
				const prefix = "Porthouse is listening on "
				if !strings.HasPrefix(line, prefix) {
					t.Fatalf("first stdout line %q, want %q...", line, prefix)
				}
				p.addr = strings.TrimPrefix(line, prefix)
			}
			if _, after, ok := strings.Cut(line, " secret: "); ok {
				p.secret, _, _ = strings.Cut(after, " ")
			}
		case <-timeout:
			t.Fatalf("no address and token on stdout within 15s:\n%s", p.log)
		}
	}
	p.url, p.ws = "http://"+p.addr, "ws://"+p.addr
	q := newQuickHTTP(p.url, "")
	poll(t, 15*time.Second, "/readyz 200", func() bool {
		st, _ := q.get(t, "/readyz")
		return st == http.StatusOK
	})
	p.key = loginKey(t, p.url)
	return p
}

// loginKey logs in as the admin and makes an API key.
func loginKey(t *testing.T, base string) string {
	t.Helper()
	post := func(path string, body any, cookie *http.Cookie) *http.Response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/api/v1/login", map[string]string{"username": "admin", "password": testserver.AdminPassword}, nil)
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "porthouse_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp = post("/api/v1/api-keys", map[string]string{"name": "test"}, session)
	defer resp.Body.Close()
	var k struct{ Secret string }
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("api key: %d %v", resp.StatusCode, err)
	}
	return k.Secret
}

// waitExit waits up to d for the process to exit and returns its status.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("still running %v later:\n%s", d, p.log)
		return 0
	}
}

// spreadBinary dials lobby sockets until both workers hold one, and closes
// any others it made.
func spreadBinary(t *testing.T, p *proc) []*member {
	t.Helper()
	q := newQuickHTTP(p.url, p.key)
	var kept []*member
	have := map[int]bool{}
	for range maxDials {
		c := wstest.MustDial(t, p.ws+"/ws", wstest.Bearer(p.secret))
		w := c.Next()
		m := &member{Conn: c, id: w.Str("socket")}
		poll(t, 5*time.Second, "socket "+m.id+" in the sockets API", func() bool {
			m.worker = q.sockets(t, "lobby")[m.id]
			return m.worker != 0
		})
		if have[m.worker] {
			c.Close()
			continue
		}
		have[m.worker] = true
		kept = append(kept, m)
		if len(kept) == 2 {
			return kept
		}
	}
	t.Fatalf("no sockets on both workers in %d dials", maxDials)
	return nil
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("no /proc: %v", err)
	}
	var out []int
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procStat returns the state and parent of pid from /proc/pid/stat.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// alive reports whether pid is a running process (a zombie has exited).
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// workerPIDs waits until the supervisor has its two worker children.
func workerPIDs(t *testing.T, p *proc) []int {
	t.Helper()
	var kids []int
	poll(t, 5*time.Second, "two worker processes", func() bool {
		kids = childrenOf(t, p.cmd.Process.Pid)
		return len(kids) == 2
	})
	return kids
}

// expectGone fails unless every pid has exited within d.
func expectGone(t *testing.T, pids []int, d time.Duration, what string) {
	t.Helper()
	poll(t, d, what, func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

func testSIGTERM(t *testing.T, bin string) {
	p := startBinary(t, bin, "-shutdown-timeout", "5s")
	kids := workerPIDs(t, p)
	ms := spreadBinary(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		expectCloseCode(t, m, 1001)
	}
	if code := p.waitExit(t, 6*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, p.log)
	}
	// The supervisor waited for its workers: none may outlive it (a zombie
	// left to init has exited).
	for _, pid := range kids {
		if alive(pid) {
			t.Errorf("worker %d still runs after the supervisor exited", pid)
		}
	}
	if strings.Contains(p.log.String(), "panic") {
		t.Errorf("panic in the log:\n%s", p.log)
	}
}

func testSIGKILL(t *testing.T, bin string) {
	p := startBinary(t, bin)
	kids := workerPIDs(t, p)
	ms := spreadBinary(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, 5*time.Second)
	expectGone(t, kids, 5*time.Second, "workers exit after their supervisor was killed")
	for _, m := range ms {
		expectDrop(t, m)
	}
}

func testPuddleByHand(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "puddle")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTHOUSE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("porthouse puddle by hand: %v, want a non-zero exit\n%s", err, out)
	}
	if !strings.Contains(string(out), "started by `porthouse supervise`") {
		t.Fatalf("porthouse puddle by hand says %q, want it to name supervise", out)
	}
}

func testSIGHUP(t *testing.T, bin string) {
	file := filepath.Join(t.TempDir(), "porthouse.toml")
	if err := os.WriteFile(file, []byte("max_message_bytes = 65536\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, bin, "-config", file)
	if got := welcomeLimit(t, p); got != 65536 {
		t.Fatalf("welcome.limits.max_message_bytes %v before the reload, want 65536", got)
	}
	if err := os.WriteFile(file, []byte("max_message_bytes = 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll(t, 5*time.Second, "configuration reloaded in the log", func() bool { return len(p.log.marks()) > 0 })
	line := ""
	for _, l := range strings.Split(p.log.String(), "\n") {
		if strings.Contains(l, "configuration reloaded") {
			line = l
		}
	}
	if !strings.Contains(line, "max_message_bytes") {
		t.Fatalf("reload line %q does not list max_message_bytes", line)
	}
	// New sockets on both workers get the new limit and have it enforced.
	q := newQuickHTTP(p.url, p.key)
	seen := map[int]bool{}
	for i := 0; len(seen) < 2; i++ {
		if i == maxDials {
			t.Fatalf("new sockets only on workers %v in %d dials", seen, maxDials)
		}
		c := wstest.MustDial(t, p.ws+"/ws", wstest.Bearer(p.secret))
		w := c.Next()
		if got := limit(w); got != 1000 {
			t.Fatalf("welcome %v after the reload, want max_message_bytes 1000", w)
		}
		m := &member{Conn: c, id: w.Str("socket")}
		poll(t, 5*time.Second, "socket "+m.id+" in the sockets API", func() bool {
			m.worker = q.sockets(t, "lobby")[m.id]
			return m.worker != 0
		})
		if !seen[m.worker] {
			seen[m.worker] = true
			if err := send(c, map[string]any{"room": "lobby", "data": strings.Repeat("x", 2000), "ref": "big"}); err != nil {
				t.Fatal(err)
			}
			e := expect(t, m, "answer to a 2000-byte send", func(msg wstest.Msg) bool { return msg.Str("ref") == "big" })
			if e.Type() != "error" || e.Str("code") != "too_large" {
				t.Fatalf("worker %d: a 2000-byte send after the reload got %v, want error too_large", m.worker, e)
			}
		}
		c.Close()
	}
}

// welcomeLimit dials once and returns welcome.limits.max_message_bytes.
func welcomeLimit(t *testing.T, p *proc) float64 {
	t.Helper()
	c := wstest.MustDial(t, p.ws+"/ws", wstest.Bearer(p.secret))
	defer c.Close()
	return limit(c.Next())
}

func limit(welcome wstest.Msg) float64 {
	l, _ := welcome["limits"].(map[string]any)
	n, _ := l["max_message_bytes"].(float64)
	return n
}
