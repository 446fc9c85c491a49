package router_test

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/router"
)

const (
	all      = router.PermSend | router.PermReceive | router.PermText | router.PermBinary
	recvText = router.PermReceive | router.PermText
	recvBin  = router.PermReceive | router.PermBinary
)

// fixture is a room "alice/lobby" owned by alice with members of every kind.
type fixture struct {
	r    *router.Router
	room *router.Room
	recs map[string]*recorder
	mems map[string]*router.Member
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{r: router.New(1), recs: map[string]*recorder{}, mems: map[string]*router.Member{}}
	for _, m := range []struct {
		id, owner string
		raw       bool
		perm      router.Perm
	}{
		{"alice-env-1", "alice", false, all},
		{"alice-env-2", "alice", false, all},
		{"bob-env-1", "bob", false, all},
		{"bob-env-2", "bob", false, all},
		{"alice-raw", "alice", true, all},
		{"bob-raw", "bob", true, all},
		{"no-receive", "alice", false, router.PermSend | router.PermText | router.PermBinary},
		{"text-only", "alice", false, recvText},
		{"binary-only", "bob", false, recvBin},
		{"receive-no-format", "alice", false, router.PermReceive},
		{"sender", "alice", false, all},
	} {
		rec := &recorder{}
		mem := router.NewMember(m.id, m.owner, m.raw, rec, m.perm)
		room := f.r.Join("alice/lobby", "alice", "lobby", router.Rules{}, mem)
		if f.room == nil {
			f.room = room
		} else if room != f.room {
			t.Fatal("Join returned a different room for the same key")
		}
		f.recs[m.id], f.mems[m.id] = rec, mem
	}
	return f
}

// collect takes every recorder's frames, keyed by member id; members that got
// nothing are absent.
func (f *fixture) collect(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for id, rec := range f.recs {
		frames := rec.take()
		switch len(frames) {
		case 0:
		case 1:
			out[id] = frames[0]
		default:
			t.Fatalf("%s got %d frames for one publish", id, len(frames))
		}
	}
	return out
}

