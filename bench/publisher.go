package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Publisher limits.
const (
	maxBatchBytes    = 256 << 10 // frames written with one write
	maxBatchFrames   = 64
	publishTimeout   = 10 * time.Second // one write or one backpipe request
	maxHTTPWorkers   = 256              // requests in flight per -via http publisher
	fillerByte       = 'p'
	envelopeSendType = `{"type":"send","room":`
)

// publisher sends its rooms stamped messages, one room after the other,
// keeping at most inflight of them on their way: it takes a token from
// window for every message and gets it back when the message comes back to
// its own socket (echo), when a receiver of the room in this process sees
// it (watch), or, when neither can happen, when it was sent (selfAck).
type publisher struct {
	g        *gen
	id       int
	lanes    []*lane
	c        *conn // the one socket of an envelope-mode publisher
	window   chan struct{}
	inflight int
	rate     float64
	selfAck  bool
	stamp    uint32 // run nonce << 16 | id
	seq      uint32
}

// lane is one room of a publisher.
type lane struct {
	room   *roomState
	c      *conn  // raw mode: the socket bound to this room
	prefix []byte // envelope mode: the send command before the payload
	target string // -via http: the backpipe URL
	buf    []byte // frames of the current batch
	n      int64  // messages in buf
	dead   bool   // its socket failed
}

func newPublisher(g *gen, ps pubShare, rooms []*roomState) *publisher {
	p := &publisher{
		g: g, id: ps.ID, inflight: ps.Inflight, rate: ps.Rate,
		window: make(chan struct{}, ps.Inflight),
		stamp:  uint32(g.sh.Nonce)<<16 | uint32(ps.ID),
	}
	for range ps.Inflight {
		p.window <- struct{}{}
	}
	for _, r := range rooms {
		l := &lane{room: r}
		if g.envelope {
			l.prefix = append(append([]byte(envelopeSendType), mustJSON(r.Name)...), "}\n"...)
		}
		if g.sh.Via == ViaHTTP {
			l.target = g.sh.HTTPURL + "/api/v1/rooms/" + url.PathEscape(r.Name) + "/messages"
		}
		p.lanes = append(p.lanes, l)
	}
	return p
}

func (p *publisher) roomNames() []string {
	names := make([]string, len(p.lanes))
	for i, l := range p.lanes {
		names[i] = l.room.Name
	}
	return names
}

// ready reports whether the publisher has a way to send.
func (p *publisher) ready() bool {
	switch {
	case p.g.sh.Via == ViaHTTP:
		return true
	case p.g.envelope:
		return p.c != nil
	}
	for _, l := range p.lanes {
		if l.c != nil {
			return true
		}
	}
	return false
}

// ack gives one window token back.
func (p *publisher) ack() {
	select {
	case p.window <- struct{}{}:
	default:
	}
}

// acquire takes at least one window token and up to most, or returns 0 when
// ctx ends.
func (p *publisher) acquire(ctx context.Context, most int64) int64 {
	select {
	case <-p.window:
	case <-ctx.Done():
		return 0
	}
	n := int64(1)
	for n < most {
		select {
		case <-p.window:
			n++
		default:
			return n
		}
	}
	return n
}

func (p *publisher) run(ctx context.Context) {
	switch {
	case p.g.sh.Via == ViaHTTP:
		p.runHTTP(ctx)
	case p.g.envelope:
		p.runEnvelope(ctx)
	default:
		p.runRaw(ctx)
	}
}

// batchSize is how many messages of size bytes go into one write.
func batchSize(size int) int64 {
	return int64(max(1, min(maxBatchFrames, maxBatchBytes/(size+14))))
}

// runRaw writes bare frames, each message on the socket of the next room
// in turn, every socket's share of a batch in one write.
func (p *publisher) runRaw(ctx context.Context) {
	g := p.g
	payload := bytes.Repeat([]byte{fillerByte}, g.sh.Size)
	batch := batchSize(g.sh.Size)
	var live []*lane
	for _, l := range p.lanes {
		if l.c != nil {
			live = append(live, l)
		}
	}
	pace := newPacer(p.rate)
	next := 0
	for len(live) > 0 {
		due := pace.due(ctx, batch)
		if due == 0 {
			return
		}
		n := p.acquire(ctx, due)
		if n == 0 {
			return
		}
		now := time.Now().UnixNano()
		var used []*lane
		for range n {
			l := live[next%len(live)]
			next++
			if l.n == 0 {
				used = append(used, l)
			}
			p.seq++
			stamp(payload, now, p.stamp, p.seq)
			l.buf = appendFrame(l.buf, opBinary, payload, l.c.mask)
			l.n++
		}
		for _, l := range used {
			if err := l.c.write(l.buf); err != nil {
				if ctx.Err() == nil {
					g.noteSendError("publisher write: " + err.Error())
					g.cnt.sendErrors.Add(1)
				}
				l.dead = true
			} else {
				p.sent(l, l.n)
			}
			l.buf, l.n = l.buf[:0], 0
		}
		pace.issued += n
		if anyDead(live) {
			live = pruneDead(live)
		}
	}
}

