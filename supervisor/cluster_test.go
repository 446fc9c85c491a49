package supervisor_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// TestAcrossWorkers runs one supervisor with two worker processes and
// checks that the sockets they hold behave as one server. The subtests
// share the server (a start costs seconds under -race) and use their own
// tokens and rooms.
func TestAcrossWorkers(t *testing.T) {
	srv := testserver.StartSupervised(t, 2)
	t.Run("members", func(t *testing.T) { testMembers(t, srv) })
	t.Run("global slots", func(t *testing.T) { testGlobalSlots(t, srv) })
	t.Run("live changes", func(t *testing.T) { testLiveChanges(t, srv) })
}

// meshRoutes reads worker w's porthouse_mesh_routes from /metrics.
func meshRoutes(t *testing.T, srv *testserver.Server, w int) int {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^porthouse_mesh_routes\{[^}]*worker="` + strconv.Itoa(w) + `"[^}]*\} (\d+)$`)
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no porthouse_mesh_routes for worker %d in /metrics", w)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestRoutesFollowRooms: the routes a worker got when another worker's
// socket joined rooms are dropped once that socket is gone (the workers
// sync with the sequence every second here), and a later member of the
// rooms is routed to at once, not at the next sync: its join pushes the
// route again.
func TestRoutesFollowRooms(t *testing.T) {
	srv := testserver.StartSupervised(t, 2, func(c *config.Config) {
		c.RouteSyncInterval = config.Duration(time.Second)
	})
	rooms := []string{"rt-a", "rt-b", "rt-c"}
	var subs []any
	for _, r := range rooms {
		srv.CreateRoom(r, nil)
		subs = append(subs, testserver.Sub(r, true, true))
	}
	tok := srv.CreateToken(map[string]any{"name": "routes", "max_connections": 50, "subscriptions": subs})
	base := meshRoutes(t, srv, 2)

	on2 := dialOnto(t, srv, tok.Secret, rooms[0], 2)
	defer on2.Close()
	on1 := dialOnto(t, srv, tok.Secret, rooms[0], 1)
	if got := meshRoutes(t, srv, 2); got != base+len(rooms) {
		t.Fatalf("worker 2 has %d routes after worker 1 joined %d rooms, want %d", got, len(rooms), base+len(rooms))
	}
	on1.Close()
	poll(t, 5*time.Second, "worker 2 drops the routes of the rooms worker 1 left", func() bool {
		return meshRoutes(t, srv, 2) == base
	})

	// A new member on worker 1: the routes are back before its welcome,
	// and a message sent at once reaches it.
	on1 = dialOnto(t, srv, tok.Secret, rooms[0], 1)
	defer on1.Close()
	if got := meshRoutes(t, srv, 2); got != base+len(rooms) {
		t.Fatalf("worker 2 has %d routes right after worker 1 joined again, want %d", got, base+len(rooms))
	}
	for i, r := range rooms {
		data := fmt.Sprintf("back %d", i)
		if err := send(on2.Conn, map[string]any{"room": r, "data": data}); err != nil {
			t.Fatal(err)
		}
		expect(t, on1, data, isMessage(data))
	}
}

// testMembers drives room traffic between sockets held by two different
// worker processes: room messages both ways, per-sender order, presence,
// direct messages and the backpipe.
func testMembers(t *testing.T, srv *testserver.Server) {
	tok := srv.CreateToken(map[string]any{"name": "cross", "max_connections": 50,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	ms := spread(t, srv, tok.Secret, "lobby", 2, 2)
	w1, w2 := onWorker(ms, 1), onWorker(ms, 2)
	t.Logf("%d sockets: %d on worker 1, %d on worker 2", len(ms), len(w1), len(w2))

	t.Run("room message both ways", func(t *testing.T) {
		for _, from := range []*member{w1[0], w2[0]} {
			data := fmt.Sprintf("hello from worker %d", from.worker)
			if err := send(from.Conn, map[string]any{"room": "lobby", "data": data, "ref": "r"}); err != nil {
				t.Fatal(err)
			}
			r := expect(t, from, "receipt", func(m wstest.Msg) bool { return m.Type() == "receipt" })
			for _, to := range ms {
				if to == from {
					continue
				}
				m := expect(t, to, data, isMessage(data))
				if m.Str("from") != from.id || m.Str("room") != "lobby" || m.Str("id") != r.Str("id") {
					t.Fatalf("worker %d got %v, want from %s id %s", to.worker, m, from.id, r.Str("id"))
				}
			}
		}
	})

	t.Run("per-sender order of 500", func(t *testing.T) {
		const n = 500
		senders := []*member{w1[0], w2[0]}
		errs := make(chan error, len(ms)+len(senders))
		var wg sync.WaitGroup
		for _, r := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- checkOrder(r, senders, n)
			}()
		}
		for _, s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					if err := send(s.Conn, map[string]any{"room": "lobby", "data": map[string]any{"seq": i, "from": s.id}}); err != nil {
						errs <- fmt.Errorf("sender %s: %w", s.id, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("presence crosses workers", func(t *testing.T) {
		srv.CreateRoom("pres", map[string]any{"presence": true})
		ptok := srv.CreateToken(map[string]any{"name": "pres", "max_connections": 50,
			"subscriptions": []any{testserver.Sub("pres", true, true)}})
		ps := spread(t, srv, ptok.Secret, "pres", 2, 1)
		for w := 1; w <= 2; w++ {
			observer := onWorker(ps, 3-w)[0]
			m := dialOnto(t, srv, ptok.Secret, "pres", w)
			expect(t, observer, "member.joined of "+m.id, isEvent("member.joined", "pres", m.id))
			m.Close()
			expect(t, observer, "member.left of "+m.id, isEvent("member.left", "pres", m.id))
		}
	})

	t.Run("direct message to the other worker", func(t *testing.T) {
		for _, pair := range [][2]*member{{w1[0], w2[0]}, {w2[0], w1[0]}} {
			from, to := pair[0], pair[1]
			data := "dm to " + to.id
			if err := send(from.Conn, map[string]any{"to": to.id, "data": data, "ref": "dm"}); err != nil {
				t.Fatal(err)
			}
			r := expect(t, from, "receipt or error", func(m wstest.Msg) bool {
				return m.Str("ref") == "dm" && (m.Type() == "receipt" || m.Type() == "error")
			})
			if r.Type() != "receipt" || r.Str("to") != to.id {
				t.Fatalf("want a receipt to %s, got %v", to.id, r)
			}
			m := expect(t, to, data, isMessage(data))
			if m.Str("from") != from.id || m["room"] != nil || m.Str("id") != r.Str("id") {
				t.Fatalf("direct message %v, want from %s without room, id %s", m, from.id, r.Str("id"))
			}
		}
	})

	t.Run("backpipe reaches both workers", func(t *testing.T) {
		var res struct{ ID string }
		srv.MustAPI(http.StatusAccepted, "POST", "/api/v1/rooms/lobby/messages", "from the backpipe", &res)
		for _, m := range ms {
			got := expect(t, m, "backpipe message", isMessage("from the backpipe"))
			if got.Str("id") != res.ID || got.Str("room") != "lobby" {
				t.Fatalf("worker %d got %v, want id %s", m.worker, got, res.ID)
			}
		}
	})
}

// checkOrder reads r's frames until it has n messages from every sender
// but itself, and fails on a gap or a reordering.
func checkOrder(r *member, senders []*member, n int) error {
	next := make(map[string]int)
	want := 0
	for _, s := range senders {
		if s != r {
			next[s.id] = 0
			want++
		}
	}
	done := 0
	err := readUntil(r.Conn, 30*time.Second, func(m wstest.Msg) (bool, error) {
		data, ok := m["data"].(map[string]any)
		if m.Type() != "message" || !ok {
			return false, nil
		}
		from := m.Str("from")
		exp, ok := next[from]
		if !ok {
			return false, fmt.Errorf("socket %s got a message from %s, not a sender", r.id, from)
		}
		if seq, _ := data["seq"].(float64); int(seq) != exp {
			return false, fmt.Errorf("socket %s (worker %d): from %s got seq %v, want %d", r.id, r.worker, from, data["seq"], exp)
		}
		next[from] = exp + 1
		if exp+1 == n {
			done++
		}
		return done == want, nil
	})
	if err != nil {
		return fmt.Errorf("socket %s (worker %d) after %v: %w", r.id, r.worker, next, err)
	}
	return nil
}

// testGlobalSlots checks that slots and max_connections hold across worker
// processes: three sockets on both workers get slots 1, 2, 3 and a fourth
// is refused with 429 wherever it lands.
func testGlobalSlots(t *testing.T, srv *testserver.Server) {
	tok := srv.CreateToken(map[string]any{"name": "three", "max_connections": 3,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})

	// Three sockets, not all on one worker: while they are, close the last
	// and dial again once its slot is free.
	var held []*member
	for i := 0; ; i++ {
		if i == maxDials {
			t.Fatalf("three sockets never spread over both workers in %d dials", maxDials)
		}
		held = append(held, dialMember(t, srv, tok.Secret, "lobby"))
		if len(held) < 3 {
			continue
		}
		if len(onWorker(held, 1)) > 0 && len(onWorker(held, 2)) > 0 {
			break
		}
		last := held[2]
		last.Close()
		held = held[:2]
		poll(t, 2*time.Second, "slot of "+last.id+" freed", func() bool {
			_, ok := roomSockets(t, srv, "lobby")[last.id]
			return !ok
		})
	}
	var slots []int
	for _, m := range held {
		slots = append(slots, m.slot(t))
	}
	sort.Ints(slots)
	if fmt.Sprint(slots) != "[1 2 3]" {
		t.Fatalf("slots %v, want [1 2 3]", slots)
	}

	// Ten more dials land on both workers (all on one: odds 1 in 512);
	// each is refused before the upgrade.
	for range 10 {
		c, err := wstest.Dial(srv.WSURL+"/ws", wstest.Bearer(tok.Secret))
		var refused *wstest.Refused
		if !errors.As(err, &refused) || refused.Status != http.StatusTooManyRequests || refused.Code == "" {
			if c != nil {
				c.Close()
			}
			t.Fatalf("fourth socket: want 429 with an error code, got %v", err)
		}
	}

	// Closing a socket on one worker frees its slot for a dial that may
	// land on the other.
	gone := held[0]
	gone.Close()
	got := ""
	poll(t, 5*time.Second, "a dial after closing "+gone.id, func() bool {
		c, err := wstest.Dial(srv.WSURL+"/ws", wstest.Bearer(tok.Secret))
		if err != nil {
			return false // 429 until the close is seen
		}
		defer c.Close()
		_ = readUntil(c, wstest.Timeout, func(m wstest.Msg) (bool, error) {
			got = m.Str("socket")
			return m.Type() == "welcome", nil
		})
		return true
	})
	if got != gone.id {
		t.Fatalf("the freed slot went to %q, want %s", got, gone.id)
	}
}

// testLiveChanges checks that changes made through the API reach sockets
// on every worker process.
func testLiveChanges(t *testing.T, srv *testserver.Server) {
	newToken := func(name string) testserver.Token {
		return srv.CreateToken(map[string]any{"name": name, "max_connections": 50,
			"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	}

	t.Run("deleting a token closes its sockets everywhere", func(t *testing.T) {
		tok := newToken("doomed")
		bystanders := spread(t, srv, newToken("bystander").Secret, "lobby", 2, 1)
		ms := spread(t, srv, tok.Secret, "lobby", 2, 1)
		srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil)
		for _, m := range ms {
			expectCloseCode(t, m, 4001)
		}
		poll(t, 5*time.Second, "sockets of a deleted token gone", func() bool {
			for id := range roomSockets(t, srv, "lobby") {
				for _, m := range ms {
					if id == m.id {
						return false
					}
				}
			}
			return true
		})
		for _, b := range bystanders {
			ping(t, b, "still here")
		}
	})

	t.Run("kick reaches the worker holding the socket", func(t *testing.T) {
		tok := newToken("kicked")
		ms := spread(t, srv, tok.Secret, "lobby", 2, 2)
		for w := 1; w <= 2; w++ {
			victim, sibling := onWorker(ms, w)[0], onWorker(ms, w)[1]
			srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/sockets/"+victim.id, nil, nil)
			expectCloseCode(t, victim, 4010)
			ping(t, sibling, "sibling")
			ping(t, onWorker(ms, 3-w)[1], "other worker")
		}
	})

	t.Run("subscription PUT gives room.added on both workers", func(t *testing.T) {
		tok := newToken("grown")
		srv.CreateRoom("extra", nil)
		ms := spread(t, srv, tok.Secret, "lobby", 2, 1)
		srv.MustAPI(http.StatusOK, "PUT", "/api/v1/tokens/"+tok.ID+"/subscriptions/extra",
			map[string]any{"send": true, "receive": true}, nil)
		for _, m := range ms {
			a := expect(t, m, "room.added", func(msg wstest.Msg) bool { return msg.Type() == "room.added" })
			if a.Str("room") != "extra" || a["send"] != true || a["receive"] != true {
				t.Fatalf("worker %d: room.added %v", m.worker, a)
			}
		}
		// The new room's traffic crosses workers too.
		a, b := onWorker(ms, 1)[0], onWorker(ms, 2)[0]
		if err := send(a.Conn, map[string]any{"room": "extra", "data": "in extra"}); err != nil {
			t.Fatal(err)
		}
		if m := expect(t, b, "message in extra", isMessage("in extra")); m.Str("room") != "extra" {
			t.Fatalf("message %v", m)
		}
		srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID+"/subscriptions/extra", nil, nil)
		for _, m := range ms {
			if r := expect(t, m, "room.removed", func(msg wstest.Msg) bool { return msg.Type() == "room.removed" }); r.Str("room") != "extra" {
				t.Fatalf("worker %d: room.removed %v", m.worker, r)
			}
		}
	})
}
