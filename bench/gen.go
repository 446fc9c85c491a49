package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// gen is one process's share of the load: its sockets, publishers and
// figures. The parent runs it in process (-procs 1) or children do
// (child.go); either way it is driven through connect, start, stop and
// finish, in that order.
type gen struct {
	sh       share
	d        *dialer
	rec      *recorder
	cnt      counters
	envelope bool
	bufSize  int
	peek     int

	rooms   []*roomState
	pubs    []*publisher
	pubByID []*publisher // by publisher id; nil when not in this process

	opened, failed atomic.Int64
	closed         atomic.Int64 // sockets that ended during the run
	finishing      atomic.Bool
	readers        sync.WaitGroup

	mu           sync.Mutex // guards the fields below
	conns        []*conn
	reasons      map[string]int // why dials failed
	closes       map[int]int    // close codes of sockets that ended during the run
	closeErr     string         // the first read error of a socket that ended
	sendErr      string         // the first refused send
	dialHist     *hdrhistogram.Histogram
	warnings     []string
	pubCancel    context.CancelFunc
	pubDone      sync.WaitGroup
	connectStart time.Time

	httpOnce sync.Once
	hc       *http.Client
}

// httpClient is the client of -via http publishers: keeps enough idle
// connections for every request in flight.
func (g *gen) httpClient() *http.Client {
	g.httpOnce.Do(func() {
		n := 2
		for _, p := range g.pubs {
			n += min(p.inflight, maxHTTPWorkers)
		}
		g.hc = &http.Client{
			Timeout: publishTimeout,
			Transport: &http.Transport{
				MaxIdleConns:        n,
				MaxIdleConnsPerHost: n,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
			},
		}
	})
	return g.hc
}

// roomState is one room as this process sees it.
type roomState struct {
	roomShare
	receivers  atomic.Int64 // receivers open
	pubSockets atomic.Int64 // publisher sockets in the room
	sent       atomic.Int64
	watching   atomic.Bool // a receiver acknowledges the local publishers' messages
}

func newGen(sh share) (*gen, error) {
	g := &gen{
		sh:       sh,
		rec:      newRecorder(),
		envelope: sh.Mode == ModeEnvelope,
		pubByID:  make([]*publisher, sh.PubIDs),
		reasons:  map[string]int{},
		closes:   map[int]int{},
		dialHist: newLatencyHistogram(),
	}
	d, err := newDialer(sh.URL, sh.Token, sh.SourceIPs, sh.DialTimeout)
	if err != nil {
		return nil, err
	}
	g.d = d
	sockets := max(sh.sockets(), 1)
	switch {
	case sh.Idle:
		g.bufSize = 1024
	default:
		g.bufSize = min(max((32<<20)/sockets, 4096), 32<<10)
	}
	g.peek = stampSize
	if g.envelope {
		g.peek = min(g.bufSize-16, 1024)
	}
	for _, rs := range sh.Rooms {
		g.rooms = append(g.rooms, &roomState{roomShare: rs})
	}
	for _, ps := range sh.Pubs {
		if ps.ID < 0 || ps.ID >= sh.PubIDs || len(ps.Rooms) == 0 || ps.Inflight < 1 {
			return nil, fmt.Errorf("bad publisher %+v", ps)
		}
		var rooms []*roomState
		for _, ri := range ps.Rooms {
			if ri < 0 || ri >= len(g.rooms) {
				return nil, fmt.Errorf("publisher %d: room %d out of range", ps.ID, ri)
			}
			rooms = append(rooms, g.rooms[ri])
		}
		p := newPublisher(g, ps, rooms)
		g.pubs = append(g.pubs, p)
		g.pubByID[ps.ID] = p
	}
	return g, nil
}

// dialTask is one socket to open: a receiver of room, or a publisher's
// socket (for its lane, in raw mode; for all its rooms, in envelope mode).
type dialTask struct {
	room *roomState
	pub  *publisher
	lane *lane
}

// connectReport is what connect tells the parent.
type connectReport struct {
	Opened   int64          `json:"opened"`
	Failed   int64          `json:"failed"`
	Reasons  map[string]int `json:"reasons,omitempty"`
	Rooms    []roomCount    `json:"rooms"`
	Elapsed  time.Duration  `json:"elapsed"`
	DialHist string         `json:"dial_hist"`
	CPU      float64        `json:"cpu"`
	Warnings []string       `json:"warnings,omitempty"`
}

// roomCount is one room's open sockets in one process.
type roomCount struct {
	Name       string `json:"name"`
	Receivers  int64  `json:"receivers"`
	PubSockets int64  `json:"pub_sockets"`
}

