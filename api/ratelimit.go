package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters is a set of token buckets keyed by a string (a username, a client
// IP, an API key id). An entry idle long enough to have refilled completely is
// indistinguishable from a new one, so prune drops it.
type limiters struct {
	limit rate.Limit
	burst int
	idle  time.Duration // time to refill from empty

	mu sync.Mutex // guards m
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiters makes a set; limit rate.Inf allows everything.
func newLimiters(limit rate.Limit, burst int) *limiters {
	l := &limiters{limit: limit, burst: burst, m: make(map[string]*limiterEntry)}
	if limit != rate.Inf && limit > 0 {
		l.idle = time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	}
	return l
}

// burstFor is the burst for a rate: the configured one, else the rate rounded
// up, at least 1.
func burstFor(r float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(math.Ceil(r)))
}

// allow takes one token from key's bucket.
func (l *limiters) allow(key string) bool {
	if l.limit == rate.Inf {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	e, ok := l.m[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	l.mu.Unlock()
	return e.lim.AllowN(now, 1)
}

// prune drops entries idle for longer than a full refill.
func (l *limiters) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.m {
		if now.Sub(e.seen) > l.idle {
			delete(l.m, k)
		}
	}
}
