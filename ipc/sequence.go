package ipc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/sequence"
)

// RouteSource lists every (room, puddle) route; the supervisor's sequence
// implements it for workers that start.
type RouteSource interface {
	AllRoutes() map[string][]int
}

// SequenceServer serves a sequence.Sequence over gRPC.
type SequenceServer struct {
	pb.UnimplementedSequenceServer
	Seq        sequence.Sequence
	RouteTable RouteSource
}

var _ pb.SequenceServer = (*SequenceServer)(nil)

// AdmitMany implements pb.SequenceServer: each request is an Admit, its
// refusal (max_connections, room_full) in its own result.
func (s *SequenceServer) AdmitMany(ctx context.Context, r *pb.AdmitBatch) (*pb.AdmitResults, error) {
	out := &pb.AdmitResults{Results: make([]*pb.AdmitResult, len(r.GetRequests()))}
	for i, req := range r.GetRequests() {
		e, err := s.Seq.Admit(ctx, sequence.AdmitRequest{TokenID: req.GetTokenId(), Owner: req.GetOwner(),
			MaxConnections: int(req.GetMaxConnections()), Puddle: int(req.GetPuddle()), Mode: req.GetMode(),
			Join: req.GetJoin(), JoinMaxMembers: int(req.GetJoinMaxMembers())})
		switch {
		case err == nil:
			out.Results[i] = &pb.AdmitResult{Entry: entryToPB(e)}
		case errors.Is(err, sequence.ErrMaxConnections):
			out.Results[i] = &pb.AdmitResult{Error: admitMaxConnections}
		case errors.Is(err, sequence.ErrRoomFull):
			out.Results[i] = &pb.AdmitResult{Error: admitRoomFull}
		default:
			return nil, toStatus(err)
		}
	}
	return out, nil
}

// Refusals in an AdmitResult.
const (
	admitMaxConnections = "max_connections"
	admitRoomFull       = "room_full"
)

// admitError turns an AdmitResult's refusal back into its sentinel.
func admitError(code string) error {
	switch code {
	case "":
		return nil
	case admitMaxConnections:
		return sequence.ErrMaxConnections
	case admitRoomFull:
		return sequence.ErrRoomFull
	}
	return fmt.Errorf("admit: %s", code)
}

// ActivateMany implements pb.SequenceServer.
func (s *SequenceServer) ActivateMany(ctx context.Context, r *pb.IDList) (*pb.IDList, error) {
	out := &pb.IDList{}
	for _, id := range r.GetIds() {
		switch err := s.Seq.Activate(ctx, id); {
		case errors.Is(err, sequence.ErrNotFound):
			out.Ids = append(out.Ids, id)
		case err != nil:
			return nil, toStatus(err)
		}
	}
	return out, nil
}

