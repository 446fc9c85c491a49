package router_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/router"
)

// frameSizes straddle the three header lengths.
var frameSizes = []int{0, 1, 125, 126, 127, 65535, 65536, 70000}

// pattern returns n bytes that are not all alike, so a shifted or truncated
// payload does not compare equal.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

func binPattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

func TestFrame(t *testing.T) {
	for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary, ws.OpPing, ws.OpPong} {
		for _, n := range frameSizes {
			if op.IsControl() && n > 125 {
				continue
			}
			payload := binPattern(n)
			b := router.Frame(op, payload)
			f := readFrame(t, b)
			if f.Header.OpCode != op {
				t.Errorf("op %v size %d: opcode %v", op, n, f.Header.OpCode)
			}
			if !bytes.Equal(f.Payload, payload) {
				t.Errorf("op %v size %d: payload differs", op, n)
			}
			if cap(b) != len(b) {
				t.Errorf("op %v size %d: cap %d len %d, want one exact allocation", op, n, cap(b), len(b))
			}
		}
	}
}

func TestRawFrame(t *testing.T) {
	for _, n := range frameSizes {
		bin := binPattern(n)
		f := readFrame(t, router.NewBinary("id", "s/1", bin).RawFrame())
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, bin) {
			t.Errorf("binary size %d: opcode %v, payload equal %v", n, f.Header.OpCode, bytes.Equal(f.Payload, bin))
		}

		text := pattern(n)
		f = readFrame(t, router.NewText("id", "s/1", text, false).RawFrame())
		if f.Header.OpCode != ws.OpText || !bytes.Equal(f.Payload, text) {
			t.Errorf("raw text size %d: opcode %v, payload equal %v", n, f.Header.OpCode, bytes.Equal(f.Payload, text))
		}

		// A JSON string from envelope mode reaches raw receivers unquoted.
		data := append(append([]byte{'"'}, text...), '"')
		f = readFrame(t, router.NewJSON("id", "s/1", data).RawFrame())
		if f.Header.OpCode != ws.OpText || !bytes.Equal(f.Payload, text) {
			t.Errorf("json string size %d: opcode %v, payload equal %v", n, f.Header.OpCode, bytes.Equal(f.Payload, text))
		}
	}
}

func TestRawFrameIsCached(t *testing.T) {
	e := router.NewText("id", "s/1", []byte("hello"), false)
	a, b := e.RawFrame(), e.RawFrame()
	if &a[0] != &b[0] {
		t.Fatal("RawFrame encoded twice")
	}
}

func TestMessageFrameText(t *testing.T) {
	for _, n := range frameSizes {
		text := pattern(n)
		e := router.NewText("0123456789abcdef", "tk_abc/3", text, false)
		for _, room := range []string{"lobby", "alice/lobby", ""} {
			m := decodeMessage(t, e.MessageFrame(room))
			if room == "" {
				m.keys(t, "type", "id", "from", "data")
			} else {
				m.keys(t, "type", "id", "room", "from", "data")
				if got := m.str(t, "room"); got != room {
					t.Errorf("room %q, want %q", got, room)
				}
			}
			if got := m.str(t, "type"); got != "message" {
				t.Errorf("type %q", got)
			}
			if got := m.str(t, "id"); got != "0123456789abcdef" {
				t.Errorf("id %q", got)
			}
			if got := m.str(t, "from"); got != "tk_abc/3" {
				t.Errorf("from %q", got)
			}
			if got := m.str(t, "data"); got != string(text) {
				t.Errorf("size %d room %q: data differs", n, room)
			}
		}
	}
}

func TestMessageFrameJSONData(t *testing.T) {
	for _, data := range []string{`{"a":1,"b":[true,null,"x"]}`, `42`, `null`, `[]`, `"s"`, `-1.5e3`} {
		m := decodeMessage(t, router.NewJSON("id", "s/1", []byte(data)).MessageFrame("lobby"))
		if got := string(m["data"]); got != data {
			t.Errorf("data %s, want %s (passed through unchanged)", got, data)
		}
	}
}

