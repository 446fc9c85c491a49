package supervisor_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// envCrash makes the test binary, started as a worker, exit 1 at once: a
// worker binary that crashes in a loop.
const envCrash = "PORTHOUSE_TEST_CRASH"

// TestMain lets the test binary double as the worker binary (go-plugin's
// helper-process pattern): testserver.Main runs it as `porthouse puddle`
// when the supervisor re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv(envCrash) == "1" {
		fmt.Fprintln(os.Stderr, "crashing on purpose")
		os.Exit(1)
	}
	testserver.Main(m)
}

// maxDials bounds every loop that dials until a socket lands on a worker.
const maxDials = 40

// member is an envelope-mode socket and the worker process holding it.
type member struct {
	*wstest.Conn
	id     string
	worker int
}

// slot returns the slot number of the member's socket id.
func (m *member) slot(t *testing.T) int {
	t.Helper()
	_, s, _ := strings.Cut(m.id, "/")
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("socket id %q has no slot", m.id)
	}
	return n
}

// socketInfo is one entry of GET /api/v1/rooms/{room}/sockets.
type socketInfo struct {
	ID     string `json:"id"`
	Token  string `json:"token"`
	Worker int    `json:"worker"`
}

// roomSockets asks the sockets API for a room's members: id → worker.
func roomSockets(t *testing.T, srv *testserver.Server, room string) map[string]int {
	t.Helper()
	var list []socketInfo
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/rooms/"+room+"/sockets", nil, &list)
	out := make(map[string]int, len(list))
	for _, s := range list {
		out[s.ID] = s.Worker
	}
	return out
}

// poll calls cond until it holds, failing the test after d.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}

// workerOf polls the sockets API until socket id is a member of room and
// returns the worker holding it.
func workerOf(t *testing.T, srv *testserver.Server, room, id string) int {
	t.Helper()
	w := 0
	poll(t, 5*time.Second, "socket "+id+" in the sockets API", func() bool {
		w = roomSockets(t, srv, room)[id]
		return w != 0
	})
	return w
}

// dialMember opens an envelope socket with secret, reads its welcome and
// finds its worker through room (one of the token's auto-joined rooms).
func dialMember(t *testing.T, srv *testserver.Server, secret, room string) *member {
	t.Helper()
	c := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(secret))
	w := c.Next()
	if w.Type() != "welcome" || w.Str("socket") == "" {
		t.Fatalf("want a welcome with a socket id, got %v", w)
	}
	m := &member{Conn: c, id: w.Str("socket")}
	m.worker = workerOf(t, srv, room, m.id)
	return m
}

// spread dials envelope sockets until every worker 1..workers holds at
// least per of them, and returns all it dialled. It gives up after maxDials.
func spread(t *testing.T, srv *testserver.Server, secret, room string, workers, per int) []*member {
	t.Helper()
	var all []*member
	count := make(map[int]int)
	enough := func() bool {
		for w := 1; w <= workers; w++ {
			if count[w] < per {
				return false
			}
		}
		return true
	}
	for i := 0; !enough(); i++ {
		if i == maxDials {
			t.Fatalf("after %d dials the workers hold %v sockets, want %d on each of %d", maxDials, count, per, workers)
		}
		m := dialMember(t, srv, secret, room)
		all = append(all, m)
		count[m.worker]++
	}
	return all
}

// dialOnto dials envelope sockets until one lands on worker w; the others
// are closed. It gives up after maxDials.
func dialOnto(t *testing.T, srv *testserver.Server, secret, room string, w int) *member {
	t.Helper()
	for range maxDials {
		m := dialMember(t, srv, secret, room)
		if m.worker == w {
			return m
		}
		m.Close()
	}
	t.Fatalf("no socket landed on worker %d in %d dials", w, maxDials)
	return nil
}

// onWorker returns the members held by worker w.
func onWorker(ms []*member, w int) []*member {
	var out []*member
	for _, m := range ms {
		if m.worker == w {
			out = append(out, m)
		}
	}
	return out
}

// readUntil reads text frames as JSON and hands each to fn until fn says
// done, fn fails, or d passes. It never touches a testing.T, so it may run
// in any goroutine.
func readUntil(c *wstest.Conn, d time.Duration, fn func(wstest.Msg) (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		f, err := c.Read(time.Until(deadline))
		if err != nil {
			return err
		}
		if f.Op != ws.OpText {
			continue
		}
		var m wstest.Msg
		if err := json.Unmarshal(f.Payload, &m); err != nil {
			return fmt.Errorf("bad JSON %q: %w", f.Payload, err)
		}
		done, err := fn(m)
		if err != nil || done {
			return err
		}
	}
}

// expect reads m's frames until one satisfies pred, skipping the others,
// and fails the test after wstest.Timeout.
func expect(t *testing.T, m *member, what string, pred func(wstest.Msg) bool) wstest.Msg {
	t.Helper()
	var got wstest.Msg
	err := readUntil(m.Conn, wstest.Timeout, func(msg wstest.Msg) (bool, error) {
		if pred(msg) {
			got = msg
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("socket %s (worker %d): waiting for %s: %v (close code %d)", m.id, m.worker, what, err, m.Code)
	}
	return got
}

// isEvent matches an event frame of type typ about socket.
func isEvent(typ, room, socket string) func(wstest.Msg) bool {
	return func(m wstest.Msg) bool {
		return m.Type() == typ && m.Str("room") == room && m.Str("socket") == socket
	}
}

// isMessage matches a message frame whose data is the string data.
func isMessage(data string) func(wstest.Msg) bool {
	return func(m wstest.Msg) bool { return m.Type() == "message" && m["data"] == data }
}

// send writes an envelope send frame.
func send(c *wstest.Conn, fields map[string]any) error {
	fields["type"] = "send"
	b, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return c.Write(ws.OpText, b)
}

// expectDrop reads until the connection fails without a close frame: the
// process holding it is gone.
func expectDrop(t *testing.T, m *member) {
	t.Helper()
	err := readUntil(m.Conn, wstest.Timeout, func(wstest.Msg) (bool, error) { return false, nil })
	if errors.Is(err, wstest.ErrClosed) {
		t.Fatalf("socket %s: want the connection to drop, got a close frame %d", m.id, m.Code)
	}
	if isTimeout(err) {
		t.Fatalf("socket %s: connection still open after %v", m.id, wstest.Timeout)
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// expectCloseCode reads until the server closes m and checks the code.
func expectCloseCode(t *testing.T, m *member, want int) {
	t.Helper()
	err := readUntil(m.Conn, wstest.Timeout, func(wstest.Msg) (bool, error) { return false, nil })
	if !errors.Is(err, wstest.ErrClosed) || m.Code != want {
		t.Fatalf("socket %s (worker %d): want close %d, got %v (code %d)", m.id, m.worker, want, err, m.Code)
	}
}

// ping proves m is open and answering.
func ping(t *testing.T, m *member, ref string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "ping", "ref": ref})
	if err := m.Write(ws.OpText, b); err != nil {
		t.Fatalf("socket %s: ping: %v", m.id, err)
	}
	expect(t, m, "pong "+ref, func(msg wstest.Msg) bool { return msg.Type() == "pong" && msg.Str("ref") == ref })
}