// maxFailuresWithNoneOpen stops a connect phase that cannot succeed.
const maxFailuresWithNoneOpen = 64

// connect opens every socket of the share, DialConcurrency at a time,
// within ConnectTimeout.
func (g *gen) connect(ctx context.Context) connectReport {
	ctx, cancel := context.WithTimeout(ctx, g.sh.ConnectTimeout)
	defer cancel()
	var tasks []dialTask
	for _, r := range g.rooms {
		for range r.Receivers {
			tasks = append(tasks, dialTask{room: r})
		}
	}
	if g.sh.Via == ViaWS {
		for _, p := range g.pubs {
			if g.envelope {
				tasks = append(tasks, dialTask{room: p.lanes[0].room, pub: p})
				continue
			}
			for _, l := range p.lanes {
				tasks = append(tasks, dialTask{room: l.room, pub: p, lane: l})
			}
		}
	}
	g.connectStart = time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(g.sh.DialConcurrency, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				if reason := g.stopDialing(ctx); reason != "" {
					g.fail(reason)
					continue
				}
				g.open(ctx, tasks[i], i)
			}
		}()
	}
	wg.Wait()
	return g.connectReport(time.Since(g.connectStart))
}

// stopDialing says why no more sockets should be dialled, or "".
func (g *gen) stopDialing(ctx context.Context) string {
	if ctx.Err() != nil {
		return "not dialled: connect phase deadline (-connect-timeout) passed"
	}
	if g.opened.Load() == 0 && g.failed.Load() >= maxFailuresWithNoneOpen {
		return fmt.Sprintf("not dialled: the first %d dials all failed", maxFailuresWithNoneOpen)
	}
	return ""
}

func (g *gen) fail(reason string) {
	g.failed.Add(1)
	g.mu.Lock()
	g.reasons[reason]++
	g.mu.Unlock()
}

// open dials one socket and starts its reader.
func (g *gen) open(ctx context.Context, t dialTask, i int) {
	start := time.Now()
	nc, leftover, err := g.d.dial(ctx, t.room.Path, i+g.sh.Proc*7)
	if err != nil {
		g.fail(err.Error())
		return
	}
	c := &conn{g: g, nc: nc, room: t.room, pub: t.pub, shard: i}
	_, _ = rand.Read(c.mask[:])
	c.fr = newFrameReader(nc, g.bufSize, leftover)
	if g.envelope {
		rooms := []string{t.room.Name}
		if t.pub != nil {
			rooms = t.pub.roomNames()
		}
		if err := envelopeSetup(nc, c.fr, c.mask, rooms, time.Now().Add(g.sh.DialTimeout)); err != nil {
			_ = nc.Close()
			g.fail(err.Error())
			return
		}
	}
	if g.sh.PubIDs > 0 && g.sh.PubIDs <= maxOrderedPublishers && !g.sh.Idle && g.sh.Via == ViaWS {
		c.lastSeq = make([]uint32, g.sh.PubIDs)
	}
	elapsed := time.Since(start)
	switch {
	case t.lane != nil:
		t.lane.c = c
		t.room.pubSockets.Add(1)
	case t.pub != nil:
		t.pub.c = c
		for _, l := range t.pub.lanes {
			l.room.pubSockets.Add(1)
		}
	default:
		t.room.receivers.Add(1)
		if t.room.Watch && t.room.watching.CompareAndSwap(false, true) {
			c.watcher = true
		}
	}
	g.opened.Add(1)
	g.mu.Lock()
	g.conns = append(g.conns, c)
	_ = g.dialHist.RecordValue(min(elapsed.Microseconds(), latencyMaxMicros))
	g.mu.Unlock()
	g.readers.Add(1)
	go c.readLoop()
}

func (g *gen) connectReport(elapsed time.Duration) connectReport {
	g.mu.Lock()
	defer g.mu.Unlock()
	rep := connectReport{
		Opened:   g.opened.Load(),
		Failed:   g.failed.Load(),
		Reasons:  copyMap(g.reasons),
		Elapsed:  elapsed,
		CPU:      selfCPU(),
		Warnings: append([]string(nil), g.warnings...),
	}
	rep.DialHist, _ = encodeHistogram(g.dialHist)
	for _, r := range g.rooms {
		rep.Rooms = append(rep.Rooms, roomCount{Name: r.Name, Receivers: r.receivers.Load(), PubSockets: r.pubSockets.Load()})
	}
	return rep
}

