package mesh

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/router"
)

// got is one call a fakeReceiver saw. Envelope forms are read on the
// reader goroutine, as a real receiver would.
type got struct {
	call   string // room | direct | presence
	target string // room or socket id
	id     string
	from   string
	event  string
	socket string
	env    *router.Envelope
}

// fakeReceiver records every call. Direct messages are accepted for the
// sockets in here.
type fakeReceiver struct {
	mu    sync.Mutex
	calls []got
	here  map[string]bool
}

func newFakeReceiver(sockets ...string) *fakeReceiver {
	r := &fakeReceiver{here: make(map[string]bool)}
	for _, s := range sockets {
		r.here[s] = true
	}
	return r
}

func (r *fakeReceiver) DeliverRoom(room string, env *router.Envelope) {
	r.add(got{call: "room", target: room, id: env.ID, from: env.From, env: env})
}

func (r *fakeReceiver) DeliverDirect(socketID string, env *router.Envelope) bool {
	r.mu.Lock()
	ok := r.here[socketID]
	r.mu.Unlock()
	r.add(got{call: "direct", target: socketID, id: env.ID, from: env.From, env: env})
	return ok
}

func (r *fakeReceiver) AnnounceLocal(room, eventType, socket string) {
	r.add(got{call: "presence", target: room, event: eventType, socket: socket})
}

func (r *fakeReceiver) add(g got) {
	r.mu.Lock()
	r.calls = append(r.calls, g)
	r.mu.Unlock()
}

func (r *fakeReceiver) snapshot() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.calls...)
}

func (r *fakeReceiver) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// ids returns the message ids of the calls for target, in arrival order.
func (r *fakeReceiver) ids(target string) []string {
	var out []string
	for _, g := range r.snapshot() {
		if g.target == target {
			out = append(out, g.id)
		}
	}
	return out
}

// shortDir is a temp directory whose socket paths stay far below the
// 108-byte sun_path limit whatever the test's name.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mesh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startMesh starts a mesh closed at the end of the test.
func startMesh(t testing.TB, cfg Config, recv Receiver) *Mesh {
	t.Helper()
	m, err := New(cfg, recv)
	if err != nil {
		t.Fatalf("New(%d): %v", cfg.Self, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func bufferLogger(buf *syncBuffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Debug})
}

// waitGoroutines polls until at most n goroutines run.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
