package supervisor

import (
	"context"
	"sync"

	"github.com/porthouse/porthouse/sequence"
)

// routedSequence is the supervisor's sequence: sequence.Local plus route
// pushes. When a join (or create) gives a puddle its first member in a room,
// every other worker learns the route before the call returns.
type routedSequence struct {
	*sequence.Local
	push func(ctx context.Context, room string, puddle int)

	mu    sync.Mutex
	known map[string]map[int]bool // routes already pushed; only grows
}

func newRoutedSequence(push func(ctx context.Context, room string, puddle int)) *routedSequence {
	return &routedSequence{Local: sequence.NewLocal(), push: push, known: make(map[string]map[int]bool)}
}

// Join implements sequence.Sequence.
func (r *routedSequence) Join(ctx context.Context, req sequence.JoinRequest) error {
	if err := r.Local.Join(ctx, req); err != nil {
		return err
	}
	r.routeOf(ctx, req.SocketID, req.Room)
	return nil
}

// CreateRoom implements sequence.Sequence.
func (r *routedSequence) CreateRoom(ctx context.Context, tr sequence.TransientRoom) error {
	if err := r.Local.CreateRoom(ctx, tr); err != nil {
		return err
	}
	r.routeOf(ctx, tr.Creator, tr.Key)
	return nil
}

// Leave implements sequence.Sequence; a transient room that vanished is
// forgotten.
func (r *routedSequence) Leave(ctx context.Context, socketID, room string) (bool, error) {
	vanished, err := r.Local.Leave(ctx, socketID, room)
	if vanished {
		r.forget(room)
	}
	return vanished, err
}

// Release implements sequence.Sequence; transient rooms that vanished are
// forgotten.
func (r *routedSequence) Release(ctx context.Context, socketID string) ([]string, []string, error) {
	left, vanished, err := r.Local.Release(ctx, socketID)
	for _, room := range vanished {
		r.forget(room)
	}
	return left, vanished, err
}

// forget drops what was pushed about a room that no longer exists, so that
// rooms created and left over and over do not grow the table.
func (r *routedSequence) forget(room string) {
	r.mu.Lock()
	delete(r.known, room)
	r.mu.Unlock()
}

func (r *routedSequence) routeOf(ctx context.Context, socketID, room string) {
	puddle, ok := r.Local.Puddle(socketID)
	if !ok {
		return
	}
	r.mu.Lock()
	ps := r.known[room]
	if ps == nil {
		ps = make(map[int]bool)
		r.known[room] = ps
	}
	if ps[puddle] {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.push(ctx, room, puddle)
	r.mu.Lock()
	ps[puddle] = true
	r.mu.Unlock()
}

// forgetAll makes the next join of every route push again. A worker that
// starts takes a snapshot of the routes with members now; routes pushed
// earlier whose members have left since are not in it, so they must be
// pushed again when members come back.
func (r *routedSequence) forgetAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.known)
}
