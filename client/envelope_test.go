package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/wire"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// chunksOf returns copies of every chunk of e.
func chunksOf(t testing.TB, e *client.Envelope, size int) [][]byte {
	var out [][]byte
	for c, err := range e.Chunks(size) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(c))
	}
	return out
}

func TestEnvelopeChunks(t *testing.T) {
	for _, tc := range []struct {
		size, chunk, count int
	}{
		{size: 0, chunk: 10, count: 1},
		{size: 1, chunk: 10, count: 1},
		{size: 10, chunk: 10, count: 1},
		{size: 11, chunk: 10, count: 2},
		{size: 100, chunk: 1, count: 100},
		{size: 65000, chunk: 64000, count: 2},
	} {
		payload := randomBytes(t, tc.size)
		e := client.NewEnvelope(payload)
		chunks := chunksOf(t, e, tc.chunk)
		if len(chunks) != tc.count {
			t.Fatalf("%d bytes in %d-byte chunks: %d chunks, want %d", tc.size, tc.chunk, len(chunks), tc.count)
		}
		var joined []byte
		for i, c := range chunks {
			h, data, err := client.ParseChunk(c)
			if err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			if h.ID != e.ID || h.Index != uint32(i) || h.Count != uint32(tc.count) || h.Total != uint64(tc.size) || h.Sum != e.Sum {
				t.Fatalf("chunk %d header %+v", i, h)
			}
			if i < len(chunks)-1 && len(data) != tc.chunk {
				t.Fatalf("chunk %d holds %d bytes", i, len(data))
			}
			joined = append(joined, data...)
		}
		if !bytes.Equal(joined, payload) {
			t.Fatalf("%d bytes: chunks do not join to the payload", tc.size)
		}
	}
	if _, err := client.NewEnvelope(nil).Count(0); err == nil {
		t.Fatal("Count(0) succeeded")
	}
}

