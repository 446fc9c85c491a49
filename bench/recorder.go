package bench

import (
	"sync"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 10 minutes, with 3
// significant digits.
const (
	latencyMaxMicros = 600_000_000
	latencyDigits    = 3
	histShards       = 16
)

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, latencyMaxMicros, latencyDigits)
}

// recorder is a latency histogram split into shards so that receivers on
// different connections rarely wait for each other. A receiver records a
// whole read's samples under one lock.
type recorder struct {
	shards [histShards]histShard
}

type histShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [48]byte // keep shards on separate cache lines
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.shards {
		r.shards[i].h = newLatencyHistogram()
	}
	return r
}

// record adds latencies in microseconds to shard i.
func (r *recorder) record(i int, micros []int64) {
	if len(micros) == 0 {
		return
	}
	s := &r.shards[i%histShards]
	s.mu.Lock()
	for _, v := range micros {
		_ = s.h.RecordValue(min(max(v, 0), latencyMaxMicros))
	}
	s.mu.Unlock()
}

// merged returns one histogram of every shard.
func (r *recorder) merged() *hdrhistogram.Histogram {
	out := newLatencyHistogram()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.mu.Unlock()
	}
	return out
}

// counters are one process's running totals.
type counters struct {
	received   atomic.Int64 // deliveries of this run's messages
	self       atomic.Int64 // a publisher's own messages in a room assumed not to echo
	foreign    atomic.Int64 // data frames that are not this run's messages
	outOfOrder atomic.Int64 // a publisher's sequence going backwards at one receiver
	receipts   atomic.Int64 // envelope receipts to publishers
	sendErrors atomic.Int64 // refused sends: envelope errors, backpipe statuses other than 202
	sent       atomic.Int64
}

// encodeHistogram serialises h (HdrHistogram V2 compressed, base64).
func encodeHistogram(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

// decodeHistogram reads what encodeHistogram wrote.
func decodeHistogram(s string) (*hdrhistogram.Histogram, error) {
	return hdrhistogram.Decode([]byte(s))
}
