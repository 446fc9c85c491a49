package puddle

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pollPair is a connected pair of stream sockets: a, a non-blocking fdConn
// on the poller, and b, the test's side, a net.Conn (its waits park in Go's
// scheduler, so they hold no P while the poller's side runs).
type pollPair struct {
	a *fdConn
	b net.Conn
}

// startPoller runs a poller's two loops until the test ends.
func startPoller(tb testing.TB) *poller {
	tb.Helper()
	p, err := newPoller()
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.run() }()
	go func() { defer wg.Done(); p.runWrites() }()
	tb.Cleanup(func() {
		p.close()
		wg.Wait() // the loops return once woken
		p.release()
	})
	return p
}

func newPollPair(tb testing.TB, p *poller) pollPair {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "test side")
	b, err := net.FileConn(f)
	f.Close()
	if err != nil {
		tb.Fatal(err)
	}
	pp := pollPair{a: newFDConn(p, fds[0], nil), b: b}
	tb.Cleanup(func() {
		pp.a.Close()
		pp.b.Close()
	})
	return pp
}

// TestPollerWakesWaiters: a read and a write that wait for the poller are
// woken by their peer, with one P, and the loops end on close. (That a
// waiting loop holds no P is checked in internal/epollset and measured by
// BenchmarkPollerWake.)
func TestPollerWakesWaiters(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := startPoller(t)
	pp := newPollPair(t, p)
	_ = pp.a.SetDeadline(time.Now().Add(10 * time.Second)) // a lost wake-up fails, not hangs

	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := pp.a.Read(buf)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got <- buf[:n]
	}()
	time.Sleep(20 * time.Millisecond) // let the reader wait for readiness
	if _, err := pp.b.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "ping" {
		t.Fatalf("read %q, want ping", b)
	}

	// Fill the peer's buffer: the writer waits for write readiness, and
	// finishes once the test side drains it.
	big := bytes.Repeat([]byte{'x'}, 4<<20)
	wrote := make(chan error, 1)
	go func() {
		_, err := pp.a.Write(big)
		wrote <- err
	}()
	var drained int
	buf := make([]byte, 64<<10)
	for drained < len(big) {
		n, err := pp.b.Read(buf)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		drained += n
	}
	if err := <-wrote; err != nil {
		t.Fatalf("write: %v", err)
	}
}

// BenchmarkPollerWake: one round trip through the poller: the test side
// writes a byte, a reader waiting for readiness is woken and answers. With
// -cpu 1 this is where a loop blocked in epoll_wait cost up to the runtime
// monitor's tick (milliseconds) per wake.
func BenchmarkPollerWake(b *testing.B) {
	p := startPoller(b)
	pp := newPollPair(b, p)
	_ = pp.a.SetDeadline(time.Now().Add(time.Minute))
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := pp.a.Read(buf); err != nil {
				return
			}
			if _, err := pp.a.Write(buf); err != nil {
				return
			}
		}
	}()
	one := []byte{1}
	buf := make([]byte, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pp.b.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := pp.b.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
