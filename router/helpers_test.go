package router_test

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

// recorder is a Target that keeps every frame it is given, as given: no
// copy, so tests can check that receivers share one encoding.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) Deliver(frame []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, frame)
	r.mu.Unlock()
}

func (r *recorder) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames
	r.frames = nil
	return out
}

// wantHeaderLen is the minimal RFC 6455 header length of an unmasked frame.
func wantHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// readFrame decodes b, which must hold exactly one final, unmasked frame
// with a minimal length encoding, and returns it.
func readFrame(t testing.TB, b []byte) ws.Frame {
	t.Helper()
	rd := bytes.NewReader(b)
	f, err := ws.ReadFrame(rd)
	if err != nil {
		t.Fatalf("ws.ReadFrame: %v", err)
	}
	if rest, _ := io.ReadAll(rd); len(rest) != 0 {
		t.Fatalf("%d bytes after the frame", len(rest))
	}
	if !f.Header.Fin {
		t.Fatal("FIN not set")
	}
	if f.Header.Masked {
		t.Fatal("server frame is masked")
	}
	if f.Header.Rsv != 0 {
		t.Fatalf("rsv bits %b set", f.Header.Rsv)
	}
	if int(f.Header.Length) != len(f.Payload) {
		t.Fatalf("header length %d, payload %d", f.Header.Length, len(f.Payload))
	}
	if got, want := len(b)-len(f.Payload), wantHeaderLen(len(f.Payload)); got != want {
		t.Fatalf("header is %d bytes for a %d-byte payload, want %d", got, len(f.Payload), want)
	}
	return f
}

// message is the envelope-mode `message` frame decoded with its fields
// present or absent.
type message map[string]json.RawMessage

// decodeMessage checks a text `message` frame and returns its fields.
func decodeMessage(t testing.TB, frame []byte) message {
	t.Helper()
	f := readFrame(t, frame)
	if f.Header.OpCode != ws.OpText {
		t.Fatalf("opcode %v, want text", f.Header.OpCode)
	}
	return decodeObject(t, f.Payload)
}

func decodeObject(t testing.TB, p []byte) message {
	t.Helper()
	if !json.Valid(p) {
		t.Fatalf("not valid JSON: %q", p)
	}
	var m message
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("unmarshal %q: %v", p, err)
	}
	return m
}

// str returns the string field k of m, failing when it is absent or not a
// string.
func (m message) str(t testing.TB, k string) string {
	t.Helper()
	raw, ok := m[k]
	if !ok {
		t.Fatalf("field %q absent in %v", k, m)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("field %q = %s: %v", k, raw, err)
	}
	return s
}

// keys checks that m has exactly the given fields.
func (m message) keys(t testing.TB, want ...string) {
	t.Helper()
	if len(m) != len(want) {
		t.Fatalf("fields %v, want exactly %v", keysOf(m), want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Fatalf("fields %v, want exactly %v", keysOf(m), want)
		}
	}
}

func keysOf(m message) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
