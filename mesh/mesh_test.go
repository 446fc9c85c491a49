package mesh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/porthouse/porthouse/router"
)

// trio starts meshes 0, 1 and 2 on one directory.
func trio(t *testing.T) ([]*Mesh, []*fakeReceiver) {
	t.Helper()
	dir := shortDir(t)
	var ms []*Mesh
	var rs []*fakeReceiver
	for i := range 3 {
		r := newFakeReceiver(fmt.Sprintf("tk_%d/1", i))
		ms = append(ms, startMesh(t, Config{Self: i, Dir: dir}, r))
		rs = append(rs, r)
	}
	return ms, rs
}

func msg(id string) *router.Envelope {
	return router.NewJSON(id, "tk_sender/1", []byte(`{"n":"`+id+`"}`))
}

// barrier sends a message from m through room "z/all" (routed everywhere)
// and waits until every receiver in rs has it: anything m sent before has
// then arrived too (one ordered connection per pair).
func barrier(t *testing.T, m *Mesh, rs []*fakeReceiver, id string) {
	t.Helper()
	m.AddRoutes([]Route{{"z/all", 0}, {"z/all", 1}, {"z/all", 2}})
	m.Publish("z/all", msg(id))
	for i, r := range rs {
		if i == m.cfg.Self {
			continue
		}
		waitFor(t, fmt.Sprintf("barrier %s at %d", id, i), func() bool { return slices.Contains(r.ids("z/all"), id) })
	}
}

func TestPublishReachesOnlyRoutedPuddles(t *testing.T) {
	ms, rs := trio(t)
	routes := []Route{
		{"a/x", 0}, {"a/x", 1},
		{"a/y", 0}, {"a/y", 2},
		{"a/z", 0},
		{"a/w", 1}, {"a/w", 2}, // not routed to the sender itself
	}
	for _, m := range ms {
		m.AddRoutes(routes)
		m.AddRoutes(routes) // idempotent
	}
	if got := ms[0].Routes("a/x"); !slices.Equal(got, []int{1}) { // no route to itself
		t.Fatalf("Routes(a/x) = %v", got)
	}
	if got := ms[0].Routes("a/none"); got != nil {
		t.Fatalf("Routes(a/none) = %v", got)
	}
	for _, room := range []string{"a/x", "a/y", "a/z", "a/w"} {
		ms[0].Publish(room, msg(room))
	}
	ms[1].Publish("a/x", msg("from1"))
	barrier(t, ms[0], rs, "b0")
	barrier(t, ms[1], rs, "b1")

	want := map[int][]string{
		0: {"a/x:from1"},
		1: {"a/x:a/x", "a/w:a/w"},
		2: {"a/y:a/y", "a/w:a/w"},
	}
	for i, r := range rs {
		var gotRooms []string
		for _, g := range r.snapshot() {
			if g.target != "z/all" {
				gotRooms = append(gotRooms, g.target+":"+g.id)
			}
		}
		if !slices.Equal(gotRooms, want[i]) {
			t.Errorf("puddle %d got %v, want %v", i, gotRooms, want[i])
		}
	}
	// Self never receives its own publish, even through the route table.
	for _, g := range rs[0].snapshot() {
		if g.id == "b0" {
			t.Errorf("puddle 0 received its own message %s", g.id)
		}
	}
}

