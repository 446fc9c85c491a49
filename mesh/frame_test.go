package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/router"
)

// TestFrameLayout pins the bytes doc.go describes.
func TestFrameLayout(t *testing.T) {
	payload := []byte(`{"a":1}`)
	n := messageLen("al/x", "id1", "tk", payload)
	got := appendMessage(nil, n, frameRoom, "al/x", "id1", "tk", router.KindJSONText, payload)
	want := []byte{
		0, 0, 0, 28, // length of the rest
		1,                        // type: room message
		0, 4, 'a', 'l', '/', 'x', // room
		0, 3, 'i', 'd', '1', // message id
		0, 2, 't', 'k', // from
		2,          // kind: router.KindJSONText
		0, 0, 0, 7, // payload length
		'{', '"', 'a', '"', ':', '1', '}',
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("room frame\n got % x\nwant % x", got, want)
	}
	got = appendPresence(nil, presenceLen("al/x", "member.left", "s1"), "al/x", "member.left", "s1")
	want = []byte{0, 0, 0, 24, 3, 0, 4, 'a', 'l', '/', 'x', 0, 11}
	want = append(want, "member.left"...)
	want = append(want, 0, 2, 's', '1')
	if !bytes.Equal(got, want) {
		t.Fatalf("presence frame\n got % x\nwant % x", got, want)
	}
	f, err := decodeFrame(got[lenPrefix:])
	if err != nil || f.typ != framePresence || string(f.to) != "al/x" || string(f.id) != "member.left" || string(f.from) != "s1" {
		t.Fatalf("decode presence: %+v %v", f, err)
	}
}

// validFrame is a direct message frame for the tables below.
func validFrame() []byte {
	p := []byte("payload")
	return appendMessage(nil, messageLen("tk_b/1", "id", "tk_a/1", p), frameDirect, "tk_b/1", "id", "tk_a/1", router.KindBinary, p)
}

func withLength(b []byte, n uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b, n)
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := validFrame()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	kindAt := lenPrefix + 1 + (2 + len("tk_b/1")) + (2 + len("id")) + (2 + len("tk_a/1"))
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"empty stream", nil, io.EOF},
		{"short prefix", good[:3], io.ErrUnexpectedEOF},
		{"zero length", withLength(good, 0), errFrameLength},
		{"huge length", withLength(good, MaxFrameBytes+1), errFrameLength},
		{"max uint32 length", withLength(good, 0xFFFFFFFF), errFrameLength},
		{"stream ends mid-frame", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"unknown type", mutate(func(b []byte) []byte { b[lenPrefix] = 9; return b }), errFrameType},
		{"bad kind", mutate(func(b []byte) []byte { b[kindAt] = 4; return b }), errFrameKind},
		{"field overruns", mutate(func(b []byte) []byte { b[lenPrefix+1] = 200; return b }), errFrameTruncated},
		{"payload overruns", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[kindAt+1:], 8); return b }), errFrameTruncated},
		{"trailing bytes", mutate(func(b []byte) []byte {
			b = append(b, 'x')
			binary.BigEndian.PutUint32(b, uint32(len(b)-lenPrefix))
			return b
		}), errFrameTrailing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{16, readBufferSize} {
				fr := newFrameReader(bytes.NewReader(tc.stream), size)
				_, err := fr.next()
				if !errors.Is(err, tc.want) {
					t.Fatalf("buffer %d: err = %v, want %v", size, err, tc.want)
				}
			}
		})
	}
}