func anyDead(ls []*lane) bool {
	for _, l := range ls {
		if l.dead {
			return true
		}
	}
	return false
}

func pruneDead(ls []*lane) []*lane {
	out := ls[:0]
	for _, l := range ls {
		if !l.dead {
			out = append(out, l)
		}
	}
	return out
}

// runEnvelope writes send commands on the publisher's one socket, each
// message to the next room in turn.
func (p *publisher) runEnvelope(ctx context.Context) {
	g := p.g
	payload := bytes.Repeat([]byte{fillerByte}, g.sh.Size)
	batch := batchSize(g.sh.Size + len(p.lanes[0].prefix))
	var buf []byte
	pace := newPacer(p.rate)
	next := 0
	for {
		due := pace.due(ctx, batch)
		if due == 0 {
			return
		}
		n := p.acquire(ctx, due)
		if n == 0 {
			return
		}
		now := time.Now().UnixNano()
		buf = buf[:0]
		first := next
		for range n {
			l := p.lanes[next%len(p.lanes)]
			next++
			p.seq++
			stamp(payload, now, p.stamp, p.seq)
			buf = appendFrame2(buf, opBinary, l.prefix, payload, p.c.mask)
		}
		if err := p.c.write(buf); err != nil {
			if ctx.Err() == nil {
				g.noteSendError("publisher write: " + err.Error())
				g.cnt.sendErrors.Add(1)
			}
			return
		}
		for i := first; i < next; i++ {
			p.sent(p.lanes[i%len(p.lanes)], 1)
		}
		pace.issued += n
	}
}

// sent counts n messages written to l's room.
func (p *publisher) sent(l *lane, n int64) {
	l.room.sent.Add(n)
	p.g.cnt.sent.Add(n)
	if p.selfAck {
		for range n {
			p.ack()
		}
	}
}

// runHTTP posts each message to the backpipe of the next room in turn,
// with up to inflight requests at a time.
func (p *publisher) runHTTP(ctx context.Context) {
	g := p.g
	type job struct {
		l    *lane
		body []byte
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range min(p.inflight, maxHTTPWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if p.post(j.l.target, j.body) {
					p.sent(j.l, 1)
				} else {
					g.cnt.sendErrors.Add(1)
					p.ack()
				}
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	pace := newPacer(p.rate)
	for next := 0; ; next++ {
		if pace.due(ctx, 1) == 0 || p.acquire(ctx, 1) == 0 {
			return
		}
		body := bytes.Repeat([]byte{fillerByte}, g.sh.Size)
		p.seq++
		stamp(body, time.Now().UnixNano(), p.stamp, p.seq)
		select {
		case jobs <- job{p.lanes[next%len(p.lanes)], body}:
			pace.issued++
		case <-ctx.Done():
			return
		}
	}
}

// post sends one backpipe request; it reports whether it was accepted (202).
func (p *publisher) post(target string, body []byte) bool {
	g := p.g
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		g.noteSendError(err.Error())
		return false
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+g.sh.APIKey)
	resp, err := g.httpClient().Do(req)
	if err != nil {
		g.noteSendError("backpipe: " + err.Error())
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		g.noteSendError("backpipe: " + resp.Status + " " + string(b))
		return false
	}
	return true
}

// pacer spreads a publisher's messages evenly at rate per second; rate 0
// leaves the pace to the window.
type pacer struct {
	rate   float64
	start  time.Time
	issued int64
}

func newPacer(rate float64) *pacer { return &pacer{rate: rate, start: time.Now()} }

// due waits until a message is due and returns how many are (at most
// most), or 0 when ctx ends.
func (pc *pacer) due(ctx context.Context, most int64) int64 {
	if ctx.Err() != nil {
		return 0
	}
	if pc.rate == 0 {
		return most
	}
	for {
		elapsed := time.Since(pc.start).Seconds()
		if due := int64(elapsed*pc.rate) + 1 - pc.issued; due > 0 {
			return min(due, most)
		}
		next := pc.start.Add(time.Duration(float64(pc.issued) / pc.rate * float64(time.Second)))
		t := time.NewTimer(time.Until(next))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0
		}
	}
}