// Release implements pb.SequenceServer.
func (s *SequenceServer) Release(ctx context.Context, r *pb.SocketRef) (*pb.ReleaseReply, error) {
	left, vanished, err := s.Seq.Release(ctx, r.GetSocketId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReleaseReply{Left: left, Vanished: vanished}, nil
}

// Join implements pb.SequenceServer.
func (s *SequenceServer) Join(ctx context.Context, r *pb.JoinRequest) (*pb.Empty, error) {
	err := s.Seq.Join(ctx, sequence.JoinRequest{SocketID: r.GetSocketId(), Room: r.GetRoom(), MaxMembers: int(r.GetMaxMembers())})
	return &pb.Empty{}, toStatus(err)
}

// Leave implements pb.SequenceServer.
func (s *SequenceServer) Leave(ctx context.Context, r *pb.LeaveRequest) (*pb.LeaveReply, error) {
	v, err := s.Seq.Leave(ctx, r.GetSocketId(), r.GetRoom())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LeaveReply{Vanished: v}, nil
}

// CreateRoom implements pb.SequenceServer.
func (s *SequenceServer) CreateRoom(ctx context.Context, r *pb.TransientRoom) (*pb.Empty, error) {
	return &pb.Empty{}, toStatus(s.Seq.CreateRoom(ctx, transientFromPB(r)))
}

// Room implements pb.SequenceServer.
func (s *SequenceServer) Room(ctx context.Context, r *pb.RoomRef) (*pb.RoomReply, error) {
	tr, ok, err := s.Seq.Room(ctx, r.GetRoom())
	if err != nil {
		return nil, toStatus(err)
	}
	if !ok {
		return &pb.RoomReply{}, nil
	}
	return &pb.RoomReply{Found: true, Room: transientToPB(tr)}, nil
}

// Socket implements pb.SequenceServer.
func (s *SequenceServer) Socket(ctx context.Context, r *pb.SocketRef) (*pb.SocketReply, error) {
	e, ok, err := s.Seq.Socket(ctx, r.GetSocketId())
	if err != nil {
		return nil, toStatus(err)
	}
	if !ok {
		return &pb.SocketReply{}, nil
	}
	return &pb.SocketReply{Found: true, Entry: entryToPB(e)}, nil
}

// Members implements pb.SequenceServer.
func (s *SequenceServer) Members(ctx context.Context, r *pb.RoomRef) (*pb.IDList, error) {
	ids, err := s.Seq.Members(ctx, r.GetRoom())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.IDList{Ids: ids}, nil
}

// TokenSockets implements pb.SequenceServer.
func (s *SequenceServer) TokenSockets(ctx context.Context, r *pb.TokenRef) (*pb.IDList, error) {
	ids, err := s.Seq.TokenSockets(ctx, r.GetTokenId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.IDList{Ids: ids}, nil
}

// Routes implements pb.SequenceServer.
func (s *SequenceServer) Routes(ctx context.Context, r *pb.RoomRef) (*pb.PuddleList, error) {
	ps, err := s.Seq.Routes(ctx, r.GetRoom())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.PuddleList{Puddles: make([]int32, len(ps))}
	for i, p := range ps {
		out.Puddles[i] = int32(p)
	}
	return out, nil
}

// ReleasePuddle implements pb.SequenceServer.
func (s *SequenceServer) ReleasePuddle(ctx context.Context, r *pb.PuddleRef) (*pb.EntryList, error) {
	es, err := s.Seq.ReleasePuddle(ctx, int(r.GetPuddle()))
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.EntryList{Entries: make([]*pb.Entry, len(es))}
	for i, e := range es {
		out.Entries[i] = entryToPB(e)
	}
	return out, nil
}

// AllRoutes implements pb.SequenceServer.
func (s *SequenceServer) AllRoutes(context.Context, *pb.Empty) (*pb.RouteList, error) {
	out := &pb.RouteList{}
	if s.RouteTable == nil {
		return out, nil
	}
	for room, ps := range s.RouteTable.AllRoutes() {
		for _, p := range ps {
			out.Routes = append(out.Routes, &pb.Route{Room: room, Puddle: int32(p)})
		}
	}
	return out, nil
}

// SequenceClient is a sequence.Sequence served by another process.
//
// Admissions and activations, a pair of calls in every handshake, are
// batched (AdmitMany, ActivateMany; see batcher): under a burst of
// handshakes many share one round trip. Each still returns once the
// sequence has recorded it, with its own answer.
type SequenceClient struct {
	C pb.SequenceClient

	once      sync.Once
	admits    *batcher[*pb.AdmitRequest, *pb.AdmitResult]
	activates *batcher[string, bool] // true: found and activated
}

// batchers starts the batchers on first use.
func (c *SequenceClient) batchers() {
	c.once.Do(func() {
		c.admits = &batcher[*pb.AdmitRequest, *pb.AdmitResult]{
			send: func(ctx context.Context, reqs []*pb.AdmitRequest) ([]*pb.AdmitResult, error) {
				r, err := c.C.AdmitMany(ctx, &pb.AdmitBatch{Requests: reqs})
				return r.GetResults(), seqError(err)
			},
			// An admission whose handshake gave up waiting would hold its
			// slot (and room) for good: release it.
			abandoned: func(r *pb.AdmitResult) {
				if id := r.GetEntry().GetId(); id != "" && r.GetError() == "" {
					ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
					_, _ = c.C.Release(ctx, &pb.SocketRef{SocketId: id})
					cancel()
				}
			},
		}
		c.activates = &batcher[string, bool]{send: func(ctx context.Context, ids []string) ([]bool, error) {
			r, err := c.C.ActivateMany(ctx, &pb.IDList{Ids: ids})
			if err != nil {
				return nil, seqError(err)
			}
			missing := make(map[string]bool, len(r.GetIds()))
			for _, id := range r.GetIds() {
				missing[id] = true
			}
			out := make([]bool, len(ids))
			for i, id := range ids {
				out[i] = !missing[id]
			}
			return out, nil
		}}
	})
}

var _ sequence.Sequence = (*SequenceClient)(nil)

// Admit implements sequence.Sequence.
func (c *SequenceClient) Admit(ctx context.Context, r sequence.AdmitRequest) (sequence.Entry, error) {
	c.batchers()
	res, err := c.admits.do(ctx, &pb.AdmitRequest{TokenId: r.TokenID, Owner: r.Owner,
		MaxConnections: int32(r.MaxConnections), Puddle: int32(r.Puddle), Mode: r.Mode,
		Join: r.Join, JoinMaxMembers: int32(r.JoinMaxMembers)})
	if err != nil {
		return sequence.Entry{}, err
	}
	if err := admitError(res.GetError()); err != nil {
		return sequence.Entry{}, err
	}
	return entryFromPB(res.GetEntry()), nil
}

// Activate implements sequence.Sequence.
func (c *SequenceClient) Activate(ctx context.Context, socketID string) error {
	c.batchers()
	found, err := c.activates.do(ctx, socketID)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("activate %s: %w", socketID, sequence.ErrNotFound)
	}
	return nil
}

// Release implements sequence.Sequence.
func (c *SequenceClient) Release(ctx context.Context, socketID string) ([]string, []string, error) {
	r, err := c.C.Release(ctx, &pb.SocketRef{SocketId: socketID})
	if err != nil {
		return nil, nil, seqError(err)
	}
	return r.GetLeft(), r.GetVanished(), nil
}

// Join implements sequence.Sequence.
func (c *SequenceClient) Join(ctx context.Context, r sequence.JoinRequest) error {
	_, err := c.C.Join(ctx, &pb.JoinRequest{SocketId: r.SocketID, Room: r.Room, MaxMembers: int32(r.MaxMembers)})
	return seqError(err)
}

// Leave implements sequence.Sequence.
func (c *SequenceClient) Leave(ctx context.Context, socketID, room string) (bool, error) {
	r, err := c.C.Leave(ctx, &pb.LeaveRequest{SocketId: socketID, Room: room})
	if err != nil {
		return false, seqError(err)
	}
	return r.GetVanished(), nil
}

// CreateRoom implements sequence.Sequence.
func (c *SequenceClient) CreateRoom(ctx context.Context, r sequence.TransientRoom) error {
	_, err := c.C.CreateRoom(ctx, transientToPB(r))
	return seqError(err)
}

// Room implements sequence.Sequence.
func (c *SequenceClient) Room(ctx context.Context, key string) (sequence.TransientRoom, bool, error) {
	r, err := c.C.Room(ctx, &pb.RoomRef{Room: key})
	if err != nil {
		return sequence.TransientRoom{}, false, seqError(err)
	}
	if !r.GetFound() {
		return sequence.TransientRoom{}, false, nil
	}
	return transientFromPB(r.GetRoom()), true, nil
}

// Socket implements sequence.Sequence.
func (c *SequenceClient) Socket(ctx context.Context, socketID string) (sequence.Entry, bool, error) {
	r, err := c.C.Socket(ctx, &pb.SocketRef{SocketId: socketID})
	if err != nil {
		return sequence.Entry{}, false, seqError(err)
	}
	if !r.GetFound() {
		return sequence.Entry{}, false, nil
	}
	return entryFromPB(r.GetEntry()), true, nil
}

// Members implements sequence.Sequence.
func (c *SequenceClient) Members(ctx context.Context, room string) ([]string, error) {
	r, err := c.C.Members(ctx, &pb.RoomRef{Room: room})
	if err != nil {
		return nil, seqError(err)
	}
	return r.GetIds(), nil
}

// TokenSockets implements sequence.Sequence.
func (c *SequenceClient) TokenSockets(ctx context.Context, tokenID string) ([]string, error) {
	r, err := c.C.TokenSockets(ctx, &pb.TokenRef{TokenId: tokenID})
	if err != nil {
		return nil, seqError(err)
	}
	return r.GetIds(), nil
}

// Routes implements sequence.Sequence.
func (c *SequenceClient) Routes(ctx context.Context, room string) ([]int, error) {
	r, err := c.C.Routes(ctx, &pb.RoomRef{Room: room})
	if err != nil {
		return nil, seqError(err)
	}
	out := make([]int, len(r.GetPuddles()))
	for i, p := range r.GetPuddles() {
		out[i] = int(p)
	}
	return out, nil
}

// ReleasePuddle implements sequence.Sequence.
func (c *SequenceClient) ReleasePuddle(ctx context.Context, puddle int) ([]sequence.Entry, error) {
	r, err := c.C.ReleasePuddle(ctx, &pb.PuddleRef{Puddle: int32(puddle)})
	if err != nil {
		return nil, seqError(err)
	}
	out := make([]sequence.Entry, len(r.GetEntries()))
	for i, e := range r.GetEntries() {
		out[i] = entryFromPB(e)
	}
	return out, nil
}
