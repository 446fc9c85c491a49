package epollset

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitParks: a Wait with nothing ready returns the event another
// goroutine makes ready, and a Wait parked with nothing ready ends with an
// error on Close. The last needs the parking: closing an epoll descriptor
// does not wake a thread blocked in epoll_wait on it.
func TestWaitParks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 7}
	if err := unix.EpollCtl(s.FD(), unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		t.Fatal(err)
	}

	got := make(chan []unix.EpollEvent, 1)
	errs := make(chan error, 1)
	go func() {
		evs, err := s.Wait()
		if err != nil {
			errs <- err
			return
		}
		got <- append([]unix.EpollEvent(nil), evs...)
		for { // until Close ends a Wait
			if _, err := s.Wait(); err != nil {
				errs <- err
				return
			}
		}
	}()
	runtime.Gosched() // let the waiter park first
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if _, err := unix.Write(efd, one); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-got:
		if len(evs) != 1 || evs[0].Fd != 7 {
			t.Fatalf("Wait = %+v, want the eventfd's event", evs)
		}
	case err := <-errs:
		t.Fatalf("Wait: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return the ready event")
	}
	var buf [8]byte
	_, _ = unix.Read(efd, buf[:]) // no longer ready
	time.Sleep(10 * time.Millisecond)
	s.Close()
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("Wait after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not end on Close")
	}
}
