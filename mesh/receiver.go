package mesh

import (
	"sync/atomic"

	"github.com/porthouse/porthouse/router"
)

// Receiver takes what other puddles send to this one; *puddle.Puddle is
// one. Its methods run on the connection's reader goroutine, one frame at a
// time, and must not block for long: the sender's next frames wait.
type Receiver interface {
	DeliverRoom(room string, env *router.Envelope)
	DeliverDirect(socketID string, env *router.Envelope) bool
	AnnounceLocal(room, eventType, socket string)
}

// Deferred is a Receiver that forwards to a Receiver set later with Set;
// until then inbound frames are dropped (direct messages report false). It
// breaks the construction cycle of a worker: the mesh needs its receiver,
// the puddle, and the puddle needs its mesh.
type Deferred struct {
	r atomic.Pointer[Receiver]
}

// Set makes d forward to r.
func (d *Deferred) Set(r Receiver) { d.r.Store(&r) }

// DeliverRoom forwards to the receiver, if set.
func (d *Deferred) DeliverRoom(room string, env *router.Envelope) {
	if r := d.r.Load(); r != nil {
		(*r).DeliverRoom(room, env)
	}
}

// DeliverDirect forwards to the receiver; false while none is set.
func (d *Deferred) DeliverDirect(socketID string, env *router.Envelope) bool {
	if r := d.r.Load(); r != nil {
		return (*r).DeliverDirect(socketID, env)
	}
	return false
}

// AnnounceLocal forwards to the receiver, if set.
func (d *Deferred) AnnounceLocal(room, eventType, socket string) {
	if r := d.r.Load(); r != nil {
		(*r).AnnounceLocal(room, eventType, socket)
	}
}
