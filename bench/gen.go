package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
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
	peek     int // payload bytes of a data frame that receivers look at

	rooms   []*roomState
	pubs    []*publisher
	pubByID []*publisher // by publisher id; nil when not in this process

	opened, failed atomic.Int64
	closed         atomic.Int64 // sockets that ended during the run
	finishing      atomic.Bool

	rds     []*reader              // set by connect, before any socket
	byTask  []atomic.Pointer[conn] // sockets by dial task, for the readers' events
	readers sync.WaitGroup         // the readers' goroutines
	writers sync.WaitGroup         // writes and closes a reader handed off

	mu           sync.Mutex // guards the fields below
	conns        []*conn
	abandoned    []*conn        // sockets whose upgrade answer came too late: closed at the end
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
	g.peek = stampSize
	if g.envelope {
		g.peek = envelopePeek
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

// envelopePeek is how much of an envelope frame receivers look at: the
// header line before the payload, or a receipt or error.
const envelopePeek = 1024

// setupBufSize is the read buffer of an envelope socket's set-up.
const setupBufSize = 4096

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
	if err := g.startReaders(len(tasks)); err != nil {
		for range tasks {
			g.fail(err.Error())
		}
		return g.connectReport(time.Since(g.connectStart))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(g.sh.DialConcurrency, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				if reason := g.stopDialing(ctx); reason != "" {
					g.fail(reason)
					continue
				}
				g.open(ctx, tasks[i], i, timer)
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

// startReaders starts one reader per CPU for sockets of tasks dial tasks.
func (g *gen) startReaders(tasks int) error {
	g.byTask = make([]atomic.Pointer[conn], tasks)
	for i := range runtime.GOMAXPROCS(0) {
		r, err := newReader(g, i)
		if err != nil {
			g.stopReaders()
			return fmt.Errorf("reader: %w", err)
		}
		g.rds = append(g.rds, r)
		g.readers.Add(1)
		go func() {
			defer g.readers.Done()
			r.run()
		}()
	}
	return nil
}

// stopReaders stops the readers and waits for them.
func (g *gen) stopReaders() {
	for _, r := range g.rds {
		r.wake()
	}
	g.readers.Wait()
	for _, r := range g.rds {
		r.release()
	}
	g.rds = nil
}

// open dials one socket, has a reader read the answer to its upgrade
// request, sets it up and hands it to the reader. timer is the dialing
// goroutine's own.
func (g *gen) open(ctx context.Context, t dialTask, i int, timer *time.Timer) {
	start := time.Now()
	deadline := start.Add(g.sh.DialTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	hs, err := g.d.newHandshake(t.room.Path)
	if err != nil {
		g.fail(err.Error())
		return
	}
	fd, err := g.d.connect(hs, i+g.sh.Proc*7, t.pub != nil, deadline)
	if err != nil {
		g.fail(err.Error())
		return
	}
	r := g.rds[i%len(g.rds)]
	c := &conn{g: g, fd: fd, id: int32(i), rd: r, room: t.room, pub: t.pub, hs: hs}
	binary.LittleEndian.PutUint32(c.mask[:], rand.Uint32())
	if g.sh.PubIDs > 0 && g.sh.PubIDs <= maxOrderedPublishers && !g.sh.Idle && g.sh.Via == ViaWS {
		c.lastSeq = make([]uint32, g.sh.PubIDs)
	}
	hs.oneshot = g.envelope
	hs.done = make(chan error, 1)
	g.byTask[i].Store(c)
	if err := r.add(c, hs.oneshot); err != nil {
		g.byTask[i].Store(nil)
		unix.Close(fd)
		g.fail(err.Error())
		return
	}
	timer.Reset(time.Until(deadline))
	select {
	case err = <-hs.done:
	case <-timer.C:
		err = g.abandon(c, hs)
	case <-ctx.Done():
		err = g.abandon(c, hs)
	}
	timer.Stop()
	switch {
	case err == nil && hs.oneshot:
		err = g.setUp(c, t, deadline)
	case err != nil:
		err = refusal(err, hs.got, &fdIO{fd: fd, deadline: deadline})
	}
	if err != nil {
		if !errors.Is(err, errAbandoned) {
			g.byTask[i].Store(nil)
			c.shut()
			err = shortDialError(err)
		}
		g.fail(err.Error())
		return
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
	}
	g.opened.Add(1)
	g.mu.Lock()
	g.conns = append(g.conns, c)
	_ = g.dialHist.RecordValue(min(elapsed.Microseconds(), latencyMaxMicros))
	g.mu.Unlock()
}

// errAbandoned is an upgrade that was not answered in time.
var errAbandoned = errors.New("dial: timed out")

// abandon gives up waiting for the answer to c's upgrade, unless the
// reader has just handed it over: then that answer counts. Once the socket
// is registered, its dialing goroutine touches only hs until the answer.
func (g *gen) abandon(c *conn, hs *handshake) error {
	if !hs.state.CompareAndSwap(hsWaiting, hsAbandoned) {
		return <-hs.done
	}
	g.mu.Lock()
	g.abandoned = append(g.abandoned, c)
	g.mu.Unlock()
	return errAbandoned
}

// setUp sets up an envelope socket after its upgrade (the welcome, the
// rooms), reads what came with it and hands it to its reader.
func (g *gen) setUp(c *conn, t dialTask, deadline time.Time) error {
	hs := c.hs
	c.hs = nil
	rooms := []string{t.room.Name}
	if t.pub != nil {
		rooms = t.pub.roomNames()
	}
	s := &fdIO{fd: c.fd}
	fr := newFrameReader(s, setupBufSize, hs.leftover)
	if err := envelopeSetup(s, fr, c.mask, rooms, deadline); err != nil {
		return err
	}
	rest, skip := fr.buffered()
	c.skip = skip
	c.claimWatch()
	k := sink{shard: int(c.id), lat: make([]int64, 0, 16)}
	alive := c.scan(rest, time.Now().UnixNano(), &k)
	k.flush(g)
	if !alive {
		return nil // counted as opened, and as ended
	}
	g.byTask[c.id].Store(c) // publishes the set-up to the reader
	if err := c.rd.arm(c); err != nil {
		c.ended(1006, err)
		c.terminate()
	}
	return nil
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

// finish stops the readers, closes every socket and reports.
func (g *gen) finish() finalReport {
	g.stop()
	g.finishing.Store(true)
	g.stopReaders()
	g.mu.Lock()
	conns := append(g.conns, g.abandoned...)
	g.mu.Unlock()
	closeAll(conns)
	if g.hc != nil {
		g.hc.CloseIdleConnections()
	}
	waitTimeout(&g.writers, publishTimeout+time.Second)
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
