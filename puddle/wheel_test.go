package puddle

import (
	"sync"
	"testing"
	"time"
)

// at is a unix time in nanoseconds t after base.
func at(base time.Time, t time.Duration) int64 { return base.Add(t).UnixNano() }

func dueSet(w *wheel, now time.Time) map[*Socket]bool {
	out := map[*Socket]bool{}
	for _, s := range w.collect(now) {
		out[s] = true
	}
	return out
}

func TestWheelFiresAtDeadlines(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	w := newWheel(base, nil)
	a, b, c := &Socket{}, &Socket{}, &Socket{}
	w.scheduleAt(a, at(base, 120*time.Millisecond))
	w.scheduleAt(b, at(base, 30*time.Second))
	w.scheduleAt(c, at(base, 2*time.Minute)) // more than one turn away

	if got := dueSet(w, base.Add(100*time.Millisecond)); len(got) != 0 {
		t.Fatalf("due before any deadline: %d sockets", len(got))
	}
	if got := dueSet(w, base.Add(150*time.Millisecond)); !got[a] || len(got) != 1 {
		t.Fatalf("at 150ms: want only a due, got %v", got)
	}
	if a.wwhen != 0 || a.wnext != nil || a.wprev != nil {
		t.Fatal("a fired socket is still linked")
	}
	// c shares slots with deadlines one turn earlier: passing them must not fire it.
	if got := dueSet(w, base.Add(30*time.Second+wheelTick)); !got[b] || len(got) != 1 {
		t.Fatalf("at 30s: want only b due, got %v", got)
	}
	if got := dueSet(w, base.Add(119*time.Second)); len(got) != 0 {
		t.Fatalf("at 119s: want nothing due, got %v", got)
	}
	if got := dueSet(w, base.Add(2*time.Minute+wheelTick)); !got[c] || len(got) != 1 {
		t.Fatalf("at 2m: want only c due, got %v", got)
	}
	if w.count != 0 {
		t.Fatalf("count %d after every socket fired", w.count)
	}
}

func TestWheelRescheduleAndCancel(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	w := newWheel(base, nil)
	var socks [5]*Socket
	for i := range socks {
		socks[i] = &Socket{}
		w.scheduleAt(socks[i], at(base, time.Second)) // one slot, a list of five
	}
	w.cancel(socks[2])                                    // middle of the list
	w.cancel(socks[4])                                    // its head
	w.scheduleAt(socks[0], at(base, 3*time.Second))       // moved later
	w.scheduleAt(socks[1], at(base, 10*time.Millisecond)) // moved earlier
	w.cancel(socks[2])                                    // twice is harmless

	if got := dueSet(w, base.Add(100*time.Millisecond)); !got[socks[1]] || len(got) != 1 {
		t.Fatalf("at 100ms: want socks[1], got %v", got)
	}
	if got := dueSet(w, base.Add(2*time.Second)); !got[socks[3]] || len(got) != 1 {
		t.Fatalf("at 2s: want socks[3], got %v", got)
	}
	if got := dueSet(w, base.Add(4*time.Second)); !got[socks[0]] || len(got) != 1 {
		t.Fatalf("at 4s: want socks[0], got %v", got)
	}
	if w.count != 0 {
		t.Fatalf("count %d, want 0", w.count)
	}
}

func TestWheelLateTicksAndPastDeadlines(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	w := newWheel(base, nil)
	a, b := &Socket{}, &Socket{}
	w.scheduleAt(a, at(base, 5*time.Second))
	// The wheel's goroutine was away for more than a whole turn.
	if got := dueSet(w, base.Add(3*time.Minute)); !got[a] {
		t.Fatalf("a late wheel lost a due socket: %v", got)
	}
	// A deadline already passed goes to the next tick.
	w.scheduleAt(b, at(base, time.Second))
	if got := dueSet(w, base.Add(3*time.Minute+wheelTick)); !got[b] {
		t.Fatalf("a past deadline did not fire at the next tick: %v", got)
	}
}

func TestWheelSkipsEndedSockets(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	w := newWheel(base, nil)
	s := &Socket{}
	s.ended.Store(true)
	w.scheduleAt(s, at(base, time.Second))
	if w.count != 0 || s.wwhen != 0 {
		t.Fatal("an ended socket was scheduled")
	}
}

// TestWheelRuns checks the running wheel: sockets fire once each, not
// before their deadline, and the wheel sleeps and wakes as sockets come.
func TestWheelRuns(t *testing.T) {
	var mu sync.Mutex
	fired := map[*Socket]time.Time{}
	done := make(chan struct{}, 16)
	w := newWheel(time.Now(), func(s *Socket) {
		mu.Lock()
		if _, dup := fired[s]; dup {
			t.Errorf("socket fired twice")
		}
		fired[s] = time.Now()
		mu.Unlock()
		done <- struct{}{}
	})
	w.start()
	defer w.close()

	start := time.Now()
	socks := []*Socket{{}, {}, {}}
	delays := []time.Duration{0, 60 * time.Millisecond, 200 * time.Millisecond}
	for i, s := range socks {
		w.schedule(s, delays[i])
	}
	for range socks {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the wheel did not fire every socket")
		}
	}
	mu.Lock()
	for i, s := range socks {
		if got := fired[s].Sub(start); got < delays[i] {
			t.Errorf("socket %d fired after %v, before its %v deadline", i, got, delays[i])
		}
	}
	mu.Unlock()

	// Empty now: the wheel sleeps, and a new socket wakes it.
	s := &Socket{}
	w.schedule(s, 10*time.Millisecond)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the wheel did not wake for a socket scheduled while it slept")
	}
}
