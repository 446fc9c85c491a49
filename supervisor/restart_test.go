package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
	"github.com/porthouse/porthouse/supervisor"
)

// quickHTTP reaches the server while a worker is down. The kernel queues a
// new connection on the dead worker's listener until the worker is back,
// so each try gives up quickly and the next one usually lands on the live
// worker; keep-alive then keeps that connection.
type quickHTTP struct {
	base string
	key  string
	c    *http.Client
}

func newQuickHTTP(base, key string) *quickHTTP {
	return &quickHTTP{base: base, key: key, c: &http.Client{Timeout: 300 * time.Millisecond}}
}

// get returns the status and body of GET path, retrying transport errors
// (at most 50 tries).
func (q *quickHTTP) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	var last error
	for range 50 {
		req, err := http.NewRequest("GET", q.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.key != "" {
			req.Header.Set("Authorization", "Bearer "+q.key)
		}
		resp, err := q.c.Do(req)
		if err != nil {
			last = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		return resp.StatusCode, body
	}
	t.Fatalf("GET %s: no answer in 50 tries: %v", path, last)
	return 0, nil
}

// sockets is the sockets API of room through q: id → worker.
func (q *quickHTTP) sockets(t *testing.T, room string) map[string]int {
	t.Helper()
	st, body := q.get(t, "/api/v1/rooms/"+room+"/sockets")
	var list []socketInfo
	if st != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("sockets of %s: %d %s", room, st, body)
	}
	out := make(map[string]int, len(list))
	for _, s := range list {
		out[s.ID] = s.Worker
	}
	return out
}

// dialMany opens and closes n envelope sockets one after another; each must
// be welcomed. It runs outside the test goroutine.
func dialMany(url, secret string, n int) error {
	for i := range n {
		c, err := wstest.Dial(url, wstest.Bearer(secret))
		if err != nil {
			return fmt.Errorf("dial %d of %d: %w", i+1, n, err)
		}
		welcomed := false
		err = readUntil(c, wstest.Timeout, func(m wstest.Msg) (bool, error) {
			welcomed = m.Type() == "welcome"
			return true, nil
		})
		c.Close()
		if err != nil || !welcomed {
			return fmt.Errorf("dial %d of %d: no welcome: %v", i+1, n, err)
		}
	}
	return nil
}

