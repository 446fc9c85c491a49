package client

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"
)

// AssemblerConfig bounds an Assembler. Zero fields take the defaults.
type AssemblerConfig struct {
	// Timeout is how long a partial envelope may wait for its next chunk
	// before it expires with ErrChunkMissing (default 30 s).
	Timeout time.Duration
	// MaxBytes bounds the data held for all partial envelopes together,
	// plus a small per-chunk overhead (default 256 MiB).
	MaxBytes int64
	// MaxEnvelopes bounds the partial envelopes held at once (default 64).
	MaxEnvelopes int
	// MaxEnvelopeBytes bounds the total length of one envelope (default
	// MaxBytes).
	MaxEnvelopeBytes int64
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// chunkOverhead is what a held chunk costs on top of its data.
const chunkOverhead = 64

// Assembled is a complete, verified envelope.
type Assembled struct {
	From string // sender socket id, as given to Add
	ID   EnvelopeID
	Data []byte
}

// EnvelopeError is a failure of one envelope. Err is one of ErrChunkCorrupt,
// ErrChunkConflict, ErrChunkMissing, ErrAssemblerFull, ErrEnvelopeTooLarge
// (wrapped with details); Index is the chunk at fault, or -1.
type EnvelopeError struct {
	From  string
	ID    EnvelopeID
	Index int
	Err   error
}

// Error names the envelope, its sender and chunk, and the cause.
func (e *EnvelopeError) Error() string {
	s := "envelope " + e.ID.String()
	if e.From != "" {
		s += " from " + e.From
	}
	if e.Index >= 0 {
		s += fmt.Sprintf(" chunk %d", e.Index)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *EnvelopeError) Unwrap() error { return e.Err }

// Assembler reassembles envelopes from their chunks: several envelopes at
// once, from several senders, with their chunks interleaved and in any
// order. It checks every chunk's CRC, the agreement of every header of an
// envelope, and the SHA-256 of the whole payload. An envelope that fails is
// dropped, reported once, and its later chunks are ignored for Timeout.
// It is safe for concurrent use.
type Assembler struct {
	cfg AssemblerConfig

	mu      sync.Mutex
	partial map[envKey]*partialEnvelope
	ended   map[envKey]time.Time // completed or failed: later chunks are ignored until then
	held    int64
	expired []error // expired by Add while making room, reported by Expire
}

type envKey struct {
	from string
	id   EnvelopeID
}

type partialEnvelope struct {
	hdr    ChunkHeader // Count, Total and Sum every chunk must agree on
	chunks map[uint32][]byte
	bytes  int64 // data bytes held
	cost   int64 // bytes counted against MaxBytes
	last   time.Time
}

// NewAssembler returns an empty Assembler.
func NewAssembler(cfg AssemblerConfig) *Assembler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.MaxEnvelopes <= 0 {
		cfg.MaxEnvelopes = 64
	}
	if cfg.MaxEnvelopeBytes <= 0 {
		cfg.MaxEnvelopeBytes = cfg.MaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Assembler{cfg: cfg, partial: map[envKey]*partialEnvelope{}, ended: map[envKey]time.Time{}}
}

// Add takes one chunk payload from sender from (a socket id; any string,
// "" in raw mode). It returns the envelope when this chunk completed it,
// nil and nil when more chunks are needed (or the chunk is a harmless
// duplicate), ErrNotChunk (unwrapped) when p is not a chunk at all, and an
// *EnvelopeError when the envelope failed.
func (a *Assembler) Add(from string, p []byte) (*Assembled, error) {
	h, data, err := ParseChunkHeader(p)
	if err != nil {
		if !IsChunk(p) {
			return nil, ErrNotChunk
		}
		return nil, &EnvelopeError{From: from, ID: h.ID, Index: -1, Err: err}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	key := envKey{from, h.ID}
	if until, ok := a.ended[key]; ok {
		if now.Before(until) {
			return nil, nil
		}
		delete(a.ended, key)
	}
	if _, _, err := ParseChunk(p); err != nil {
		return nil, a.failLocked(key, int(h.Index), err, now)
	}
	pe := a.partial[key]
	if pe == nil {
		if pe, err = a.openLocked(key, h, now); err != nil {
			return nil, a.failLocked(key, int(h.Index), err, now)
		}
	}
	if h.Count != pe.hdr.Count || h.Total != pe.hdr.Total || h.Sum != pe.hdr.Sum {
		return nil, a.failLocked(key, int(h.Index), fmt.Errorf("%w: header disagrees with earlier chunks", ErrChunkConflict), now)
	}
	if old, ok := pe.chunks[h.Index]; ok {
		if bytes.Equal(old, data) {
			pe.last = now
			return nil, nil // a duplicate of the same chunk: harmless
		}
		return nil, a.failLocked(key, int(h.Index), fmt.Errorf("%w: duplicate with different data", ErrChunkConflict), now)
	}
	if uint64(pe.bytes)+uint64(len(data)) > pe.hdr.Total {
		return nil, a.failLocked(key, int(h.Index), fmt.Errorf("%w: chunks hold more than the total of %d bytes", ErrChunkCorrupt, pe.hdr.Total), now)
	}
	cost := int64(len(data)) + chunkOverhead
	if a.held+cost > a.cfg.MaxBytes {
		a.expireLocked(now)
		if a.held+cost > a.cfg.MaxBytes {
			return nil, a.failLocked(key, int(h.Index), fmt.Errorf("%w: %d bytes held, limit %d", ErrAssemblerFull, a.held, a.cfg.MaxBytes), now)
		}
	}
	pe.chunks[h.Index] = bytes.Clone(data)
	pe.bytes += int64(len(data))
	pe.cost += cost
	pe.last = now
	a.held += cost
	if uint32(len(pe.chunks)) < pe.hdr.Count {
		return nil, nil
	}
	return a.completeLocked(key, pe, now)
}

// openLocked starts a partial envelope after checking the bounds.
func (a *Assembler) openLocked(key envKey, h ChunkHeader, now time.Time) (*partialEnvelope, error) {
	if h.Total > uint64(a.cfg.MaxEnvelopeBytes) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrEnvelopeTooLarge, h.Total, a.cfg.MaxEnvelopeBytes)
	}
	if len(a.partial) >= a.cfg.MaxEnvelopes {
		a.expireLocked(now)
		if len(a.partial) >= a.cfg.MaxEnvelopes {
			return nil, fmt.Errorf("%w: %d partial envelopes, limit %d", ErrAssemblerFull, len(a.partial), a.cfg.MaxEnvelopes)
		}
	}
	pe := &partialEnvelope{hdr: h, chunks: map[uint32][]byte{}, last: now}
	a.partial[key] = pe
	return pe, nil
}

func (a *Assembler) completeLocked(key envKey, pe *partialEnvelope, now time.Time) (*Assembled, error) {
	a.removeLocked(key, now)
	if uint64(pe.bytes) != pe.hdr.Total {
		return nil, &EnvelopeError{From: key.from, ID: key.id, Index: -1,
			Err: fmt.Errorf("%w: chunks hold %d bytes, total is %d", ErrChunkCorrupt, pe.bytes, pe.hdr.Total)}
	}
	data := make([]byte, 0, pe.bytes)
	for i := uint32(0); i < pe.hdr.Count; i++ {
		data = append(data, pe.chunks[i]...)
	}
	if sha256.Sum256(data) != pe.hdr.Sum {
		return nil, &EnvelopeError{From: key.from, ID: key.id, Index: -1,
			Err: fmt.Errorf("%w: SHA-256 of the payload does not match", ErrChunkCorrupt)}
	}
	return &Assembled{From: key.from, ID: key.id, Data: data}, nil
}

// failLocked drops the envelope and returns its error.
func (a *Assembler) failLocked(key envKey, index int, err error, now time.Time) error {
	a.removeLocked(key, now)
	return &EnvelopeError{From: key.from, ID: key.id, Index: index, Err: err}
}

// removeLocked forgets a partial envelope and ignores its chunks for a
// while. The ignore list is bounded: past its size the oldest entries go.
func (a *Assembler) removeLocked(key envKey, now time.Time) {
	if pe := a.partial[key]; pe != nil {
		a.held -= pe.cost
		delete(a.partial, key)
	}
	a.ended[key] = now.Add(a.cfg.Timeout)
	if limit := 4*a.cfg.MaxEnvelopes + 64; len(a.ended) > limit {
		for k, until := range a.ended {
			if !now.Before(until) {
				delete(a.ended, k)
			}
		}
		for len(a.ended) > limit {
			var oldest envKey
			first := true
			for k, until := range a.ended {
				if first || until.Before(a.ended[oldest]) {
					oldest, first = k, false
				}
			}
			delete(a.ended, oldest)
		}
	}
}

// Expire drops the partial envelopes that waited longer than Timeout for
// their next chunk and returns an *EnvelopeError (ErrChunkMissing) for each,
// oldest first, with those Add expired while making room.
func (a *Assembler) Expire() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expireLocked(a.cfg.Now())
	errs := a.expired
	a.expired = nil
	return errs
}

