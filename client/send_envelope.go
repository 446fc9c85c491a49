package client

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/porthouse/porthouse/wire"
)

// sendWindow is how many chunks may wait for their receipt at once.
const sendWindow = 32

// EnvelopeReceipt reports a sent envelope.
type EnvelopeReceipt struct {
	ID     EnvelopeID
	Chunks int
	Bytes  int64
	// Last is the receipt of the last chunk (envelope mode only): every
	// chunk entered the router once it arrived.
	Last Receipt
}

// SendEnvelope reads r (see NewEnvelopeFrom) and sends it to a room as an
// envelope of chunks holding chunkSize data bytes each (each chunk message
// is chunkSize+ChunkHeaderSize bytes, which must fit the server's
// max_message_bytes). Sending is paced (WithEnvelopeRate) so that
// receivers are not closed as slow consumers; up to 32 chunks wait for
// their receipts at once. It returns when every receipt arrived, or at the
// first refusal.
func (c *Conn) SendEnvelope(ctx context.Context, room string, r io.Reader, chunkSize int) (EnvelopeReceipt, error) {
	return c.sendEnvelope(ctx, wire.Command{Type: wire.TypeSend, Room: room}, r, chunkSize)
}

// SendEnvelopeTo is SendEnvelope to one socket.
func (c *Conn) SendEnvelopeTo(ctx context.Context, socketID string, r io.Reader, chunkSize int) (EnvelopeReceipt, error) {
	return c.sendEnvelope(ctx, wire.Command{Type: wire.TypeSend, To: socketID}, r, chunkSize)
}

func (c *Conn) sendEnvelope(ctx context.Context, cmd wire.Command, r io.Reader, chunkSize int) (EnvelopeReceipt, error) {
	if limit := c.Welcome().Limits.MaxMessageBytes; limit > 0 && chunkSize+ChunkHeaderSize > limit {
		return EnvelopeReceipt{}, wire.Errorf(wire.CodeTooLarge,
			"chunks of %d bytes plus the %d-byte header exceed max_message_bytes %d", chunkSize, ChunkHeaderSize, limit)
	}
	env, err := NewEnvelopeFrom(r)
	if err != nil {
		return EnvelopeReceipt{}, fmt.Errorf("read envelope: %w", err)
	}
	rc := EnvelopeReceipt{ID: env.ID, Bytes: env.Len()}
	pace := newPacer(c.o.envelopeRate, chunkSize+ChunkHeaderSize)
	var inflight []*call
	defer func() {
		for _, cl := range inflight {
			c.drop(cl)
		}
	}()
	waitOne := func() error {
		ev, err := c.wait(ctx, inflight[0])
		inflight = inflight[1:]
		if err != nil {
			return fmt.Errorf("chunk %d of envelope %s: %w", rc.Chunks-len(inflight)-1, env.ID, err)
		}
		rc.Last = receiptOf(ev)
		return nil
	}
	for chunk, err := range env.Chunks(chunkSize) {
		if err != nil {
			return rc, err
		}
		if len(inflight) == sendWindow {
			if err := waitOne(); err != nil {
				return rc, err
			}
		}
		if err := pace.wait(ctx, len(chunk)); err != nil {
			return rc, err
		}
		cmd := cmd
		cl, err := c.start(ctx, &cmd, chunk, true, nil)
		if err != nil {
			return rc, fmt.Errorf("chunk %d of envelope %s: %w", rc.Chunks, env.ID, err)
		}
		inflight = append(inflight, cl)
		rc.Chunks++
	}
	for len(inflight) > 0 {
		if err := waitOne(); err != nil {
			return rc, err
		}
	}
	return rc, nil
}

// SendEnvelope reads r (see NewEnvelopeFrom) and writes it to the room as an
// envelope of chunks holding chunkSize data bytes each, paced as
// Conn.SendEnvelope is. Raw mode has no receipts: Close tells whether the
// server refused a frame.
func (r *RawConn) SendEnvelope(ctx context.Context, src io.Reader, chunkSize int) (EnvelopeReceipt, error) {
	env, err := NewEnvelopeFrom(src)
	if err != nil {
		return EnvelopeReceipt{}, fmt.Errorf("read envelope: %w", err)
	}
	rc := EnvelopeReceipt{ID: env.ID, Bytes: env.Len()}
	pace := newPacer(r.o.envelopeRate, chunkSize+ChunkHeaderSize)
	for chunk, err := range env.Chunks(chunkSize) {
		if err != nil {
			return rc, err
		}
		if err := pace.wait(ctx, len(chunk)); err != nil {
			return rc, err
		}
		if err := r.WriteBinary(ctx, chunk); err != nil {
			return rc, fmt.Errorf("chunk %d of envelope %s: %w", rc.Chunks, env.ID, err)
		}
		rc.Chunks++
	}
	return rc, nil
}

// pacer spreads writes over time at rate bytes per second after a first
// burst: the n-th byte is not sent before start + (n-burst)/rate.
type pacer struct {
	rate  float64
	burst int64
	start time.Time
	sent  int64
}

func newPacer(rate int64, chunk int) *pacer {
	return &pacer{rate: float64(rate), burst: max(256<<10, int64(chunk))}
}

// wait blocks until n more bytes may go.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.sent += int64(n)
	over := p.sent - p.burst
	if over <= 0 {
		return nil
	}
	d := time.Until(p.start.Add(time.Duration(float64(over) / p.rate * float64(time.Second))))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
