package supervisor

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning free heap to the OS after a burst.
//
// A burst of connections makes the supervisor and every worker allocate
// fast for a while (three sequence calls per socket over gRPC, handshake
// buffers), and the heap grows to hold that garbage. Once the burst is over
// the sockets stay, the garbage is gone, and the runtime's scavenger keeps
// the freed pages resident down to about 10% above the next GC goal only,
// slowly; idle sockets would pay for the burst for as long as they live.
const (
	// releaseEvery is how often a process looks at its free heap.
	releaseEvery = 5 * time.Second
	// releaseMin is the free heap worth a forced collection to return.
	releaseMin = 2 << 20
)

// releaseFreeHeap returns the free heap pages to the OS (debug.FreeOSMemory)
// whenever, over the last period, the process allocated less than the free
// heap it holds: it is calm, and those pages would stay unused for longer
// than a period. A process under load allocates more than that each period
// and is left alone. It returns when ctx ends.
func releaseFreeHeap(ctx context.Context, every time.Duration, floor uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"}, // free, not yet returned
		{Name: "/gc/heap/allocs:bytes"},           // allocated since start
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var before uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		free, allocs := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		recent := allocs - before
		before = allocs
		if free >= floor && recent < free {
			debug.FreeOSMemory()
		}
	}
}