func TestOrderOfOneSender(t *testing.T) {
	ms, rs := trio(t)
	ms[0].AddRoutes([]Route{{"a/x", 1}, {"a/x", 2}})
	const n = 10000
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("%05d", i)
		ms[0].Publish("a/x", msg(want[i]))
	}
	for _, r := range rs[1:] {
		waitFor(t, "10000 messages", func() bool { return r.len() >= n })
		if got := r.ids("a/x"); !slices.Equal(got, want) {
			t.Fatalf("order broken: %d messages, first difference at %d", len(got), firstDiff(got, want))
		}
	}
	if d := ms[0].Dropped(); d != 0 {
		t.Fatalf("dropped %d", d)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// kindCases builds a fresh envelope of every kind each time it is called,
// so deriving a form on one copy does not change another.
var kindCases = []struct {
	name string
	mk   func() *router.Envelope
}{
	{"json-object", func() *router.Envelope { return router.NewJSON("id1", "tk_a/1", []byte(`{"a":[1,2,"x"]}`)) }},
	{"json-string", func() *router.Envelope { return router.NewJSON("id2", "tk_a/1", []byte(`"hi \"there\" \u00e9"`)) }},
	{"text", func() *router.Envelope { return router.NewText("id3", "tk_a/1", []byte("hello \"raw\" ✓\n"), false) }},
	{"text-empty", func() *router.Envelope { return router.NewText("id4", "tk_a/1", []byte{}, false) }},
	{"json-text-object", func() *router.Envelope { return router.NewText("id5", "tk_a/1", []byte(`{"b":true}`), true) }},
	{"json-text-string", func() *router.Envelope { return router.NewText("id6", "tk_a/1", []byte(`"quoted"`), true) }},
	{"binary", func() *router.Envelope { return router.NewBinary("id7", "api:key1", []byte{0, 1, 2, 0xff, '\n'}) }},
	{"binary-empty", func() *router.Envelope { return router.NewBinary("id8", "tk_a/1", nil) }},
	{"binary-large", func() *router.Envelope { // longer than the read buffer
		return router.NewBinary("id9", "tk_a/1", bytes.Repeat([]byte("0123456789abcdef"), 10000))
	}},
}

func TestKindsRoundTrip(t *testing.T) {
	for _, derived := range []bool{false, true} {
		ms, rs := trio(t)
		ms[0].AddRoutes([]Route{{"alice/lobby", 1}})
		for _, tc := range kindCases {
			env := tc.mk()
			if derived { // as after local fan-out: every form already made
				env.MessageFrame("alice/lobby")
				env.RawFrame()
			}
			ms[0].Publish("alice/lobby", env)
		}
		waitFor(t, "all kinds", func() bool { return rs[1].len() == len(kindCases) })
		for i, tc := range kindCases {
			t.Run(fmt.Sprintf("%s/derived=%v", tc.name, derived), func(t *testing.T) {
				compareEnvelopes(t, rs[1].snapshot()[i].env, tc.mk())
			})
		}
	}
}

func compareEnvelopes(t *testing.T, got, want *router.Envelope) {
	t.Helper()
	if got.ID != want.ID || got.From != want.From || got.Binary != want.Binary {
		t.Fatalf("got id=%q from=%q binary=%v, want %q %q %v", got.ID, got.From, got.Binary, want.ID, want.From, want.Binary)
	}
	if want.Binary {
		if !bytes.Equal(got.Payload(), want.Payload()) {
			t.Errorf("Payload = %q, want %q", got.Payload(), want.Payload())
		}
	} else {
		if g, w := got.Data(), want.Data(); !bytes.Equal(g, w) {
			t.Errorf("Data = %s, want %s", g, w)
		}
		if g, w := got.Text(), want.Text(); !bytes.Equal(g, w) {
			t.Errorf("Text = %q, want %q", g, w)
		}
	}
	for _, room := range []string{"lobby", "alice/lobby", ""} {
		if g, w := got.MessageFrame(room), want.MessageFrame(room); !bytes.Equal(g, w) {
			t.Errorf("MessageFrame(%q) = %q, want %q", room, g, w)
		}
	}
	if g, w := got.RawFrame(), want.RawFrame(); !bytes.Equal(g, w) {
		t.Errorf("RawFrame = %q, want %q", g, w)
	}
}

func TestPublishCopiesPayload(t *testing.T) {
	ms, rs := trio(t)
	ms[0].AddRoutes([]Route{{"a/x", 1}})
	buf := []byte("original-payload")
	ms[0].Publish("a/x", router.NewBinary("id", "tk_a/1", buf))
	copy(buf, "overwritten-here") // the read buffer is reused at once
	waitFor(t, "message", func() bool { return rs[1].len() == 1 })
	if got := rs[1].snapshot()[0].env.Payload(); string(got) != "original-payload" {
		t.Fatalf("payload %q", got)
	}
}

func TestDirectAndAnnounce(t *testing.T) {
	ms, rs := trio(t)
	ms[0].AddRoutes([]Route{{"a/p", 0}, {"a/p", 1}, {"a/p", 2}})
	ms[0].Direct(1, "tk_1/1", router.NewText("d1", "tk_0/1", []byte("psst"), false))
	ms[0].Direct(2, "tk_gone/9", msg("d2")) // not there: dropped on arrival
	ms[0].Direct(0, "tk_0/1", msg("d0"))    // Self: delivered at once
	ms[0].Announce("a/p", "member.joined", "tk_0/1")
	ms[0].Announce("a/none", "member.joined", "tk_0/1") // no routes
	barrier(t, ms[0], rs, "b")

	var want1 []got
	for _, g := range rs[1].snapshot() {
		if g.target != "z/all" {
			want1 = append(want1, g)
		}
	}
	if len(want1) != 2 || want1[0].call != "direct" || want1[0].target != "tk_1/1" || string(want1[0].env.Text()) != "psst" ||
		want1[1].call != "presence" || want1[1].target != "a/p" || want1[1].event != "member.joined" || want1[1].socket != "tk_0/1" {
		t.Fatalf("puddle 1 got %+v", want1)
	}
	g2 := rs[2].snapshot()
	if len(g2) != 3 || g2[0].call != "direct" || g2[0].target != "tk_gone/9" || g2[1].call != "presence" {
		t.Fatalf("puddle 2 got %+v", g2)
	}
	g0 := rs[0].snapshot()
	if len(g0) != 1 || g0[0].call != "direct" || g0[0].id != "d0" {
		t.Fatalf("puddle 0 got %+v", g0)
	}
}

func TestPeerRestart(t *testing.T) {
	dir := shortDir(t)
	var logs syncBuffer
	a := startMesh(t, Config{Self: 0, Dir: dir, Log: bufferLogger(&logs)}, newFakeReceiver())
	rb := newFakeReceiver()
	b, err := New(Config{Self: 1, Dir: dir}, rb)
	if err != nil {
		t.Fatal(err)
	}
	a.AddRoutes([]Route{{"a/x", 1}})
	a.Publish("a/x", msg("m1"))
	waitFor(t, "m1", func() bool { return rb.len() == 1 })

	b.Close()
	a.Publish("a/x", msg("m2")) // meets the broken connection: kept
	waitFor(t, "the writer to notice", func() bool { return strings.Contains(logs.String(), "peer=1") })
	a.Publish("a/x", msg("m3")) // queued while the peer is down

	rb2 := newFakeReceiver()
	startMesh(t, Config{Self: 1, Dir: dir}, rb2)
	waitFor(t, "delivery to the new peer", func() bool { return rb2.len() == 2 })
	if got := rb2.ids("a/x"); !slices.Equal(got, []string{"m2", "m3"}) {
		t.Fatalf("after restart got %v", got)
	}
	a.Publish("a/x", msg("m4"))
	waitFor(t, "m4", func() bool { return rb2.len() == 3 })
	if a.Dropped() != 0 {
		t.Fatalf("dropped %d", a.Dropped())
	}
}

func TestQueueBoundDropsOldest(t *testing.T) {
	dir := shortDir(t)
	var logs syncBuffer
	const max = 1000
	a := startMesh(t, Config{Self: 0, Dir: dir, Log: bufferLogger(&logs), MaxPeerQueueBytes: max}, newFakeReceiver())
	a.AddRoutes([]Route{{"a/x", 9}}) // puddle 9 is not up yet
	frameSize := lenPrefix + messageLen("a/x", "0000", "tk_sender/1", []byte(`{"n":"0000"}`))
	const n = 50
	for i := range n {
		a.Publish("a/x", msg(fmt.Sprintf("%04d", i)))
	}
	kept := max / frameSize
	if got, want := a.Dropped(), uint64(n-kept); got != want {
		t.Fatalf("Dropped = %d, want %d", got, want)
	}
	if c := strings.Count(logs.String(), "dropped oldest frames"); c != 1 {
		t.Fatalf("%d drop warnings, want 1 (at most one a second):\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), "peer=9") {
		t.Fatalf("warning does not name the peer:\n%s", logs.String())
	}

	r9 := newFakeReceiver()
	startMesh(t, Config{Self: 9, Dir: dir}, r9)
	waitFor(t, "the kept frames", func() bool { return r9.len() == kept })
	var want []string
	for i := n - kept; i < n; i++ {
		want = append(want, fmt.Sprintf("%04d", i))
	}
	if got := r9.ids("a/x"); !slices.Equal(got, want) {
		t.Fatalf("got %v, want the newest %v", got, want)
	}
}

func TestOversizedMessageIsRefused(t *testing.T) {
	ms, rs := trio(t)
	ms[0].AddRoutes([]Route{{"a/x", 1}})
	ms[0].Publish("a/x", router.NewBinary("big", "tk_a/1", make([]byte, DefaultMaxPeerQueueBytes)))
	ms[0].Publish("a/x", router.NewBinary(strings.Repeat("i", maxField+1), "tk_a/1", nil))
	if d := ms[0].Dropped(); d != 2 {
		t.Fatalf("Dropped = %d, want 2", d)
	}
	ms[0].Publish("a/x", msg("small"))
	waitFor(t, "the next message", func() bool { return rs[1].len() == 1 })
}

func TestCloseIdempotentNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := shortDir(t)
	var ms []*Mesh
	var rs []*fakeReceiver
	for i := range 3 {
		r := newFakeReceiver()
		m, err := New(Config{Self: i, Dir: dir}, r)
		if err != nil {
			t.Fatal(err)
		}
		m.AddRoutes([]Route{{"a/x", 0}, {"a/x", 1}, {"a/x", 2}, {"a/y", 7}}) // 7 never comes up
		ms, rs = append(ms, m), append(rs, r)
	}
	for _, m := range ms {
		m.Publish("a/x", msg("m"))
		m.Publish("a/y", msg("m"))
	}
	for _, r := range rs {
		waitFor(t, "messages", func() bool { return r.len() == 2 })
	}
	for _, m := range ms {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m.Close()
		m.Publish("a/x", msg("late")) // after Close: ignored
		m.AddRoutes([]Route{{"a/z", 5}})
	}
	waitGoroutines(t, before)
	if _, err := os.Stat(SocketPath(dir, 0)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left behind: %v", err)
	}
}

func TestNewSocketPath(t *testing.T) {
	dir := shortDir(t)
	// A stale socket file from a dead process is replaced.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: SocketPath(dir, 3), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	m := startMesh(t, Config{Self: 3, Dir: dir}, newFakeReceiver())
	// A live one is not.
	if _, err := New(Config{Self: 3, Dir: dir}, newFakeReceiver()); !errors.Is(err, ErrInUse) {
		t.Fatalf("second New on a live path: %v", err)
	}
	m.Close()
	if _, err := New(Config{Self: 1, Dir: dir}, nil); err == nil {
		t.Fatal("New with a nil Receiver succeeded")
	}
}

func TestDeferredReceiver(t *testing.T) {
	var d Deferred
	d.DeliverRoom("a/x", msg("early")) // dropped, no panic
	d.AnnounceLocal("a/x", "member.joined", "s")
	if d.DeliverDirect("s", msg("early")) {
		t.Fatal("DeliverDirect true with no receiver")
	}
	r := newFakeReceiver("s")
	d.Set(r)
	d.DeliverRoom("a/x", msg("m"))
	d.AnnounceLocal("a/x", "member.left", "s")
	if !d.DeliverDirect("s", msg("d")) || r.len() != 3 {
		t.Fatalf("forwarded %d calls", r.len())
	}
}

// TestPublishDoesNotAllocate: the hot path is a route lookup and a copy
// into the peer's queue.
func TestPublishDoesNotAllocate(t *testing.T) {
	m := startMesh(t, Config{Self: 0, Dir: shortDir(t)}, newFakeReceiver())
	m.AddRoutes([]Route{{"alice/lobby", 0}, {"alice/lobby", 1}, {"alice/lobby", 2}}) // 1 and 2 are down: frames queue
	env := router.NewJSON("0123456789abcdef", "tk_sender/1", text128)
	if n := testing.AllocsPerRun(1000, func() { m.Publish("alice/lobby", env) }); n != 0 {
		t.Fatalf("Publish: %v allocations", n)
	}
}