// TestMessageFrameHeaderBoundaries makes the whole frame payload (not just
// data) land exactly on the header-length boundaries, which checks that
// MessageFrame's size arithmetic matches what it writes.
func TestMessageFrameHeaderBoundaries(t *testing.T) {
	mk := func(k int) *router.Envelope {
		return router.NewText("0123456789abcdef", "tk_abc/3", pattern(k), false)
	}
	base := len(readFrame(t, mk(0).MessageFrame("lobby")).Payload)
	bbase := len(readFrame(t, router.NewBinary("0123456789abcdef", "tk_abc/3", nil).MessageFrame("lobby")).Payload)
	for _, total := range []int{125, 126, 65535, 65536} {
		f := readFrame(t, mk(total-base).MessageFrame("lobby"))
		if len(f.Payload) != total {
			t.Fatalf("text: payload %d, want %d", len(f.Payload), total)
		}
		decodeObject(t, f.Payload)
		f = readFrame(t, router.NewBinary("0123456789abcdef", "tk_abc/3", binPattern(total-bbase)).MessageFrame("lobby"))
		if len(f.Payload) != total {
			t.Fatalf("binary: payload %d, want %d", len(f.Payload), total)
		}
	}
}

func TestMessageFrameBinary(t *testing.T) {
	for _, n := range frameSizes {
		payload := binPattern(n)
		// A payload that itself contains newlines must not confuse the split.
		if n > 10 {
			payload[0], payload[n/2] = '\n', '\n'
		}
		e := router.NewBinary("0123456789abcdef", "tk_abc/3", payload)
		for _, room := range []string{"lobby", "bob/lobby", ""} {
			f := readFrame(t, e.MessageFrame(room))
			if f.Header.OpCode != ws.OpBinary {
				t.Fatalf("opcode %v, want binary", f.Header.OpCode)
			}
			i := bytes.IndexByte(f.Payload, '\n')
			if i < 0 {
				t.Fatal("no newline after the header object")
			}
			m := decodeObject(t, f.Payload[:i])
			if room == "" {
				m.keys(t, "type", "id", "from")
			} else {
				m.keys(t, "type", "id", "room", "from")
				if got := m.str(t, "room"); got != room {
					t.Errorf("room %q, want %q", got, room)
				}
			}
			if m.str(t, "type") != "message" || m.str(t, "id") != "0123456789abcdef" || m.str(t, "from") != "tk_abc/3" {
				t.Errorf("header %s", f.Payload[:i])
			}
			if !bytes.Equal(f.Payload[i+1:], payload) {
				t.Errorf("size %d room %q: payload after the header differs", n, room)
			}
		}
	}
}

func TestMessageFrameOneAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	e := router.NewJSON("0123456789abcdef", "tk_abc/3", []byte(`{"a":1}`))
	if n := testing.AllocsPerRun(100, func() { e.MessageFrame("lobby") }); n != 1 {
		t.Errorf("text MessageFrame: %v allocations, want 1", n)
	}
	b := router.NewBinary("0123456789abcdef", "tk_abc/3", make([]byte, 1000))
	if n := testing.AllocsPerRun(100, func() { b.MessageFrame("lobby") }); n != 1 {
		t.Errorf("binary MessageFrame: %v allocations, want 1", n)
	}
}

func TestCloseFrame(t *testing.T) {
	long := strings.Repeat("r", 200)
	for _, tc := range []struct {
		code   int
		reason string
		want   string
	}{
		{1000, "", ""},
		{1001, "going away", "going away"},
		{4009, "slow consumer", "slow consumer"},
		{4001, long[:120], long[:120]},
		{1008, long, long[:120]}, // control frames carry at most 125 bytes
	} {
		f := readFrame(t, router.CloseFrame(tc.code, tc.reason))
		if f.Header.OpCode != ws.OpClose {
			t.Fatalf("opcode %v, want close", f.Header.OpCode)
		}
		if len(f.Payload) > 125 {
			t.Fatalf("close payload %d bytes", len(f.Payload))
		}
		code, reason := ws.ParseCloseFrameData(f.Payload)
		if int(code) != tc.code || reason != tc.want {
			t.Errorf("CloseFrame(%d, %d bytes) = %d %q", tc.code, len(tc.reason), code, reason)
		}
	}
}

