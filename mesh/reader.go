package mesh

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// readBufferSize is the bufio.Reader size of an inbound connection. A frame
// that fits is decoded in place; a longer one is read into a scratch buffer.
const readBufferSize = 64 << 10

// maxScratchKeep is the largest scratch buffer kept between frames.
const maxScratchKeep = 1 << 20

// frameReader reads frames from one connection. The frame next returns
// aliases the reader's buffers and is valid until the next call.
type frameReader struct {
	r       *bufio.Reader
	scratch []byte
	pending int // bytes still to discard from r for the previous frame
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, size)}
}

// next returns the next frame. io.EOF means the stream ended cleanly between
// frames; any other error means the stream is bad and must be closed.
func (fr *frameReader) next() (frame, error) {
	if fr.pending > 0 {
		if _, err := fr.r.Discard(fr.pending); err != nil {
			return frame{}, err
		}
		fr.pending = 0
	}
	hdr, err := fr.r.Peek(lenPrefix)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if err := checkLength(n); err != nil {
		return frame{}, err
	}
	total := lenPrefix + int(n)
	if total <= fr.r.Size() {
		b, err := fr.r.Peek(total)
		if err != nil {
			return frame{}, eofIsTruncation(err)
		}
		fr.pending = total
		return decodeFrame(b[lenPrefix:])
	}
	if _, err := fr.r.Discard(lenPrefix); err != nil {
		return frame{}, err
	}
	body, err := fr.readLong(int(n))
	if err != nil {
		return frame{}, err
	}
	f, err := decodeFrame(body)
	if cap(fr.scratch) > maxScratchKeep {
		fr.scratch = nil // the frame still aliases it; the next one gets a new one
	} else {
		fr.scratch = body[:0]
	}
	return f, err
}

// readLong reads a frame body longer than the bufio buffer into scratch,
// growing it as the bytes arrive, so a lying length prefix costs no more
// memory than the bytes actually sent.
func (fr *frameReader) readLong(n int) ([]byte, error) {
	body := fr.scratch[:0]
	for len(body) < n {
		if len(body) == cap(body) {
			body = slices.Grow(body, min(n-len(body), max(len(body), readBufferSize)))
		}
		k, err := fr.r.Read(body[len(body):min(cap(body), n)])
		body = body[:len(body)+k]
		if err != nil && len(body) < n {
			return nil, eofIsTruncation(err)
		}
	}
	return body, nil
}

func eofIsTruncation(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
