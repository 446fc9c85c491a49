package router

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// headerLen is the length of an unmasked server frame header for n payload
// bytes.
func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// appendHeader appends the header of a final, unmasked frame.
func appendHeader(dst []byte, op ws.OpCode, n int) []byte {
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		return append(dst, 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// Frame encodes payload as one complete server frame.
func Frame(op ws.OpCode, payload []byte) []byte {
	b := make([]byte, 0, headerLen(len(payload))+len(payload))
	b = appendHeader(b, op, len(payload))
	return append(b, payload...)
}

// CloseFrame encodes a close frame with a code and a short reason.
func CloseFrame(code int, reason string) []byte {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	b := make([]byte, 0, 4+len(reason))
	b = appendHeader(b, ws.OpClose, 2+len(reason))
	b = append(b, byte(code>>8), byte(code))
	return append(b, reason...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. s must be valid UTF-8 (text
// frames are validated on read); invalid bytes become U+FFFD.
func AppendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
