package client_test

import (
	"bytes"
	"testing"

	"github.com/porthouse/porthouse/client"
)

// FuzzParseChunkHeader checks that any input either fails to parse or
// parses into a header that re-encodes to the same bytes, with data that
// fits the header's promises; the Assembler must not panic on it either.
func FuzzParseChunkHeader(f *testing.F) {
	for c := range client.NewEnvelope([]byte("seed payload for the fuzzer")).Chunks(10) {
		f.Add(bytes.Clone(c))
	}
	f.Add([]byte("PHE1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, data, err := client.ParseChunkHeader(p)
		if err != nil {
			return
		}
		enc, _ := h.AppendBinary(nil)
		if !bytes.Equal(enc, p[:client.ChunkHeaderSize]) {
			t.Fatalf("re-encoded header differs")
		}
		if h.Count == 0 || h.Index >= h.Count || uint64(len(data)) > h.Total || len(data) != len(p)-client.ChunkHeaderSize {
			t.Fatalf("header %+v with %d data bytes passed", h, len(data))
		}
		asm := client.NewAssembler(client.AssemblerConfig{MaxBytes: 1 << 20})
		_, _ = asm.Add("fuzz", p)
		if held, _ := asm.Held(); held > 1<<20 {
			t.Fatalf("assembler holds %d bytes", held)
		}
	})
}
