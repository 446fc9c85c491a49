package ipc

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// batchTimeout bounds one batched call.
const batchTimeout = 5 * time.Second

// errShortBatch is a batched call that answered fewer results than it was
// sent requests.
var errShortBatch = errors.New("ipc: batched call answered too few results")

// batcher sends the calls of one kind to the other process in batches: one
// batched call is on its way at a time, and the calls that come meanwhile
// wait for the next, which carries them all. Under load many calls share
// one round trip; alone, a call goes at once. Each caller gets its own
// answer.
type batcher[Req, Res any] struct {
	// send makes one batched call: a result per request, in order, or an
	// error for the whole batch.
	send func(ctx context.Context, reqs []Req) ([]Res, error)
	// abandoned, if set, gets the result of a call whose caller stopped
	// waiting (its context ended) before the result came: what the call
	// did must then be undone, as nobody will.
	abandoned func(Res)

	mu      sync.Mutex
	pending []batchItem[Req, Res]
	running bool
}

type batchItem[Req, Res any] struct {
	req   Req
	done  chan batchResult[Res]
	state *atomic.Int32 // itemWaiting, then itemAnswered or itemAbandoned
}

// Batch item states: the caller waits; the result was handed over; the
// caller left first.
const (
	itemWaiting int32 = iota
	itemAnswered
	itemAbandoned
)

type batchResult[Res any] struct {
	res Res
	err error
}

// do queues req and waits for its result, or for ctx (the call may still
// be made then).
func (b *batcher[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	done := make(chan batchResult[Res], 1)
	state := new(atomic.Int32)
	b.mu.Lock()
	b.pending = append(b.pending, batchItem[Req, Res]{req: req, done: done, state: state})
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		if !state.CompareAndSwap(itemWaiting, itemAbandoned) {
			r := <-done // answered meanwhile: the result is the caller's after all
			return r.res, r.err
		}
		var zero Res
		return zero, ctx.Err()
	}
}

// queued is how many calls wait for the next batch.
func (b *batcher[Req, Res]) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// run sends batches until none is pending.
func (b *batcher[Req, Res]) run() {
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		reqs := make([]Req, len(batch))
		for i, it := range batch {
			reqs[i] = it.req
		}
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		res, err := b.send(ctx, reqs)
		cancel()
		for i, it := range batch {
			var r batchResult[Res]
			switch {
			case err != nil:
				r.err = err
			case i < len(res):
				r.res = res[i]
			default:
				r.err = errShortBatch
			}
			if it.state.CompareAndSwap(itemWaiting, itemAnswered) {
				it.done <- r
			} else if r.err == nil && b.abandoned != nil {
				b.abandoned(r.res)
			}
		}
	}
}
