package bench

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 16, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'a'}, n)
		mask := [4]byte{1, 2, 3, 4}
		frame := appendFrame(nil, opBinary, payload, mask)
		h, ok, err := parseHead(frame)
		if err != nil || !ok {
			t.Fatalf("n=%d: parseHead ok=%v err=%v", n, ok, err)
		}
		if !h.fin || h.op != opBinary || h.length != int64(n) || !h.masked || h.mask != mask {
			t.Fatalf("n=%d: head %+v", n, h)
		}
		got := append([]byte(nil), frame[h.size:]...)
		ws.Cipher(got, h.mask, 0)
		if !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: payload differs", n)
		}
		// gobwas agrees on the header.
		wh, err := ws.ReadHeader(bytes.NewReader(frame))
		if err != nil || wh.Length != int64(n) || !wh.Masked || wh.OpCode != ws.OpBinary {
			t.Fatalf("n=%d: gobwas header %+v, %v", n, wh, err)
		}
	}
}

func TestParseHead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		ok      bool
		wantErr bool
	}{
		{"empty", nil, false, false},
		{"one byte", []byte{0x82}, false, false},
		{"short ext16", []byte{0x82, 126, 0}, false, false},
		{"short ext64", []byte{0x82, 127, 0, 0, 0}, false, false},
		{"short mask", []byte{0x82, 0x85, 1, 2}, false, false},
		{"text 5", []byte{0x81, 5}, true, false},
		{"reserved bits", []byte{0xc2, 5}, false, true},
		{"long ping", []byte{0x89, 126, 0, 200}, false, true},
		{"fragmented close", []byte{0x08, 2}, false, true},
		{"huge", []byte{0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := parseHead(tc.in)
			if ok != tc.ok || (err != nil) != tc.wantErr {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
		})
	}
}

// TestFrameReaderPeeks feeds server frames in small pieces and checks that
// the reader sees each frame's head and first bytes, skipping the rest
// without a buffer larger than 64 bytes.
func TestFrameReaderPeeks(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	sizes := []int{16, 20, 200, 70000, 0, 17}
	go func() {
		defer server.Close()
		var all []byte
		for i, n := range sizes {
			p := bytes.Repeat([]byte{byte('a' + i)}, n)
			all = appendFrameHeader(all, opBinary, n, false, [4]byte{})
			all = append(all, p...)
		}
		all = append(all, appendFrameHeaderPayload(opPing, []byte("hi"))...)
		for len(all) > 0 {
			n := min(len(all), 7)
			if _, err := server.Write(all[:n]); err != nil {
				return
			}
			all = all[n:]
		}
	}()
	fr := newFrameReader(client, 64, nil)
	var seen []int
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < len(sizes)+1 && time.Now().Before(deadline) {
		h, p, ok, err := fr.next(stampSize)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if err := fr.fill(); err != nil {
				t.Fatalf("fill after %v: %v", seen, err)
			}
			continue
		}
		i := len(seen)
		if h.op == opPing {
			if string(p) != "hi" {
				t.Fatalf("ping payload %q", p)
			}
			seen = append(seen, -1)
			continue
		}
		if h.length != int64(sizes[i]) || len(p) != min(sizes[i], stampSize) {
			t.Fatalf("frame %d: length %d, prefix %d bytes", i, h.length, len(p))
		}
		if len(p) > 0 && p[0] != byte('a'+i) {
			t.Fatalf("frame %d: prefix %q", i, p)
		}
		seen = append(seen, int(h.length))
	}
	if len(seen) != len(sizes)+1 {
		t.Fatalf("saw %v", seen)
	}
}

func TestReadWhole(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		_, _ = server.Write(appendFrame(nil, opText, bytes.Repeat([]byte("x"), 5000), [4]byte{9, 8, 7, 6}))
	}()
	fr := newFrameReader(client, 100, nil)
	op, p, err := fr.readWhole()
	if err != nil || op != opText || len(p) != 5000 || p[4999] != 'x' {
		t.Fatalf("op=%d len=%d err=%v", op, len(p), err)
	}
	if _, _, err := fr.readWhole(); err != io.EOF {
		t.Fatalf("after the frame: %v", err)
	}
}

func TestStamp(t *testing.T) {
	p := make([]byte, 16)
	stamp(p, 1234567890123, 0xabcd0005, 42)
	sent, pub, seq := unstamp(p)
	if sent != 1234567890123 || pub != 0xabcd0005 || seq != 42 {
		t.Fatalf("%d %x %d", sent, pub, seq)
	}
}