// TestWorkerKilled SIGKILLs a worker process while its clients are
// connected: they drop, the sequence forgets their sockets at once (slots
// freed, member.left elsewhere), the server keeps taking connections, and
// the worker comes back on the same listener and serves again.
func TestWorkerKilled(t *testing.T) {
	srv := testserver.StartSupervised(t, 2)
	srv.CreateRoom("pres", map[string]any{"presence": true})
	tok := srv.CreateToken(map[string]any{"name": "killed", "max_connections": 50,
		"subscriptions": []any{testserver.Sub("pres", true, true)}})
	dialer := srv.CreateToken(map[string]any{"name": "dialer", "max_connections": 50,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	ms := spread(t, srv, tok.Secret, "pres", 2, 2)
	victims, survivors := onWorker(ms, 1), onWorker(ms, 2)
	observer := survivors[0]
	var victimSlots []int
	for _, v := range victims {
		victimSlots = append(victimSlots, v.slot(t))
	}
	sort.Ints(victimSlots)
	q := newQuickHTTP(srv.URL, srv.APIKey)
	oldPID := srv.Sup.WorkerPIDs()[0]
	if oldPID == 0 {
		t.Fatalf("worker 1 is not up: %v", srv.Sup.WorkerPIDs())
	}

	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	dialed := make(chan error, 1)
	go func() { dialed <- dialMany(srv.WSURL+"/ws", dialer.Secret, 20) }()

	for _, v := range victims {
		expectDrop(t, v)
	}
	// The supervisor announces member.left after it released the sockets
	// from the sequence, so this also bounds the release.
	// The announcements come in the supervisor's order (socket id order),
	// so wait for the set, whatever the order.
	left := map[string]bool{}
	for _, v := range victims {
		left[v.id] = true
	}
	for len(left) > 0 {
		m := expect(t, observer, fmt.Sprintf("member.left of %d more", len(left)), func(m wstest.Msg) bool {
			return m.Type() == "member.left" && m.Str("room") == "pres" && left[m.Str("socket")]
		})
		delete(left, m.Str("socket"))
	}
	if d := time.Since(killed); d > time.Second {
		t.Fatalf("member.left of the killed worker's sockets took %v, want under 1s", d)
	}
	socks := q.sockets(t, "pres")
	for _, v := range victims {
		if _, ok := socks[v.id]; ok {
			t.Fatalf("socket %s of the killed worker is still in the sockets API: %v", v.id, socks)
		}
	}
	for _, s := range survivors {
		if socks[s.id] != 2 {
			t.Fatalf("socket %s of worker 2 missing from the sockets API: %v", s.id, socks)
		}
	}

	// The freed slots are the lowest free ones: the next dials get them.
	var reused []int
	for range victims {
		reused = append(reused, dialMember(t, srv, tok.Secret, "pres").slot(t))
	}
	sort.Ints(reused)
	if fmt.Sprint(reused) != fmt.Sprint(victimSlots) {
		t.Fatalf("new sockets got slots %v, want the killed worker's %v", reused, victimSlots)
	}

	if err := <-dialed; err != nil {
		t.Fatalf("connections during the restart: %v", err)
	}
	newPID := 0
	poll(t, 15*time.Second, "worker 1 restarted", func() bool {
		newPID = srv.Sup.WorkerPIDs()[0]
		return newPID != 0 && newPID != oldPID
	})
	poll(t, 15*time.Second, "/readyz back to 200", func() bool {
		st, _ := q.get(t, "/readyz")
		return st == http.StatusOK
	})
	if !strings.Contains(srv.LogText(), "worker exited; restarting") {
		t.Errorf("no restart in the log:\n%s", srv.LogText())
	}

	// The restarted worker serves sockets that talk to the other worker.
	back := dialOnto(t, srv, tok.Secret, "pres", 1)
	expect(t, observer, "member.joined of "+back.id, isEvent("member.joined", "pres", back.id))
	if err := send(back.Conn, map[string]any{"room": "pres", "data": "back again"}); err != nil {
		t.Fatal(err)
	}
	expect(t, observer, "message from the restarted worker", isMessage("back again"))
	if err := send(observer.Conn, map[string]any{"room": "pres", "data": "welcome back"}); err != nil {
		t.Fatal(err)
	}
	expect(t, back, "message to the restarted worker", isMessage("welcome back"))
}

// logRecorder is a log sink that notes when each line holding mark was
// written.
type logRecorder struct {
	mark string

	mu    sync.Mutex
	buf   bytes.Buffer
	times []time.Time
}

func (r *logRecorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		if strings.Contains(line, r.mark) {
			r.times = append(r.times, now)
		}
	}
	return len(p), nil
}

func (r *logRecorder) marks() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.times...)
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// startSupervisor starts a supervisor with two workers built by cmd and
// shuts it down when the test ends; it does not wait for the workers.
func startSupervisor(t *testing.T, out io.Writer, cmd func(id int) *exec.Cmd) *supervisor.Supervisor {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = config.Secret(testserver.AdminPassword)
	cfg.Workers = 2
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: out})
	sup, err := supervisor.New(cfg, log, supervisor.Options{WorkerCmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	return sup
}

// shutdownPromptly shuts sup down and fails if that takes 3 s or more.
func shutdownPromptly(t *testing.T, sup *supervisor.Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_ = sup.Shutdown(ctx)
	if d := time.Since(start); d >= 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
}

// TestCrashingWorkerBacksOff runs worker 2 as a binary that exits at once:
// the supervisor logs each failed start, waits 100 ms, 200 ms, 400 ms ...
// between them instead of spinning, reports not ready while worker 1
// serves, and still shuts down promptly.
func TestCrashingWorkerBacksOff(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{mark: "worker-2: worker failed to start"}
	sup := startSupervisor(t, rec, func(id int) *exec.Cmd {
		cmd := testserver.WorkerCmd(id)
		if id == 2 {
			cmd.Env = append(cmd.Env, envCrash+"=1")
		}
		return cmd
	})
	poll(t, 15*time.Second, "worker 1 up", func() bool { return sup.WorkerPIDs()[0] != 0 })

	// Six failed starts: the gaps must double from 100 ms (2.79 s or more
	// in all with 10% slack); a spinning supervisor makes hundreds.
	const starts = 6
	poll(t, 15*time.Second, fmt.Sprintf("%d failed starts of worker 2", starts), func() bool {
		return len(rec.marks()) >= starts
	})
	marks := rec.marks()
	backoff := 100 * time.Millisecond
	for i := 1; i < starts; i++ {
		if gap := marks[i].Sub(marks[i-1]); gap < backoff*9/10 {
			t.Errorf("failed start %d came %v after the one before, want at least %v", i+1, gap, backoff)
		}
		backoff *= 2
	}
	if n := len(rec.marks()); n > starts+1 {
		t.Errorf("%d failed starts in %v", n, time.Since(marks[0]))
	}
	log := rec.String()
	if !strings.Contains(log, "worker-2: worker exited; restarting") || !strings.Contains(log, "crashing on purpose") {
		t.Errorf("log lacks the restart or the worker's own output:\n%s", log)
	}

	q := newQuickHTTP("http://"+sup.Addr().String(), "")
	if st, body := q.get(t, "/readyz"); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz with worker 2 down: %d %s, want 503", st, body)
	}
	if sup.WorkerPIDs()[1] != 0 {
		t.Errorf("worker 2 reported up: %v", sup.WorkerPIDs())
	}
	shutdownPromptly(t, sup)
}

// TestHungWorkerShutdown runs worker 2 as a process that never answers the
// plugin handshake: Shutdown must not wait for the start timeout.
func TestHungWorkerShutdown(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{mark: "worker-2: waiting for RPC address"}
	sup := startSupervisor(t, rec, func(id int) *exec.Cmd {
		if id == 2 {
			return exec.Command("sleep", "60")
		}
		return testserver.WorkerCmd(id)
	})
	poll(t, 15*time.Second, "worker 1 up", func() bool { return sup.WorkerPIDs()[0] != 0 })
	poll(t, 15*time.Second, "worker 2 starting", func() bool { return len(rec.marks()) > 0 })
	shutdownPromptly(t, sup)
}
