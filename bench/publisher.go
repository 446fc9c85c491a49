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

// publisher sends one room its stamped messages, keeping at most Inflight
// of them on their way: it takes a token from window for every message and
// gets it back when the message comes back to its own socket (echo), when a
// receiver of its room in this process sees it (watch), or, when neither
// can happen, when it was sent (selfAck).
type publisher struct {
	g       *gen
	id      int
	room    *roomState
	c       *conn // its socket (-via ws)
	window  chan struct{}
	selfAck bool
	stamp   uint32 // run nonce << 16 | id
	seq     uint32
}

func newPublisher(g *gen, id int, r *roomState) *publisher {
	p := &publisher{g: g, id: id, room: r, window: make(chan struct{}, g.sh.Inflight), stamp: uint32(g.sh.Nonce)<<16 | uint32(id)}
	for range g.sh.Inflight {
		p.window <- struct{}{}
	}
	return p
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
	if p.g.sh.Via == ViaHTTP {
		p.runHTTP(ctx)
		return
	}
	p.runWS(ctx)
}

// runWS writes batches of frames on the publisher's socket.
func (p *publisher) runWS(ctx context.Context) {
	g := p.g
	var prefix []byte
	if g.envelope {
		prefix = append([]byte(envelopeSendType), mustJSON(p.room.Name)...)
		prefix = append(prefix, "}\n"...)
	}
	body := append(prefix, bytes.Repeat([]byte{fillerByte}, g.sh.Size)...)
	payload := body[len(prefix):]
	frameSize := len(body) + 14
	batch := int64(max(1, min(maxBatchFrames, maxBatchBytes/frameSize)))
	buf := make([]byte, 0, int(batch)*frameSize)
	pace := newPacer(g.sh.PubRate)
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
		for range n {
			p.seq++
			stamp(payload, now, p.stamp, p.seq)
			buf = appendFrame(buf, opBinary, body, p.c.mask)
		}
		p.c.wmu.Lock()
		_ = p.c.nc.SetWriteDeadline(time.Now().Add(publishTimeout))
		_, err := p.c.nc.Write(buf)
		p.c.wmu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				g.noteSendError("publisher write: " + err.Error())
				g.cnt.sendErrors.Add(1)
			}
			return
		}
		pace.issued += n
		p.room.sent.Add(n)
		g.cnt.sent.Add(n)
		if p.selfAck {
			for range n {
				p.ack()
			}
		}
	}
}

// runHTTP posts each message to the backpipe, with up to Inflight requests
// at a time.
func (p *publisher) runHTTP(ctx context.Context) {
	g := p.g
	target := g.sh.HTTPURL + "/api/v1/rooms/" + url.PathEscape(p.room.Name) + "/messages"
	jobs := make(chan []byte)
	var wg sync.WaitGroup
	for range min(g.sh.Inflight, maxHTTPWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range jobs {
				if p.post(target, body) {
					p.room.sent.Add(1)
					g.cnt.sent.Add(1)
					if p.selfAck {
						p.ack()
					}
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
	pace := newPacer(g.sh.PubRate)
	for {
		if pace.due(ctx, 1) == 0 || p.acquire(ctx, 1) == 0 {
			return
		}
		body := bytes.Repeat([]byte{fillerByte}, g.sh.Size)
		p.seq++
		stamp(body, time.Now().UnixNano(), p.stamp, p.seq)
		select {
		case jobs <- body:
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
