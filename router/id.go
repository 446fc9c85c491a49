package router

import (
	"sync/atomic"
	"time"
)

// idEpoch is the zero of message ids: 2025-01-01T00:00:00Z.
const idEpoch = 1735689600000

// IDGen makes message ids that are unique per server and sortable by time:
// 42 bits of milliseconds since 2025, 6 bits of worker id, 16 bits of
// sequence, written as 16 lowercase hex digits (fixed width, so string order
// is time order). Safe for concurrent use.
type IDGen struct {
	worker uint64
	last   atomic.Uint64
	now    func() time.Time
}

// NewIDGen returns a generator for worker (0..63).
func NewIDGen(worker int) *IDGen {
	return &IDGen{worker: uint64(worker&0x3F) << 16, now: time.Now}
}

// Next returns a new id.
func (g *IDGen) Next() string {
	var buf [16]byte
	v := g.next()
	for i := 15; i >= 0; i-- {
		buf[i] = hexDigits[v&0xF]
		v >>= 4
	}
	return string(buf[:])
}

func (g *IDGen) next() uint64 {
	ms := uint64(g.now().UnixMilli()-idEpoch) << 22
	for {
		last := g.last.Load()
		v := ms | g.worker
		if v <= last {
			if last&0xFFFF == 0xFFFF { // sequence exhausted: borrow the next millisecond
				v = (last>>22+1)<<22 | g.worker
			} else {
				v = last + 1
			}
		}
		if g.last.CompareAndSwap(last, v) {
			return v
		}
	}
}
