package supervisor_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// Shape of BenchmarkSuperviseDeliveries.
const (
	benchReceivers = 100 // raw sockets in lobby, spread over the workers by the kernel
	benchDialers   = 8   // concurrent handshakes while they connect
	benchBatch     = 128 // messages the publisher may run ahead of the slowest receiver
)

// BenchmarkSuperviseDeliveries measures room fan-out through `supervise`
// with one and two worker processes: one raw publisher, benchReceivers raw
// receivers on /ws/rooms/lobby (gobwas client), 64-byte text frames. It
// reports deliveries/s (messages times receivers over the wall time until
// the last one arrived) and handshakes/s (receivers connecting
// benchDialers at a time). Client and server share the machine, so the
// numbers compare worker counts, not absolute capacity; the client's
// allocations would drown the server's, so none are reported.
func BenchmarkSuperviseDeliveries(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchDeliveries(b, workers) })
	}
}

func benchDeliveries(b *testing.B, workers int) {
	srv := testserver.StartSupervised(b, workers)
	tok := srv.CreateToken(map[string]any{"name": "bench", "max_connections": benchReceivers + 1,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	url := srv.WSURL + "/ws/rooms/lobby"

	start := time.Now()
	receivers := dialRaw(b, url, tok.Secret, benchReceivers)
	handshakes := float64(benchReceivers) / time.Since(start).Seconds()
	pub, err := wstest.Dial(url, wstest.Bearer(tok.Secret))
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if workers > 1 {
		perWorker := map[int]int{}
		var list []socketInfo
		srv.MustAPI(200, "GET", "/api/v1/rooms/lobby/sockets", nil, &list)
		for _, s := range list {
			perWorker[s.Worker]++
		}
		if len(perWorker) != workers {
			b.Fatalf("sockets per worker %v: not spread over %d workers", perWorker, workers)
		}
	}

	// Each receiver acks every benchBatch messages; the publisher keeps at
	// most one batch beyond the last one every receiver acked.
	acks := make(chan int, benchReceivers*4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, c := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; ; n++ {
				if _, err := c.Read(time.Minute); err != nil {
					if !errors.Is(err, wstest.ErrClosed) && failed.Load() == nil {
						failed.Store(err)
					}
					return
				}
				if n%benchBatch == 0 {
					select {
					case acks <- n / benchBatch:
					case <-stop:
						return
					}
				}
			}
		}()
	}
	defer func() {
		close(stop)
		for _, c := range receivers {
			c.Close()
		}
		wg.Wait()
	}()
	acked := make(map[int]int) // batch → receivers that acked it
	waited := 0                // every receiver acked batches 1..waited
	waitBatch := func(batch int) {
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		for acked[batch] < benchReceivers {
			select {
			case n := <-acks:
				acked[n]++
			case <-timeout.C:
				b.Fatalf("batch %d: receivers stalled (read error: %v)", batch, failed.Load())
			}
		}
		delete(acked, batch)
		waited = batch
	}

	payload := bytes.Repeat([]byte("m"), 64)
	sent := 0
	began := time.Now()
	for b.Loop() {
		if err := pub.Write(ws.OpText, payload); err != nil {
			b.Fatal(err)
		}
		sent++
		if sent%benchBatch == 0 && sent/benchBatch > 1 {
			waitBatch(sent/benchBatch - 1)
		}
	}
	// Pad to whole batches so every delivery is counted, then wait for the
	// rest.
	for sent%benchBatch != 0 {
		if err := pub.Write(ws.OpText, payload); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	for batch := waited + 1; batch <= sent/benchBatch; batch++ {
		waitBatch(batch)
	}
	elapsed := time.Since(began)
	b.ReportMetric(float64(sent)*benchReceivers/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(handshakes, "handshakes/s")
}

// dialRaw connects n raw sockets, benchDialers at a time.
func dialRaw(b *testing.B, url, secret string, n int) []*wstest.Conn {
	b.Helper()
	conns := make([]*wstest.Conn, n)
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range benchDialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := wstest.Dial(url, wstest.Bearer(secret))
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("dial: %v", err)
	}
	return conns
}