// start starts the publishers.
func (g *gen) start() {
	ctx, cancel := context.WithCancel(context.Background())
	g.mu.Lock()
	g.pubCancel = cancel
	g.mu.Unlock()
	for _, p := range g.pubs {
		if !p.ready() {
			g.warn(fmt.Sprintf("publisher %d: no socket opened, so it does not send", p.id))
			continue
		}
		for _, l := range p.lanes {
			if l.room.Watch && !l.room.watching.Load() && !p.selfAck {
				p.selfAck = true
				g.warn(fmt.Sprintf("room %s: no receiver opened in publisher %d's process, so its window counts sends, not deliveries", l.room.Name, p.id))
			}
		}
		g.pubDone.Add(1)
		go func() {
			defer g.pubDone.Done()
			p.run(ctx)
		}()
	}
}

func (g *gen) warn(s string) {
	g.mu.Lock()
	g.warnings = append(g.warnings, s)
	g.mu.Unlock()
}

// stopReport is what stop tells the parent.
type stopReport struct {
	Received int64      `json:"received"` // deliveries when the publishers were told to stop
	Rooms    []roomSent `json:"rooms"`
	CPU      float64    `json:"cpu"`
	Sent     int64      `json:"sent"`
}

// roomSent is the messages one process sent to one room.
type roomSent struct {
	Name string `json:"name"`
	Sent int64  `json:"sent"`
}

// stop stops the publishers and waits for them (a blocked write gives up
// after a few seconds).
func (g *gen) stop() stopReport {
	rep := stopReport{Received: g.cnt.received.Load()}
	g.mu.Lock()
	cancel := g.pubCancel
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	waitTimeout(&g.pubDone, publishTimeout+5*time.Second)
	for _, r := range g.rooms {
		rep.Rooms = append(rep.Rooms, roomSent{Name: r.Name, Sent: r.sent.Load()})
		rep.Sent += r.sent.Load()
	}
	rep.CPU = selfCPU()
	return rep
}

// tick is a running total for the progress line and the timeline.
type tick struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Opened   int64 `json:"opened"`
	Failed   int64 `json:"failed"`
	Closed   int64 `json:"closed"`
}

func (g *gen) tick() tick {
	return tick{Sent: g.cnt.sent.Load(), Received: g.cnt.received.Load(), Opened: g.opened.Load(), Failed: g.failed.Load(), Closed: g.closed.Load()}
}

// finalReport is what finish tells the parent.
type finalReport struct {
	Received   int64          `json:"received"`
	Self       int64          `json:"self"`
	Foreign    int64          `json:"foreign"`
	OutOfOrder int64          `json:"out_of_order"`
	Receipts   int64          `json:"receipts"`
	SendErrors int64          `json:"send_errors"`
	SendError  string         `json:"send_error,omitempty"`
	Closes     map[string]int `json:"closes,omitempty"` // close code → sockets, during the run
	CloseError string         `json:"close_error,omitempty"`
	Hist       string         `json:"hist"`
	CPU        float64        `json:"cpu"`
	Warnings   []string       `json:"warnings,omitempty"`
}

// finish closes every socket, waits for the readers and reports.
func (g *gen) finish() finalReport {
	g.stop()
	g.finishing.Store(true)
	g.mu.Lock()
	conns := g.conns
	g.mu.Unlock()
	closeAll(conns)
	if g.hc != nil {
		g.hc.CloseIdleConnections()
	}
	waitTimeout(&g.readers, 10*time.Second)
	rep := finalReport{
		Received:   g.cnt.received.Load(),
		Self:       g.cnt.self.Load(),
		Foreign:    g.cnt.foreign.Load(),
		OutOfOrder: g.cnt.outOfOrder.Load(),
		Receipts:   g.cnt.receipts.Load(),
		SendErrors: g.cnt.sendErrors.Load(),
		CPU:        selfCPU(),
	}
	rep.Hist, _ = encodeHistogram(g.rec.merged())
	g.mu.Lock()
	rep.SendError, rep.CloseError = g.sendErr, g.closeErr
	rep.Closes = map[string]int{}
	for code, n := range g.closes {
		rep.Closes[fmt.Sprint(code)] = n
	}
	rep.Warnings = append([]string(nil), g.warnings...)
	g.mu.Unlock()
	return rep
}

// closeAll closes sockets a few at a time.
func closeAll(conns []*conn) {
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(conns); i += workers {
				conns[i].close()
			}
		}()
	}
	wg.Wait()
}

func (g *gen) noteSendError(s string) {
	g.mu.Lock()
	if g.sendErr == "" {
		g.sendErr = truncate(s, 200)
	}
	g.mu.Unlock()
}

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
