package router_test

import (
	"encoding/json"
	"testing"

	"github.com/porthouse/porthouse/router"
)

// PROTOCOL.md, "Text between modes": envelope `data` reaches raw receivers
// as the string itself when it is a JSON string, else as its JSON text.
func TestTextFromJSON(t *testing.T) {
	for _, tc := range []struct{ data, text string }{
		{`"hi\nthere"`, "hi\nthere"},
		{`{"a":1}`, `{"a":1}`},
		{`"\u00e9\"q\"\\ \u2028 \ud83c\udf89"`, "é\"q\"\\ \u2028 🎉"},
		{`""`, ""},
		{`42`, `42`},
		{`-0.5`, `-0.5`},
		{`true`, `true`},
		{`null`, `null`},
		{`["a",1]`, `["a",1]`},
		{`"\"quoted\""`, `"quoted"`},
	} {
		e := router.NewJSON("id", "s/1", []byte(tc.data))
		if e.Size() != len(tc.data) {
			t.Errorf("NewJSON(%s).Size() = %d, want %d", tc.data, e.Size(), len(tc.data))
		}
		if got := string(e.Text()); got != tc.text {
			t.Errorf("NewJSON(%s).Text() = %q, want %q", tc.data, got, tc.text)
		}
		if got := string(e.Data()); got != tc.data {
			t.Errorf("NewJSON(%s).Data() = %s, want it unchanged", tc.data, got)
		}
		// Size is the size the message arrived with, before and after the
		// raw form was derived.
		if e.Size() != len(tc.data) {
			t.Errorf("NewJSON(%s).Size() after Text() = %d, want %d", tc.data, e.Size(), len(tc.data))
		}
	}
}

// A raw text frame reaches envelope receivers as a JSON string of the text.
func TestDataFromText(t *testing.T) {
	for _, text := range []string{
		"héllo \"q\" \u2028 \x01",
		"",
		`{"a":1}`, // not a json-format room: still a string
		"tab\tnl\nback\\",
		"🎉 日本語",
	} {
		e := router.NewText("id", "s/1", []byte(text), false)
		if e.Size() != len(text) {
			t.Errorf("Size() = %d, want %d (the raw text)", e.Size(), len(text))
		}
		data := e.Data()
		if !json.Valid(data) {
			t.Fatalf("Data() = %q: not valid JSON", data)
		}
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("Data() = %s is not a JSON string: %v", data, err)
		}
		if s != text {
			t.Errorf("Data() = %s decodes to %q, want %q", data, s, text)
		}
		if got := string(e.Text()); got != text {
			t.Errorf("Text() = %q, want %q", got, text)
		}
		if e.Size() != len(text) {
			t.Errorf("Size() after Data() = %d, want %d (the raw text)", e.Size(), len(text))
		}
		m := decodeMessage(t, e.MessageFrame("lobby"))
		if got := m.str(t, "data"); got != text {
			t.Errorf("message data %q, want %q", got, text)
		}
	}
}

// In a room with format json the raw text is the JSON value itself.
func TestTextIsJSON(t *testing.T) {
	for _, text := range []string{`{"a":1}`, `[1,2]`, `"s"`, `3`} {
		e := router.NewText("id", "s/1", []byte(text), true)
		if got := string(e.Data()); got != text {
			t.Errorf("Data() = %s, want %s", got, text)
		}
		if got := string(e.Text()); got != text {
			t.Errorf("Text() = %s, want the raw text %s unchanged", got, text)
		}
		m := decodeMessage(t, e.MessageFrame("lobby"))
		if got := string(m["data"]); got != text {
			t.Errorf("message data %s, want %s", got, text)
		}
	}
}

func TestBinaryEnvelope(t *testing.T) {
	p := []byte{0, 1, 2, '\n', 0xff}
	e := router.NewBinary("id", "s/1", p)
	if !e.Binary || e.Size() != len(p) || string(e.Payload()) != string(p) {
		t.Fatalf("Binary %v Size %d Payload %v", e.Binary, e.Size(), e.Payload())
	}
}

// Derived forms are computed once.
func TestEnvelopeCachesDerivedForms(t *testing.T) {
	e := router.NewText("id", "s/1", []byte("abc"), false)
	a, b := e.Data(), e.Data()
	if &a[0] != &b[0] {
		t.Error("Data() encoded twice")
	}
	j := router.NewJSON("id", "s/1", []byte(`"abc"`))
	x, y := j.Text(), j.Text()
	if &x[0] != &y[0] {
		t.Error("Text() decoded twice")
	}
}

// TestWireRoundTrip carries every kind of envelope through Wire and
// FromWire, before and after its derived forms were made, and checks that
// receivers of every mode get the same frames.
func TestWireRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind int
		mk   func() *router.Envelope
	}{
		{"json", router.KindJSON, func() *router.Envelope { return router.NewJSON("id", "s/1", []byte(`"hi\nthere"`)) }},
		{"json-object", router.KindJSON, func() *router.Envelope { return router.NewJSON("id", "s/1", []byte(`{"a":1}`)) }},
		{"text", router.KindText, func() *router.Envelope { return router.NewText("id", "s/1", []byte(`{"a":1}`), false) }},
		{"json-text", router.KindJSONText, func() *router.Envelope { return router.NewText("id", "s/1", []byte(`{"a":1}`), true) }},
		{"binary", router.KindBinary, func() *router.Envelope { return router.NewBinary("id", "s/1", []byte{0, '\n', 0xff}) }},
	} {
		for _, derived := range []bool{false, true} {
			e := tc.mk()
			if derived && !e.Binary {
				e.Data()
				e.Text()
			}
			kind, payload := e.Wire()
			if kind != tc.kind {
				t.Errorf("%s: Wire kind %d, want %d", tc.name, kind, tc.kind)
			}
			back := router.FromWire(e.ID, e.From, kind, payload)
			if back.Binary != e.Binary || back.Size() != e.Size() {
				t.Errorf("%s: Binary %v Size %d after the round trip, want %v %d", tc.name, back.Binary, back.Size(), e.Binary, e.Size())
			}
			for _, room := range []string{"lobby", "alice/lobby"} {
				if got, want := back.MessageFrame(room), e.MessageFrame(room); string(got) != string(want) {
					t.Errorf("%s: message frame %q after the round trip, want %q", tc.name, got, want)
				}
			}
			if got, want := back.RawFrame(), e.RawFrame(); string(got) != string(want) {
				t.Errorf("%s: raw frame %q after the round trip, want %q", tc.name, got, want)
			}
		}
	}
}
