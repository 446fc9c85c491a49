package puddle_test

// BenchmarkFanoutSockets measures the whole socket path of one server: a
// publisher's raw frames are read, routed and written to N raw receivers
// over real TCP connections on 127.0.0.1. It lives in package puddle_test
// because internal/testserver imports puddle.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// fanoutWindow is how many messages the publisher may run ahead of the
// slowest receiver: 2048 × 130 bytes stays well under the 1 MiB outbound
// queue bound, so no receiver is closed as a slow consumer (4009).
const fanoutWindow = 2048

// receiver drains one raw socket in its own goroutine, counting frames.
type receiver struct {
	conn  net.Conn
	count atomic.Int64
	err   atomic.Pointer[error]
}

func (r *receiver) drain(wg *sync.WaitGroup) {
	defer wg.Done()
	br := bufio.NewReaderSize(r.conn, 4096)
	for {
		op, err := skipFrame(br)
		if err == nil && op == ws.OpClose {
			err = errClose
		}
		if err != nil {
			r.fail(err)
			return
		}
		if !op.IsControl() {
			r.count.Add(1)
		}
	}
}

// fail records why the receiver stopped (a function of its own, so that
// the read loop's err does not escape to the heap on every frame).
func (r *receiver) fail(err error) { r.err.Store(&err) }

// skipFrame reads past one unmasked server frame and returns its opcode. It
// parses the header from the buffer itself (ws.ReadHeader allocates), so
// that allocs/op counts the server's allocations, not the receivers'.
func skipFrame(br *bufio.Reader) (ws.OpCode, error) {
	h, err := br.Peek(2)
	if err != nil {
		return 0, err
	}
	op := ws.OpCode(h[0] & 0x0f)
	n, hl := int(h[1]&0x7f), 2
	switch n {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if hl > 2 {
		if h, err = br.Peek(hl); err != nil {
			return 0, err
		}
		n = 0
		for _, c := range h[2:hl] {
			n = n<<8 | int(c)
		}
	}
	_, err = br.Discard(hl + n)
	return op, err
}

var errClose = errors.New("closed by the server")

// fanoutSet is a server with a growing set of raw receivers in lobby.
type fanoutSet struct {
	srv       *testserver.Server
	secret    string
	receivers []*receiver
	wg        sync.WaitGroup
}

// grow dials raw receivers until there are n.
func (s *fanoutSet) grow(b *testing.B, n int) {
	for len(s.receivers) < n {
		// Not MustDial: receivers outlive the sub-benchmark that dials them
		// and are closed by the parent's cleanup.
		c, err := wstest.Dial(s.srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(s.secret))
		if err != nil {
			b.Fatalf("dial receiver %d: %v", len(s.receivers), err)
		}
		r := &receiver{conn: c.NetConn()}
		s.receivers = append(s.receivers, r)
		s.wg.Add(1)
		go r.drain(&s.wg)
	}
}

// minCount is the slowest receiver's count; it fails on a closed receiver.
func (s *fanoutSet) minCount(b *testing.B) int64 {
	m := int64(-1)
	for i, r := range s.receivers {
		if e := r.err.Load(); e != nil {
			b.Fatalf("receiver %d: %v", i, *e)
		}
		if c := r.count.Load(); m < 0 || c < m {
			m = c
		}
	}
	return m
}

func BenchmarkFanoutSockets(b *testing.B) {
	srv := testserver.Start(b)
	tok := srv.CreateToken(map[string]any{
		"name": "bench-receivers", "max_connections": 1000,
		"subscriptions": []any{testserver.Sub("lobby", true, true)},
	})
	set := &fanoutSet{srv: srv, secret: tok.Secret}
	b.Cleanup(func() {
		for _, r := range set.receivers {
			r.conn.Close()
		}
		set.wg.Wait()
	})
	pub := wstest.MustDial(b, srv.WSURL+"/ws/rooms/lobby", wstest.Bearer(srv.LobbySecret))
	payload := bytes.Repeat([]byte("abcdefgh"), 16)
	var frame bytes.Buffer
	if err := wsutil.WriteClientMessage(&frame, ws.OpText, payload); err != nil {
		b.Fatal(err)
	}

	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			set.grow(b, n)
			start := make([]int64, n)
			for i, r := range set.receivers {
				start[i] = r.count.Load()
			}
			base := set.minCount(b)
			pc := pub.NetConn()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%64 == 0 {
					for int64(i)-(set.minCount(b)-base) > fanoutWindow {
						time.Sleep(20 * time.Microsecond)
					}
				}
				if _, err := pc.Write(frame.Bytes()); err != nil {
					b.Fatalf("publish: %v", err)
				}
			}
			deadline := time.Now().Add(time.Minute)
			for i, r := range set.receivers {
				for r.count.Load()-start[i] < int64(b.N) {
					if e := r.err.Load(); e != nil {
						b.Fatalf("receiver %d: %v", i, *e)
					}
					if time.Now().After(deadline) {
						b.Fatalf("receiver %d got %d of %d messages", i, r.count.Load()-start[i], b.N)
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			b.StopTimer()
			deliveries := float64(b.N) * float64(n)
			b.ReportMetric(deliveries/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
		})
	}
}
