package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/ws"
)

// WebSocket opcodes as bytes, for the hand-rolled reader.
const (
	opCont   = byte(ws.OpContinuation)
	opText   = byte(ws.OpText)
	opBinary = byte(ws.OpBinary)
	opClose  = byte(ws.OpClose)
	opPing   = byte(ws.OpPing)
	opPong   = byte(ws.OpPong)
)

// maxSetupFrame bounds a frame read whole during setup (welcome, joined).
const maxSetupFrame = 16 << 20

// appendFrame appends one final client frame (masked with mask, as RFC 6455
// requires of clients) carrying payload.
func appendFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	dst = appendFrameHeader(dst, op, len(payload), true, mask)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// appendFrame2 appends one final masked client frame whose payload is a
// followed by b.
func appendFrame2(dst []byte, op byte, a, b []byte, mask [4]byte) []byte {
	dst = appendFrameHeader(dst, op, len(a)+len(b), true, mask)
	start := len(dst)
	dst = append(append(dst, a...), b...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// appendFrameHeader appends the header of a final frame of n payload bytes,
// masked (client) or not (server).
func appendFrameHeader(dst []byte, op byte, n int, masked bool, mask [4]byte) []byte {
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, maskBit|byte(n))
	case n <= 0xffff:
		dst = append(dst, maskBit|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// frameHead is a parsed frame header.
type frameHead struct {
	fin    bool
	op     byte
	length int64 // payload bytes
	size   int   // header bytes
	mask   [4]byte
	masked bool
}

// parseHead parses the frame header at the start of b. ok is false when b
// does not hold the whole header yet.
func parseHead(b []byte) (h frameHead, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0f
	if b[0]&0x70 != 0 {
		return h, false, errors.New("frame with reserved bits set (no extension was negotiated)")
	}
	h.masked = b[1]&0x80 != 0
	h.length = int64(b[1] & 0x7f)
	h.size = 2
	switch h.length {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		h.size = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		l := binary.BigEndian.Uint64(b[2:])
		if l > 1<<62 {
			return h, false, errors.New("frame length out of range")
		}
		h.length = int64(l)
		h.size = 10
	}
	if h.op >= 8 && (h.length > 125 || !h.fin) {
		return h, false, errors.New("bad control frame")
	}
	if h.masked {
		if len(b) < h.size+4 {
			return h, false, nil
		}
		copy(h.mask[:], b[h.size:])
		h.size += 4
	}
	return h, true, nil
}

// frameReader reads frames from a connection into a fixed buffer, for the
// set-up of envelope sockets (readWhole). It looks at no more than peek
// bytes of a data frame's payload when asked (next) and skips the rest
// without buffering it.
type frameReader struct {
	conn io.Reader
	buf  []byte
	r, w int
	skip int64 // payload bytes of the current frame still to discard
}

func newFrameReader(conn io.Reader, size int, leftover []byte) *frameReader {
	size = max(size, len(leftover))
	fr := &frameReader{conn: conn, buf: make([]byte, size)}
	fr.w = copy(fr.buf, leftover)
	return fr
}

// fill makes room and reads once more from the connection.
func (fr *frameReader) fill() error {
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
	} else if fr.r > 0 && fr.w == len(fr.buf) || fr.r > len(fr.buf)/2 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	if fr.w == len(fr.buf) {
		return errors.New("frame header larger than the read buffer")
	}
	n, err := fr.conn.Read(fr.buf[fr.w:])
	fr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// discard drops skipped payload bytes from the buffer; it reports whether
// the current frame is behind us.
func (fr *frameReader) discard() bool {
	if fr.skip == 0 {
		return true
	}
	n := min(fr.skip, int64(fr.w-fr.r))
	fr.r += int(n)
	fr.skip -= n
	return fr.skip == 0
}

// next returns the next frame's header and up to peek bytes of its payload
// (all of it for control frames), unmasked, valid until the next call. The
// rest of the payload is skipped. It returns ok false when the buffer holds
// no whole frame prefix yet: call fill and try again.
func (fr *frameReader) next(peek int) (h frameHead, prefix []byte, ok bool, err error) {
	if !fr.discard() {
		return h, nil, false, nil
	}
	h, ok, err = parseHead(fr.buf[fr.r:fr.w])
	if !ok || err != nil {
		return h, nil, false, err
	}
	want := h.length
	if h.op < 8 && want > int64(peek) {
		want = int64(peek)
	}
	if int64(fr.w-fr.r-h.size) < want {
		if int64(h.size)+want > int64(len(fr.buf)) {
			return h, nil, false, fmt.Errorf("frame of %d bytes does not fit the read buffer", want)
		}
		return h, nil, false, nil
	}
	start := fr.r + h.size
	prefix = fr.buf[start : start+int(want)]
	if h.masked {
		ws.Cipher(prefix, h.mask, 0)
	}
	fr.r = start + int(want)
	fr.skip = h.length - want
	return h, prefix, true, nil
}

// buffered hands over what the reader holds: bytes read but not yet
// consumed, and payload bytes still to skip.
func (fr *frameReader) buffered() (b []byte, skip int64) {
	return fr.buf[fr.r:fr.w], fr.skip
}

// readWhole reads one whole frame, allocating its payload; for setup only.
// Continuation frames are not joined: Porthouse does not fragment.
func (fr *frameReader) readWhole() (op byte, payload []byte, err error) {
	for {
		if !fr.discard() {
			if err := fr.fill(); err != nil {
				return 0, nil, err
			}
			continue
		}
		h, ok, err := parseHead(fr.buf[fr.r:fr.w])
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			if err := fr.fill(); err != nil {
				return 0, nil, err
			}
			continue
		}
		if h.length > maxSetupFrame {
			return 0, nil, fmt.Errorf("setup frame of %d bytes is too large", h.length)
		}
		fr.r += h.size
		payload = make([]byte, h.length)
		got := 0
		for got < len(payload) {
			if fr.r == fr.w {
				if err := fr.fill(); err != nil {
					return 0, nil, err
				}
			}
			n := copy(payload[got:], fr.buf[fr.r:fr.w])
			fr.r += n
			got += n
		}
		if h.masked {
			ws.Cipher(payload, h.mask, 0)
		}
		return h.op, payload, nil
	}
}

// closeCode is the status code of a close frame payload (1005 when absent).
func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

// Payload layout: bytes 0-7 the send time (Unix nanoseconds, little
// endian), 8-11 the publisher (run nonce << 16 | publisher index), 12-15 the
// publisher's sequence number; the rest is filler.
const stampSize = 16

// stamp writes the send time, publisher and sequence into p.
func stamp(p []byte, sentNanos int64, pub uint32, seq uint32) {
	binary.LittleEndian.PutUint64(p[0:], uint64(sentNanos))
	binary.LittleEndian.PutUint32(p[8:], pub)
	binary.LittleEndian.PutUint32(p[12:], seq)
}

// unstamp reads what stamp wrote.
func unstamp(p []byte) (sentNanos int64, pub uint32, seq uint32) {
	return int64(binary.LittleEndian.Uint64(p[0:])), binary.LittleEndian.Uint32(p[8:]), binary.LittleEndian.Uint32(p[12:])
}
