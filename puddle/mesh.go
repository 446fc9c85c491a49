package puddle

import (
	"context"

	"github.com/porthouse/porthouse/router"
)

// Mesh carries room traffic to the other puddles of a supervised server; it
// is nil in single-process mode. Every method must copy what it keeps before
// returning (payloads alias read buffers) and must not block on a slow peer.
type Mesh interface {
	// Publish forwards a room message to every other puddle with members in
	// the room (key).
	Publish(room string, env *router.Envelope)
	// Direct forwards a direct message to the puddle holding the socket.
	Direct(puddle int, socketID string, env *router.Envelope)
	// Announce forwards a presence event of the room to the other puddles.
	Announce(room, eventType, socket string)
}

// DeliverRoom delivers a message that arrived from another puddle (or from
// the supervisor's backpipe) to this puddle's members of the room.
func (p *Puddle) DeliverRoom(room string, env *router.Envelope) {
	if r := p.router.Room(room); r != nil {
		p.m.Deliveries.Add(float64(r.Publish(env, nil)))
	}
}

// DeliverDirect delivers a direct message from another puddle to a local
// socket; false if the socket is not here.
func (p *Puddle) DeliverDirect(socketID string, env *router.Envelope) bool {
	s, ok := p.router.Socket(socketID).(*Socket)
	if !ok || s.isClosed() {
		return false
	}
	s.deliverDirect(env)
	return true
}

// AnnounceLocal delivers a presence event from elsewhere to this puddle's
// members of a presence room.
func (p *Puddle) AnnounceLocal(room, eventType, socket string) {
	if r := p.router.Room(room); r != nil && r.Rules().Presence {
		r.Announce(eventType, socket)
	}
}

// announce sends a presence event to local members and other puddles.
func (p *Puddle) announce(r *router.Room, eventType, socket string) {
	r.Announce(eventType, socket)
	if p.mesh != nil {
		p.mesh.Announce(r.Key, eventType, socket)
	}
}

// remoteSocket finds a socket of owner on another puddle.
func (p *Puddle) remoteSocket(ctx context.Context, owner, socketID string) (int, bool) {
	if p.mesh == nil {
		return 0, false
	}
	e, ok, err := p.seq.Socket(ctx, socketID)
	if err != nil || !ok || e.Owner != owner || e.Puddle == p.Options().Worker {
		return 0, false
	}
	return e.Puddle, true
}