func TestEventFrame(t *testing.T) {
	m := decodeMessage(t, router.EventFrame("member.joined", "alice/lobby", "tk_x/2"))
	m.keys(t, "type", "room", "socket")
	if m.str(t, "type") != "member.joined" || m.str(t, "room") != "alice/lobby" || m.str(t, "socket") != "tk_x/2" {
		t.Errorf("event %v", m)
	}
	long := strings.Repeat("n", 64)
	m = decodeMessage(t, router.EventFrame("member.left", "owner-with-long-name/"+long, "tk_"+long+"/10"))
	if m.str(t, "room") != "owner-with-long-name/"+long {
		t.Errorf("room %q", m.str(t, "room"))
	}
}

// jsonDecodeString unmarshals a JSON string.
func jsonDecodeString(t testing.TB, b []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("unmarshal %q: %v", b, err)
	}
	return s
}

// checkAppendJSONString is the property both the table test and the fuzz
// target hold AppendJSONString to.
func checkAppendJSONString(t testing.TB, in []byte) {
	t.Helper()
	prefix := []byte("xy")
	out := router.AppendJSONString(prefix[:2:2], in)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("dst prefix lost: %q", out)
	}
	enc := out[2:]
	if !json.Valid(enc) {
		t.Fatalf("AppendJSONString(%q) = %q: not valid JSON", in, enc)
	}
	if !utf8.Valid(enc) {
		t.Fatalf("AppendJSONString(%q) = %q: not valid UTF-8", in, enc)
	}
	for _, c := range enc {
		if c < 0x20 {
			t.Fatalf("AppendJSONString(%q) = %q: raw control byte %#x", in, enc, c)
		}
	}
	// U+2028 and U+2029 are escaped so the output is also safe JavaScript.
	if bytes.Contains(enc, []byte("\u2028")) || bytes.Contains(enc, []byte("\u2029")) {
		t.Fatalf("AppendJSONString(%q) = %q: raw line separator", in, enc)
	}
	got := jsonDecodeString(t, enc)
	if utf8.Valid(in) {
		if got != string(in) {
			t.Fatalf("AppendJSONString(%q) = %q decodes to %q", in, enc, got)
		}
		return
	}
	// Invalid bytes become U+FFFD, one per byte, as encoding/json does.
	std, err := json.Marshal(string(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := jsonDecodeString(t, std); got != want {
		t.Fatalf("AppendJSONString(%q) = %q decodes to %q, encoding/json gives %q", in, enc, got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // exact encoding, when it matters
	}{
		{"", `""`},
		{"hello", `"hello"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"héllo wörld", `"héllo wörld"`},
		{"日本語 🎉", `"日本語 🎉"`},
		{"\uFFFD", "\"\uFFFD\""},
		{"<script>&</script>", `"<script>&</script>"`},
		{"/", `"/"`},
		{"\xff", `"\ufffd"`},
		{"a\xc3", `"a\ufffd"`},         // truncated sequence
		{"\xed\xa0\x80", ""},           // UTF-16 surrogate in UTF-8: invalid
		{"\xf4\x90\x80\x80", ""},       // above U+10FFFF
		{"\xc0\xaf", `"\ufffd\ufffd"`}, // overlong
		{"tail\\", `"tail\\"`},
		{strings.Repeat("x", 1000) + "\"", ""},
	} {
		out := router.AppendJSONString(nil, []byte(tc.in))
		if tc.want != "" && string(out) != tc.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", tc.in, out, tc.want)
		}
		checkAppendJSONString(t, []byte(tc.in))
	}
	// Every single byte and every ASCII pair.
	for c := 0; c < 256; c++ {
		checkAppendJSONString(t, []byte{byte(c)})
		if c < 0x80 {
			for d := 0; d < 0x80; d++ {
				checkAppendJSONString(t, []byte{byte(c), byte(d)})
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "hello", "\"\\\n\r\t\x00\x1f", "\u2028\u2029", "héllo \"q\" \u2028 \x01", "\xff\xfe", "🎉"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAppendJSONString(t, in)
	})
}