func sameSlice(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func setOf(m map[string][]byte) string {
	var s []string
	for _, id := range []string{"alice-env-1", "alice-env-2", "bob-env-1", "bob-env-2", "alice-raw", "bob-raw",
		"no-receive", "text-only", "binary-only", "receive-no-format", "sender"} {
		if _, ok := m[id]; ok {
			s = append(s, id)
		}
	}
	return fmt.Sprint(s)
}

func TestPublishText(t *testing.T) {
	f := newFixture(t)
	e := router.NewJSON("0123456789abcdef", "sender", []byte(`"hi\nthere"`))
	n := f.room.Publish(e, f.recs["sender"])
	got := f.collect(t)

	want := "[alice-env-1 alice-env-2 bob-env-1 bob-env-2 alice-raw bob-raw text-only]"
	if setOf(got) != want {
		t.Fatalf("receivers %s, want %s", setOf(got), want)
	}
	if n != len(got) {
		t.Errorf("Publish returned %d, %d deliveries made", n, len(got))
	}

	for _, id := range []string{"alice-env-1", "alice-env-2", "text-only"} {
		m := decodeMessage(t, got[id])
		if m.str(t, "room") != "lobby" {
			t.Errorf("%s (same owner) got room %q, want bare name", id, m.str(t, "room"))
		}
		if m.str(t, "data") != "hi\nthere" || m.str(t, "from") != "sender" || m.str(t, "id") != "0123456789abcdef" {
			t.Errorf("%s got %v", id, m)
		}
	}
	for _, id := range []string{"bob-env-1", "bob-env-2"} {
		if r := decodeMessage(t, got[id]).str(t, "room"); r != "alice/lobby" {
			t.Errorf("%s (other owner) got room %q, want alice/lobby", id, r)
		}
	}
	for _, id := range []string{"alice-raw", "bob-raw"} {
		fr := readFrame(t, got[id])
		if fr.Header.OpCode != ws.OpText || string(fr.Payload) != "hi\nthere" {
			t.Errorf("%s got %v %q, want the bare text", id, fr.Header.OpCode, fr.Payload)
		}
	}

	// One encoding per receiver kind, shared by every receiver of the kind.
	if !sameSlice(got["alice-env-1"], got["alice-env-2"]) || !sameSlice(got["alice-env-1"], got["text-only"]) {
		t.Error("same-owner receivers got different copies of the frame")
	}
	if !sameSlice(got["bob-env-1"], got["bob-env-2"]) {
		t.Error("other-owner receivers got different copies of the frame")
	}
	if !sameSlice(got["alice-raw"], got["bob-raw"]) {
		t.Error("raw receivers got different copies of the frame")
	}
	if sameSlice(got["alice-env-1"], got["bob-env-1"]) || sameSlice(got["alice-env-1"], got["alice-raw"]) {
		t.Error("different receiver kinds share a frame")
	}

	// A second publish of the same envelope reuses its frames.
	f.room.Publish(e, f.recs["sender"])
	again := f.collect(t)
	if !sameSlice(again["alice-env-1"], got["alice-env-1"]) || !sameSlice(again["bob-raw"], got["bob-raw"]) {
		t.Error("frames encoded again on the second publish")
	}
}

func TestPublishBinary(t *testing.T) {
	f := newFixture(t)
	payload := []byte{0, 1, '\n', 0xff}
	n := f.room.Publish(router.NewBinary("0123456789abcdef", "sender", payload), f.recs["sender"])
	got := f.collect(t)

	want := "[alice-env-1 alice-env-2 bob-env-1 bob-env-2 alice-raw bob-raw binary-only]"
	if setOf(got) != want {
		t.Fatalf("receivers %s, want %s", setOf(got), want)
	}
	if n != len(got) {
		t.Errorf("Publish returned %d, %d deliveries made", n, len(got))
	}
	for id, room := range map[string]string{"alice-env-1": "lobby", "bob-env-2": "alice/lobby", "binary-only": "alice/lobby"} {
		fr := readFrame(t, got[id])
		wantHead := `{"type":"message","id":"0123456789abcdef","room":"` + room + `","from":"sender"}` + "\n"
		if fr.Header.OpCode != ws.OpBinary || string(fr.Payload) != wantHead+string(payload) {
			t.Errorf("%s got %v %q", id, fr.Header.OpCode, fr.Payload)
		}
	}
	fr := readFrame(t, got["alice-raw"])
	if fr.Header.OpCode != ws.OpBinary || string(fr.Payload) != string(payload) {
		t.Errorf("raw got %v %q, want the bare payload", fr.Header.OpCode, fr.Payload)
	}
	if !sameSlice(got["bob-env-1"], got["binary-only"]) || !sameSlice(got["alice-raw"], got["bob-raw"]) {
		t.Error("receivers of one kind got different copies")
	}
}

func TestPublishRawTextToEnvelope(t *testing.T) {
	f := newFixture(t)
	f.room.Publish(router.NewText("id", "alice-raw", []byte(`{"a":1}`), false), f.recs["alice-raw"])
	got := f.collect(t)
	if _, ok := got["alice-raw"]; ok {
		t.Error("excluded sender got its own message")
	}
	if d := decodeMessage(t, got["alice-env-1"]).str(t, "data"); d != `{"a":1}` {
		t.Errorf("data %q, want the text as a JSON string", d)
	}
	if fr := readFrame(t, got["bob-raw"]); string(fr.Payload) != `{"a":1}` {
		t.Errorf("raw receiver got %q", fr.Payload)
	}

	f.room.Publish(router.NewText("id", "alice-raw", []byte(`{"a":1}`), true), nil)
	got = f.collect(t)
	if d := string(decodeMessage(t, got["bob-env-1"])["data"]); d != `{"a":1}` {
		t.Errorf("json room: data %s, want the parsed value", d)
	}
}

func TestPublishExclude(t *testing.T) {
	f := newFixture(t)
	// No exclusion: the sender receives its own message (echo).
	if n := f.room.Publish(router.NewJSON("id", "sender", []byte(`1`)), nil); n != 8 {
		t.Errorf("echo publish delivered %d, want 8", n)
	}
	if _, ok := f.collect(t)["sender"]; !ok {
		t.Error("sender not delivered to without exclusion")
	}
	// A target that is not a member excludes nobody.
	if n := f.room.Publish(router.NewJSON("id", "x", []byte(`1`)), &recorder{}); n != 8 {
		t.Errorf("publish excluding a stranger delivered %d, want 8", n)
	}
	f.collect(t)
}

func TestSetPermNextPublish(t *testing.T) {
	f := newFixture(t)
	text := func() map[string][]byte {
		f.room.Publish(router.NewJSON("id", "sender", []byte(`1`)), f.recs["sender"])
		return f.collect(t)
	}
	bin := func() map[string][]byte {
		f.room.Publish(router.NewBinary("id", "sender", []byte{1}), f.recs["sender"])
		return f.collect(t)
	}
	if _, ok := text()["no-receive"]; ok {
		t.Fatal("member without receive got a message")
	}
	f.mems["no-receive"].SetPerm(recvText)
	if f.mems["no-receive"].Perm() != recvText {
		t.Fatalf("Perm() = %b after SetPerm(%b)", f.mems["no-receive"].Perm(), recvText)
	}
	if _, ok := text()["no-receive"]; !ok {
		t.Error("receive granted but the next publish skipped the member")
	}

	f.mems["text-only"].SetPerm(recvBin)
	if _, ok := text()["text-only"]; ok {
		t.Error("text format revoked but the member still got text")
	}
	if _, ok := bin()["text-only"]; !ok {
		t.Error("binary format granted but the member got no binary")
	}

	f.mems["alice-env-1"].SetPerm(router.PermSend | router.PermText | router.PermBinary)
	if _, ok := text()["alice-env-1"]; ok {
		t.Error("receive revoked but the member still got a message")
	}
}

func TestPermHas(t *testing.T) {
	if !all.Has(recvText) || !recvText.Has(router.PermReceive) || recvText.Has(recvBin) || router.Perm(0).Has(router.PermReceive) {
		t.Error("Perm.Has")
	}
	if !router.Perm(0).Has(0) {
		t.Error("every perm has no bits")
	}
}

func TestAnnounce(t *testing.T) {
	f := newFixture(t)
	f.room.Announce("member.joined", "alice-env-2")
	got := f.collect(t)
	for _, id := range []string{"alice-env-2", "alice-raw", "bob-raw"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s got the presence event", id)
		}
	}
	for _, id := range []string{"alice-env-1", "sender", "text-only"} {
		m := decodeMessage(t, got[id])
		m.keys(t, "type", "room", "socket")
		if m.str(t, "type") != "member.joined" || m.str(t, "room") != "lobby" || m.str(t, "socket") != "alice-env-2" {
			t.Errorf("%s got %v", id, m)
		}
	}
	for _, id := range []string{"bob-env-1", "bob-env-2", "binary-only"} {
		if r := decodeMessage(t, got[id]).str(t, "room"); r != "alice/lobby" {
			t.Errorf("%s (other owner) got room %q", id, r)
		}
	}
	if !sameSlice(got["alice-env-1"], got["sender"]) || !sameSlice(got["bob-env-1"], got["bob-env-2"]) {
		t.Error("event encoded per receiver")
	}

	// A socket that left is announced to everyone still in the room.
	f.room.Announce("member.left", "gone")
	got = f.collect(t)
	if len(got) != 9 { // 11 members, two of them raw
		t.Errorf("member.left reached %d members, want 9", len(got))
	}
	if m := decodeMessage(t, got["bob-env-1"]); m.str(t, "type") != "member.left" || m.str(t, "socket") != "gone" {
		t.Errorf("got %v", m)
	}
}

