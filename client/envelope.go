package client

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"os"
)

// Chunk format (docs/envelope-chunks.md): a fixed 72-byte header, all
// integers big-endian, then the chunk's data.
//
//	off  size  field
//	  0     4  magic "PHE1" (the 1 is the format version)
//	  4    16  envelope id, random
//	 20     4  index of this chunk, 0-based
//	 24     4  count of chunks in the envelope, >= 1
//	 28     8  total length of the whole payload in bytes
//	 36     4  CRC-32C (Castagnoli) of this chunk's data
//	 40    32  SHA-256 of the whole payload, the same in every chunk
//	 72     -  data
const ChunkHeaderSize = 72

// ChunkMagic opens every chunk.
const ChunkMagic = "PHE1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of the chunk format and the Assembler. Errors about one envelope
// come wrapped in an *EnvelopeError.
var (
	ErrNotChunk         = errors.New("not an envelope chunk")
	ErrBadChunkHeader   = errors.New("bad chunk header")
	ErrChunkCorrupt     = errors.New("corrupt chunk")
	ErrChunkConflict    = errors.New("conflicting chunk")
	ErrChunkMissing     = errors.New("missing chunks")
	ErrAssemblerFull    = errors.New("assembler memory bound exceeded")
	ErrEnvelopeTooLarge = errors.New("envelope larger than the assembler accepts")
)

// ChunkHeader is the fixed header of a chunk.
type ChunkHeader struct {
	ID    EnvelopeID
	Index uint32   // 0 .. Count-1
	Count uint32   // chunks in the envelope
	Total uint64   // bytes in the whole payload
	CRC   uint32   // CRC-32C of this chunk's data
	Sum   [32]byte // SHA-256 of the whole payload
}

// AppendBinary appends the 72-byte encoding of h to b.
func (h ChunkHeader) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, ChunkMagic...)
	b = append(b, h.ID[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Index)
	b = binary.BigEndian.AppendUint32(b, h.Count)
	b = binary.BigEndian.AppendUint64(b, h.Total)
	b = binary.BigEndian.AppendUint32(b, h.CRC)
	return append(b, h.Sum[:]...), nil
}

// IsChunk reports whether p starts like a chunk (length and magic).
func IsChunk(p []byte) bool {
	return len(p) >= ChunkHeaderSize && string(p[:4]) == ChunkMagic
}

// ParseChunkHeader parses the header of the chunk p and returns it with the
// chunk's data (a sub-slice of p). It checks the header's own consistency
// (count >= 1, index < count, data no longer than total, no more chunks
// than bytes, a single chunk holding the whole payload) but not the CRC:
// ParseChunk does that too.
func ParseChunkHeader(p []byte) (ChunkHeader, []byte, error) {
	var h ChunkHeader
	if !IsChunk(p) {
		return h, nil, ErrNotChunk
	}
	copy(h.ID[:], p[4:20])
	h.Index = binary.BigEndian.Uint32(p[20:24])
	h.Count = binary.BigEndian.Uint32(p[24:28])
	h.Total = binary.BigEndian.Uint64(p[28:36])
	h.CRC = binary.BigEndian.Uint32(p[36:40])
	copy(h.Sum[:], p[40:72])
	data := p[ChunkHeaderSize:]
	switch {
	case h.Count == 0:
		return h, nil, fmt.Errorf("%w: count 0", ErrBadChunkHeader)
	case h.Index >= h.Count:
		return h, nil, fmt.Errorf("%w: index %d of %d", ErrBadChunkHeader, h.Index, h.Count)
	case uint64(len(data)) > h.Total:
		return h, nil, fmt.Errorf("%w: %d data bytes for a total of %d", ErrBadChunkHeader, len(data), h.Total)
	case uint64(h.Count) > max(h.Total, 1):
		return h, nil, fmt.Errorf("%w: %d chunks for %d bytes", ErrBadChunkHeader, h.Count, h.Total)
	case h.Count == 1 && uint64(len(data)) != h.Total:
		return h, nil, fmt.Errorf("%w: single chunk of %d bytes for a total of %d", ErrBadChunkHeader, len(data), h.Total)
	}
	return h, data, nil
}

