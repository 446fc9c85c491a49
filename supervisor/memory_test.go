package supervisor

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

var sink [][]byte

// TestReleaseFreeHeap frees a burst's worth of heap and waits for the
// releaser to return it to the OS once the process is calm.
func TestReleaseFreeHeap(t *testing.T) {
	for range 64 << 10 {
		sink = append(sink, make([]byte, 512))
	}
	sink = nil
	runtime.GC()
	free := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(free)
	if free[0].Value.Uint64() < 8<<20 {
		t.Skipf("only %d bytes free after the burst; the runtime returned them already", free[0].Value.Uint64())
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		releaseFreeHeap(ctx, 50*time.Millisecond, 1<<20)
	}()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		metrics.Read(free)
		if free[0].Value.Uint64() < 1<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of free heap still held after 10 s", free[0].Value.Uint64())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