func TestEnvelopeFromFile(t *testing.T) {
	payload := randomBytes(t, 100_000)
	path := filepath.Join(t.TempDir(), "p.bin")
	if err := os.WriteFile(path, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := client.NewEnvelopeFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != int64(len(payload)) || e.Sum != client.NewEnvelope(payload).Sum {
		t.Fatalf("file envelope: len %d", e.Len())
	}
	asm := client.NewAssembler(client.AssemblerConfig{})
	var got *client.Assembled
	for _, c := range chunksOf(t, e, 4096) {
		if got, err = asm.Add("x", c); err != nil {
			t.Fatal(err)
		}
	}
	if got == nil || !bytes.Equal(got.Data, payload) {
		t.Fatal("file envelope did not reassemble")
	}
}

func TestChunkHeaderRoundTrip(t *testing.T) {
	h := client.ChunkHeader{Index: 2, Count: 3, Total: 300, CRC: 0xdeadbeef}
	copy(h.ID[:], "0123456789abcdef")
	h.Sum[0] = 7
	b, _ := h.AppendBinary(nil)
	if len(b) != client.ChunkHeaderSize || string(b[:4]) != client.ChunkMagic {
		t.Fatalf("encoded %d bytes %q", len(b), b[:4])
	}
	got, data, err := client.ParseChunkHeader(append(b, make([]byte, 100)...))
	if err != nil || got != h || len(data) != 100 {
		t.Fatalf("parsed %+v %d %v", got, len(data), err)
	}
}

func TestParseChunkHeaderRejects(t *testing.T) {
	good := func(mut func(*client.ChunkHeader)) []byte {
		h := client.ChunkHeader{Index: 0, Count: 2, Total: 10}
		mut(&h)
		b, _ := h.AppendBinary(nil)
		return append(b, make([]byte, 5)...)
	}
	for _, tc := range []struct {
		name string
		p    []byte
		want error
	}{
		{name: "short", p: []byte("PHE1"), want: client.ErrNotChunk},
		{name: "magic", p: append([]byte("PHE2"), make([]byte, 80)...), want: client.ErrNotChunk},
		{name: "count 0", p: good(func(h *client.ChunkHeader) { h.Count = 0 }), want: client.ErrBadChunkHeader},
		{name: "index past count", p: good(func(h *client.ChunkHeader) { h.Index = 2 }), want: client.ErrBadChunkHeader},
		{name: "data over total", p: good(func(h *client.ChunkHeader) { h.Total = 4 }), want: client.ErrBadChunkHeader},
		{name: "more chunks than bytes", p: good(func(h *client.ChunkHeader) { h.Count = 11 }), want: client.ErrBadChunkHeader},
		{name: "single chunk short", p: good(func(h *client.ChunkHeader) { h.Count = 1 }), want: client.ErrBadChunkHeader},
	} {
		if _, _, err := client.ParseChunkHeader(tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, err := client.ParseChunk(good(func(h *client.ChunkHeader) {})); !errors.Is(err, client.ErrChunkCorrupt) {
		t.Errorf("bad CRC: %v", err)
	}
}

func TestConnSendEnvelope(t *testing.T) {
	srv := setup(t)
	a := dial(t, srv, secretA)
	b := dial(t, srv, secretB)
	payload := randomBytes(t, 1<<20)
	ctx := testCtx(t)
	rc, err := a.SendEnvelope(ctx, "lobby", bytes.NewReader(payload), 64000)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Chunks != 17 || rc.Last.ID == "" {
		t.Fatalf("receipt %+v", rc)
	}
	asm := client.NewAssembler(client.AssemblerConfig{})
	for i := 0; i < rc.Chunks; i++ {
		m := recv(t, b)
		env, err := asm.Add(m.From, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if env != nil {
			if !bytes.Equal(env.Data, payload) || env.From != "tk_a/1" || env.ID != rc.ID || m.ID != rc.Last.ID {
				t.Fatal("reassembled envelope differs")
			}
		}
	}
	// Chunks that cannot fit max_message_bytes are refused before sending.
	_, err = a.SendEnvelope(ctx, "lobby", bytes.NewReader(payload), 65536)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeTooLarge {
		t.Fatalf("oversized chunks: %v", err)
	}
	// To a socket.
	if _, err := a.SendEnvelopeTo(ctx, b.SocketID(), bytes.NewReader([]byte("tiny")), 3); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		m := recv(t, b)
		env, err := asm.Add(m.From, m.Payload)
		if err != nil || (i == 1 && (env == nil || string(env.Data) != "tiny")) {
			t.Fatalf("direct envelope: %v %v", env, err)
		}
	}
}

// clock is a manual clock for the assembler.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestAssemblerInterleavedSenders(t *testing.T) {
	asm := client.NewAssembler(client.AssemblerConfig{})
	p1, p2, p3 := randomBytes(t, 5000), randomBytes(t, 3000), randomBytes(t, 4000)
	e1, e2 := client.NewEnvelope(p1), client.NewEnvelope(p2)
	e3 := client.NewEnvelope(p3)
	e3.ID = e1.ID // the same envelope id from another sender must not mix
	c1, c2, c3 := chunksOf(t, e1, 700), chunksOf(t, e2, 500), chunksOf(t, e3, 600)
	type in struct {
		from  string
		chunk []byte
	}
	var feed []in
	for i := 0; i < max(len(c1), len(c2), len(c3)); i++ {
		// Reverse order for one of them: order does not matter.
		if j := len(c1) - 1 - i; j >= 0 {
			feed = append(feed, in{"alice/1", c1[j]})
		}
		if i < len(c2) {
			feed = append(feed, in{"bob/1", c2[i]})
		}
		if i < len(c3) {
			feed = append(feed, in{"bob/2", c3[i]})
		}
	}
	got := map[string][]byte{}
	for _, f := range feed {
		env, err := asm.Add(f.from, f.chunk)
		if err != nil {
			t.Fatal(err)
		}
		if env != nil {
			got[env.From] = env.Data
		}
	}
	if !bytes.Equal(got["alice/1"], p1) || !bytes.Equal(got["bob/1"], p2) || !bytes.Equal(got["bob/2"], p3) {
		t.Fatal("envelopes mixed up")
	}
	if held, n := asm.Held(); held != 0 || n != 0 {
		t.Fatalf("still holding %d bytes in %d envelopes", held, n)
	}
}

func TestAssemblerLostChunkExpires(t *testing.T) {
	clk := newClock()
	asm := client.NewAssembler(client.AssemblerConfig{Timeout: 10 * time.Second, Now: clk.now})
	chunks := chunksOf(t, client.NewEnvelope(randomBytes(t, 1000)), 100)
	for i, c := range chunks {
		if i == 4 {
			continue // lost
		}
		if env, err := asm.Add("s", c); env != nil || err != nil {
			t.Fatalf("chunk %d: %v %v", i, env, err)
		}
	}
	if errs := asm.Expire(); len(errs) != 0 {
		t.Fatalf("expired early: %v", errs)
	}
	next, ok := asm.NextExpiry()
	if !ok || !next.Equal(clk.t.Add(10*time.Second)) {
		t.Fatalf("NextExpiry %v %v", next, ok)
	}
	clk.advance(10 * time.Second)
	errs := asm.Expire()
	var ee *client.EnvelopeError
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrChunkMissing) || !errors.As(errs[0], &ee) || ee.From != "s" {
		t.Fatalf("Expire: %v", errs)
	}
	if held, n := asm.Held(); held != 0 || n != 0 {
		t.Fatalf("still holding %d bytes in %d envelopes", held, n)
	}
	// The late chunk is ignored, not the start of a new envelope.
	if env, err := asm.Add("s", chunks[4]); env != nil || err != nil {
		t.Fatalf("late chunk: %v %v", env, err)
	}
	if _, n := asm.Held(); n != 0 {
		t.Fatal("late chunk opened an envelope")
	}
}

func TestAssemblerCorruptChunk(t *testing.T) {
	asm := client.NewAssembler(client.AssemblerConfig{})
	chunks := chunksOf(t, client.NewEnvelope(randomBytes(t, 1000)), 100)
	chunks[3][client.ChunkHeaderSize+7] ^= 0x20
	var failed error
	for _, c := range chunks {
		env, err := asm.Add("s", c)
		if env != nil {
			t.Fatal("corrupt envelope completed")
		}
		if err != nil {
			if failed != nil {
				t.Fatalf("second error %v", err)
			}
			failed = err
		}
	}
	var ee *client.EnvelopeError
	if !errors.Is(failed, client.ErrChunkCorrupt) || !errors.As(failed, &ee) || ee.Index != 3 {
		t.Fatalf("error %v", failed)
	}
}

func TestAssemblerWholePayloadHash(t *testing.T) {
	// Chunks with valid CRCs whose data was swapped for other data: only
	// the SHA-256 can tell.
	payload := randomBytes(t, 300)
	e := client.NewEnvelope(payload)
	other := client.NewEnvelope(randomBytes(t, 300))
	other.ID, other.Sum = e.ID, e.Sum
	chunks := chunksOf(t, e, 100)
	chunks[1] = chunksOf(t, other, 100)[1]
	asm := client.NewAssembler(client.AssemblerConfig{})
	var err error
	for _, c := range chunks {
		if _, err = asm.Add("s", c); err != nil {
			break
		}
	}
	if !errors.Is(err, client.ErrChunkCorrupt) {
		t.Fatalf("error %v, want corrupt payload", err)
	}
}

func TestAssemblerDuplicates(t *testing.T) {
	asm := client.NewAssembler(client.AssemblerConfig{})
	chunks := chunksOf(t, client.NewEnvelope(randomBytes(t, 300)), 100)
	if _, err := asm.Add("s", chunks[0]); err != nil {
		t.Fatal(err)
	}
	if env, err := asm.Add("s", chunks[0]); env != nil || err != nil {
		t.Fatalf("identical duplicate: %v %v", env, err)
	}
	// A chunk 0 with other data (valid CRC): conflict.
	forged := client.NewEnvelope(randomBytes(t, 300))
	fc := chunksOf(t, forged, 100)
	h, _, _ := client.ParseChunk(fc[0])
	h0, _, _ := client.ParseChunk(chunks[0])
	h.ID, h.Sum = h0.ID, h0.Sum
	b, _ := h.AppendBinary(nil)
	copy(fc[0], b)
	_, err := asm.Add("s", fc[0])
	if !errors.Is(err, client.ErrChunkConflict) {
		t.Fatalf("conflicting duplicate: %v", err)
	}
	// A header disagreeing with earlier chunks: conflict.
	asm = client.NewAssembler(client.AssemblerConfig{})
	if _, err := asm.Add("s", chunks[0]); err != nil {
		t.Fatal(err)
	}
	h1, data, _ := client.ParseChunk(chunks[1])
	h1.Total++
	bad, _ := h1.AppendBinary(nil)
	if _, err := asm.Add("s", append(bad, data...)); !errors.Is(err, client.ErrChunkConflict) {
		t.Fatalf("disagreeing header: %v", err)
	}
}

func TestAssemblerMemoryBounds(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		asm := client.NewAssembler(client.AssemblerConfig{MaxBytes: 2000})
		big := chunksOf(t, client.NewEnvelope(randomBytes(t, 1900)), 500)
		var err error
		for _, c := range big {
			if _, err = asm.Add("s", c); err != nil {
				break
			}
		}
		if !errors.Is(err, client.ErrAssemblerFull) {
			t.Fatalf("error %v, want full", err)
		}
		if held, _ := asm.Held(); held != 0 {
			t.Fatalf("failed envelope still holds %d bytes", held)
		}
		// Others still fit afterwards.
		small := chunksOf(t, client.NewEnvelope(randomBytes(t, 800)), 400)
		for _, c := range small {
			if _, err := asm.Add("t", c); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("envelopes", func(t *testing.T) {
		asm := client.NewAssembler(client.AssemblerConfig{MaxEnvelopes: 2})
		for i := range 3 {
			c := chunksOf(t, client.NewEnvelope(randomBytes(t, 20)), 10)[0]
			_, err := asm.Add("s", c)
			if (i < 2) != (err == nil) || (err != nil && !errors.Is(err, client.ErrAssemblerFull)) {
				t.Fatalf("envelope %d: %v", i, err)
			}
		}
	})
	t.Run("envelope size", func(t *testing.T) {
		asm := client.NewAssembler(client.AssemblerConfig{MaxEnvelopeBytes: 100})
		c := chunksOf(t, client.NewEnvelope(randomBytes(t, 101)), 10)[0]
		if _, err := asm.Add("s", c); !errors.Is(err, client.ErrEnvelopeTooLarge) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("expired make room", func(t *testing.T) {
		clk := newClock()
		asm := client.NewAssembler(client.AssemblerConfig{MaxEnvelopes: 1, Timeout: time.Second, Now: clk.now})
		first := chunksOf(t, client.NewEnvelope(randomBytes(t, 20)), 10)
		if _, err := asm.Add("s", first[0]); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second)
		second := chunksOf(t, client.NewEnvelope(randomBytes(t, 20)), 10)
		if _, err := asm.Add("s", second[0]); err != nil {
			t.Fatalf("expired envelope kept its place: %v", err)
		}
		if errs := asm.Expire(); len(errs) != 1 || !errors.Is(errs[0], client.ErrChunkMissing) {
			t.Fatalf("Expire: %v", errs)
		}
	})
}

func TestAssemblerNotAChunk(t *testing.T) {
	asm := client.NewAssembler(client.AssemblerConfig{})
	if _, err := asm.Add("s", []byte("hello")); err != client.ErrNotChunk {
		t.Fatalf("error %v", err)
	}
}

func TestAssemblerAbandon(t *testing.T) {
	asm := client.NewAssembler(client.AssemblerConfig{})
	chunks := chunksOf(t, client.NewEnvelope(randomBytes(t, 300)), 100)
	if _, err := asm.Add("s", chunks[0]); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("connection lost")
	errs := asm.Abandon(cause)
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrChunkMissing) || !errors.Is(errs[0], cause) {
		t.Fatalf("Abandon: %v", errs)
	}
	if held, n := asm.Held(); held != 0 || n != 0 {
		t.Fatalf("holding %d bytes in %d envelopes", held, n)
	}
}

// TestWorkedExample keeps the example of docs/envelope-chunks.md true.
func TestWorkedExample(t *testing.T) {
	e := client.NewEnvelope([]byte("hello, porthouse"))
	copy(e.ID[:], bytes.Repeat([]byte{0xab}, 16))
	want := []string{
		"50484531" + strings.Repeat("ab", 16) + "00000000" + "00000002" + "0000000000000010" + "6a795a40" +
			"fadc225d942588c84ac8365bef9699755214e73fb8f167f690cfc4f32fce9ac9" + hex.EncodeToString([]byte("hello, por")),
		"50484531" + strings.Repeat("ab", 16) + "00000001" + "00000002" + "0000000000000010" + "66efb9ce" +
			"fadc225d942588c84ac8365bef9699755214e73fb8f167f690cfc4f32fce9ac9" + hex.EncodeToString([]byte("thouse")),
	}
	chunks := chunksOf(t, e, 10)
	if len(chunks) != 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, c := range chunks {
		if got := hex.EncodeToString(c); got != want[i] {
			t.Errorf("chunk %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	if got := crc32.Checksum([]byte("123456789"), crc32.MakeTable(crc32.Castagnoli)); got != 0xe3069283 {
		t.Errorf("CRC-32C check value %08x", got)
	}
}
