package router

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// parseID splits an id into milliseconds since the epoch, worker and
// sequence.
func parseID(t testing.TB, id string) (ms int64, worker, seq uint64) {
	t.Helper()
	if !idPattern.MatchString(id) {
		t.Fatalf("id %q is not 16 lowercase hex digits", id)
	}
	v, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v >> 22), v >> 16 & 0x3F, v & 0xFFFF
}

func TestIDGenConcurrentUniqueIncreasing(t *testing.T) {
	const goroutines, each = 4, 25000
	g := NewIDGen(5)
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			list := make([]string, each)
			for j := range list {
				list[j] = g.Next()
			}
			ids[i] = list
		}()
	}
	wg.Wait()

	seen := make(map[string]bool, goroutines*each)
	for i, list := range ids {
		for j, id := range list {
			if !idPattern.MatchString(id) {
				t.Fatalf("id %q is not 16 lowercase hex digits", id)
			}
			if seen[id] {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = true
			if j > 0 && id <= list[j-1] {
				t.Fatalf("goroutine %d: id %s after %s is not greater", i, id, list[j-1])
			}
		}
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d unique ids, want %d", len(seen), goroutines*each)
	}
}

func TestIDGenLayout(t *testing.T) {
	g := NewIDGen(42)
	before := time.Now().UnixMilli()
	id := g.Next()
	after := time.Now().UnixMilli()
	ms, worker, _ := parseID(t, id)
	if ms+idEpoch < before || ms+idEpoch > after {
		t.Errorf("id %s carries time %d, want within [%d, %d]", id, ms+idEpoch, before, after)
	}
	if worker != 42 {
		t.Errorf("id %s carries worker %d, want 42", id, worker)
	}

	_, w1, _ := parseID(t, NewIDGen(1).Next())
	_, w2, _ := parseID(t, NewIDGen(2).Next())
	if w1 != 1 || w2 != 2 {
		t.Errorf("worker bits %d and %d, want 1 and 2", w1, w2)
	}
	// Two workers at the same instant never make the same id.
	at := time.UnixMilli(idEpoch + 1000)
	a, b := NewIDGen(1), NewIDGen(2)
	a.now = func() time.Time { return at }
	b.now = func() time.Time { return at }
	if a.Next() == b.Next() {
		t.Error("workers 1 and 2 made the same id")
	}
}

func TestIDGenFrozenClock(t *testing.T) {
	const n = 70000
	at := time.UnixMilli(idEpoch + 123456789)
	g := NewIDGen(3)
	g.now = func() time.Time { return at }
	seen := make(map[string]bool, n)
	prev := ""
	for i := 0; i < n; i++ {
		id := g.Next()
		if seen[id] {
			t.Fatalf("id %d: duplicate %s", i, id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("id %d: %s after %s is not greater", i, id, prev)
		}
		prev = id
		ms, worker, seq := parseID(t, id)
		if worker != 3 {
			t.Fatalf("id %d: worker %d", i, worker)
		}
		// 65536 sequence numbers per millisecond, then the next one is
		// borrowed.
		if wantMS, wantSeq := int64(123456789+i/65536), uint64(i%65536); ms != wantMS || seq != wantSeq {
			t.Fatalf("id %d = %s: ms %d seq %d, want %d %d", i, id, ms, seq, wantMS, wantSeq)
		}
	}

	// When the clock reaches the borrowed millisecond, ids keep increasing.
	at = at.Add(time.Millisecond)
	if id := g.Next(); id <= prev {
		t.Fatalf("id %s after the clock caught up is not greater than %s", id, prev)
	}
	// A fresh millisecond restarts the sequence.
	at = at.Add(10 * time.Millisecond)
	id := g.Next()
	if ms, _, seq := parseID(t, id); ms != 123456789+11 || seq != 0 {
		t.Fatalf("id %s: ms %d seq %d, want a fresh millisecond", id, ms, seq)
	}
	prev = id
	// A clock that steps back does not make ids go back.
	at = at.Add(-time.Second)
	for i := 0; i < 3; i++ {
		id := g.Next()
		if id <= prev {
			t.Fatalf("id %s after the clock stepped back is not greater than %s", id, prev)
		}
		prev = id
	}
}