func TestReadLongFrames(t *testing.T) {
	var stream []byte
	var payloads [][]byte
	for _, n := range []int{0, 10, readBufferSize - 40, readBufferSize, 3*readBufferSize + 7, 10} {
		p := bytes.Repeat([]byte{byte(n)}, n)
		payloads = append(payloads, p)
		stream = appendMessage(stream, messageLen("a/x", "id", "f", p), frameRoom, "a/x", "id", "f", router.KindBinary, p)
	}
	fr := newFrameReader(bytes.NewReader(stream), readBufferSize)
	for i, p := range payloads {
		f, err := fr.next()
		if err != nil || !bytes.Equal(f.payload, p) {
			t.Fatalf("frame %d: %d bytes, err %v", i, len(f.payload), err)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v", err)
	}
}

// TestBadInputClosesConnection writes garbage to a mesh's socket: the mesh
// closes that connection, logs, and keeps serving others.
func TestBadInputClosesConnection(t *testing.T) {
	dir := shortDir(t)
	var logs syncBuffer
	r := newFakeReceiver()
	startMesh(t, Config{Self: 1, Dir: dir, Log: bufferLogger(&logs)}, r)
	inputs := map[string][]byte{
		"bad length":   {0xFF, 0xFF, 0xFF, 0xFF, 1},
		"unknown type": {0, 0, 0, 7, 42, 0, 0, 0, 0, 0, 0},
		"bad field":    {0, 0, 0, 7, 1, 0, 9, 0, 0, 0, 0},
	}
	for name, in := range inputs {
		c, err := net.Dial("unix", SocketPath(dir, 1))
		if err != nil {
			t.Fatal(err)
		}
		good := validFrame() // a good frame first is delivered
		c.Write(append(good, in...))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("%s: connection not closed: %v", name, err)
		}
		c.Close()
	}
	// Truncated: the sender goes away mid-frame.
	c, err := net.Dial("unix", SocketPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	c.Write(validFrame()[:10])
	c.Close()
	waitFor(t, "four warnings", func() bool { return strings.Count(logs.String(), "bad input from a peer") == 4 })
	if r.len() != 3 {
		t.Fatalf("%d good frames delivered, want 3", r.len())
	}
	a := startMesh(t, Config{Self: 0, Dir: dir}, newFakeReceiver())
	a.AddRoutes([]Route{{"a/x", 1}})
	a.Publish("a/x", msg("after"))
	waitFor(t, "a good peer", func() bool { return r.len() == 4 })
}

// FuzzDecodeFrame reads a byte stream as frames with a tiny and a normal
// buffer: it must never panic, both must agree, and every frame it accepts
// must re-encode to exactly the bytes it came from.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(validFrame())
	f.Add(append(validFrame(), validFrame()...))
	f.Add(appendPresence(nil, presenceLen("a/x", "member.joined", "s"), "a/x", "member.joined", "s"))
	f.Add(withLength(validFrame(), 0xFFFFFFFF))
	f.Add(validFrame()[:9])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= lenPrefix {
			decodeFrame(data[lenPrefix:])
		}
		var counts [2]int
		var errs [2]error
		for i, size := range []int{16, readBufferSize} {
			fr := newFrameReader(bytes.NewReader(data), size)
			off := 0
			for {
				fm, err := fr.next()
				if err != nil {
					errs[i] = err
					break
				}
				enc := appendFrame(nil, &fm)
				if !bytes.HasPrefix(data[off:], enc) {
					t.Fatalf("buffer %d: frame %d re-encodes to % x, stream has % x", size, counts[i], enc, data[off:min(len(data), off+len(enc))])
				}
				off += len(enc)
				counts[i]++
			}
			if errors.Is(errs[i], io.EOF) && off != len(data) {
				t.Fatalf("buffer %d: clean EOF with %d bytes unread", size, len(data)-off)
			}
		}
		if counts[0] != counts[1] || (errs[0] == io.EOF) != (errs[1] == io.EOF) {
			t.Fatalf("buffers disagree: %d frames (%v) vs %d (%v)", counts[0], errs[0], counts[1], errs[1])
		}
	})
}

// TestRequeueAfterPartialWrite: a write that broke inside the second frame
// puts the second frame back whole, ahead of frames queued since.
func TestRequeueAfterPartialWrite(t *testing.T) {
	m := &Mesh{cfg: Config{MaxPeerQueueBytes: DefaultMaxPeerQueueBytes}, log: nopLog}
	p := newPeer(m, 1)
	add := func(id string) {
		p.enqueueMessage(messageLen("a/x", id, "f", nil), frameRoom, "a/x", id, "f", router.KindText, nil)
	}
	add("1")
	add("2")
	add("3")
	full, batch := p.take()
	add("4")
	frameLen := len(batch) / 3
	p.requeue(full, batch, frameLen+5)
	fr := newFrameReader(bytes.NewReader(p.buf[p.start:]), readBufferSize)
	var ids []string
	for {
		f, err := fr.next()
		if err != nil {
			break
		}
		ids = append(ids, string(f.id))
	}
	if strings.Join(ids, ",") != "2,3,4" {
		t.Fatalf("queue after requeue: %v", ids)
	}
}