// ParseChunk is ParseChunkHeader plus the CRC check of the data.
func ParseChunk(p []byte) (ChunkHeader, []byte, error) {
	h, data, err := ParseChunkHeader(p)
	if err != nil {
		return h, nil, err
	}
	if crc32.Checksum(data, castagnoli) != h.CRC {
		return h, nil, fmt.Errorf("%w: CRC-32C mismatch in chunk %d", ErrChunkCorrupt, h.Index)
	}
	return h, data, nil
}

// EnvelopeID is the random id of an envelope.
type EnvelopeID [16]byte

// String returns the id in hex.
func (id EnvelopeID) String() string { return hex.EncodeToString(id[:]) }

// Envelope is a payload of any size prepared for sending as chunks. Its id
// and SHA-256 are fixed at creation; Chunks cuts it.
type Envelope struct {
	ID  EnvelopeID
	Sum [32]byte

	size int64
	src  io.ReaderAt
}

// NewEnvelope wraps payload (not copied: do not modify it while sending).
func NewEnvelope(payload []byte) *Envelope {
	e := &Envelope{size: int64(len(payload)), src: byteReaderAt(payload)}
	e.Sum = sha256.Sum256(payload)
	_, _ = rand.Read(e.ID[:])
	return e
}

// NewEnvelopeFrom reads r into an envelope. A regular *os.File is not held
// in memory: it is hashed now, from its current offset to its end, and read
// again chunk by chunk (if the file changes in between, the receiver sees a
// corrupt envelope). Any other reader is read whole into memory.
func NewEnvelopeFrom(r io.Reader) (*Envelope, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			sec := io.NewSectionReader(f, off, fi.Size()-off)
			h := sha256.New()
			if _, err := io.Copy(h, sec); err != nil {
				return nil, fmt.Errorf("hash %s: %w", f.Name(), err)
			}
			e := &Envelope{size: sec.Size(), src: sec}
			h.Sum(e.Sum[:0])
			_, _ = rand.Read(e.ID[:])
			return e, nil
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return NewEnvelope(b), nil
}

// Len returns the payload size in bytes.
func (e *Envelope) Len() int64 { return e.size }

// Count returns how many chunks of chunkSize data bytes the envelope makes
// (at least one, even for an empty payload).
func (e *Envelope) Count(chunkSize int) (uint32, error) {
	if chunkSize < 1 {
		return 0, fmt.Errorf("chunk size %d: must be at least 1", chunkSize)
	}
	n := max((e.size+int64(chunkSize)-1)/int64(chunkSize), 1)
	if n > math.MaxUint32 {
		return 0, fmt.Errorf("%d chunks of %d bytes: more than 2^32-1", n, chunkSize)
	}
	return uint32(n), nil
}

// Chunks yields the chunks of the envelope in order, each a complete chunk
// payload (header and data) to send as one binary message. Every chunk but
// the last holds chunkSize data bytes. The yielded slice is reused: it is
// valid only until the next iteration. A read error is yielded once, last.
func (e *Envelope) Chunks(chunkSize int) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		count, err := e.Count(chunkSize)
		if err != nil {
			yield(nil, err)
			return
		}
		buf := make([]byte, ChunkHeaderSize+int(min(int64(chunkSize), e.size)))
		h := ChunkHeader{ID: e.ID, Count: count, Total: uint64(e.size), Sum: e.Sum}
		for i := uint32(0); i < count; i++ {
			off := int64(i) * int64(chunkSize)
			n := int(min(int64(chunkSize), e.size-off))
			data := buf[ChunkHeaderSize : ChunkHeaderSize+n]
			if k, err := e.src.ReadAt(data, off); k < n {
				yield(nil, fmt.Errorf("read chunk %d: %w", i, cmpErr(err, io.ErrUnexpectedEOF)))
				return
			}
			h.Index = i
			h.CRC = crc32.Checksum(data, castagnoli)
			_, _ = h.AppendBinary(buf[:0])
			if !yield(buf[:ChunkHeaderSize+n], nil) {
				return
			}
		}
	}
}

// byteReaderAt reads from a byte slice; unlike bytes.Reader it keeps no
// position, so an Envelope can be cut several times concurrently.
type byteReaderAt []byte

func (b byteReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func cmpErr(err, fallback error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return fallback
	}
	return err
}
