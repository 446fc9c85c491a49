package ipc

import (
	"context"

	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/store"
)

// DirectoryServer serves the store's read side to workers.
type DirectoryServer struct {
	pb.UnimplementedDirectoryServer
	Dir puddle.Directory
}

// TokenBySecret implements pb.DirectoryServer.
func (s *DirectoryServer) TokenBySecret(ctx context.Context, r *pb.SecretRequest) (*pb.Token, error) {
	t, err := s.Dir.TokenBySecret(ctx, r.GetSecret())
	if err != nil {
		return nil, toStatus(err)
	}
	return TokenToPB(t), nil
}

// LookupRoom implements pb.DirectoryServer.
func (s *DirectoryServer) LookupRoom(ctx context.Context, r *pb.RoomLookup) (*pb.RoomInfo, error) {
	room, err := s.Dir.Room(ctx, r.GetOwner(), r.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	return RoomToPB(room), nil
}

// DirectoryClient is a puddle.Directory served by the supervisor.
type DirectoryClient struct {
	C pb.DirectoryClient
}

var _ puddle.Directory = (*DirectoryClient)(nil)

// TokenBySecret implements puddle.Directory.
func (c *DirectoryClient) TokenBySecret(ctx context.Context, secret string) (store.Token, error) {
	t, err := c.C.TokenBySecret(ctx, &pb.SecretRequest{Secret: secret})
	if err != nil {
		return store.Token{}, storeError(err)
	}
	return TokenFromPB(t), nil
}

// Room implements puddle.Directory.
func (c *DirectoryClient) Room(ctx context.Context, owner, name string) (store.Room, error) {
	r, err := c.C.LookupRoom(ctx, &pb.RoomLookup{Owner: owner, Name: name})
	if err != nil {
		return store.Room{}, storeError(err)
	}
	return RoomFromPB(r), nil
}