func TestRoomMembersAndRules(t *testing.T) {
	f := newFixture(t)
	if f.room.Len() != 11 || len(f.room.Members()) != 11 {
		t.Fatalf("Len %d Members %d, want 11", f.room.Len(), len(f.room.Members()))
	}
	seen := map[*router.Member]bool{}
	f.room.Each(func(m *router.Member) {
		if seen[m] {
			t.Errorf("Each visited %s twice", m.ID)
		}
		seen[m] = true
	})
	for id, m := range f.mems {
		if !seen[m] {
			t.Errorf("Each missed %s", id)
		}
	}
	if f.room.Key != "alice/lobby" || f.room.Owner != "alice" || f.room.Name != "lobby" {
		t.Errorf("room %q %q %q", f.room.Key, f.room.Owner, f.room.Name)
	}
	f.room.SetRules(router.Rules{Echo: true, Format: "json"})
	if r := f.room.Rules(); !r.Echo || r.Format != "json" {
		t.Errorf("rules %+v after SetRules", r)
	}
}

// TestPublishAllocsPerMessage holds fan-out to zero allocations per
// receiver: a room of thousands costs what a room of three costs.
func TestPublishAllocsPerMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	kind := func(i int) (string, bool) {
		switch i % 3 {
		case 0:
			return "alice", false
		case 1:
			return "bob", false
		default:
			return "bob", true
		}
	}
	small, large := fanoutRoom(3, kind), fanoutRoom(3000, kind)
	for _, mk := range []func() *router.Envelope{
		func() *router.Envelope { return router.NewJSON("0123456789abcdef", "tk_s/1", text128) },
		func() *router.Envelope { return router.NewText("0123456789abcdef", "tk_s/1", text128, false) },
		func() *router.Envelope { return router.NewBinary("0123456789abcdef", "tk_s/1", text128) },
	} {
		a := testing.AllocsPerRun(20, func() { small.Publish(mk(), nil) })
		b := testing.AllocsPerRun(20, func() { large.Publish(mk(), nil) })
		if b != a {
			t.Errorf("%v allocations for 3 members, %v for 3000: fan-out allocates per receiver", a, b)
		}
		if a > 10 {
			t.Errorf("%v allocations per message", a)
		}
	}
	// The common case: one encoding for a room of the owner's own sockets.
	own := fanoutRoom(1000, func(int) (string, bool) { return "alice", false })
	if n := testing.AllocsPerRun(20, func() {
		own.Publish(router.NewJSON("0123456789abcdef", "tk_s/1", text128), nil)
	}); n > 2 {
		t.Errorf("%v allocations publishing to own envelope sockets, want at most 2 (envelope and frame)", n)
	}
}