func (a *Assembler) expireLocked(now time.Time) {
	type exp struct {
		key envKey
		pe  *partialEnvelope
	}
	var out []exp
	for k, pe := range a.partial {
		if now.Sub(pe.last) >= a.cfg.Timeout {
			out = append(out, exp{k, pe})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pe.last.Before(out[j].pe.last) })
	for _, x := range out {
		a.removeLocked(x.key, now)
		missing := int(x.pe.hdr.Count) - len(x.pe.chunks)
		a.expired = append(a.expired, &EnvelopeError{From: x.key.from, ID: x.key.id, Index: -1,
			Err: fmt.Errorf("%w: %d of %d chunks not received within %v", ErrChunkMissing, missing, x.pe.hdr.Count, a.cfg.Timeout)})
	}
}

// Abandon drops every partial envelope, as after a lost connection (the
// server keeps nothing for a socket that is gone, so their missing chunks
// will never come), and returns an *EnvelopeError (ErrChunkMissing, with
// cause) for each.
func (a *Assembler) Abandon(cause error) []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	errs := a.expired
	a.expired = nil
	for key, pe := range a.partial {
		a.removeLocked(key, now)
		missing := int(pe.hdr.Count) - len(pe.chunks)
		errs = append(errs, &EnvelopeError{From: key.from, ID: key.id, Index: -1,
			Err: fmt.Errorf("%w: %d of %d chunks lost: %w", ErrChunkMissing, missing, pe.hdr.Count, cause)})
	}
	return errs
}

// NextExpiry returns when the next partial envelope expires, if any, so
// that a caller can time its Expire call.
func (a *Assembler) NextExpiry() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var next time.Time
	for _, pe := range a.partial {
		if t := pe.last.Add(a.cfg.Timeout); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if len(a.expired) > 0 {
		return a.cfg.Now(), true
	}
	return next, !next.IsZero()
}

// Held returns the bytes and partial envelopes held now.
func (a *Assembler) Held() (bytes int64, envelopes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held, len(a.partial)
}
