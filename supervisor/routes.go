package supervisor

import (
	"context"

	"github.com/porthouse/porthouse/sequence"
)

// routedSequence is the supervisor's sequence: sequence.Local plus route
// pushes. Whenever a join (or create) gives a puddle its first member in a
// room, every other worker learns the route before the call returns. That
// is every time, not once: a route whose last member left may have been
// dropped from the workers' tables since (each worker syncs its table with
// the sequence every route_sync_interval), so a route that comes back is
// pushed again.
type routedSequence struct {
	*sequence.Local
	push func(ctx context.Context, room string, puddle int)
}

func newRoutedSequence(push func(ctx context.Context, room string, puddle int)) *routedSequence {
	return &routedSequence{Local: sequence.NewLocal(), push: push}
}

// Admit implements sequence.Sequence: an admission that joins a room may
// make a new route too.
func (r *routedSequence) Admit(ctx context.Context, req sequence.AdmitRequest) (sequence.Entry, error) {
	e, added, err := r.Local.AdmitRoute(ctx, req)
	if err != nil {
		return e, err
	}
	if added {
		r.push(ctx, req.Join, e.Puddle)
	}
	return e, nil
}

// Join implements sequence.Sequence.
func (r *routedSequence) Join(ctx context.Context, req sequence.JoinRequest) error {
	puddle, added, err := r.Local.JoinRoute(ctx, req)
	if err != nil {
		return err
	}
	if added {
		r.push(ctx, req.Room, puddle)
	}
	return nil
}

// CreateRoom implements sequence.Sequence.
func (r *routedSequence) CreateRoom(ctx context.Context, tr sequence.TransientRoom) error {
	puddle, added, err := r.Local.CreateRoomRoute(ctx, tr)
	if err != nil {
		return err
	}
	if added {
		r.push(ctx, tr.Key, puddle)
	}
	return nil
}
