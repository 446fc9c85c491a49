package supervisor

import (
	"context"
	"time"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/ipc"
	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// liveTimeout bounds one live change's calls to the workers.
const liveTimeout = 5 * time.Second

// live is api.Live in supervise mode: changes go to the workers; questions
// about sockets are answered from the sequence.
type live struct{ s *Supervisor }

var _ api.Live = (*live)(nil)

// broadcast calls fn on every worker that is up, concurrently, and waits.
func (l *live) broadcast(fn func(ctx context.Context, c pb.WorkerClient)) {
	ctx, cancel := context.WithTimeout(l.s.ctx, liveTimeout)
	defer cancel()
	done := make(chan struct{})
	n := 0
	l.s.eachWorker(func(c pb.WorkerClient) {
		n++
		go func() {
			fn(ctx, c)
			done <- struct{}{}
		}()
	})
	for ; n > 0; n-- {
		<-done
	}
}

// TokenUpdated implements api.Live.
func (l *live) TokenUpdated(t store.Token) {
	m := ipc.TokenToPB(t)
	l.broadcast(func(ctx context.Context, c pb.WorkerClient) { _, _ = c.TokenUpdated(ctx, m) })
}

// TokenRevoked implements api.Live.
func (l *live) TokenRevoked(tokenID string) {
	m := &pb.TokenRef{TokenId: tokenID}
	l.broadcast(func(ctx context.Context, c pb.WorkerClient) { _, _ = c.TokenRevoked(ctx, m) })
}

// RoomUpdated implements api.Live.
func (l *live) RoomUpdated(r store.Room) {
	m := ipc.RoomToPB(r)
	l.broadcast(func(ctx context.Context, c pb.WorkerClient) { _, _ = c.RoomUpdated(ctx, m) })
}

// RoomDeleted implements api.Live.
func (l *live) RoomDeleted(owner, name string) {
	m := &pb.RoomName{Owner: owner, Name: name}
	l.broadcast(func(ctx context.Context, c pb.WorkerClient) { _, _ = c.RoomDeleted(ctx, m) })
}

// Publish implements api.Live: one worker checks the rules, assigns the id,
// delivers to its members and forwards to the other puddles.
func (l *live) Publish(ctx context.Context, owner, room string, p api.Publication) (string, error) {
	c := l.pick(ctx, wire.Key(owner, room))
	if c == nil {
		return "", wire.Errorf(wire.CodeInternal, "no worker is up")
	}
	r, err := c.Publish(ctx, &pb.PublishRequest{Owner: owner, Room: room, Kind: int32(p.Kind), Body: p.Body, From: p.From})
	if err != nil {
		return "", wire.Errorf(wire.CodeInternal, "publish failed")
	}
	if r.GetCode() != "" {
		return "", &wire.Error{Code: wire.Code(r.GetCode()), Message: r.GetMessage()}
	}
	return r.GetId(), nil
}

// pick chooses the worker that publishes to a room: one with members there
// (so most deliveries stay local), else any worker that is up.
func (l *live) pick(ctx context.Context, room string) pb.WorkerClient {
	if ps, err := l.s.seq.Routes(ctx, room); err == nil {
		for _, p := range ps {
			if p >= 1 && p <= len(l.s.workers) {
				if c, ok := l.s.workers[p-1].rpcClient(); ok {
					return c
				}
			}
		}
	}
	var any pb.WorkerClient
	l.s.eachWorker(func(c pb.WorkerClient) {
		if any == nil {
			any = c
		}
	})
	return any
}

// RoomSockets implements api.Live.
func (l *live) RoomSockets(owner, room string) []api.SocketInfo {
	ctx, cancel := context.WithTimeout(l.s.ctx, liveTimeout)
	defer cancel()
	return puddle.RoomSockets(ctx, l.s.seq, owner, room)
}

// TransientRoom implements api.Live.
func (l *live) TransientRoom(owner, name string) bool {
	return puddle.TransientRoomIn(l.s.ctx, l.s.seq, owner, name)
}

// Kick implements api.Live.
func (l *live) Kick(owner, socketID string) error {
	ctx, cancel := context.WithTimeout(l.s.ctx, liveTimeout)
	defer cancel()
	e, ok, err := l.s.seq.Socket(ctx, socketID)
	if err != nil || !ok || e.Owner != owner || e.Puddle < 1 || e.Puddle > len(l.s.workers) {
		return wire.Errorf(wire.CodeNotFound, "no socket %q", socketID)
	}
	c, up := l.s.workers[e.Puddle-1].rpcClient()
	if !up {
		return wire.Errorf(wire.CodeNotFound, "no socket %q", socketID)
	}
	r, err := c.Kick(ctx, &pb.KickRequest{Owner: owner, SocketId: socketID})
	if err != nil || !r.GetFound() {
		return wire.Errorf(wire.CodeNotFound, "no socket %q", socketID)
	}
	return nil
}
